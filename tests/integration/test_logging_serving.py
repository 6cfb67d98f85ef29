"""Log lines from a real server: JSON per line, user output captured and tagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import post_json, write_project

pytestmark = pytest.mark.integration

MODEL = """
    import logging
    import sys

    print("loading weights")

    def predict(x: int):
        print('scoring "x" =', x)
        print("two\\nlines")
        sys.stderr.write("a warning without newline")
        sys.stderr.flush()
        logging.getLogger("model").info("model log line")
        return x
"""


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_user_output_becomes_tagged_json_log_lines(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    server = serve(f"{tmp_path}/model.py:predict", "--processes", "1")
    reply = post_json(f"{server.url}/model", {"data": {"x": 7}}, {"X-Request-ID": "req-77"})
    assert reply.status == 200
    server.stop()
    lines = json_lines(server.log())
    tagged = [line for line in lines if line.get("request_id") == "req-77"]
    messages = {(line["logger"], line["message"]) for line in tagged}
    assert ("servekit.user.stdout", 'scoring "x" = 7') in messages
    assert ("servekit.user.stdout", "two") in messages
    assert ("servekit.user.stdout", "lines") in messages
    assert ("servekit.user.stderr", "a warning without newline") in messages
    assert ("model", "model log line") in messages
    access = [line for line in tagged if line["logger"] == "servekit.access"]
    assert access[0]["code"] == 200
    assert {"route", "duration_ms", "bytes_in", "bytes_out", "method"} <= set(access[0])
    assert any(line["message"] == "loading weights" for line in lines)
    starting = [line for line in lines if line["message"] == "starting"]
    assert starting[0]["processes"] == 1


def test_text_format_for_humans(serve, tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": MODEL})
    server = serve(f"{tmp_path}/model.py:predict", "--processes", "1", "--log-format", "text")
    post_json(f"{server.url}/model", {"data": {"x": 1}}, {"X-Request-ID": "req-1"})
    server.stop()
    log = server.log()
    assert "INFO servekit.access: request" in log
    assert "request_id=req-1" in log
    assert not any(line.startswith('{"time"') for line in log.splitlines())
