"""A real nginx (Debian's ``nginx-light``, installed by ``.ci/setup``) in front of the app, for tests
of serving under a path and of several instances behind one proxy.

``nginx(tmp_path, upstreams, location=...)`` writes a config into ``tmp_path``, starts nginx in
the foreground on a free loopback port (its own pid, logs and temp folders, so it needs no root
and never touches the machine's nginx), yields its base URL, and stops it at the end. The access
log (one line per request: ``status path``) is readable through ``NginxServer.requests()``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import closed_port, need

NGINX = "/usr/sbin/nginx"


@dataclass
class NginxServer:
    base: str  # http://127.0.0.1:<port>
    access_log: Path
    error_log: Path

    def requests(self) -> list[tuple[int, str, str]]:
        """Every request nginx served so far: (status, request URI, upstream that answered)."""
        lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
        out = []
        for line in lines:
            status, uri, upstream = line.split(" ", 2)
            out.append((int(status), uri, upstream))
        return out


def _config(root: Path, port: int, upstreams: list[str], location: str, proxy_pass_path: str,
            extra: str) -> str:
    servers = "\n".join(f"        server {u};" for u in upstreams)
    return f"""
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
daemon off;
events {{ worker_connections 256; }}
http {{
    log_format sm '$status $request_uri $upstream_addr';
    access_log {root}/access.log sm;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream sync_monitor {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location {location} {{
            proxy_pass http://sync_monitor{proxy_pass_path};
            proxy_http_version 1.1;
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host:$server_port;
            proxy_read_timeout 60s;
{extra}
        }}
    }}
}}
"""


@contextmanager
def nginx(tmp_path: Path, upstreams: list[str], location: str = "/", proxy_pass_path: str = "",
          extra: str = "") -> Iterator[NginxServer]:
    """nginx proxying ``location`` to ``upstreams`` (``host:port`` each, round robin).

    ``proxy_pass_path`` is what follows the upstream in ``proxy_pass`` ("" passes the URI as the
    client sent it; "/" strips ``location``). ``extra`` is added inside the location block."""
    if not shutil.which(NGINX) and not Path(NGINX).exists():
        need("nginx", f"{NGINX} not found (apt-get install nginx-light; .ci/setup does it)")
    root = tmp_path / "nginx"
    root.mkdir(parents=True, exist_ok=True)
    port = closed_port()
    conf = root / "nginx.conf"
    conf.write_text(_config(root, port, upstreams, location, proxy_pass_path, extra))
    check = subprocess.run([NGINX, "-t", "-q", "-c", str(conf), "-p", str(root)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed: {check.stderr.strip()}")
    process = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(root)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"nginx did not start: {(root / 'error.log').read_text()[-500:]}") from None
                time.sleep(0.05)
        yield NginxServer(f"http://127.0.0.1:{port}", root / "access.log", root / "error.log")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
