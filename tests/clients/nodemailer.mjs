// nodemailer as the table in docs/smtp.md configures it. Driven by tests/smtp_clients.rs, which
// passes the same MAILIY_* variables to every client script here:
//   MAILIY_MODE plain|starttls|smtps, MAILIY_HOST, MAILIY_PORT, MAILIY_CA (our PEM),
//   MAILIY_USER, MAILIY_PASS, MAILIY_FROM, MAILIY_TO, MAILIY_SUBJECT.
import fs from "node:fs";
import nodemailer from "nodemailer";

const env = process.env;
const mode = env.MAILIY_MODE;
const options = {
  host: env.MAILIY_HOST,
  port: Number(env.MAILIY_PORT),
  auth: { user: env.MAILIY_USER, pass: env.MAILIY_PASS },
};
if (mode === "plain") {
  // nodemailer upgrades by itself when STARTTLS is offered; plain means saying no.
  options.ignoreTLS = true;
} else if (mode === "starttls") {
  options.secure = false;
  options.requireTLS = true;
  options.tls = { ca: fs.readFileSync(env.MAILIY_CA) };
} else if (mode === "smtps") {
  options.secure = true;
  options.tls = { ca: fs.readFileSync(env.MAILIY_CA) };
} else {
  throw new Error(`unknown MAILIY_MODE ${mode}`);
}
const info = await nodemailer.createTransport(options).sendMail({
  from: env.MAILIY_FROM,
  to: env.MAILIY_TO,
  subject: env.MAILIY_SUBJECT,
  text: "sent by nodemailer",
});
console.log(`accepted=${info.accepted.join(",")} response=${info.response}`);
