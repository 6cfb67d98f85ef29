"""The tester page at ``GET /`` and its static files, through Flask's test client."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from servekit.core.examples import example_request
from servekit.errors import ConfigError
from servekit.http import ServerState, create_app
from servekit.http.example_file import read_example
from servekit.http.tester import STATIC_PREFIX
from servekit.loading import load_dataplane
from servekit.settings import Settings
from tests.conftest import write_project

NASTY = "</script><script>alert(1)</script><!--&\"'"
MODEL = '''
    from typing import Annotated
    from servekit import Range

    def predict(start: Annotated[int, Range(ge=0)], stop: int, note: str = "NOTE") -> dict:
        """Sum a range.

        Args:
            start: the first value, included
            stop: DOC
        """
        return {"sum": sum(range(start, stop))}
'''
_BLOB = re.compile(r'<script type="application/json" id="servekit-config">(.*?)</script>', re.S)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    model = MODEL.replace("NOTE", NASTY.replace('"', '\\"')).replace("DOC", NASTY)
    return write_project(tmp_path / "proj", {"model.py": model})


def client(project: Path, **settings: Any) -> FlaskClient:
    chosen = Settings(target=f"{project}/model.py:predict", **settings)
    return create_app(chosen, ServerState(dataplane=load_dataplane(chosen))).test_client()


def page(test_client: FlaskClient) -> tuple[str, dict[str, Any]]:
    reply = test_client.get("/")
    assert reply.status_code == 200
    assert reply.mimetype == "text/html"
    text = reply.get_data(as_text=True)
    blobs = _BLOB.findall(text)
    assert len(blobs) == 1
    return text, json.loads(blobs[0])


def test_the_page_carries_the_model_signature_and_example(project: Path) -> None:
    reply = client(project).get("/")
    assert reply.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
    text, config = page(client(project))
    assert config["model"] == {"harness_version": config["model"]["harness_version"]} | {
        "model_name": "proj",
        "model_version": "1",
    }
    schema = config["schema"]
    assert list(schema["properties"]) == ["start", "stop", "note"]
    assert schema["properties"]["start"] == {
        "type": "integer",
        "minimum": 0,
        "description": "the first value, included",
    }
    assert schema["required"] == ["start", "stop"]
    assert config["example"] == example_request(schema)
    assert config["example"] == {"data": {"start": 1, "stop": 2, "note": NASTY}}
    assert (config["auth"], config["async"]) == (False, False)
    assert '<span id="model-name">proj</span>' in text
    assert '<p id="summary">Sum a range.</p>' in text
    assert 'id="token"' not in text
    assert 'id="submit"' not in text


def test_everything_put_into_the_page_is_escaped(project: Path) -> None:
    text, config = page(client(project, model_name=NASTY, model_version="<b>2</b>"))
    assert NASTY not in text
    outside = _BLOB.sub("", text)
    assert "alert(1)" not in outside.replace("&lt;script&gt;alert(1)", "")
    assert text.count("</script>") == 2  # the blob's and the script tag's: nothing else
    assert "<!--" not in text
    escaped = "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--&amp;&quot;&#x27;"
    assert f'<span id="model-name">{escaped}</span>' in text
    assert "version &lt;b&gt;2&lt;/b&gt;" in text
    assert "<\\/script>" in _BLOB.findall(text)[0]
    assert config["model"]["model_name"] == NASTY
    assert config["schema"]["properties"]["stop"]["description"] == NASTY
    assert config["schema"]["properties"]["note"]["default"] == NASTY


def test_the_token_field_is_there_only_with_tokens(project: Path, tmp_path: Path) -> None:
    listed = client(project, access_tokens="tok")
    text, config = page(listed)  # GET / needs no token
    assert config["auth"] is True
    assert '<input id="token" type="password"' in text
    assert listed.post("/model", json={"data": {"start": 1, "stop": 2}}).status_code == 401
    tokens = tmp_path / "tokens"
    tokens.write_text("secret\n", encoding="utf-8")
    text, config = page(client(project, access_tokens_file=str(tokens)))
    assert config["auth"] is True
    assert 'id="token"' in text
    assert "secret" not in text


def test_the_submit_button_is_there_only_with_async(project: Path, tmp_path: Path) -> None:
    text, config = page(client(project, async_store=f"sqlite://{tmp_path}/jobs.db"))
    assert config["async"] is True
    assert '<button type="button" id="submit">' in text


def test_an_example_file_replaces_the_made_up_example(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = {"parameters": [3, 9], "note": "</script>"}
    (tmp_path / "example.json").write_text(json.dumps(example), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"SERVEKIT_EXAMPLE_REQUEST": "example.json"})
    assert settings.example_request == str(tmp_path / "example.json")  # absolute from here on
    _, config = page(client(project, example_request="example.json"))
    assert config["example"] == example


def test_an_example_that_does_not_fit_is_a_warning(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "example.json"
    path.write_text('{"data": {"start": "one"}}', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="servekit.http"):
        _, config = page(client(project, example_request=str(path)))
    assert config["example"] == {"data": {"start": "one"}}
    assert "SERVEKIT_EXAMPLE_REQUEST does not fit the model's signature: data.start" in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "cannot be read: No such file or directory"),
        ("{", "is not a JSON file"),
        ('{"data": {"x": NaN}}', "is not a JSON file: NaN is not JSON"),
        (b"\xff", "is not a JSON file"),
        ("[1, 2]", 'must hold a request body, a JSON object with "data" or "parameters"'),
        ('{"x": 1}', "it holds an object without them"),
    ],
)
def test_a_bad_example_file_stops_start_up(
    tmp_path: Path, text: str | bytes | None, message: str
) -> None:
    path = tmp_path / "example.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^SERVEKIT_EXAMPLE_REQUEST '.*example\.json' ") as info:
        read_example(Settings.from_env({"SERVEKIT_EXAMPLE_REQUEST": str(path)}).example_request)
    assert message in info.value.message


def test_before_the_model_is_loaded_the_page_says_so() -> None:
    reply = create_app(Settings(), ServerState()).test_client().get("/")
    assert reply.status_code == 503
    assert reply.mimetype == "text/html"
    assert reply.headers["Retry-After"] == "1"
    assert "The model is not loaded yet" in reply.get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "kind"), [("tester.js", "text/javascript"), ("tester.css", "text/css")]
)
def test_static_files_are_served_with_types_and_caching(
    project: Path, name: str, kind: str
) -> None:
    test_client = client(project)
    text, _ = page(test_client)
    version = re.search(rf'_servekit/static/{re.escape(name)}\?v=(\w+)"', text)
    assert version is not None
    url = f"{STATIC_PREFIX}{name}"
    fresh = test_client.get(f"{url}?v={version.group(1)}")
    assert fresh.status_code == 200
    assert fresh.headers["Content-Type"] == f"{kind}; charset=utf-8"
    assert fresh.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert fresh.headers["X-Content-Type-Options"] == "nosniff"
    assert fresh.headers["ETag"] == f'"{version.group(1)}"'
    assert len(fresh.data) > 1000
    plain = test_client.get(url)
    assert plain.headers["Cache-Control"] == "no-cache"
    again = test_client.get(url, headers={"If-None-Match": fresh.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""


def test_other_static_names_are_404s(project: Path) -> None:
    for name in ("nope.js", "..%2Fapp.py", "tester.html"):
        reply = client(project).get(f"{STATIC_PREFIX}{name}")
        assert reply.status_code == 404
        assert reply.get_json()["error"]["code"] == "NOT_FOUND"
