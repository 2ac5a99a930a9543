"""A signup test that reads the verification code from a Mailiy inbox."""

import random
import re
import smtplib
from email.message import EmailMessage

from conftest import SMTP_HOST, SMTP_PORT, wait_for_message


def test_signup_mails_a_verification_code(mailbox):
    # In your suite the app under test sends this mail when the test signs up with `mailbox`;
    # here the test plays the app and sends it with smtplib.
    sent = str(random.randrange(100000, 1000000))
    mail = EmailMessage()
    mail["From"] = "Example App <no-reply@example.test>"
    mail["To"] = mailbox
    mail["Subject"] = "Verify your email"
    mail.set_content(f"Welcome! Your verification code is {sent}.\nIt expires in 10 minutes.\n")
    with smtplib.SMTP(SMTP_HOST, SMTP_PORT, local_hostname="localhost", timeout=10) as smtp:
        smtp.send_message(mail)

    message = wait_for_message(mailbox, subject="verify", timeout=30)

    code = message["codes"][0]  # one-time codes Mailiy found, best guess first
    assert re.fullmatch(r"\d{6}", code)
    assert code == sent  # a real test would type `code` into the verification form
