"""The README's first command, run as written on a bare Debian 12 (bookworm).

A session fixture makes a Debian bookworm root filesystem with debootstrap, as stock as the
``debian:bookworm`` image: ``--variant=minbase`` (no Python, no compiler, no nginx, no sudo,
no CA certificates), the image's apt sources (bookworm, bookworm-updates,
bookworm-security) with empty package lists, and the image's ``/usr/sbin/policy-rc.d``
(``exit 101``: services are not started when packages are installed, so the nginx package
does not start Debian's own nginx on the host's port 80). It is imported into podman.

Each test copies this tree as a clean clone would have it (``git ls-files``, plus the
untracked files git does not ignore) into a fresh container, reads the first line of the
README's first ``bash`` block (its comment dropped) and runs it with ``bash -c`` in the
checkout, exactly as written, with no stdin and SERVEKIT_PORT set to a free port; then it
waits for ``/healthz``, POSTs the README's example request (the ``curl`` under the block),
checks the answer against examples/range/model.py's function, and stops the server.

The host's CA bundle is mounted at /run/host-ca.crt (not over /etc/ssl/certs: the
ca-certificates package that python3-venv pulls in writes there) and named in PIP_CERT,
for pip behind a TLS-inspecting proxy; it changes nothing on a network without one.

Ubuntu 24.04 is not tested: only Debian's mirrors are reachable from the machines that run
the tests (scripts/quickstart names the packages per Python version, python3.12-venv and
python3.12-dev there).

Marked ``images``: scripts/test runs it with the image tests (``-m images``), with the same
tools (podman, debootstrap, runc; a missing one fails the test, saying what to install).
The image is removed at the end of the session unless SERVEKIT_TEST_KEEP_IMAGES=1.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, post_json
from tests.containers import (
    ROOT,
    container_env,
    import_rootfs,
    keep_images,
    podman,
    remove_images,
    require_tools,
    sh,
)

# The first test also waits for the session fixture (debootstrap, import: about 40 s here).
pytestmark = [pytest.mark.integration, pytest.mark.images, pytest.mark.timeout(900)]

BARE = "localhost/servekit-test/debian-bare:bookworm"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
CA_INSIDE = "/run/host-ca.crt"
SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
"""The apt sources of the ``debian:bookworm`` image (/etc/apt/sources.list.d/debian.sources)."""

FIRST_RUN = 480
"""apt-get (about 100 MB), venv, building uWSGI, starting: about 40 s here."""


# --- what the README says ----------------------------------------------------------------


def _top_of_readme() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## ", 1)[0]


def _drop_comment(line: str) -> str:
    """The line without its shell comment (a ``#`` outside quotes, after a blank)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def readme_first_command() -> str:
    """The first line of the README's first ``bash`` block, without its comment."""
    match = re.search(r"^```bash\n(.*?)\n", _top_of_readme(), re.M)
    assert match is not None, "README.md has no ```bash block at the top"
    command = _drop_comment(match.group(1))
    assert command, "the first line of the README's first ```bash block is empty"
    return command


def readme_example_request() -> Any:
    """The JSON body of the README's example ``curl ... -d '...'`` (top section)."""
    match = re.search(r"curl [^`]*?-d '([^']*)'", _top_of_readme())
    assert match is not None, "no `curl ... -d '{...}'` example at the top of README.md"
    return json.loads(match.group(1))


def expected_answer(request: Any) -> Any:
    """What the example's function returns for the request (examples/range/model.py)."""
    predict = runpy.run_path(str(ROOT / "examples" / "range" / "model.py"))["predict"]
    return predict(**request["data"])


# --- the bare Debian and its containers ---------------------------------------------------


@pytest.fixture(scope="session")
def bare_debian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """podman's environment, once ``BARE`` is imported; removed at the end of the session
    unless SERVEKIT_TEST_KEEP_IMAGES=1."""
    require_tools()
    folder = tmp_path_factory.mktemp("bare-debian")
    env = container_env(folder)
    started = time.monotonic()
    try:
        make_bare_debian(folder / "rootfs", env)
        print(f"bare Debian root made and imported in {time.monotonic() - started:.0f} s")
        yield env
    finally:
        if not keep_images():
            remove_images([BARE], env)


def make_bare_debian(rootfs: Path, env: dict[str, str]) -> None:
    """debootstrap a minbase bookworm into ``rootfs``, dress it as the Debian image is
    dressed, and import it as ``BARE``."""
    sh(
        [
            "debootstrap",
            "--variant=minbase",
            "bookworm",
            str(rootfs),
            "http://deb.debian.org/debian",
        ],
        env,
        timeout=600,
    )
    (rootfs / "etc" / "apt" / "sources.list").unlink(missing_ok=True)
    (rootfs / "etc" / "apt" / "sources.list.d" / "debian.sources").write_text(SOURCES)
    policy = rootfs / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    import_rootfs(rootfs, BARE, env)


def clean_clone_files() -> list[str]:
    """This tree's files as a clean clone has them, with the work not yet committed: the
    tracked files (but those deleted here) and the untracked ones git does not ignore."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.fail(f"git ls-files failed (a git checkout is needed): {listed.stderr.decode()}")
    names = sorted(set(listed.stdout.decode().split("\0")) - {""})
    return [name for name in names if os.path.lexists(ROOT / name)]


@dataclass
class Box:
    """A container of ``BARE``, idle (``sleep infinity``) until commands are run in it."""

    cid: str
    env: dict[str, str]

    def run(self, script: str, user: str = "root") -> str:
        return sh(podman("exec", "-u", user, self.cid, "sh", "-c", script), self.env).stdout

    def copy_tree(self, user: str, checkout: str) -> None:
        """Put this tree (as a clean clone has it) at ``checkout``, owned by ``user``."""
        files = "\0".join(clean_clone_files()).encode()
        unpack = f"mkdir -p {checkout} && tar -C {checkout} --no-same-owner -xf -"
        with subprocess.Popen(
            ["tar", "-C", str(ROOT), "--null", "-T", "-", "-cf", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        ) as tar:
            assert tar.stdin is not None
            tar.stdin.write(files)
            tar.stdin.close()
            copied = subprocess.run(
                podman("exec", "-i", "-u", user, self.cid, "sh", "-c", unpack),
                stdin=tar.stdout,
                env=self.env,
                capture_output=True,
                check=False,
            )
        assert (tar.returncode, copied.returncode) == (0, 0), copied.stderr.decode()[-2000:]

    def remove(self) -> None:
        sh(["podman", "rm", "-f", "-t", "0", self.cid], self.env, check=False)


@pytest.fixture
def box(bare_debian: dict[str, str]) -> Iterator[Box]:
    """A fresh container of the bare Debian on the host's network, removed afterwards."""
    mount = [f"--volume={HOST_CA}:{CA_INSIDE}:ro"] if HOST_CA.is_file() else []
    cid = sh(
        podman("run", "-d", "--network", "host", *mount, BARE, "sleep", "infinity"), bare_debian
    ).stdout.strip()
    container = Box(cid.splitlines()[-1], bare_debian)
    try:
        yield container
    finally:
        container.remove()


@dataclass
class FirstCommand:
    """The README's first command, running in a container until it is stopped."""

    box: Box
    user: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int
    started: float

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self, seconds: float) -> float:
        """Seconds from the start until ``/healthz`` answers 200."""
        deadline = self.started + seconds
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                pass
            if self.process.poll() is not None:
                pytest.fail(
                    f"the README's first command exited {self.process.returncode} before "
                    f"serving:\n{self.output[-6000:]}",
                    pytrace=False,
                )
            time.sleep(0.5)
        pytest.fail(f"no /healthz after {seconds} s:\n{self.output[-6000:]}", pytrace=False)

    def stop(self) -> None:
        """SIGTERM to the command's process (bash exec's it, as it execs servekit)."""
        if self.process.poll() is None:
            pidfile = f"/tmp/first-command-{self.user}.pid"
            self.box.run(f'kill -TERM "$(cat {pidfile})" 2>/dev/null || true', self.user)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_first_command(box: Box, user: str, checkout: str, log: Path) -> FirstCommand:
    """Run the README's first command in ``checkout`` as ``user``, as a shell would."""
    port = free_port()
    settings = ["-e", f"SERVEKIT_PORT={port}"]
    if HOST_CA.is_file():
        settings += ["-e", f"PIP_CERT={CA_INSIDE}"]
    pidfile = f"/tmp/first-command-{user}.pid"
    shell = f'echo $$ > {pidfile} && exec bash -c "$1"'
    command = podman(
        "exec", "-u", user, "-w", checkout, *settings, box.cid, "bash", "-c", shell, "readme"
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, readme_first_command()],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=box.env,
        )
    return FirstCommand(box, user, process, log, port, time.monotonic())


