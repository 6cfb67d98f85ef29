"""The build's progress display: one line per Dockerfile step, with its time.

The engine's whole output goes to a log file. A terminal shows which step runs and for
how long, rewritten in place every second; elsewhere (CI) each step gets a line when it
starts and its time when it ends. The log's last lines are shown when the build fails.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

__all__ = ["Progress", "run_build"]

# buildah and podman: "STEP 3/9: RUN ..." (multi-stage: "[1/2] STEP 3/9: RUN ...")
_STEP = re.compile(r"^(?:\[(\d+)/(\d+)\] )?STEP (\d+)/(\d+): (.*)$")
# docker --progress=plain: "#7 [build 3/9] RUN ..."; docker's legacy builder: "Step 3/9 : RUN ..."
_DOCKER = re.compile(r"^#\d+ \[(?:([\w./-]+) )?(\d+)/(\d+)\] (.*)$")
_LEGACY = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_WIDTH = 96


class Progress:
    """Turns the engine's lines into step lines on ``out``."""

    def __init__(self, out: TextIO, tty: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.tty, self.clock = out, tty, clock
        self.started = clock()
        self.step: str | None = None
        self.step_started = self.started
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    @staticmethod
    def parse(line: str) -> str | None:
        """``"[stage 1/2] 3/9 RUN ..."`` for a line that starts a step, else None."""
        match = _STEP.match(line)
        if match:
            stage, stages, n, total, what = match.groups()
            where = f"stage {stage}/{stages} " if stage else ""
            return f"[{where}{n}/{total}] {what}"
        match = _DOCKER.match(line)
        if match:
            stage, n, total, what = match.groups()
            return f"[{stage + ' ' if stage else ''}{n}/{total}] {what}"
        match = _LEGACY.match(line)
        if match:
            n, total, what = match.groups()
            return f"[{n}/{total}] {what}"
        return None

    def feed(self, line: str) -> None:
        """One line of the engine's output."""
        step = self.parse(line.rstrip("\n"))
        with self.lock:
            if step is not None and step not in self.seen:
                self._end_step()
                self.seen.add(step)
                self.step, self.step_started = step, self.clock()
                self._show(done=False)
            elif self.tty and self.step is not None:
                self._show(done=False)

    def finish(self, ok: bool) -> None:
        """The build ended: close the last step and say how long it all took."""
        with self.lock:
            self._end_step()
        verdict = "built" if ok else "FAILED"
        self.out.write(f"{verdict} in {self.clock() - self.started:.1f} s\n")
        self.out.flush()

    def tick(self) -> None:
        """Show the running step's time again (a terminal only; the ticker calls it)."""
        with self.lock:
            if self.tty and self.step is not None:
                self._show(done=False)

    def _end_step(self) -> None:
        if self.step is not None:
            self._show(done=True)
        self.step = None

    def _show(self, done: bool) -> None:
        assert self.step is not None
        seconds = self.clock() - self.step_started
        text = self.step if len(self.step) <= _WIDTH else self.step[: _WIDTH - 1] + "…"
        if self.tty:
            end = "\n" if done else ""
            self.out.write(f"\r\x1b[K{text}  {seconds:5.1f} s{end}")
        elif done:
            self.out.write(f"    {seconds:.1f} s\n")
        else:
            self.out.write(f"{text}\n")
        self.out.flush()


class _Ticker:
    """Refreshes a terminal's step line every second, also while the engine is quiet."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.stop = progress, threading.Event()
        self.thread = threading.Thread(target=self._run, name="servekit-progress", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            self.progress.tick()

    def __enter__(self) -> _Ticker:
        if self.progress.tty:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(5)


def run_build(command: Sequence[str], log: Path, progress: Progress, tail: int = 40) -> int:
    """Run the engine, logging everything, showing progress; the exit status."""
    last: deque[str] = deque(maxlen=tail)
    with (
        log.open("w", encoding="utf-8") as sink,
        subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        ) as process,
    ):
        assert process.stdout is not None
        with _Ticker(progress):
            for line in process.stdout:
                sink.write(line)
                last.append(line)
                progress.feed(line)
            code = process.wait()
    progress.finish(code == 0)
    if code != 0:
        progress.out.write(f"--- the last lines of {log}:\n{''.join(last)}")
    return code
