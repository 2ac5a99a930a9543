#!/usr/bin/env python3
"""Writes the text/html parts of tests/corpus/xss/*.eml to fuzz/seeds/sanitize/ (the seeds of
the sanitize target). Run from the repository root; the output is committed."""
import email
import glob
import os

out_dir = 'fuzz/seeds/sanitize'
os.makedirs(out_dir, exist_ok=True)
for n, path in enumerate(sorted(glob.glob('tests/corpus/xss/**/*.eml', recursive=True))):
    with open(path, 'rb') as f:
        msg = email.message_from_binary_file(f)
    for part in msg.walk():
        if part.get_content_type() == 'text/html':
            data = part.get_payload(decode=True)
            if data:
                name = os.path.splitext(os.path.basename(path))[0]
                out = os.path.join(out_dir, name + '.html')
                if os.path.exists(out):
                    out = os.path.join(out_dir, f'{name}-{n}.html')
                with open(out, 'wb') as f:
                    f.write(data)
