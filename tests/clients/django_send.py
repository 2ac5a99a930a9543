"""Django's own mail (django.core.mail, its SMTP backend) with the settings of the table in
docs/smtp.md; MAILIY_* variables as in nodemailer.mjs. Trust: Django's SSL context is Python's
default one, which reads SSL_CERT_FILE (set by the test to our PEM, as a user would)."""
import os

try:
    import django
    from django.conf import settings
except ImportError:
    raise SystemExit("Django is missing: scripts/setup.sh test installs it (pip, Django==5.2.19)")

env = os.environ
mode = env["MAILIY_MODE"]
settings.configure(
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST=env["MAILIY_HOST"],
    EMAIL_PORT=int(env["MAILIY_PORT"]),
    EMAIL_HOST_USER=env["MAILIY_USER"],
    EMAIL_HOST_PASSWORD=env["MAILIY_PASS"],
    EMAIL_USE_TLS=mode == "starttls",
    EMAIL_USE_SSL=mode == "smtps",
    EMAIL_TIMEOUT=20,
)
django.setup()
from django.core.mail import send_mail  # noqa: E402 (needs the settings above)

sent = send_mail(
    env["MAILIY_SUBJECT"], "sent by Django", env["MAILIY_FROM"], [env["MAILIY_TO"]]
)
print(f"sent={sent}")
