"""Real containers for the image tests: podman and buildah from Debian, a Debian base
made with debootstrap (there is no registry to pull from), and servekit's base images
built from this tree with ``base-images/build``.

These machines need podman's runc runtime, cgroupfs, host networking and a
containers.conf with ``default_ulimits = []``; builds run with ``BUILDAH_ISOLATION=chroot``
and the host's CA bundle mounted (pip behind a TLS-inspecting proxy).

Every image the tests build is removed when they end (the base images at the end of the
session), unless SERVEKIT_TEST_KEEP_IMAGES=1. While they run they need about 11 GB free on
the disk of /var/lib/containers and /var/tmp: 3.4 GB of images (the CUDA one is 2.8 GB),
up to 10.5 GB while the CUDA image is committed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from servekit._version import __version__
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
DEBIAN = "localhost/servekit-test/debian:bookworm"
CERTS = "--volume=/etc/ssl/certs:/etc/ssl/certs:ro"
TOOLS = ("podman", "buildah", "debootstrap", "runc", "catatonit")
"""Commands the image tests run, each from the Debian package of its name (catatonit is
the pause process of podman's pods)."""


TEST_IMAGES = "localhost/servekit-test/*"
"""Every image the tests build but the base images is named so (``DEBIAN`` too)."""
PAUSE = "localhost/podman-pause"
"""The pause image podman builds for its pods on first use (tagged with podman's version)."""


def keep_images() -> bool:
    """SERVEKIT_TEST_KEEP_IMAGES=1: leave the images the tests built in podman's store."""
    return os.environ.get("SERVEKIT_TEST_KEEP_IMAGES", "") not in ("", "0")


def image(flavour: str) -> str:
    """A servekit base image's tag, as base-images/build makes it."""
    return f"servekit/{flavour}:{__version__}"


def require_tools() -> None:
    """Fail (never skip) when a tool is missing, saying what to install."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"the image tests need {', '.join(missing)}: apt-get install {' '.join(missing)} "
            "(scripts/test installs them)",
            pytrace=False,
        )


def container_env(folder: Path) -> dict[str, str]:
    """The environment podman and buildah need here."""
    conf = folder / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n", encoding="utf-8")
    return {**os.environ, "CONTAINERS_CONF": str(conf), "BUILDAH_ISOLATION": "chroot"}


def tagged(reference: str, env: dict[str, str]) -> set[str]:
    """The tags in podman's store that match ``reference`` (``*`` matches in it)."""
    listed = sh(
        [
            "podman",
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--filter",
            f"reference={reference}",
        ],
        env,
    ).stdout
    return set(listed.split())


def remove_images(refs: Sequence[str], env: dict[str, str]) -> None:
    """Remove these images (missing ones are fine) with their untagged parents, then every
    dangling image (what rebuilding a tag leaves)."""
    if refs:
        sh(["podman", "rmi", "--force", "--ignore", *refs], env, check=False)
    sh(["podman", "image", "prune", "--force"], env, check=False)


def sh(
    command: Sequence[str], env: dict[str, str], timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it fails."""
    done = subprocess.run(
        list(command), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}",
            pytrace=False,
        )
    return done


def podman(*args: str) -> list[str]:
    """A podman command line with the runtime flags these machines need."""
    return ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", *args]


def make_debian(folder: Path, env: dict[str, str]) -> None:
    """A Debian bookworm root filesystem with python3, imported as ``DEBIAN``."""
    rootfs = folder / "rootfs"
    sh(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(rootfs),
            "http://deb.debian.org/debian",
        ],
        env,
        timeout=600,
    )
    import_rootfs(rootfs, DEBIAN, env)


def import_rootfs(rootfs: Path, ref: str, env: dict[str, str]) -> None:
    """Import a root filesystem made with debootstrap as the image ``ref``, without the
    packages apt downloaded and its package lists (as Debian's images are), then remove it."""
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / junk).glob("*"):
            if path.is_file():
                path.unlink()
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        imported = subprocess.run(
            ["podman", "import", "-", ref], stdin=tar.stdout, env=env, capture_output=True
        )
    if imported.returncode != 0:
        pytest.fail(f"podman import failed: {imported.stderr.decode()[-2000:]}", pytrace=False)
    shutil.rmtree(rootfs, ignore_errors=True)


def inspect(ref: str, env: dict[str, str], kind: str = "image") -> dict[str, Any]:
    """``podman image inspect`` (or container inspect) as a dict."""
    out = sh(["podman", kind, "inspect", ref], env).stdout
    return dict(json.loads(out)[0])


@dataclass
class Container:
    """A running container on a loopback port (host network)."""

    cid: str
    port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def exec(self, *command: str) -> str:
        return sh(podman("exec", self.cid, *command), self.env).stdout

    def logs(self) -> str:
        done = sh(["podman", "logs", self.cid], self.env, check=False)
        return done.stdout + done.stderr

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            state = inspect(self.cid, self.env, "container")["State"]
            if not state["Running"]:
                pytest.fail(f"the container exited ({state['ExitCode']}):\n{self.logs()[-4000:]}")
            time.sleep(0.3)
        pytest.fail(f"not ready after {seconds} s:\n{self.logs()[-4000:]}")

    def remove(self) -> None:
        sh(["podman", "rm", "-f", "-t", "2", self.cid], self.env, check=False)


def run_container(
    ref: str, env: dict[str, str], *args: str, settings: dict[str, str] | None = None
) -> Container:
    """Start ``ref`` detached on a free loopback port and wait until it is ready."""
    port = free_port()
    flags = ["-e", f"SERVEKIT_PORT={port}", "-e", "SERVEKIT_HOST=127.0.0.1"]
    for name, value in (settings or {}).items():
        flags += ["-e", f"{name}={value}"]
    cid = sh(podman("run", "-d", "--network", "host", *flags, *args, ref), env).stdout.strip()
    container = Container(cid.splitlines()[-1], port, env)
    try:
        container.wait_ready()
    except BaseException:
        container.remove()
        raise
    return container
