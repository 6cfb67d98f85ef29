"""The errors nginx answers itself, in the error shape of the route a request was for.

nginx cannot run servekit's renderers, so each error of
:data:`~servekit.http.front.NGINX_ANSWERS` is rendered once per error shape when the
configuration is written: one ``internal`` location per (shape, status), at
``/_servekit/error/<shape>/<status>``. ``error_page`` sends each status to the location
of ``$servekit_shape``, a ``map`` from ``$uri`` made from the route table (exact paths
first, then each path with parameters as a regular expression, as Flask matches them), so
a new protocol's routes get their shape from their rows alone. A request whose request
line nginx could not read (malformed, or longer than the line limit: 414) has no ``$uri``;
its shape is guessed from the raw request line instead (the route its path, perhaps cut
off at the limit, begins to match).

Error locations are reached by URI, not by name: nginx refuses a named location to a
request without a URI (it answers 500 instead). Their bodies come from the lifecycle's
renderers, so they match what a worker answers for the same error; the status is
nginx's own. I/O-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from servekit.errors import ServekitError
from servekit.http.front import NGINX_ANSWERS
from servekit.http.lifecycle import render_error
from servekit.http.routes import DOMINO, ROUTES, Route

__all__ = ["ERROR_PREFIX", "error_locations", "error_pages", "shape_maps", "shapes"]

ERROR_PREFIX = "/_servekit/error/"
"""Where the error locations are; a client asking for one is answered 404."""
_REQUEST_ID_MARK = "REQUESTIDMARK"
_PARAM = re.compile(r"<(?:\w+:)?\w+>")
_PATH = re.compile(r"[A-Za-z0-9_./:<>-]+")
_SHAPE = re.compile(r"[a-z0-9_]+")


def shapes(routes: Iterable[Route] = ROUTES) -> list[str]:
    """The error shapes of ``routes`` (their envelopes), Domino's, the default, first."""
    found = sorted({r.envelope for r in routes} - {DOMINO})
    for shape in found:
        if not _SHAPE.fullmatch(shape):
            raise ValueError(f"an envelope nginx cannot name in a path: {shape!r}")
    return [DOMINO, *found]


def _pattern(path: str, param: str) -> str:
    if not _PATH.fullmatch(path):
        raise ValueError(f"a route path nginx's configuration cannot hold: {path!r}")
    return param.join(re.escape(part) for part in _PARAM.split(path))


def shape_maps(routes: Iterable[Route] = ROUTES) -> str:
    """The two ``map`` blocks: ``$servekit_shape`` from ``$uri`` (from the request line
    when there is no URI) to the shape of the route it matches, Domino's by default."""
    ordered = sorted(routes, key=lambda r: _PARAM.search(r.path) is not None)  # exact first
    by_uri, by_line = ['"" $servekit_line_shape;'], []
    for route in ordered:
        if _PARAM.search(route.path):
            by_uri.append(f'"~^{_pattern(route.path, "[^/]+")}$" {route.envelope};')
        else:
            by_uri.append(f'"{route.path}" {route.envelope};')
        # The raw path after the method (and perhaps scheme and host); it may be cut off.
        raw = _pattern(route.path, "[^/?# ]+")
        by_line.append(f'"~^[^ ]+ (?:https?://[^/ ]*)?{raw}(?:[?# ]|$)" {route.envelope};')
    line_map = _map("$request", "$servekit_line_shape", by_line)
    return line_map + _map("$uri", "$servekit_shape", by_uri)


def _map(source: str, target: str, entries: list[str]) -> str:
    lines = "".join(f"\n    {entry}" for entry in dict.fromkeys(entries))
    return f"\n  map {source} {target} {{\n    default {DOMINO};{lines}\n  }}"


def error_pages() -> str:
    """The ``error_page`` lines sending each status nginx answers to its location."""
    return "".join(
        f"\n    error_page {error.status} {ERROR_PREFIX}$servekit_shape/{error.status};"
        for error in NGINX_ANSWERS
    )


def error_locations(routes: Iterable[Route] = ROUTES) -> str:
    """One ``internal`` location per shape and status, answering the rendered body."""
    return "".join(
        f"""
    location = {ERROR_PREFIX}{shape}/{error.status} {{
      internal;
      add_header X-Request-ID $request_id always;
      return {error.status} '{body(error, shape)}';
    }}"""
        for shape in shapes(routes)
        for error in NGINX_ANSWERS
    )


def body(error: ServekitError, shape: str) -> str:
    """``error`` in ``shape`` as an nginx literal; its request id is ``$request_id``."""
    _, rendered = render_error(error, shape, _REQUEST_ID_MARK)
    text = rendered.decode()
    if "'" in text or "\\" in text or "$" in text:
        raise ValueError(f"not an nginx literal: {text!r}")
    return text.replace(_REQUEST_ID_MARK, "$request_id")
