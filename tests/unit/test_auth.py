"""Access tokens: sources, header forms, rotation, and the 401 envelope."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from servekit.auth import Authenticator, FileTokens, StaticTokens, build_authenticator
from servekit.errors import ConfigError
from servekit.http import ServerState, create_app
from servekit.loading import load_dataplane
from servekit.settings import Settings
from tests.conftest import write_project


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


ALLOWED = [
    "Bearer tok-1",
    "bearer tok-2",
    "Bearer   tok-1  ",
    basic("tok-1", "tok-1"),
    basic("tok-2", ""),
    basic("", "tok-1"),
    basic("someone", "tok-2"),
]
DENIED = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer wrong",
    "Bearer tok-1x",
    "Token tok-1",
    "tok-1",
    "Basic",
    "Basic !!!notbase64",
    basic("", ""),
    basic("wrong", "wrong"),
    "Basic " + base64.b64encode(b"\xff\xfe:tok").decode(),
    "Digest tok-1",
]


@pytest.mark.parametrize("header", ALLOWED)
def test_valid_tokens_in_every_form_are_allowed(header: str) -> None:
    assert Authenticator([StaticTokens(["tok-1", "tok-2"])]).allows(header)


@pytest.mark.parametrize("header", DENIED)
def test_everything_else_is_denied(header: str | None) -> None:
    assert not Authenticator([StaticTokens(["tok-1", "tok-2"])]).allows(header)


def test_no_sources_means_disabled_and_an_empty_file_denies_all(tmp_path: Path) -> None:
    assert not build_authenticator("", "").enabled
    assert not build_authenticator(" , ", "").enabled
    empty = tmp_path / "tokens"
    empty.write_text("# no tokens yet\n\n")
    auth = build_authenticator("", str(empty))
    assert auth.enabled
    assert not auth.allows("Bearer anything")


def test_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("old-token\n")
    now = [0.0]
    source = FileTokens(str(path), interval=1.0, clock=lambda: now[0])
    assert source.tokens() == (b"old-token",)
    path.write_text("# rotated\nnew-token\nother-token\n")
    os.utime(path, ns=(1, 10**9 + 1))  # a distinct mtime even on coarse file systems
    assert source.tokens() == (b"old-token",), "looked at no more than once per interval"
    now[0] = 1.5
    assert source.tokens() == (b"new-token", b"other-token")
    path.unlink()
    now[0] = 3.0
    assert source.tokens() == (b"new-token", b"other-token"), "a missing file keeps the last"


def test_a_token_file_missing_at_start_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SERVEKIT_ACCESS_TOKENS_FILE"):
        FileTokens(str(tmp_path / "absent"))


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    write_project(tmp_path, {"m.py": "def predict(x: int):\n    return x + 1\n"})
    settings = Settings(target=f"{tmp_path}/m.py:predict", access_tokens="tok-1,tok-2")
    state = ServerState(dataplane=load_dataplane(settings))
    return create_app(settings, state).test_client()


@pytest.mark.parametrize("header", DENIED)
def test_http_denials_are_401_in_the_envelope(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    reply = client.post("/model", json={"data": {"x": 1}}, headers=headers)
    assert reply.status_code == 401
    assert reply.get_json()["error"]["code"] == "UNAUTHORIZED"
    assert reply.headers["WWW-Authenticate"] == 'Bearer, Basic realm="servekit"'


@pytest.mark.parametrize("header", ALLOWED)
def test_http_holders_get_predictions(client: FlaskClient, header: str) -> None:
    reply = client.post(
        "/models/m/1/model", json={"data": {"x": 1}}, headers={"Authorization": header}
    )
    assert reply.status_code == 200
    assert reply.get_json()["result"] == 2


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"])
def test_probes_are_never_behind_auth(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_print_config_masks_the_tokens() -> None:
    env = Settings(access_tokens="s3cret").redacted_env()
    assert env["SERVEKIT_ACCESS_TOKENS"] == "***"
    assert "s3cret" not in str(env)
