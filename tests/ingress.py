"""nginx from Debian as ingress-nginx configures it: HTTP/1.1 to the upstream and a pool of
kept-alive upstream connections (``keepalive``, ``proxy_set_header Connection ""``).

A server behind it that closes a connection without saying ``Connection: close`` makes
it send the next POST into a closed socket, which it does not retry: a 502.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port, http

__all__ = ["ingress", "nginx_binary"]


def nginx_binary() -> str:
    """nginx's path, or a failing test saying how to install it."""
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("nginx is not installed: apt-get install nginx (scripts/test does)")


_CONF = """daemon off;
worker_processes 1;
{user}
pid {folder}/ingress.pid;
error_log {folder}/ingress-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  upstream servekit {{
    server 127.0.0.1:{upstream};
    keepalive 32;
    keepalive_timeout 60s;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://servekit;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout;
    }}
  }}
}}
"""


@contextmanager
def ingress(folder: Path, upstream: int) -> Iterator[str]:
    """Run the ingress in front of ``127.0.0.1:upstream``; yield its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = folder / "ingress.conf"
    conf.write_text(_CONF.format(folder=folder, upstream=upstream, port=port, user=user))
    process = subprocess.Popen(
        [nginx_binary(), "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                http("GET", f"{url}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(
                        (folder / "ingress-error.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
