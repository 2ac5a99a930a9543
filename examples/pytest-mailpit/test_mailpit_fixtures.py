"""pytest-mailpit's fixtures, unchanged, against `mailiy serve --catch-all anon`.

Run with MAILPIT_URL (the API, maybe a /m/{address} prefix) and MAILPIT_SMTP (host:port);
tests/examples.rs does. Each test gets a unique address (`mailpit_inbox`), sends to it the way
an application would (smtplib), and waits for it without sleeping.
"""

import smtplib
from email.message import EmailMessage


def send(smtp, to, subject, body, tags=None):
    msg = EmailMessage()
    msg["From"] = "App <app@example.test>"
    msg["To"] = to
    msg["Subject"] = subject
    if tags:
        msg["X-Tags"] = tags
    msg.set_content(body)
    with smtplib.SMTP(smtp.host, smtp.port) as s:
        s.send_message(msg)


def test_inbox_waits_for_the_message_sent_to_it(mailpit_inbox, mailpit_smtp):
    send(mailpit_smtp, mailpit_inbox.address, "Confirm your account", "Your code is 482913.")
    message = mailpit_inbox.wait_for_message(subject="Confirm your account")
    assert message.subject == "Confirm your account"
    assert "482913" in message.text


def test_two_inboxes_see_only_their_own_mail(mailpit_inbox_factory, mailpit_smtp):
    first, second = mailpit_inbox_factory(), mailpit_inbox_factory()
    send(mailpit_smtp, first.address, "For the first", "one")
    send(mailpit_smtp, second.address, "For the second", "two")
    assert second.wait_for_message().subject == "For the second"
    assert first.wait_for_message().subject == "For the first"


def test_client_searches_by_tag(mailpit, mailpit_inbox, mailpit_smtp):
    send(mailpit_smtp, mailpit_inbox.address, "Tagged", "hello", tags="signup, eu")
    mailpit_inbox.wait_for_message(subject="Tagged")
    found = mailpit.search(f'tag:signup to:"{mailpit_inbox.address}"')
    assert [m.subject for m in found.messages] == ["Tagged"]
