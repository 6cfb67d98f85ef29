"""The R runtime: ``servekit serve model.R:predict`` serves an R function.

Each uWSGI worker runs one persistent ``Rscript`` (``r_harness/worker.R``) that sources
the script once and answers one line of JSON per call on its stdout; R's own output
(``print``, ``cat``, ``message``) goes to its stderr, which the runtime reads while it
waits for the answer and logs line by line (logger ``servekit.user.r``, with the
request's id, like a Python model's prints). Auth,
metrics, validation and the error envelope stay in Python, so R models get the same
ones as Python models.

- The signature comes from the function's formals (names; defaults make them optional;
  ``...`` takes any other names).
- A call past ``SERVEKIT_TIMEOUT`` kills the R worker, answers 504 TIMEOUT and starts a
  fresh one; a crash or ``quit()`` answers MODEL_ERROR and the next call gets a fresh
  worker; ``stop("...")`` answers MODEL_ERROR with R's message.
- R comes from Debian's packages: ``apt-get install r-base-core r-cran-jsonlite``.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from servekit.core.signature import EMPTY, Param, ParamKind, Signature
from servekit.errors import LoadError, ModelError, Timeout
from servekit.runtimes.target import Target
from servekit.settings import Settings

__all__ = ["HARNESS", "RRuntime"]

log = logging.getLogger("servekit.r")
_output = logging.getLogger("servekit.user.r")

HARNESS = Path(__file__).resolve().parent.parent / "_r_harness" / "worker.R"
"""The R side of the protocol (``r_harness/worker.R`` in the source tree)."""
_INSTALL = "install R with `apt-get install r-base-core r-cran-jsonlite`"
_START_SECONDS = 60.0


class _RDefault:
    """An R default servekit does not know the value of (an expression): the argument is
    optional, and R computes it; it is never sent or shown."""

    def __repr__(self) -> str:
        return "<R default>"


R_DEFAULT: Any = _RDefault()


def _param(formal: dict[str, Any]) -> Param:
    """A formal as a parameter: a constant default gives its value and type (a number
    is a ``float``, which takes integers too), any other default is :data:`R_DEFAULT`."""
    name = formal["name"]
    if not formal["has_default"]:
        return Param(name, ParamKind.POSITIONAL_OR_KEYWORD)
    if "default" not in formal:
        return Param(name, ParamKind.POSITIONAL_OR_KEYWORD, EMPTY, R_DEFAULT)
    value = formal["default"]
    kind = bool if isinstance(value, bool) else float if isinstance(value, (int, float)) else str
    return Param(name, ParamKind.POSITIONAL_OR_KEYWORD, kind, value)


class _Output:
    """R's output (its stderr), as log records, one per line."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, chunk: bytes) -> None:
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        for line in lines:
            self._log(line)

    def flush(self) -> None:
        line, self.pending = self.pending, b""
        self._log(line)

    @staticmethod
    def _log(line: bytes) -> None:
        if line.strip():
            _output.info("%s", line.decode("utf-8", "replace").rstrip())


@dataclass(frozen=True)
class ROptions:
    """The R runtime's own settings."""

    simplify: bool = False
    """Pass JSON arrays of scalars as R vectors (``SERVEKIT_R_SIMPLIFY``)."""
    timeout: int = 60
    """Seconds a call may take before the R process is replaced (``SERVEKIT_TIMEOUT``;
    the async limit in job workers)."""

    @classmethod
    def of(cls, settings: Settings) -> ROptions:
        """The R part of ``settings``."""
        return cls(settings.r_simplify, settings.timeout)


