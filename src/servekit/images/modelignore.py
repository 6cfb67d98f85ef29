"""``.modelignore``: the files of a model project that stay out of its image.

Domino's file of the same name lists patterns, one per line, relative to the project
root. servekit reads it with ``.gitignore`` rules:

- blank lines and lines starting with ``#`` are ignored;
- ``*`` and ``?`` match within one path segment, ``**`` across segments;
- a pattern with a ``/`` other than a trailing one is anchored at the project root
  (``/data`` or ``data/raw``); one without matches a name at any depth (``*.csv``);
- a trailing ``/`` matches folders only, and everything under them;
- ``!pattern`` brings back what an earlier pattern excluded (not inside an excluded
  folder: as with git, servekit does not look into one).

``.git/`` is always excluded. :meth:`ModelIgnore.leaving_out` names the rule (and its
line) that decides a path is left out, so that an error can say which line to change.
I/O-free but for :func:`read_modelignore` and :func:`included_files`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ModelIgnore",
    "Rule",
    "dockerignore",
    "escape",
    "included_files",
    "read_modelignore",
]

FILENAME = ".modelignore"
ALWAYS = (".git/",)


@dataclass(frozen=True)
class Rule:
    """One pattern line: what it matches, whether it excludes or re-includes, and its line
    number in ``.modelignore`` (0 for servekit's own ``.git/``)."""

    pattern: str
    negate: bool
    dir_only: bool
    regex: re.Pattern[str]
    line: int = 0

    def matches(self, path: str, is_dir: bool) -> bool:
        """Whether this rule applies to ``path`` (``/``-separated, relative)."""
        if self.dir_only and not is_dir:
            return False
        return self.regex.fullmatch(path) is not None


def _class_end(glob: str, start: int) -> int:
    """The index of the ``]`` closing the class opened at ``start``, or -1."""
    i = start + 1
    if i < len(glob) and glob[i] in "!^":
        i += 1
    if i < len(glob) and glob[i] == "]":  # a leading ] is a member
        i += 1
    while i < len(glob) and glob[i] != "]":
        i += 2 if glob[i] == "\\" else 1
    return i if i < len(glob) else -1


def _class(members: str) -> str:
    """A glob class's members (``a-z``, ``!x``) as a regex class that never matches ``/``."""
    negate = members[:1] in ("!", "^")
    body = members[1:] if negate else members
    chars, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            chars.append("\\" + body[i + 1])
            i += 2
            continue
        chars.append("\\" + body[i] if body[i] in "\\^[]" else body[i])
        i += 1
    inner = "".join(chars)
    return f"[^/{inner}]" if negate else f"(?!/)[{inner}]"


def _translate(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        elif glob[i] == "[" and (end := _class_end(glob, i)) > 0:
            out.append(_class(glob[i + 1 : end]))
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def _rule(line: str, number: int) -> Rule | None:
    text = line.rstrip("\n")
    while text.endswith(" ") and not text.endswith("\\ "):  # unless escaped, as in git
        text = text[:-1]
    if not text or text.startswith("#"):
        return None
    negate = text.startswith("!")
    body = text[1:] if negate else text
    dir_only = body.endswith("/")
    body = body.rstrip("/")
    if not body:
        return None
    anchored = "/" in body
    body = body.lstrip("/")
    prefix = "" if anchored else "(?:.*/)?"
    return Rule(text, negate, dir_only, re.compile(prefix + _translate(body)), number)


@dataclass(frozen=True)
class ModelIgnore:
    """The rules of one ``.modelignore`` (plus ``.git/``), last match wins."""

    rules: tuple[Rule, ...]

    @classmethod
    def parse(cls, text: str) -> ModelIgnore:
        """Rules from the file's text."""
        numbered = [(line, 0) for line in ALWAYS]
        numbered += [(line, n) for n, line in enumerate(text.splitlines(), 1)]
        return cls(tuple(r for r in (_rule(line, n) for line, n in numbered) if r is not None))

    def deciding(self, path: str, is_dir: bool) -> Rule | None:
        """The last rule that matches ``path`` (it decides), or None when none does."""
        last = None
        for rule in self.rules:
            if rule.matches(path, is_dir):
                last = rule
        return last

    def excluded(self, path: str, is_dir: bool) -> bool:
        """Whether ``path`` (relative, ``/``-separated) is left out of the image, its
        folders not looked at (:meth:`leaving_out` looks at them too)."""
        rule = self.deciding(path, is_dir)
        return rule is not None and not rule.negate

    def leaving_out(self, path: str, is_dir: bool = False) -> tuple[str, Rule] | None:
        """Why ``path`` stays out of the image: the path that is left out (``path``, or the
        folder above it that is) and the rule that decides it; None when it goes in."""
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            here = "/".join(parts[:depth])
            rule = self.deciding(here, is_dir or depth < len(parts))
            if rule is not None and not rule.negate:
                return here, rule
        return None


def escape(path: str) -> str:
    """``path`` with the glob characters (``*?[\\``) escaped, for a pattern that matches
    only it, in ``.modelignore`` and ``.dockerignore`` alike."""
    return re.sub(r"([*?\[\\])", r"\\\1", path)


def dockerignore(files: Sequence[str]) -> str:
    """A ``.dockerignore`` that lets exactly ``files`` into a build context.

    An allowlist rather than a translation of the patterns: Docker's rules are not git's
    (Docker re-includes inside an excluded folder and has no folders-only patterns), so
    only the resolved list gives the same image. A file added later stays out of the
    image until ``servekit build --dockerfile-only`` runs again.
    """
    lines = [
        "# Written by servekit build --dockerfile-only from .modelignore: exactly the files",
        "# it let through then (not the Dockerfile). Run it again after adding files.",
        "**",
    ]
    lines += ["!" + escape(name) for name in files]
    return "\n".join(lines) + "\n"


def read_modelignore(project: Path) -> ModelIgnore:
    """The project's ``.modelignore`` rules (only ``.git/`` when it has none)."""
    path = project / FILENAME
    return ModelIgnore.parse(path.read_text(encoding="utf-8-sig") if path.is_file() else "")


def included_files(project: Path, ignore: ModelIgnore) -> list[str]:
    """Every file (or symlink) of ``project`` that goes into the image, sorted."""
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            rel = f"{prefix}{entry.name}"
            is_dir = entry.is_dir() and not entry.is_symlink()
            if ignore.excluded(rel, is_dir):
                continue
            if is_dir:
                walk(entry, rel + "/")
            else:
                found.append(rel)

    walk(project, "")
    return found
