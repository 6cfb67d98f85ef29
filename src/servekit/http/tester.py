"""The built-in tester page at ``GET /``, and its static files under ``/_servekit/static/``.

The page shows the model (name, version, signature), a JSON editor prefilled with an
example request (``SERVEKIT_EXAMPLE_REQUEST``'s file, else one made from the signature's
schema), Send (``POST /model``) and, when the async API is on, Submit (``POST /async``,
then polling), the answer with its status, time and request id, and code samples. What
the page needs to know is one JSON blob in it; the rest is ``tester.js`` and
``tester.css``, served by servekit itself: no build step, no CDN, works offline. The page
holds no secret, so it needs no token; the calls it makes send the one typed into it.
"""

from __future__ import annotations

import hashlib
import html
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from flask import Response, request

from servekit import errors
from servekit._version import __version__
from servekit.core.dataplane import DataPlane
from servekit.core.docstrings import parameter_docs, summary
from servekit.core.examples import example_request
from servekit.core.schema import signature_schema
from servekit.http.example_file import read_example
from servekit.http.state import ServerState
from servekit.protocols.domino import DominoCodec
from servekit.settings import Settings, env_name

__all__ = ["STATIC_PREFIX", "views"]

log = logging.getLogger("servekit.http")

STATIC_PREFIX = "/_servekit/static/"
"""Where the page's script and style sheet are served."""
_TYPES = {"tester.js": "text/javascript", "tester.css": "text/css"}
_IMMUTABLE = "public, max-age=31536000, immutable"  # asked for by content hash: ?v=<etag>
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} {version} · servekit tester</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="_servekit/static/tester.css?v={css}">
<script type="application/json" id="servekit-config">{config}</script>
<script src="_servekit/static/tester.js?v={js}" defer></script>
</head>
<body>
<header>
<h1><span id="model-name">{name}</span> <span id="model-version">version {version}</span></h1>
<p class="meta">servekit {harness} · {runtime} runtime ·
<a href="openapi.json">OpenAPI document</a></p>
<p id="summary">{summary}</p>
</header>
<noscript><p class="error">This page needs JavaScript to send requests.</p></noscript>
<main>
<section id="signature-section"><h2>Signature</h2>
<table id="signature"><thead><tr><th>Name</th><th>Type</th><th>Default</th>
<th>Description</th></tr></thead><tbody></tbody></table>
<dl id="definitions"></dl></section>
<section id="request-section"><h2>Request</h2>
<label for="request">Request body (JSON)</label>
<textarea id="request" rows="12" spellcheck="false" autocomplete="off"></textarea>
<p id="request-error" class="error" role="alert" hidden></p>
{token}<div class="actions"><button type="button" id="send">Send</button>
{submit}<button type="button" id="reset" class="secondary">Reset to the example</button></div>
</section>
<section id="response-section" aria-live="polite"><h2>Response</h2>
<dl class="facts"><dt>Status</dt><dd id="status">&ndash;</dd><dt>Time</dt><dd id="time">&ndash;</dd>
<dt>Request id</dt><dd id="request-id">&ndash;</dd><dt>Job</dt><dd id="job">&ndash;</dd></dl>
<pre id="response-body" class="code"></pre></section>
<section id="samples-section"><h2>Code samples</h2><div id="samples"></div></section>
</main>
</body>
</html>
"""
_TOKEN = """<label for="token">Access token</label>
<input id="token" type="password" autocomplete="off" spellcheck="false"
 placeholder="sent as Authorization: Bearer …">
"""
_SUBMIT = '<button type="button" id="submit">Submit (async)</button>\n'
_NOT_LOADED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>servekit: the model is not loaded yet</title><link rel="icon" href="data:,"></head>
<body><h1>The model is not loaded yet</h1>
<p>This page reloads itself until it is (servekit {harness}).</p></body></html>
"""


@dataclass(frozen=True)
class _Asset:
    body: bytes
    content_type: str
    etag: str


def views(settings: Settings, state: ServerState, secured: bool) -> dict[str, Any]:
    """The views of ``GET /`` and the page's static files, by endpoint; ``secured``:
    access tokens are configured (the page asks for one).

    The example file (``SERVEKIT_EXAMPLE_REQUEST``) is read here, once; the page itself is
    built once the data plane is there (at once under uWSGI, which loads it first).
    """
    assets = _assets()
    versions = {name.split(".")[1]: asset.etag for name, asset in assets.items()}
    example = read_example(settings.example_request) if settings.example_request else None
    built: dict[int, bytes] = {}

    def page() -> Response:
        plane = state.dataplane
        if plane is None:
            body = _NOT_LOADED.format(harness=html.escape(__version__))
            return Response(body, 503, {**_HEADERS, "Retry-After": "1"}, mimetype="text/html")
        if id(plane) not in built:
            built.clear()
            built[id(plane)] = _render(settings, plane, example, versions, secured)
        return Response(built[id(plane)], 200, _HEADERS, mimetype="text/html")

    def static(name: str) -> Response:
        asset = assets.get(name)
        if asset is None:
            raise errors.NotFound(f"no static file {name!r}")
        response = Response(asset.body, 200, content_type=asset.content_type)
        response.headers["X-Content-Type-Options"] = "nosniff"
        fresh = request.args.get("v") == asset.etag
        response.headers["Cache-Control"] = _IMMUTABLE if fresh else "no-cache"
        response.set_etag(asset.etag)
        response.make_conditional(request)  # a 304 for a matching If-None-Match
        return response

    return {"tester": page, "static": static}


def _render(
    settings: Settings,
    plane: DataPlane,
    example: Any | None,
    versions: dict[str, str],
    auth: bool,
) -> bytes:
    """The page for ``plane``: its configuration blob and the parts that depend on it."""
    served = getattr(plane.runtime, "served", None)
    docs = parameter_docs(served) if callable(served) else {}
    schema = signature_schema(plane.binder.signature, docs)
    if example is None:
        example = example_request(schema)
    else:
        _check_example(plane, example)
    release = plane.release
    config = {
        "model": release.to_dict(),
        "runtime": plane.runtime.kind,
        "schema": schema,
        "example": example,
        "example_text": orjson.dumps(example, option=orjson.OPT_INDENT_2).decode(),
        "auth": auth,
        "async": settings.async_enabled,
    }
    blob = orjson.dumps(config).decode().replace("<!--", "\\u003c!--").replace("</", "<\\/")
    text = _PAGE.format(
        name=html.escape(release.model_name),
        version=html.escape(release.model_version),
        harness=html.escape(release.harness_version),
        runtime=html.escape(plane.runtime.kind),
        summary=html.escape(summary(served) if callable(served) else ""),
        config=blob,
        css=versions["css"],
        js=versions["js"],
        token=_TOKEN if auth else "",
        submit=_SUBMIT if settings.async_enabled else "",
    )
    return text.encode()


def _assets() -> dict[str, _Asset]:
    folder = resources.files("servekit.http").joinpath("static")
    found = {}
    for name, kind in _TYPES.items():
        body = folder.joinpath(name).read_bytes()
        etag = hashlib.sha256(body).hexdigest()[:16]
        found[name] = _Asset(body, f"{kind}; charset=utf-8", etag)
    return found


def _check_example(plane: DataPlane, example: Any) -> None:
    """Warn (once per process) when the shipped example does not fit the signature."""
    try:
        DominoCodec(plane).bind(orjson.dumps(example))
    except errors.ServekitError as exc:
        log.warning(
            "%s does not fit the model's signature: %s", env_name("example_request"), exc.message
        )