class RRuntime:
    """Serves an R function through one persistent Rscript worker."""

    kind = "r"

    def __init__(self, target: Target, options: ROptions) -> None:
        self.target = target
        self.options = options
        self._process: subprocess.Popen[bytes] | None = None
        self._output = _Output()
        self._formals: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def load(self) -> None:
        """Start the R worker and read the function's formals; R's errors stop start-up."""
        rscript = shutil.which("Rscript")
        if rscript is None:
            raise LoadError(f"R models need Rscript: {_INSTALL}")
        assert self.target.path is not None
        if not self.target.path.is_file():
            raise LoadError(f"cannot load {self.target.spec!r}: file not found: {self.target.path}")
        self._formals = self._start(rscript)["formals"]

    def _start(self, rscript: str | None = None) -> dict[str, Any]:
        assert self.target.path is not None
        command = [
            rscript or shutil.which("Rscript") or "Rscript",
            "--vanilla",
            str(HARNESS),
            str(self.target.path),
            self.target.name,
            "1" if self.options.simplify else "0",
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.target.path.parent,
        )
        try:
            hello = self._read_line(_START_SECONDS)
        except (Timeout, ModelError) as exc:
            self._stop()
            raise LoadError(
                f"cannot load {self.target.spec!r}: the R worker did not start: {exc.message}"
            ) from None
        if not hello.get("ready"):
            self._stop()
            raise LoadError(f"cannot load {self.target.spec!r}: R says: {hello.get('error')}")
        log.info("R worker ready", extra={"r_pid": self._process.pid})
        return hello

    def signature(self) -> Signature:
        """Parameters from the R function's formals (``...`` takes any other names)."""
        params = []
        for formal in self._formals:
            if formal["name"] == "...":
                params.append(Param("dots", ParamKind.VAR_KEYWORD))
            else:
                params.append(_param(formal))
        return Signature(tuple(params))

    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """One call: a JSON line to R, a JSON line back."""
        # Only what the request gave is sent: missing optional formals take R's defaults.
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            line = orjson.dumps({"args": list(args), "kwargs": kwargs}) + b"\n"
            process = self._process
            assert process is not None
            assert process.stdin is not None
            try:
                process.stdin.write(line)
                process.stdin.flush()
            except OSError:
                self._stop()
                raise ModelError(
                    "the R worker exited before the call; a new one will answer the next request"
                ) from None
            try:
                reply = self._read_line(float(self.options.timeout))
            except (Timeout, ModelError):
                self._stop()
                raise
        if reply.get("ok"):
            return reply.get("result")
        raise ModelError(f"R error: {reply.get('error')}")

    def _read_line(self, seconds: float) -> dict[str, Any]:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        stdout: IO[bytes] = process.stdout
        deadline = time.monotonic() + seconds
        chunks: list[bytes] = []
        fd = stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(
                    f"the R function ran past the timeout of {seconds:g} s "
                    "(SERVEKIT_TIMEOUT); its R worker was restarted"
                )
            ready, _, _ = select.select([fd, *self._stderr()], [], [], left)
            if fd not in ready:
                self._read_output(0)
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = process.wait(5)
                raise ModelError(
                    f"the R worker exited (status {code}) during the call; a "
                    "new one will answer the next request"
                )
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                self._read_output(0)  # what R said before answering
                line = b"".join(chunks)
                try:
                    return dict(orjson.loads(line))
                except orjson.JSONDecodeError:
                    text = line.decode("utf-8", "replace").strip()[:300]
                    raise ModelError(
                        f"the R worker wrote {text!r} instead of a JSON line"
                    ) from None

    def _stderr(self) -> list[int]:
        process = self._process
        if process is None or process.stderr is None or process.stderr.closed:
            return []
        return [process.stderr.fileno()]

    def _read_output(self, wait: float) -> None:
        """Log what R has written to its stderr (up to 4 MiB: a chatty R must not keep
        the call from its deadline), waiting at most ``wait`` s for it."""
        process = self._process
        if process is None or process.stderr is None or process.stderr.closed:
            return
        err = process.stderr.fileno()
        for _ in range(64):
            if not select.select([err], [], [], wait)[0]:
                return
            chunk = os.read(err, 65536)
            if not chunk:  # R exited
                self._output.flush()
                process.stderr.close()
                return
            self._output.feed(chunk)

    def _stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
        self._read_output(0)  # R's last words
        self._output.flush()
        process, self._process = self._process, None
        if process is None:
            return
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

    def details(self) -> dict[str, Any]:
        """Runtime kind, target and the R worker's pid."""
        pid = self._process.pid if self._process is not None else None
        return {"runtime": self.kind, "target": self.target.spec, "r_pid": pid}

    def close(self) -> None:
        """Stop the R worker."""
        self._stop()
