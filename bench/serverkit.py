"""What the bench scripts share: a free loopback port, a JSON API call, a server started on a
temporary data directory and waited for."""

import json
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(http, method, path, body=None):
    """(status, parsed JSON or None) of one call to the server's API on port `http`."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{http}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, None


def start(binary, args, prefix):
    """`mailiy serve` on free ports and a new data directory; returns (process, data_dir,
    smtp port, http port) once its API answers."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    smtp, http = free_port(), free_port()
    server = subprocess.Popen(
        [binary, "serve", "--data-dir", data_dir, "--smtp", f"127.0.0.1:{smtp}",
         "--http", f"127.0.0.1:{http}", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if api(http, "GET", "/v1/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.05)
    return server, data_dir, smtp, http
