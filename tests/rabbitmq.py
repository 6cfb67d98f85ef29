"""A real RabbitMQ (Debian's ``rabbitmq-server``) for the AMQP tests, started by the tests.

One broker per session, with an epmd of its own, every listener on loopback and every
port free and chosen here (AMQP, Erlang distribution, epmd); its files (database, logs,
config, Erlang cookie) live in a tmp folder. Both processes are stopped by PID. A test
module imports both fixtures: ``from tests.rabbitmq import rabbitmq_fixture,
rabbitmq_url_fixture`` (and asks for ``rabbitmq`` or ``rabbitmq_url``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest

from servekit._proc import children
from tests.conftest import free_port

__all__ = ["Broker", "listeners", "rabbitmq_fixture", "start_rabbitmq"]

# Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user (dropping HOME) when
# run as root; the script it wraps runs the broker as whoever starts it.
_SERVERS = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server", "/usr/sbin/rabbitmq-server")
_START_TIMEOUT = 60.0


@dataclass
class Broker:
    """A running broker: its AMQP URL, its processes, and its folder."""

    url: str
    port: int
    server: subprocess.Popen[bytes]
    epmd: subprocess.Popen[bytes]
    folder: Path

    def log(self) -> str:
        """What the broker wrote (its start-up output and its log file)."""
        parts = [p.read_text(errors="replace") for p in sorted(self.folder.glob("*.log"))]
        parts += [p.read_text(errors="replace") for p in sorted(self.folder.glob("log/*.log"))]
        return "\n".join(parts)

    def pids(self) -> list[int]:
        """Every process of the broker (the script, the Erlang VM and its helpers) and epmd."""
        found = [self.epmd.pid]
        todo = [self.server.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children(pid))
        return found

    def stop(self) -> None:
        """SIGTERM by PID (the script stops the broker cleanly), bounded; then SIGKILL."""
        for process, timeout in ((self.server, 30.0), (self.epmd, 5.0)):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # anything left in its session
            process.wait(5)


def _binary() -> str:
    for candidate in _SERVERS:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "rabbitmq-server is not installed: apt-get install rabbitmq-server (scripts/test does)"
    )


def start_rabbitmq(folder: Path) -> Broker:
    """Start a broker with its files in ``folder``; returns once AMQP accepts a connection."""
    server_binary = _binary()
    epmd_binary = shutil.which("epmd") or pytest.fail(
        "epmd (Erlang) is missing: apt-get install rabbitmq-server (scripts/test does)"
    )
    port, dist_port, epmd_port = free_port(), free_port(), free_port()
    config = folder / "rabbitmq.conf"
    config.write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        "disk_free_limit.absolute = 1MB\n"  # a nearly full tmp disk must not block publishers
        "log.console = false\n"
        "log.file.level = info\n",
        encoding="utf-8",
    )
    plugins = folder / "enabled_plugins"
    plugins.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    env.update(
        HOME=str(folder),  # the Erlang cookie
        ERL_EPMD_ADDRESS="127.0.0.1",
        ERL_EPMD_PORT=str(epmd_port),
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(port),
        RABBITMQ_DIST_PORT=str(dist_port),
        RABBITMQ_NODENAME=f"rabbit-{port}@localhost",
        RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
        RABBITMQ_LOG_BASE=str(folder / "log"),
        RABBITMQ_CONFIG_FILE=str(config),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(plugins),
        # The distribution listener binds every interface unless told otherwise.
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
    )

    def child(command: list[str], log_name: str) -> subprocess.Popen[bytes]:
        with (folder / log_name).open("wb") as log_file:
            return subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=folder,
                start_new_session=True,
            )

    epmd = child([epmd_binary, "-address", "127.0.0.1", "-port", str(epmd_port)], "epmd.log")
    server = child([server_binary], "server.log")
    broker = Broker(f"amqp://guest:guest@127.0.0.1:{port}/%2F", port, server, epmd, folder)
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        try:
            parameters = pika.URLParameters(f"{broker.url}?connection_attempts=1&socket_timeout=1")
            pika.BlockingConnection(parameters).close()
            return broker
        except pika.exceptions.AMQPError:
            pass
        if server.poll() is not None or epmd.poll() is not None or time.monotonic() > deadline:
            text = broker.log()
            broker.stop()
            pytest.fail(f"rabbitmq-server did not start within {_START_TIMEOUT:.0f} s:\n{text}")
        time.sleep(0.2)


def listeners(pids: list[int]) -> list[str]:
    """The local addresses (``127.0.0.1:5672``, ``[::1]:4369``) ``pids`` listen on (TCP)."""
    ss = shutil.which("ss") or pytest.fail("ss is missing: apt-get install iproute2")
    lines = subprocess.run(
        [ss, "-Hltnp"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.splitlines()
    wanted = {str(pid) for pid in pids}
    found = []
    for line in lines:
        owners = set(re.findall(r"pid=(\d+)", line))
        if owners & wanted:
            found.append(line.split()[3])
    return found


@pytest.fixture(scope="session", name="rabbitmq")
def rabbitmq_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real RabbitMQ on loopback for the whole session (``rabbitmq.url``)."""
    broker = start_rabbitmq(tmp_path_factory.mktemp("rabbitmq"))
    yield broker
    broker.stop()


@pytest.fixture(scope="session", name="rabbitmq_url")
def rabbitmq_url_fixture(rabbitmq: Broker) -> str:
    """The AMQP URL of the session's broker (user guest, vhost ``/``)."""
    return rabbitmq.url
