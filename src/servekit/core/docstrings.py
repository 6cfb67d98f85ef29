"""Parameter descriptions from a function's docstring (Google, NumPy or Sphinx style).
I/O-free."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

__all__ = ["parameter_docs", "summary"]

_SPHINX = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_GOOGLE_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters|Params)\s*:\s*$")
_GOOGLE_ITEM = re.compile(r"^(\s*)\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_HEADER = re.compile(r"^\s*(Parameters|Params)\s*$")
_NUMPY_ITEM = re.compile(r"^(\s*)(\w+)\s*(?::.*)?$")
_SECTION = re.compile(r"^\s*(Returns?|Yields?|Raises?|Examples?|Notes?|See Also)\s*:?\s*$")


def summary(fn: Callable[..., Any]) -> str:
    """The first paragraph of ``fn``'s docstring ('' when it has none)."""
    doc = inspect.getdoc(fn) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def parameter_docs(fn: Callable[..., Any]) -> dict[str, str]:
    """``{parameter: description}`` for the parameters the docstring documents."""
    lines = (inspect.getdoc(fn) or "").splitlines()
    found: dict[str, str] = {}
    for line in lines:
        match = _SPHINX.match(line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    found.update(_section(lines, _GOOGLE_HEADER, _GOOGLE_ITEM, inline=True))
    found.update(_section(lines, _NUMPY_HEADER, _NUMPY_ITEM, inline=False))
    return {name: text for name, text in found.items() if text}


def _section(
    lines: list[str], header: re.Pattern[str], item: re.Pattern[str], inline: bool
) -> dict[str, str]:
    """Items of a Google (``inline``: ``name: text``) or NumPy (``name : type`` then
    indented text) parameters section."""
    found: dict[str, str] = {}
    inside, indent, current = False, -1, ""
    for line in lines:
        if header.match(line):
            inside, indent, current = True, -1, ""
            continue
        if not inside:
            continue
        if _SECTION.match(line) or (not inline and set(line.strip()) == {"-"}):
            if _SECTION.match(line):
                inside = False
            continue
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        match = item.match(line)
        if match and (indent < 0 or depth <= indent):
            indent, current = depth, match.group(2)
            found[current] = match.group(3).strip() if inline else ""
        elif current and depth > indent:
            found[current] = f"{found[current]} {line.strip()}".strip()
        elif depth <= indent and not match:
            inside = False
    return found
