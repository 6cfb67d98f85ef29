"""The nginx front's configuration, rendered from the settings (servekit.serving.front);
nginx's own check of it (``nginx -t``) is in tests/components/serving/test_front_config.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from servekit.errors import ConfigError
from servekit.serving import front
from servekit.settings import Settings


def render(tmp_path: Path, **fields: object) -> str:
    return front.nginx_conf(Settings(**fields), tmp_path, tmp_path / "workers.sock")


def test_the_settings_become_nginx_limits(tmp_path: Path) -> None:
    text = render(
        tmp_path,
        port=9000,
        metrics_port=9100,
        client_header_timeout=7,
        client_body_timeout=9,
        keepalive_timeout=61,
        max_body_bytes=5_000_000,
        max_connections=100,
        processes=2,
        threads=3,
    )
    for line in (
        "listen 127.0.0.1:9000 backlog=1024; listen 127.0.0.1:9100 backlog=1024;",
        "client_header_timeout 7s;",
        "client_body_timeout 9s;",
        "keepalive_timeout 61s;",
        "client_max_body_size 5000000;",
        "client_body_buffer_size 1048576;",
        "worker_connections 144;",  # 100 clients + 2 x 2 x 3 upstreams + 32
        f"uwsgi_pass unix:{tmp_path}/workers.sock;",
        "uwsgi_read_timeout 70s;",  # the request timeout (60) + slack: the worker's 504 first
    ):
        assert line in text
    assert "uwsgi_param SERVEKIT_FRONT_ERROR 413;" in text
    assert "return 502 '" in text
    assert '"code":"WORKER_LOST"' in text


def test_auto_falls_back_to_direct_and_nginx_without_it_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(front, "find_nginx", lambda: None)
    assert front.front_of(Settings(front="auto")) == ("direct", None)
    assert front.front_of(Settings(front="direct")) == ("direct", None)
    with pytest.raises(ConfigError, match="apt-get install nginx"):
        front.front_of(Settings(front="nginx"))
    monkeypatch.setattr(front, "find_nginx", lambda: "/usr/sbin/nginx")
    assert front.front_of(Settings(front="auto")) == ("nginx", "/usr/sbin/nginx")


def test_paths_that_would_break_nginx_quoting_are_refused() -> None:
    with pytest.raises(ConfigError):
        front._quote('/tmp/a"b')


def test_the_workers_backlog_is_nginxs_or_the_kernels_maximum(tmp_path: Path) -> None:
    from servekit.serving.uwsgi import listen_backlog, uwsgi_options

    somaxconn = tmp_path / "somaxconn"
    somaxconn.write_text("4096\n")
    assert listen_backlog(somaxconn=somaxconn) == 1024
    somaxconn.write_text("128\n")
    assert listen_backlog(somaxconn=somaxconn) == 128  # uWSGI refuses more
    assert listen_backlog(somaxconn=tmp_path / "absent") == 128
    options = uwsgi_options(Settings(), tmp_path, pid=1, nginx="/usr/sbin/nginx")
    assert ("listen", listen_backlog()) in options
