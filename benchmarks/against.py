"""``--against REV``: servekit as it was at a git revision, measured in the same run.

The revision's ``src`` folder is exported with ``git archive`` into a temporary folder
(the repository's worktrees, index and files are untouched) and its servekit is started
with the same Python, PYTHONPATH naming that folder first: ``import servekit`` finds
the old package before the editable install of the working tree, in ``servekit serve``
and in the uWSGI workers it starts (they inherit the environment). Both are checked
before anything is measured, and the folder is removed at the end, whatever happens.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.load import _one, http_request
from benchmarks.servers import ROOT, pythonpath, start

__all__ = ["AgainstError", "Old", "checkout", "interleave"]

WHERE_MODEL = "benchmarks/models/where.py:predict"
WHERE_BODY = json.dumps({"data": {"probe": "where"}}).encode()


class AgainstError(RuntimeError):
    """The revision cannot be measured (unknown, no servekit, or it cannot start)."""


@dataclass(frozen=True)
class Old:
    """servekit at ``rev`` (``commit``), its package exported under ``src``."""

    rev: str
    commit: str
    src: Path

    def name(self, server: str = "servekit") -> str:
        """The run's name for ``server`` (``servekit``, ``servekit-direct``) at ``rev``."""
        return f"{server}@{self.rev}"

    @property
    def package(self) -> Path:
        return self.src / "servekit" / "__init__.py"

    def to_dict(self) -> dict[str, Any]:
        return {"rev": self.rev, "commit": self.commit, "servekit_file": str(self.package)}

    def check_import(self) -> None:
        """``import servekit`` with the servers' PYTHONPATH finds the old package."""
        found = subprocess.run(
            [sys.executable, "-c", "import servekit, sys; print(servekit.__file__)"],
            env={**os.environ, "PYTHONPATH": pythonpath(self.src)},  # as the servers get
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        where = found.stdout.strip()
        if found.returncode or Path(where).resolve() != self.package.resolve():
            raise AgainstError(
                f"--against {self.rev}: with PYTHONPATH={pythonpath(self.src)}, "
                f"`import servekit` gives {where or found.stderr.strip()[-300:]!r}, "
                f"not the exported {self.package}"
            )
        print(f"# {self.name()}: import servekit -> {where}", flush=True)

    def check_served(self, cpus: str, processes: int, port: int) -> None:
        """Start the old servekit once (this also compiles its bytecode, so its cold
        start is measured warm, as the working tree's is) and ask the answering worker
        where its servekit comes from."""
        log = self.src.parent / "where.log"
        try:
            server = start(
                "servekit",
                str(ROOT / WHERE_MODEL),
                port,
                processes,
                cpus,
                ("/model", WHERE_BODY, b'"servekit"'),
                src=self.src,
                log=log,
            )
        except RuntimeError as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise AgainstError(
                f"servekit at {self.rev} ({self.commit[:12]}) cannot start here: {exc}. "
                f"Its output ended with:\n{tail}"
            ) from None
        try:
            request = http_request("/model", WHERE_BODY)
            for _ in range(2 * processes):  # most likely every worker answers once
                wrong = asyncio.run(_one(port, request, str(self.package).encode(), 5.0))
                if wrong:
                    raise AgainstError(
                        f"servekit at {self.rev}: a worker did not run the exported "
                        f"package {self.package}: {wrong}"
                    )
        finally:
            server.stop()
        print(f"# {self.name()}: its uWSGI workers run {self.package}", flush=True)


def resolve(rev: str) -> str:
    """The full commit hash ``rev`` names in this repository."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode:
        raise AgainstError(f"--against {rev}: not a commit of the repository at {ROOT}")
    return found.stdout.strip()


@contextmanager
def checkout(rev: str) -> Iterator[Old]:
    """Export ``rev``'s ``src`` into a temporary folder; removed on leaving, also on an
    error or Ctrl-C."""
    commit = resolve(rev)
    folder = Path(tempfile.mkdtemp(prefix="servekit-bench-against-"))
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit, "src"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        if archive.returncode:
            raise AgainstError(
                f"--against {rev}: git archive of its src failed: "
                f"{archive.stderr.decode(errors='replace').strip()}"
            )
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
        old = Old(rev, commit, folder / "src")
        if not old.package.is_file():
            raise AgainstError(f"--against {rev}: {commit[:12]} has no src/servekit package")
        print(f"# {old.name()} is commit {commit}, exported to {old.src}", flush=True)
        yield old
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def interleave(names: list[str], old: Old, old_first: bool) -> list[str]:
    """Each servekit run with its run at the old revision beside it: before it when
    ``old_first`` (the caller alternates, so neither always runs first)."""
    order: list[str] = []
    for name in names:
        if name.startswith("servekit"):
            pair = [old.name(name), name]
            order += pair if old_first else pair[::-1]
        else:
            order.append(name)
    return order
