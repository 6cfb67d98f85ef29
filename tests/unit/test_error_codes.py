"""Every error code of ``servekit.errors`` a client can be answered with is in the
README's table of codes, with its status."""

from __future__ import annotations

import re
from pathlib import Path

from servekit import errors

REPO = Path(__file__).resolve().parents[2]


def _client_errors() -> dict[str, int]:
    """Each code a ServekitError subclass of servekit.errors answers with, and its status."""
    found: dict[str, int] = {}
    pending = list(errors.ServekitError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__ == "servekit.errors":  # not a protocol's own shape (MLflow's)
            found[cls.code] = cls.status
    return found


def test_every_error_code_is_in_the_readme_with_its_status() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", readme, re.MULTILINE))
    for code, status in _client_errors().items():
        if code in ("LOAD_ERROR", "CONFIG_ERROR"):  # start-up errors: never an answer
            continue
        assert code in rows, f"{code} is missing from the README's table of error codes"
        assert int(rows[code]) == status, code
