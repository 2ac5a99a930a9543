// The SMTP envelope and session transcript of a message, as rows for the Headers tab. Pure
// functions (no DOM), so node --test checks them; mail data is shown only as text.

/** [label, value] rows of `env` (the API's `envelope`), empty values left out. */
export function envelopeRows(env) {
  if (!env) return [];
  const tls = env.tls ? `${env.tls.version} ${env.tls.cipher}` : "none";
  const rows = [
    ["MAIL FROM", env.mailFrom ? env.mailFrom : "<>"],
    ["RCPT TO", (env.rcptTo || []).join(", ")],
    ["HELO", env.helo],
    ["Client", env.client],
    ["AUTH user", env.authUser],
    ["TLS", env.client ? tls : ""],
  ];
  return rows.filter(([, v]) => v);
}

/** A transcript's lines (`{t, direction, text}`) as text: `+12ms C: EHLO app`. */
export function transcriptText(lines) {
  if (!lines || !lines.length) return "(this message came without an SMTP session)";
  return lines
    .map((l) => `+${l.t}ms ${l.direction === "client" ? "C" : "S"}: ${l.text}`)
    .join("\n");
}
