"""A string a regular expression matches, for examples made from a ``Pattern``. I/O-free.

:func:`from_pattern` parses the expression with Python's own parser and writes one
matching string (the first branch, a class's first character, repetitions at their
least and then longer), checked with ``re.search``; lookarounds are not read, so a
pattern that needs one may get no string (None).
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any

__all__ = ["from_pattern"]

_RE_PARSER: Any = importlib.import_module(
    "re._parser" if sys.version_info >= (3, 11) else "sre_parse"
)


def from_pattern(pattern: str, least: int, most: Any) -> str | None:
    """A string that ``pattern`` matches, within the lengths, or None: repetitions are
    tried at their least, then longer (up to ``least``); lookarounds are not read."""
    try:
        parsed = _RE_PARSER.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    for stretch in sorted({0, 1, 2, least}):
        try:
            text = _Writer(stretch).write(parsed)
        except (LookupError, RecursionError, ValueError, re.error):
            return None
        if re.search(pattern, text) and least <= len(text) and (most is None or len(text) <= most):
            return text
    return None


# A character class's sample character, and the class as a regular expression.
_CATEGORIES = {
    "CATEGORY_DIGIT": ("1", r"\d"),
    "CATEGORY_NOT_DIGIT": ("a", r"\D"),
    "CATEGORY_WORD": ("a", r"\w"),
    "CATEGORY_NOT_WORD": ("-", r"\W"),
    "CATEGORY_SPACE": (" ", r"\s"),
    "CATEGORY_NOT_SPACE": ("a", r"\S"),
}


class _Writer:
    """Writes one string a parsed regular expression matches (``_RE_PARSER``'s tree):
    the first branch, the first character of a class, repetitions ``stretch`` times (within
    their bounds); anchors and lookarounds write nothing."""

    def __init__(self, stretch: int) -> None:
        self.stretch = stretch
        self.groups: dict[int, str] = {}

    def write(self, nodes: Any) -> str:
        return "".join(self.node(str(op), av) for op, av in nodes)

    def node(self, op: str, av: Any) -> str:
        if op in ("LITERAL", "NOT_LITERAL"):
            return chr(av) if op == "LITERAL" else "b" if av == ord("a") else "a"
        if op == "IN":
            return self.one_of(av)
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            least, most, inner = av
            return self.write(inner) * int(max(least, min(most, self.stretch)))
        if op == "SUBPATTERN":
            text = self.write(av[-1])
            if av[0] is not None:
                self.groups[av[0]] = text
            return text
        if op == "GROUPREF":
            return self.groups[av]
        written = {"ANY": "a", "AT": "", "ASSERT": "", "ASSERT_NOT": ""}
        if op in written:
            return written[op]
        if op in ("ATOMIC_GROUP", "BRANCH"):
            return self.write(av if op == "ATOMIC_GROUP" else av[1][0])
        raise LookupError(op)

    def one_of(self, items: list[tuple[Any, Any]]) -> str:
        """A character of a class: the first it names; for a negated class, the first of
        a few common characters it leaves out."""
        kind, av = str(items[0][0]), items[0][1]
        if kind == "LITERAL":
            return chr(av)
        if kind == "RANGE":
            return chr(av[0])
        if kind != "NEGATE":
            return _CATEGORIES[str(av)][0]
        parts = []
        for op, arg in items[1:]:
            if str(op) == "LITERAL":
                parts.append(re.escape(chr(arg)))
            elif str(op) == "RANGE":
                parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
            else:
                parts.append(_CATEGORIES[str(arg)][1])
        named = re.compile("[" + "".join(parts) + "]")
        left = [c for c in "a1A_- x" if not named.match(c)]
        if not left:
            raise LookupError("a class that leaves out every common character")
        return left[0]
