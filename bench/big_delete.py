#!/usr/bin/env python3
"""Big delete benchmark (issue #16): DELETE a mailbox of N messages while another mailbox keeps
receiving mail, and report what a user and the other sender see.

Fills one mailbox with `--messages` messages of `--size` bytes (Postfix's smtp-source, 8 reused
sessions), then, while a probe sends 2 KB messages to another mailbox over one SMTP session and
times each transaction (MAIL to the 250 after DATA), deletes the big one through the API and
reports: the time to invisible (the DELETE's 204, then a GET's 404), the time to freed (no
message of it left: read from the database file, read-only), the time until the file stopped
shrinking, the file size before and after, and the probe's longest, p99 and p50 wait during
that time (and before it, for comparison). `--purge-chunk` is passed to the server; a huge value
deletes in one statement, as before the chunked delete.

    cargo build --release -p mailiy
    bench/big_delete.py --bin target/release/mailiy --messages 100000 --purge-chunk 1000
"""

import argparse
import json
import os
import shutil
import smtplib
import sqlite3
import statistics
import subprocess
import threading
import time

from serverkit import api, start as start_server


def db_bytes(data_dir):
    total = 0
    for name in ("mailiy.db", "mailiy.db-wal"):
        try:
            total += os.path.getsize(os.path.join(data_dir, name))
        except FileNotFoundError:
            pass
    return total


def purging_left(data_dir):
    """Messages of hidden mailboxes still in the file (read-only, a short snapshot)."""
    conn = sqlite3.connect(f"file:{data_dir}/mailiy.db?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(
            "SELECT count(*) FROM message WHERE mailbox_id IN "
            "(SELECT id FROM mailbox WHERE purging OR address = 'big@mailiy.localhost')"
        ).fetchone()[0]
    finally:
        conn.close()


def message(to, i):
    body = ("probe line of text to fill the message up\r\n" * 45)[:1900]
    return f"From: p@bench.test\r\nTo: {to}\r\nSubject: probe {i}\r\n\r\n{body}\r\n"


class Probe(threading.Thread):
    """One SMTP session sending to `to` back to back, timing each transaction."""

    def __init__(self, smtp_port, to):
        super().__init__(daemon=True)
        self.port, self.to = smtp_port, to
        self.samples = []  # (start, seconds)
        self.stop = threading.Event()

    def run(self):
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
        c.ehlo("probe.test")
        i = 0
        while not self.stop.is_set():
            start = time.monotonic()
            c.sendmail("p@bench.test", [self.to], message(self.to, i))
            self.samples.append((start, time.monotonic() - start))
            i += 1
            time.sleep(0.005)
        c.quit()

    def between(self, a, b):
        return [d for (s, d) in self.samples if a <= s <= b]


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/mailiy")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--purge-chunk", type=int, default=1000)
    ap.add_argument("--out", help="append the result as one JSON line to this file")
    a = ap.parse_args()

    server, data_dir, smtp, http = start_server(
        a.bin, ["--catch-all", "pro", "--default-ttl", "1440", "--pro-max-storage", "8GiB",
                "--purge-chunk", str(a.purge_chunk)], "mailiy-bigdel-")
    try:
        big = "big@mailiy.localhost"
        t = time.monotonic()
        subprocess.run(
            ["smtp-source", "-s", "8", "-d", "-l", str(a.size), "-m", str(a.messages),
             "-f", "fill@bench.test", "-t", big, f"127.0.0.1:{smtp}"], check=True)
        status, m = api(http, "GET", f"/v1/mailbox/{big}")
        assert status == 200 and m["messageCount"] == a.messages, m
        fill_s = time.monotonic() - t
        print(f"filled {a.messages} x {a.size} B in {fill_s:.1f} s", flush=True)
        api(http, "POST", "/v1/mailbox", {"localPart": "other", "tier": "pro"})
        time.sleep(2)
        size_before = db_bytes(data_dir)

        probe = Probe(smtp, "other@mailiy.localhost")
        probe.start()
        time.sleep(2)
        t0 = time.monotonic()
        status, _ = api(http, "DELETE", f"/v1/mailbox/{big}")
        t_invisible = time.monotonic() - t0
        assert status == 204, status
        assert api(http, "GET", f"/v1/mailbox/{big}")[0] == 404
        t_freed = None
        while t_freed is None:
            if purging_left(data_dir) == 0:
                t_freed = time.monotonic() - t0
            else:
                time.sleep(0.05)
        last, stable_since = db_bytes(data_dir), time.monotonic()
        while time.monotonic() - stable_since < 1.5:
            time.sleep(0.05)
            now = db_bytes(data_dir)
            if now != last:
                last, stable_since = now, time.monotonic()
        t_shrunk = stable_since - t0
        size_after = db_bytes(data_dir)
        probe.stop.set()
        probe.join()
        during = probe.between(t0, t0 + t_shrunk)
        before = probe.between(t0 - 2, t0)
        result = {
            "messages": a.messages, "size": a.size, "purge_chunk": a.purge_chunk,
            "fill_s": round(fill_s, 1),
            "invisible_ms": round(t_invisible * 1000, 1),
            "freed_s": round(t_freed, 2), "shrunk_s": round(t_shrunk, 2),
            "file_before_mb": round(size_before / 1e6, 1),
            "file_after_mb": round(size_after / 1e6, 1),
            "probe_during": {"n": len(during), "max_ms": round(max(during) * 1000, 1),
                             "p99_ms": round(pct(during, 99) * 1000, 1),
                             "p50_ms": round(statistics.median(during) * 1000, 1)},
            "probe_before": {"n": len(before), "max_ms": round(max(before) * 1000, 1),
                             "p50_ms": round(statistics.median(before) * 1000, 1)},
            "probe_stored": api(http, "GET", "/v1/mailbox/other@mailiy.localhost")[1]["messageCount"],
            "probe_sent": len(probe.samples),
        }
        print(json.dumps(result), flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(result) + "\n")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
