"""Python's smtplib as the table in docs/smtp.md configures it: login, and starttls() or SMTP_SSL
with a context loading our PEM; the MAILIY_* variables as in nodemailer.mjs."""
import os
import smtplib
import ssl
from email.message import EmailMessage

env = os.environ
mode, host, port = env["MAILIY_MODE"], env["MAILIY_HOST"], int(env["MAILIY_PORT"])
msg = EmailMessage()
msg["From"], msg["To"], msg["Subject"] = env["MAILIY_FROM"], env["MAILIY_TO"], env["MAILIY_SUBJECT"]
msg.set_content("sent by smtplib")
if mode == "smtps":
    ctx = ssl.create_default_context(cafile=env["MAILIY_CA"])
    client = smtplib.SMTP_SSL(host, port, context=ctx, timeout=20)
else:
    client = smtplib.SMTP(host, port, timeout=20)
with client as s:
    if mode == "starttls":
        s.starttls(context=ssl.create_default_context(cafile=env["MAILIY_CA"]))
    s.login(env["MAILIY_USER"], env["MAILIY_PASS"])
    s.send_message(msg)
    print("tls=" + (s.sock.version() if hasattr(s.sock, "version") else "none"))