def check_the_example(running: FirstCommand) -> None:
    request = readme_example_request()
    reply = post_json(f"http://127.0.0.1:{running.port}/model", request)
    assert reply.status == 200, reply.body
    assert reply.body["result"] == expected_answer(request)


def serve_once(box: Box, user: str, checkout: str, log: Path, seconds: float) -> tuple[float, str]:
    """Run the README's first command until it serves, check the example's answer and stop
    it: the seconds it took to serve, and what it said."""
    running = start_first_command(box, user, checkout, log)
    try:
        took = running.wait_healthy(seconds)
        check_the_example(running)
    finally:
        running.stop()
    return took, running.output


# --- the tests ---------------------------------------------------------------------------


def test_the_readme_first_command_serves_the_example_on_a_bare_debian(
    box: Box, tmp_path: Path
) -> None:
    box.copy_tree("root", "/root/servekit")
    took, output = serve_once(box, "root", "/root/servekit", tmp_path / "first.log", FIRST_RUN)
    print(f"`{readme_first_command()}` as root: serving after {took:.0f} s")
    assert "apt-get install" in output, output[-4000:]
    assert "building uWSGI from source" in output, output[-4000:]
    assert '"front":"nginx"' in output, output[-4000:]  # nginx installed and used

    # Again: everything is there, nothing is installed, it serves at once.
    took, output = serve_once(box, "root", "/root/servekit", tmp_path / "again.log", 60)
    print(f"and again: serving after {took:.1f} s")
    for done in ("apt-get", "building uWSGI", "installing servekit", "making .venv"):
        assert done not in output, output[-4000:]
    assert took < 30, output[-4000:]


def test_the_readme_first_command_works_for_a_user_with_sudo(box: Box, tmp_path: Path) -> None:
    # A user with sudo (passwordless: there is no terminal), on the same bare Debian.
    box.run(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "--no-install-recommends sudo >/dev/null && useradd -m -s /bin/bash alice && "
        "echo 'alice ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/alice"
    )
    checkout = "/home/alice/servekit"
    box.copy_tree("alice", checkout)
    took, output = serve_once(box, "alice", checkout, tmp_path / "alice.log", FIRST_RUN)
    print(f"`{readme_first_command()}` as a user with sudo: serving after {took:.0f} s")
    assert "apt-get install" in output, output[-4000:]
    assert "(with sudo)" in output, output[-4000:]
    assert box.run(f"stat -c %U {checkout}/.venv/bin/python").strip() == "alice"
