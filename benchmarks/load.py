"""Load generators: an open loop at a fixed rate (own asyncio client) and wrk's closed loop.

Open loop: request i is due at ``start + i / rate``; its latency runs from that scheduled
time to the last byte of the answer, so a server (or client) that falls behind shows as
latency instead of being hidden (no coordinated omission). Every loop is bounded in
count and in time, and only talks to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ClosedLoop", "OpenLoop", "closed_loop", "open_loop"]


@dataclass(frozen=True)
class OpenLoop:
    """Latencies (ms) of an open-loop run and what went wrong."""

    rate: float
    seconds: float
    sent: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    first_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _one(port: int, request: bytes, expect: bytes, timeout: float) -> str:
    """Send one request on a new connection; '' when the answer is a 200 with ``expect``."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
    except (OSError, asyncio.TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    status = answer[9:12]
    if status != b"200":
        return f"HTTP {status.decode(errors='replace')}: {answer[-200:]!r}"
    if expect not in answer:
        return f"unexpected body: {answer[-200:]!r}"
    return ""


def http_request(
    path: str, body: bytes, keep_alive: bool = False, headers: dict[str, str] | None = None
) -> bytes:
    """A complete HTTP/1.1 POST (and Connection: close unless kept); its body is JSON
    unless ``headers`` give another Content-Type."""
    close = "" if keep_alive else "Connection: close\r\n"
    given = {"Content-Type": "application/json", **(headers or {})}
    lines = "".join(f"{name}: {value}\r\n" for name, value in given.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}"
        f"Content-Length: {len(body)}\r\n{close}\r\n"
    )
    return head.encode() + body


class _Pool:
    """Kept-alive connections for the open loop: an idle one is reused, else a new one
    is opened (so a slow answer never delays the next scheduled request)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def one(self, request: bytes, expect: bytes, timeout: float) -> str:
        """Send one request on a kept-alive connection; '' for a correct answer."""
        try:
            if self.idle:
                reader, writer = self.idle.pop()
            else:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port), timeout
                )
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            body = await asyncio.wait_for(reader.readexactly(length), timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, AttributeError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if b"connection: close" not in head.lower():
            self.idle.append((reader, writer))
        else:
            writer.close()
        if head[9:12] != b"200":
            return f"HTTP {head[9:12].decode(errors='replace')}: {body[-200:]!r}"
        return "" if expect in body else f"unexpected body: {body[-200:]!r}"


async def scheduled(rate: float, seconds: float, one: Callable[[], Awaitable[str]]) -> OpenLoop:
    """Call ``one`` (an error's text, or "" when the answer is right) ``rate`` times a
    second for ``seconds``: call *i* is due at ``start + i/rate``, and its latency runs
    from that time to its end, so no queueing is hidden."""
    count = int(rate * seconds)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    latencies: list[float] = []
    errors: list[str] = []

    async def fire(due: float) -> None:
        error = await one()
        latencies.append((loop.time() - due) * 1000)
        if error:
            errors.append(error)

    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(fire(due)))
    await asyncio.gather(*tasks)
    ordered = sorted(latencies)
    return OpenLoop(
        rate,
        seconds,
        count,
        len(errors),
        _percentile(ordered, 0.50),
        _percentile(ordered, 0.90),
        _percentile(ordered, 0.99),
        ordered[-1] if ordered else float("nan"),
        errors[0] if errors else "",
    )


async def _open_loop(
    port: int,
    request: bytes,
    expect: bytes,
    rate: float,
    seconds: float,
    timeout: float,
    keep_alive: bool = False,
) -> OpenLoop:
    pool = _Pool(port)

    async def one() -> str:
        if keep_alive:
            return await pool.one(request, expect, timeout)
        return await _one(port, request, expect, timeout)

    return await scheduled(rate, seconds, one)


def open_loop(
    port: int,
    path: str,
    body: bytes,
    expect: bytes,
    rate: float = 100.0,
    seconds: float = 10.0,
    timeout: float = 5.0,
    keep_alive: bool = False,
    headers: dict[str, str] | None = None,
) -> OpenLoop:
    """Send ``rate`` requests a second for ``seconds`` seconds; report latency percentiles.
    With ``keep_alive`` requests reuse idle connections (a pooling client); ``headers``
    are added to each request."""
    request = http_request(path, body, keep_alive, headers)
    return asyncio.run(_open_loop(port, request, expect, rate, seconds, timeout, keep_alive))


@dataclass(frozen=True)
class ClosedLoop:
    """wrk's saturation throughput and its errors."""

    connections: int
    seconds: float
    requests_per_second: float
    errors: int
    raw: str = ""
    requests: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "raw"}


_LUA = """wrk.method = "POST"
local file = assert(io.open({path}, "rb"))
wrk.body = file:read("*a")
file:close()
"""
_CLOSE = 'wrk.headers["Connection"] = "close"\n'


def closed_loop(
    port: int,
    path: str,
    body: bytes,
    seconds: float = 5.0,
    connections: int = 8,
    cpu: str | None = None,
    workdir: str = "/tmp",
    keep_alive: bool = False,
    headers: dict[str, str] | None = None,
) -> ClosedLoop:
    """Run wrk against the server (one thread, ``connections`` connections) for ``seconds``,
    with ``Connection: close`` on every request unless ``keep_alive``. The body (any
    bytes) is read from a file; it is JSON unless ``headers`` give another Content-Type."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (scripts/test does it)")
    script = f"{workdir}/servekit-bench-{port}.lua"
    with open(f"{script}.body", "wb") as f:
        f.write(body)
    given = {"Content-Type": "application/json", **(headers or {})}
    with open(script, "w", encoding="utf-8") as f:
        f.write(_LUA.format(path=json.dumps(f"{script}.body")))
        f.writelines(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in given.items())
        f.write("" if keep_alive else _CLOSE)
    command = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "-s",
        script,
        f"http://127.0.0.1:{port}{path}",
    ]
    if cpu is not None:
        command = ["taskset", "-c", cpu, *command]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), "
        r"timeout (\d+)",
        output,
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:  # 'read' counts the server closing each connection, as it should
        errors += sum(int(socket_errors.group(i)) for i in (1, 3, 4))
    done = re.search(r"(\d+) requests in", output)
    return ClosedLoop(
        connections,
        seconds,
        float(rate.group(1)) if rate else 0.0,
        errors,
        output,
        int(done.group(1)) if done else 0,
    )
