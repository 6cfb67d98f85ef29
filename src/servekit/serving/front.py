"""The front: what stands between clients and the uWSGI workers.

Two fronts, chosen by ``SERVEKIT_FRONT``:

- ``nginx`` (the default whenever nginx is installed): a private nginx, started by
  uWSGI's master as an attached daemon, listens on the port. It reads each request's
  headers (within ``client_header_timeout`` in all) and its whole body (up to
  ``max_body_bytes``, chunked bodies included, each read within
  ``client_body_timeout``) before it hands the request to a worker over a unix socket in
  the private runtime folder; it keeps client connections alive (``keepalive_timeout``)
  and holds at most ``max_connections`` of them. Slow or idle clients hold an nginx
  connection, never a worker. Errors nginx finds in a request's headers (a body too
  large, headers too large) are sent back to a worker with :data:`FRONT_ERROR_VAR` set,
  so that they are answered in the route's own error shape and counted like every other
  answer; the others (a malformed request, a request line over 8 KiB, a worker that
  cannot be reached) nginx answers itself, in the route's error shape too
  (:mod:`servekit.serving.nginx_errors`): never an HTML page.
- ``direct``: uWSGI's ``http-socket``; each worker reads the socket itself, one request
  per connection, and every answer says ``Connection: close``. Only for use behind a
  proxy that buffers requests.

:func:`nginx_conf` only renders the configuration; :func:`prepare_nginx` (run by
``servekit serve`` before it execs uWSGI) writes it into the start folder and has nginx
check it, so a mistake is one line at start, not a daemon uWSGI restarts in a loop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from pathlib import Path

from servekit.errors import ConfigError
from servekit.http.front import FRONT_ERROR_VAR, MAX_HEADER_LINE_BYTES
from servekit.serving.nginx_errors import error_locations, error_pages, shape_maps
from servekit.settings import Settings

__all__ = [
    "BACKLOG",
    "FRONT_ERRORS",
    "FRONT_ERROR_VAR",
    "NGINX_CONF",
    "WORKER_SOCKET",
    "find_nginx",
    "front_of",
    "nginx_conf",
    "prepare_nginx",
]

WORKER_SOCKET = "workers.sock"
"""The workers' uwsgi-protocol socket (nginx front), in the start folder."""
NGINX_CONF = "nginx.conf"
"""nginx's configuration file, in the start folder."""

FRONT_ERRORS = (413, 494)
"""Statuses nginx finds itself in a request's headers and hands to a worker to answer,
without the body (494: headers too large, answered 431)."""

_MEMORY_BODY_BYTES = 1024 * 1024
"""Bodies up to this are buffered in memory; larger ones (up to the limit) in a file."""
_SEND_TIMEOUT = 60

_NGINX_PLACES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
_UPSTREAM_SLACK = 10
"""Seconds nginx waits for a worker beyond the request timeout and harakiri's margin."""

_PARAMS = (
    ("QUERY_STRING", "$query_string"),
    ("REQUEST_METHOD", "$request_method"),
    ("CONTENT_TYPE", "$content_type"),
    ("CONTENT_LENGTH", "$content_length"),
    ("REQUEST_URI", "$request_uri"),
    ("PATH_INFO", "$document_uri"),
    ("SERVER_PROTOCOL", "$server_protocol"),
    ("REQUEST_SCHEME", "$scheme"),
    ("REMOTE_ADDR", "$remote_addr"),
    ("REMOTE_PORT", "$remote_port"),
    ("SERVER_ADDR", "$server_addr"),
    ("SERVER_PORT", "$server_port"),
    ("SERVER_NAME", "$server_name"),
)


def find_nginx() -> str | None:
    """The nginx executable: on PATH, else where Debian and nginx.org put it."""
    found = shutil.which("nginx")
    if found:
        return found
    for place in _NGINX_PLACES:
        if os.access(place, os.X_OK):
            return place
    return None


def front_of(settings: Settings) -> tuple[str, str | None]:
    """The front to run (``nginx`` or ``direct``) and the nginx binary for the first."""
    if settings.front == "direct":
        return "direct", None
    binary = find_nginx()
    if binary is not None:
        return "nginx", binary
    if settings.front == "nginx":
        raise ConfigError(
            "SERVEKIT_FRONT=nginx but nginx is not installed: apt-get install nginx "
            "(or SERVEKIT_FRONT=direct behind a proxy that buffers requests)"
        )
    return "direct", None


def _quote(text: str) -> str:
    """An nginx string literal."""
    if any(c in text for c in "\"\\\n\r'$;{}"):
        raise ConfigError(f"the path {text!r} cannot be used in nginx's configuration")
    return f'"{text}"'


BACKLOG = 1024
"""Connections waiting to be taken, at nginx's listening sockets and at the workers'
socket behind it (or the kernel's ``somaxconn`` there, when lower)."""


