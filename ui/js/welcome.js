// The first start (no address yet): the two ways of using Mailiy, with the live SMTP address in
// copyable settings for common stacks (docs/smtp.md "Point your app at Mailiy" has them all,
// each checked against the real server).

import { $, el, setText, copy } from "./dom.js";

/** Plain-SMTP settings for an app logged in as "myapp" (its inbox), per stack: [[name, text]]. */
export function stackSnippets(host, port) {
  return [
    ["Environment", `SMTP_HOST=${host}\nSMTP_PORT=${port}\nSMTP_USER=myapp\nSMTP_PASSWORD=any`],
    ["Django", `EMAIL_HOST = "${host}"\nEMAIL_PORT = ${port}\nEMAIL_HOST_USER = "myapp"\nEMAIL_HOST_PASSWORD = "any"`],
    ["Laravel", `MAIL_MAILER=smtp\nMAIL_HOST=${host}\nMAIL_PORT=${port}\nMAIL_USERNAME=myapp\nMAIL_PASSWORD=any`],
    ["Rails", `config.action_mailer.delivery_method = :smtp\nconfig.action_mailer.smtp_settings = {\n  address: "${host}", port: ${port}, user_name: "myapp", password: "any",\n  authentication: :plain, enable_starttls_auto: false }`],
    ["nodemailer", `nodemailer.createTransport({\n  host: "${host}", port: ${port}, ignoreTLS: true,\n  auth: { user: "myapp", pass: "any" },\n})`],
    ["Spring Boot", `spring.mail.host=${host === "127.0.0.1" ? "localhost" : host}\nspring.mail.port=${port}\nspring.mail.username=myapp\nspring.mail.password=any\nspring.mail.properties.mail.smtp.auth=true`],
  ];
}

/** Splits "host:port" (an IPv6 host in brackets) for the snippets. */
export function hostPort(addr) {
  const i = (addr || "").lastIndexOf(":");
  if (i < 0) return ["127.0.0.1", "1025"];
  return [addr.slice(0, i).replace(/^\[|\]$/g, ""), addr.slice(i + 1)];
}

let chosen = 0;

/** Fills the welcome's live parts from the engine's health (its SMTP address, its domain). */
export function renderWelcome(health) {
  const [host, port] = hostPort(health && health.smtp);
  setText($("welcome-smtp"), `${host}:${port}`);
  const snippets = stackSnippets(host, port);
  const tabs = $("welcome-stacks");
  tabs.replaceChildren();
  snippets.forEach(([name], i) => {
    const b = el("button", "btn-ghost", name);
    b.type = "button";
    b.setAttribute("aria-pressed", String(i === chosen));
    b.addEventListener("click", () => {
      chosen = i;
      renderWelcome(health);
    });
    tabs.append(b);
  });
  setText($("welcome-snippet"), snippets[chosen][1]);
}

export function initWelcome() {
  $("welcome-copy").addEventListener("click", (ev) => copy($("welcome-snippet").textContent, ev.currentTarget));
  $("welcome-new").addEventListener("click", () => $("new-address").click());
}
