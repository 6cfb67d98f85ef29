"""The nginx front's configuration checked by nginx itself (`nginx -t`, directly and
through `prepare_nginx`): Debian's nginx must be installed. What needs no nginx is in
tests/unit/serving/test_front_config.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from servekit.errors import ConfigError
from servekit.serving import front
from servekit.settings import Settings
from tests.ingress import nginx_binary


def render(tmp_path: Path, **fields: object) -> str:
    return front.nginx_conf(Settings(**fields), tmp_path, tmp_path / "workers.sock")


def test_the_rendered_configuration_is_valid_nginx(tmp_path: Path) -> None:
    (tmp_path / "nginx").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(tmp_path, metrics_port=9100, host="::1"))
    checked = subprocess.run(
        [nginx_binary(), "-t", "-q", "-c", str(conf)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_a_taken_port_is_one_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            front.prepare_nginx(Settings(port=port), tmp_path, nginx_binary())
