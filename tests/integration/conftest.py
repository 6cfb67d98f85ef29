"""Fixtures shared by the container tests (images and pods)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.containers import (
    CERTS,
    DEBIAN,
    ROOT,
    container_env,
    image,
    make_debian,
    require_tools,
    sh,
)

FLAVOURS = ("cpu", "r", "cuda")


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """podman's environment, once the three base images are built from this tree."""
    require_tools()
    folder = tmp_path_factory.mktemp("containers")
    environment = container_env(folder)
    info = sh(["podman", "info"], environment, check=False)
    if info.returncode != 0:
        pytest.fail(f"podman cannot run here:\n{info.stderr[-2000:]}", pytrace=False)
    make_debian(folder, environment)
    sh(
        [
            str(ROOT / "base-images" / "build"),
            "--engine",
            "podman",
            "--base-image",
            DEBIAN,
            *FLAVOURS,
        ],
        {**environment, "ENGINE_ARGS": CERTS.replace("=", " ", 1)},
        timeout=1200,
    )
    yield environment
    # The CUDA image is 3 GB: do not leave it behind (the cpu and r images stay), nor the
    # untagged images that rebuilding a tag leaves.
    sh(["podman", "rmi", "-f", image("cuda")], environment, check=False)
    sh(["podman", "image", "prune", "-f"], environment, check=False)


@pytest.fixture
def built(env: dict[str, str]) -> Iterator[list[str]]:
    """Tags a test builds; removed afterwards."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        sh(["podman", "rmi", "-f", tag], env, check=False)
