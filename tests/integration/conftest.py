"""Fixtures shared by the container tests (images and pods).

Every test that uses them is marked ``images`` (scripts/test runs those last, on their
own: ``-m images``). The images they build are removed at the end of the session unless
SERVEKIT_TEST_KEEP_IMAGES=1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.containers import (
    CERTS,
    DEBIAN,
    PAUSE,
    ROOT,
    TEST_IMAGES,
    container_env,
    image,
    keep_images,
    make_debian,
    remove_images,
    require_tools,
    sh,
    tagged,
)

FLAVOURS = ("cpu", "r", "cuda")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "images: builds or runs container images with podman (the env fixture)"
    )


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.images)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """podman's environment, once the three base images are built from this tree."""
    require_tools()
    folder = tmp_path_factory.mktemp("containers")
    environment = container_env(folder)
    info = sh(["podman", "info"], environment, check=False)
    if info.returncode != 0:
        pytest.fail(f"podman cannot run here:\n{info.stderr[-2000:]}", pytrace=False)
    volumes = set(sh(["podman", "volume", "ls", "-q"], environment).stdout.split())
    pauses = tagged(PAUSE, environment)
    try:
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
    finally:  # at the end of the session, or when a build failed
        clean_up(environment, volumes, pauses)


def clean_up(environment: dict[str, str], volumes: set[str], pauses: set[str]) -> None:
    """Remove what the session made in podman's store (the images unless
    SERVEKIT_TEST_KEEP_IMAGES=1): it held ``volumes`` and the pause images ``pauses``."""
    # The volumes podman kube play made (the Secret's).
    for volume in set(sh(["podman", "volume", "ls", "-q"], environment).stdout.split()) - volumes:
        sh(["podman", "volume", "rm", volume], environment, check=False)
    if keep_images():
        return
    # The tests' own images (kept by an earlier run too), the base images (the CUDA one is
    # 2.8 GB), the debootstrap base they are built on (DEBIAN, made by make_debian), the pause
    # image podman kube play built, and the untagged layers that building leaves.
    made = sorted(tagged(TEST_IMAGES, environment)) + [image(f) for f in reversed(FLAVOURS)]
    remove_images([*made, DEBIAN, *sorted(tagged(PAUSE, environment) - pauses)], environment)


@pytest.fixture
def built(env: dict[str, str]) -> Iterator[list[str]]:
    """Tags a test builds; removed afterwards."""
    tags: list[str] = []
    yield tags
    if tags and not keep_images():
        sh(["podman", "rmi", "-f", *tags], env, check=False)
