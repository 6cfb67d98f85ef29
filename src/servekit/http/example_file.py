"""The example request a server shows on its tester page (``SERVEKIT_EXAMPLE_REQUEST``):
read and checked once, when the server starts (``servekit serve`` checks it before uWSGI
starts, so a bad file is one line and exit 2)."""

from __future__ import annotations

import json
from typing import Any

from servekit.errors import ConfigError
from servekit.settings import env_name

__all__ = ["read_example"]


def read_example(path: str) -> dict[str, Any]:
    """The request body in ``path``: a JSON object with ``data`` or ``parameters``."""
    name = env_name("example_request")
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f, parse_constant=_not_json)
    except OSError as exc:
        raise ConfigError(f"{name} {path!r} cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ConfigError(f"{name} {path!r} is not a JSON file: {exc}") from None
    if not isinstance(document, dict) or not {"data", "parameters"} & document.keys():
        got = "an object without them" if isinstance(document, dict) else "another JSON value"
        raise ConfigError(
            f'{name} {path!r} must hold a request body, a JSON object with "data" or '
            f'"parameters"; it holds {got}'
        )
    return document


def _not_json(word: str) -> Any:
    raise ValueError(f"{word} is not JSON")
