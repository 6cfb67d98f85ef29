"""Access tokens: sources, header forms, rotation, and the 401 envelope."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from servekit.errors import ConfigError
from servekit.http import ServerState, create_app
from servekit.http.auth import Authenticator, FileTokens, StaticTokens, build_authenticator
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


# --- non-ASCII tokens: the bytes a client sends, through WSGI's latin-1 str --------------

TOKEN = "tökén"


def wsgi(sent: bytes) -> str:
    """A header value as a WSGI server hands it over (PEP 3333): its bytes as latin-1."""
    return sent.decode("latin-1")


NON_ASCII_ALLOWED = {
    "Bearer, UTF-8 (curl)": wsgi(b"Bearer " + TOKEN.encode()),
    "Bearer, latin-1 (http.client)": wsgi(b"Bearer " + TOKEN.encode("latin-1")),
    "Basic, UTF-8": basic(TOKEN, TOKEN),
    "Basic, latin-1 (requests)": "Basic "
    + base64.b64encode(b"u:" + TOKEN.encode("latin-1")).decode(),
}
NON_ASCII_DENIED = {
    "another token": wsgi(b"Bearer " + "tökén2".encode()),
    "a prefix": wsgi(b"Bearer " + TOKEN.encode()[:-1]),
    "mis-decoded twice": wsgi(b"Bearer " + wsgi(TOKEN.encode()).encode()),
    "a byte stripped as text would be": wsgi(b"Bearer " + "tà".encode()),
}


@pytest.mark.parametrize("name", list(NON_ASCII_ALLOWED))
def test_a_non_ascii_token_matches_in_bearer_and_basic_alike(name: str) -> None:
    assert Authenticator([StaticTokens([TOKEN])]).allows(NON_ASCII_ALLOWED[name])


@pytest.mark.parametrize("name", list(NON_ASCII_DENIED))
def test_near_misses_of_a_non_ascii_token_are_denied(name: str) -> None:
    auth = Authenticator([StaticTokens([TOKEN, "t"])])
    assert not auth.allows(NON_ASCII_DENIED[name])


def test_a_token_ending_in_a_byte_that_is_latin_1_whitespace_matches() -> None:
    # "à" is C3 A0 in UTF-8, and A0 read as latin-1 is a no-break space, which
    # str.strip() used to cut off.
    assert Authenticator([StaticTokens(["tà"])]).allows(wsgi(b"Bearer " + "tà".encode()))


def test_a_header_beyond_latin_1_did_not_come_through_wsgi_and_is_text() -> None:
    assert Authenticator([StaticTokens(["tok€n"])]).allows("Bearer tok€n")
    assert Authenticator([StaticTokens(["tok€n"])]).allows(wsgi("Bearer tok€n".encode()))


@pytest.fixture
def non_ascii_client(tmp_path: Path) -> FlaskClient:
    write_project(tmp_path, {"m.py": "def predict(x: int):\n    return x + 1\n"})
    settings = Settings(target=f"{tmp_path}/m.py:predict", access_tokens=TOKEN)
    state = ServerState(dataplane=load_dataplane(settings))
    return create_app(settings, state).test_client()


@pytest.mark.parametrize("name", list(NON_ASCII_ALLOWED))
def test_http_takes_a_non_ascii_token_as_sent(non_ascii_client: FlaskClient, name: str) -> None:
    reply = non_ascii_client.post(
        "/model",
        json={"data": {"x": 1}},
        environ_overrides={"HTTP_AUTHORIZATION": NON_ASCII_ALLOWED[name]},
    )
    assert reply.status_code == 200
    assert reply.get_json()["result"] == 2
