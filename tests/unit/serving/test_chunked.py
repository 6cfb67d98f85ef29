"""De-chunking request bodies before the app sees them (a fake chunk reader here)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from servekit.serving.chunked import ChunkedInput


def seen_by_app(
    chunks: list[bytes], limit: int = 100, headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], bytes]:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.update(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return [environ["wsgi.input"].read(length) if length <= limit else b"413"]

    feed: Iterator[bytes] = iter([*chunks, b""])
    environ = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b""),
        **(headers or {}),
    }
    body = b"".join(ChunkedInput(app, lambda: next(feed), limit)(environ, lambda *a: None))
    return seen, body


def test_chunks_become_an_ordinary_body() -> None:
    environ, body = seen_by_app([b'{"data": ', b'{"x": 1}}'])
    assert body == b'{"data": {"x": 1}}'
    assert environ["CONTENT_LENGTH"] == str(len(body))
    assert "HTTP_TRANSFER_ENCODING" not in environ  # else werkzeug ignores the length


def test_reading_stops_past_the_limit_and_the_length_tells_the_app() -> None:
    environ, body = seen_by_app([b"a" * 60, b"b" * 60, b"c" * 60], limit=100)
    assert body == b"413"
    assert environ["CONTENT_LENGTH"] == "120"  # stopped after the chunk that crossed it


def test_requests_with_a_length_are_left_alone() -> None:
    environ, _ = seen_by_app([b"never read"], headers={"CONTENT_LENGTH": "0"})
    assert environ["CONTENT_LENGTH"] == "0"


def test_a_broken_chunk_stream_is_a_400_in_the_envelope() -> None:
    def broken() -> bytes:
        raise OSError("unable to read chunk")

    statuses: list[str] = []
    middleware = ChunkedInput(lambda e, s: [b"app"], broken, 100)
    body = b"".join(
        middleware(
            {"HTTP_TRANSFER_ENCODING": "chunked"}, lambda status, headers: statuses.append(status)
        )
    )
    assert statuses == ["400 BAD REQUEST"]
    assert orjson.loads(body)["error"]["code"] == "BAD_REQUEST"