def _listen(host: str, port: int) -> str:
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"listen {address} backlog={BACKLOG};"


def nginx_conf(settings: Settings, runtime: Path, socket: Path) -> str:
    """nginx's whole configuration for ``settings``, its files under ``runtime``."""
    upstream = f"uwsgi_pass unix:{socket};"
    passed = "".join(f"\n      uwsgi_param {name} {value};" for name, value in _PARAMS)
    bodiless = passed.replace("$content_length", '""').replace("$content_type", '""')
    wait = settings.timeout + _UPSTREAM_SLACK
    listens = [settings.port] + ([settings.metrics_port] if settings.metrics_port else [])
    temp = runtime / "nginx"
    by_worker = "".join(
        f"""
    location @servekit_{code} {{
      {upstream}{bodiless}
      uwsgi_param {FRONT_ERROR_VAR} {code};
      uwsgi_pass_request_body off;
      uwsgi_read_timeout 10s;
    }}"""
        for code in FRONT_ERRORS
    )
    return f"""# servekit's front (SERVEKIT_FRONT=nginx), written at each start
daemon off;
# One process, which uWSGI's master started and supervises: it is restarted if it dies,
# and killed with the master (a master process would leave its worker behind, holding the
# port). It runs as the server's user: no privileges to drop.
master_process off;
pid {_quote(str(runtime / "nginx.pid"))};
# Clients' mistakes (a body too large, bad chunks, timeouts) are answered and counted by
# servekit; nginx logs only what is critical (a client cannot flood the log).
error_log stderr crit;
events {{
  worker_connections {_worker_connections(settings)};
}}
http {{
  access_log off;
  server_tokens off;
  default_type application/json;
  client_body_temp_path {_quote(str(temp / "body"))};
  uwsgi_temp_path {_quote(str(temp / "uwsgi"))};
  proxy_temp_path {_quote(str(temp / "proxy"))};
  fastcgi_temp_path {_quote(str(temp / "fastcgi"))};
  scgi_temp_path {_quote(str(temp / "scgi"))};
  client_header_timeout {settings.client_header_timeout}s;
  client_body_timeout {settings.client_body_timeout}s;
  send_timeout {_SEND_TIMEOUT}s;
  keepalive_timeout {settings.keepalive_timeout}s;
  keepalive_requests 100000;
  client_max_body_size {max(settings.max_body_bytes, settings.async_max_body_bytes)};
  client_body_buffer_size {min(settings.max_body_bytes, _MEMORY_BODY_BYTES)};
  # A header line up to 8 KiB, 32 KiB in all: the uwsgi packet to a worker stays under
  # its 64 KiB limit (494 otherwise, answered 431 by a worker).
  client_header_buffer_size 1k;
  large_client_header_buffers 4 {MAX_HEADER_LINE_BYTES // 1024}k;
  # Errors nginx answers itself (see servekit.serving.nginx_errors); an error page's
  # own 502 (a worker down) is answered too.
  recursive_error_pages on;{shape_maps()}
  server {{
    {" ".join(_listen(settings.host, port) for port in listens)}{_error_pages()}{error_pages()}
    location / {{
      {upstream}{passed}
      uwsgi_request_buffering on;
      uwsgi_buffering on;
      uwsgi_connect_timeout 5s;
      uwsgi_send_timeout {wait}s;
      uwsgi_read_timeout {wait}s;
      uwsgi_next_upstream off;
    }}{by_worker}{error_locations()}
  }}
}}
"""


def _error_pages() -> str:
    return "".join(f"\n    error_page {code} = @servekit_{code};" for code in FRONT_ERRORS)


def _worker_connections(settings: Settings) -> int:
    """Clients, plus one upstream connection per busy worker thread, plus slack."""
    return settings.max_connections + 2 * settings.worker_processes * settings.threads + 32


def prepare_nginx(settings: Settings, runtime: Path, binary: str) -> Path:
    """Write nginx's configuration into ``runtime`` and check it; return its path.

    Raises ConfigError when a port is taken or nginx refuses the configuration.
    """
    for port in (settings.port, settings.metrics_port):
        if port:
            _check_port_free(settings.host, port)
    (runtime / "nginx").mkdir(mode=0o700, exist_ok=True)
    conf = runtime / NGINX_CONF
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(nginx_conf(settings, runtime, runtime / WORKER_SOCKET))
    checked = subprocess.run(
        [binary, "-t", "-q", "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if checked.returncode != 0:
        lines = (checked.stderr or checked.stdout).strip().splitlines() or ["(no output)"]
        raise ConfigError(f"nginx ({binary}) refused servekit's front configuration: {lines[-1]}")
    return conf


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server "
                "there? choose another with SERVEKIT_PORT)"
            ) from None
