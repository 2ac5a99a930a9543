#!/usr/bin/env python3
"""Expiry-churn soak (issue #16): SMTP senders fill mailboxes that live one minute while readers
list and read beside them; the server's memory is sampled every second.

`--senders` (4) loops each send `--batch` messages (Postfix's smtp-source, 4 reused sessions,
2 KB) to a fresh mailbox made through the API with `expiresAt` one minute ahead
(`--mailbox-life`), then move on to the next, for `--seconds` (150). So from the first minute on
mailboxes expire continuously, each holding a few thousand messages, while new ones fill.
Two reader threads list all mail and the newest mailbox and read messages in full.

Every second: the server's RSS and anonymous memory (/proc/PID/status, smaps_rollup) and the
data directory's size. At the end: the peak RSS before the first expiry and after it, the
messages acknowledged (smtp-source exit 0 for the whole batch) against the messages each
mailbox held when its batch ended (read through the API before it expired): nothing
acknowledged may be missing.

    bench/churn_soak.py --bin target/release/mailiy --out bench/results/churn.jsonl
"""

import argparse
import json
import os
import shutil
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

from serverkit import api, start as start_server


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) // 1024  # MiB
    return out


def dir_mb(d):
    total = 0
    for name in os.listdir(d):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            total += os.path.getsize(p)
    return round(total / 1e6, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/mailiy")
    ap.add_argument("--seconds", type=int, default=150)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--batch", type=int, default=3000)
    ap.add_argument("--mailbox-life", type=int, default=60)
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra flag for mailiy serve (repeat)")
    ap.add_argument("--label", default="")
    ap.add_argument("--out", help="append the result as one JSON line to this file")
    a = ap.parse_args()

    server, data_dir, smtp, http = start_server(
        a.bin, ["--pro-max-storage", "8GiB", *a.server_arg], "mailiy-churn-")
    stop = threading.Event()
    lock = threading.Lock()
    acknowledged, stored, batches, failed = 0, 0, 0, 0
    missing = []
    newest = {"addr": None}
    first_expiry = {"t": None}
    start = time.monotonic()

    def sender(k):
        nonlocal acknowledged, stored, batches, failed
        gen = 0
        while not stop.is_set():
            local = f"churn{k}-{gen}"
            gen += 1
            expires = datetime.now(timezone.utc) + timedelta(seconds=a.mailbox_life)
            status, m = api(http, "POST", "/v1/mailbox", {
                "localPart": local, "tier": "pro",
                "expiresAt": expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")})
            assert status == 201, status
            with lock:
                newest["addr"] = m["address"]
                if first_expiry["t"] is None:
                    first_expiry["t"] = start + a.mailbox_life
            r = subprocess.run(
                ["smtp-source", "-s", "4", "-d", "-l", "2048", "-m", str(a.batch),
                 "-f", "churn@bench.test", "-t", m["address"], f"127.0.0.1:{smtp}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            status, after = api(http, "GET", f"/v1/mailbox/{m['id']}")
            with lock:
                batches += 1
                if r.returncode == 0:
                    acknowledged += a.batch
                    # 404: the batch outlasted the mailbox's minute (a stall), not a loss to
                    # count here: listed apart.
                    held = after["messageCount"] if status == 200 else None
                    stored += min(held or 0, a.batch)
                    if held is None or held < a.batch:
                        missing.append((local, held))
                else:
                    failed += 1

    def reader():
        while not stop.is_set():
            api(http, "GET", "/v1/messages?limit=50")
            addr = newest["addr"]
            if addr:
                status, page = api(http, "GET", f"/v1/mailbox/{addr}/messages?limit=20")
                if status == 200 and page:
                    api(http, "GET", f"/v1/mailbox/{addr}/messages/{page[0]['id']}")
            time.sleep(0.05)

    try:
        start = time.monotonic()
        threads = [threading.Thread(target=sender, args=(k,), daemon=True)
                   for k in range(a.senders)]
        threads += [threading.Thread(target=reader, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        samples = []
        while time.monotonic() - start < a.seconds:
            time.sleep(1)
            m = memory(server.pid)
            samples.append({"t": round(time.monotonic() - start), "rss": m["VmRSS"],
                            "anon": m.get("RssAnon"), "dir_mb": dir_mb(data_dir)})
            print(json.dumps(samples[-1]), flush=True)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        elapsed = time.monotonic() - start
        expiry_at = a.mailbox_life
        before = [s["rss"] for s in samples if s["t"] < expiry_at]
        after = [s["rss"] for s in samples if s["t"] >= expiry_at]
        result = {
            "label": a.label, "server_args": a.server_arg, "seconds": a.seconds,
            "senders": a.senders, "batch": a.batch,
            "acknowledged": acknowledged, "stored_at_batch_end": stored,
            "missing": missing, "failed_batches": failed,
            "rate_per_s": round(acknowledged / elapsed),
            "rss_peak_before_expiry_mib": max(before) if before else None,
            "rss_peak_after_expiry_mib": max(after) if after else None,
            "rss_end_mib": samples[-1]["rss"],
            "dir_peak_mb": max(s["dir_mb"] for s in samples),
            "dir_end_mb": samples[-1]["dir_mb"],
            "samples": samples,
        }
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}), flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(result) + "\n")
    finally:
        stop.set()
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
