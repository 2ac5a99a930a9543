#!/usr/bin/env bash
# A signup check from the shell: make a disposable address, mail it a verification code, wait
# for the code and compare. Needs `mailiy` on PATH and a running `mailiy serve`; the mailiy
# commands read MAILIY_API (default http://127.0.0.1:8025) and MAILIY_SMTP (default 127.0.0.1:1025).
set -euo pipefail

# A fresh address that lives 10 minutes.
address=$(mailiy new --ttl 10)
echo "address: $address"

# In your pipeline the app under test sends this mail; here `mailiy send` plays the app
# (sendmail-style: the message on stdin, recipients as arguments).
sent=$(( (RANDOM * 32768 + RANDOM) % 900000 + 100000 ))
printf 'From: Example App <no-reply@example.test>\nTo: %s\nSubject: Verify your email\n\nYour code is %s\n' \
  "$address" "$sent" | mailiy send "$address"

# Wait (up to 30 s) for a mail whose subject contains "verify" and print only its code.
if ! code=$(mailiy wait "$address" --subject verify --code --timeout 30); then
  echo "FAIL: no verification mail to $address within 30 s" >&2
  exit 1
fi

if [[ ! $code =~ ^[0-9]{6}$ || $code != "$sent" ]]; then
  echo "FAIL: expected code $sent, got '$code'" >&2
  exit 1
fi
echo "ok: code $code"
