"""Access tokens on a real multi-process uWSGI server."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, http, post_json, run_cli, write_project

pytestmark = pytest.mark.integration

MODEL = {"model.py": "import os\ndef predict(x: int):\n    return {'x': x, 'pid': os.getpid()}\n"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(token: str) -> dict[str, str]:  # what Domino's clients send: auth=(token, token)
    pair = base64.b64encode(f"{token}:{token}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def test_only_token_holders_get_predictions(serve, tmp_path: Path) -> None:
    write_project(tmp_path, MODEL)
    server = serve(
        f"{tmp_path}/model.py:predict",
        "--processes",
        "2",
        env={"SERVEKIT_ACCESS_TOKENS": "alpha,beta"},
    )
    url = f"{server.url}/model"
    for headers in (bearer("alpha"), bearer("beta"), basic("alpha")):
        assert post_json(url, {"data": {"x": 1}}, headers).status == 200
    for headers in ({}, bearer("gamma"), basic("gamma"), {"Authorization": "alpha"}):
        reply = post_json(url, {"data": {"x": 1}}, headers)
        assert reply.status == 401
        assert reply.body["error"]["code"] == "UNAUTHORIZED"
        assert "bearer" in reply.headers["www-authenticate"].lower()
    assert http("GET", f"{server.url}/readyz").status == 200
    assert "NO ACCESS TOKENS" not in server.log()


def test_a_rotated_token_file_takes_effect_in_every_worker(serve, tmp_path: Path) -> None:
    write_project(tmp_path, MODEL)
    tokens = tmp_path / "tokens"
    tokens.write_text("first\n")
    server = serve(
        f"{tmp_path}/model.py:predict", "--processes", "2", "--access-tokens-file", str(tokens)
    )
    url = f"{server.url}/model"
    assert post_json(url, {"data": {"x": 1}}, bearer("first")).status == 200
    # Rotate as a Secret update does: write a new file, then rename it over the old one.
    fresh = tmp_path / "tokens.new"
    fresh.write_text("second\n")
    os.replace(fresh, tokens)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        replies = [post_json(url, {"data": {"x": 1}}, bearer("second")) for _ in range(6)]
        if (
            all(r.status == 200 for r in replies)
            and len({r.body["result"]["pid"] for r in replies}) == 2
        ):
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the new token was not accepted by both workers within 10 s")
    for _ in range(6):
        old = post_json(url, {"data": {"x": 1}}, bearer("first"))
        assert old.status == 401


def test_no_tokens_warns_loudly_and_require_auth_refuses_to_start(serve, tmp_path: Path) -> None:
    write_project(tmp_path, MODEL)
    server = serve(f"{tmp_path}/model.py:predict", "--processes", "1")
    assert post_json(f"{server.url}/model", {"data": {"x": 1}}).status == 200
    assert "NO ACCESS TOKENS CONFIGURED" in server.log()
    refused = run_cli(
        ["serve", "model.py:predict", "--require-auth", "--port", str(free_port())], cwd=tmp_path
    )
    assert refused.returncode == 2
    assert "SERVEKIT_REQUIRE_AUTH is set but no access tokens" in refused.stderr
