"""Mailiy fixtures for pytest: a fresh disposable address per test, and a wait for its mail.

Standard library only (besides pytest). MAILIY_API (default http://127.0.0.1:8025) is the
API of a running `mailiy serve`, MAILIY_SMTP (default 127.0.0.1:1025) its SMTP port.
"""

import json
import os
import time
import urllib.parse
import urllib.request

import pytest

API = os.environ.get("MAILIY_API", "http://127.0.0.1:8025").rstrip("/")
SMTP_HOST, _, _port = os.environ.get("MAILIY_SMTP", "127.0.0.1:1025").rpartition(":")
SMTP_PORT = int(_port)


def api(method, path, body=None, timeout=10):
    """One JSON call to the Mailiy API; returns the decoded body (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        API + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _mailbox_path(address):
    return "/v1/mailbox/" + urllib.parse.quote(address, safe="")


def wait_for_message(address, subject=None, timeout=30):
    """Waits up to `timeout` seconds for mail to `address` (whose subject contains `subject`,
    case-insensitive) and returns the full message: `codes`, `links`, `text`, `html`, ...
    The server holds each request until a message arrives, so this returns as soon as it does."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = max(1, min(60, round(deadline - time.monotonic())))  # the API waits ≤ 60 s
        query = {"wait": remaining, **({"subject": subject} if subject else {})}
        path = f"{_mailbox_path(address)}/messages?{urllib.parse.urlencode(query)}"
        summaries = api("GET", path, timeout=remaining + 10)
        if summaries:
            return api("GET", f"{_mailbox_path(address)}/messages/{summaries[0]['id']}")
        if time.monotonic() >= deadline:
            pytest.fail(f"no mail to {address} (subject {subject!r}) within {timeout} s")


@pytest.fixture
def mailbox():
    """A fresh address for one test; deleted, with its mail, when the test ends."""
    box = api("POST", "/v1/mailbox", {"ttlMinutes": 10})
    yield box["address"]
    api("DELETE", _mailbox_path(box["address"]))
