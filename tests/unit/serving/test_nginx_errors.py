"""The errors nginx answers itself (servekit.serving.nginx_errors): the maps choosing a
request's error shape agree with the route Flask would match, and every status nginx
answers has a body in every shape, the one a worker renders. Real nginx answering them
is tests/integration/test_front_errors.py."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.routing import Map, Rule

from servekit import errors
from servekit.http.front import MAX_HEADER_LINE_BYTES, NGINX_ANSWERS
from servekit.http.routes import DOMINO, KSERVE_V1, MLFLOW, ROUTES, SELDON, V2, Route
from servekit.protocols.mlflow import encode_error as mlflow_error
from servekit.protocols.v2 import encode_error as v2_error
from servekit.serving import front, nginx_errors
from servekit.settings import Settings

ENVELOPES = {r.path: r.envelope for r in ROUTES}
FLASK = Map([Rule(r.path, endpoint=r.path) for r in ROUTES]).bind("t")
ENTRY = re.compile(r'^\s+"(.*)" (\$?\w+);$')


class NginxMap:
    """One rendered ``map`` block, looked up as nginx does: an exact key first, then the
    regular expressions in order, else the default."""

    def __init__(self, conf: str, source: str) -> None:
        block = conf.split(f"map {source} ", 1)[1].split("}", 1)[0]
        self.exact: dict[str, str] = {}
        self.regexes: list[tuple[re.Pattern[str], str]] = []
        for line in block.splitlines():
            found = ENTRY.match(line)
            if found is None:
                continue
            key, value = found.groups()
            if key.startswith("~"):
                self.regexes.append((re.compile(key[1:]), value))
            else:
                self.exact.setdefault(key, value)
        assert f"default {DOMINO};" in block

    def __call__(self, value: str) -> str:
        if value in self.exact:
            return self.exact[value]
        return next((shape for regex, shape in self.regexes if regex.search(value)), DOMINO)


CONF = front.nginx_conf(Settings(), Path("/run/x"), Path("/run/x/workers.sock"))
BY_URI, BY_LINE = NginxMap(CONF, "$uri"), NginxMap(CONF, "$request")


def flask_shape(path: str) -> str:
    """The envelope a worker answers ``path``'s errors in (Domino's when no route)."""
    try:
        rule, _ = FLASK.match(path)
    except Exception:
        return DOMINO
    return ENVELOPES[str(rule)]


def shape_of(uri: str, line: str = "") -> str:
    found = BY_URI(uri)
    return BY_LINE(line) if found == "$servekit_line_shape" else found


SEGMENT = st.text("abcXYZ019-_:~", min_size=1, max_size=12)


def example(route: Route, values: list[str]) -> str:
    parts = re.split(r"<(?:\w+:)?\w+>", route.path)
    out = parts[0]
    for part, value in zip(parts[1:], values, strict=False):
        out += value + part
    return out


@given(route=st.sampled_from(ROUTES), values=st.lists(SEGMENT, min_size=3, max_size=3))
def test_a_uri_gets_the_shape_of_the_route_flask_matches(route: Route, values: list[str]) -> None:
    path = example(route, values)
    assert shape_of(path) == flask_shape(path) == route.envelope, path


@given(
    route=st.sampled_from(ROUTES),
    values=st.lists(SEGMENT, min_size=3, max_size=3),
    method=st.sampled_from(["GET", "POST", "TRACE", "x"]),
    host=st.sampled_from(["", "http://h:8080", "https://h"]),
    query=st.text("a=&b%20", max_size=40),
    cut=st.integers(0, 60),
)
def test_an_unread_request_line_gets_the_shape_of_its_path(
    route: Route, values: list[str], method: str, host: str, query: str, cut: int
) -> None:
    """No $uri (malformed, or too long: cut off at the limit): the raw line decides."""
    path = example(route, values)
    line = f"{method} {host}{path}?{query} HTTP/1.1"
    kept = len(f"{method} {host}{path}") + cut
    assert shape_of("", line[:kept]) == route.envelope, line[:kept]


@pytest.mark.parametrize(
    ("uri", "line", "shape"),
    [
        ("/v2", "", V2),
        ("/v2/models/m/infer", "", V2),
        ("/v2/models/m/versions/3/ready", "", V2),
        ("/v1/models/m:predict", "", KSERVE_V1),
        ("/api/v1.0/predictions", "", SELDON),
        ("/invocations", "", MLFLOW),
        ("/ping", "", MLFLOW),
        ("/model", "", DOMINO),
        ("/v2/health/live", "", DOMINO),  # the route table gives the probes Domino's
        ("/v2/models", "", DOMINO),  # no such route
        ("/v2/models/m/infer/x", "", DOMINO),
        ("/_servekit/error/v2/400", "", DOMINO),
        # A path cut off inside a model's name is still that model's V2 route.
        ("", "POST /v2/models/" + "n" * 9000, V2),
        ("", "GET /v2/mod", DOMINO),
        ("", "GARBAGE", DOMINO),
        ("", "", DOMINO),
    ],
)
def test_shapes_of_known_paths(uri: str, line: str, shape: str) -> None:
    assert shape_of(uri, line[:MAX_HEADER_LINE_BYTES]) == shape


def location(conf: str, shape: str, status: int) -> str:
    head = f"location = /_servekit/error/{shape}/{status} {{"
    assert conf.count(head) == 1, head
    return conf.split(head, 1)[1].split("\n    }", 1)[0]


def test_every_status_nginx_answers_has_a_body_in_every_shape() -> None:
    statuses = [e.status for e in NGINX_ANSWERS]
    assert {400, 404, 405, 414, 500, 501, 502, 504, 505} == set(statuses)
    assert len(statuses) == len(set(statuses))
    assert nginx_errors.shapes() == [DOMINO, KSERVE_V1, MLFLOW, SELDON, V2]
    for error in NGINX_ANSWERS:
        line = f"error_page {error.status} /_servekit/error/$servekit_shape/{error.status};"
        assert line in CONF
        for shape in nginx_errors.shapes():
            block = location(CONF, shape, error.status)
            assert "internal;" in block
            assert "add_header X-Request-ID $request_id always;" in block
            literal = block.split(f"return {error.status} '", 1)[1].split("';", 1)[0]
            body = orjson.loads(literal.replace("$request_id", "r1"))
            if shape in (V2, KSERVE_V1):
                assert body == {"error": error.message}
            elif shape == SELDON:
                assert body["status"]["info"] == error.message
            elif shape == MLFLOW:
                assert body["message"] == error.message
                assert literal.encode() == mlflow_error(error)[1], literal
            else:
                assert body == error.to_envelope("r1")
    # The worker hands back what it alone can answer in the route's shape.
    assert "error_page 413 = @servekit_413;" in CONF
    assert "recursive_error_pages on;" in CONF


def test_the_v2_body_is_the_codecs() -> None:
    error = next(e for e in NGINX_ANSWERS if e.status == 414)
    literal = location(CONF, V2, 414).split("return 414 '", 1)[1].split("';", 1)[0]
    assert literal.encode() == v2_error(error)[1]
    assert "8192 bytes" in error.message


def test_a_new_protocols_rows_get_their_shape_from_the_table() -> None:
    rows = (
        *ROUTES,
        Route("/v9/things/<name>:go", ("POST",), "v9_go", envelope="v9"),
        Route("/v9", ("GET",), "v9_root", envelope="v9"),
    )
    maps = nginx_errors.shape_maps(rows)
    assert '"~^/v9/things/[^/]+:go$" v9;' in maps
    assert '"/v9" v9;' in maps
    assert nginx_errors.shapes(rows)[-1] == "v9"


def test_what_nginx_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="not an nginx literal"):
        nginx_errors.body(errors.BadRequest("it's"), DOMINO)
    with pytest.raises(ValueError, match="cannot hold"):
        nginx_errors.shape_maps([Route('/a"b', ("GET",), "x")])
    with pytest.raises(ValueError, match="cannot name"):
        nginx_errors.shapes([Route("/a", ("GET",), "x", envelope="V 2")])
