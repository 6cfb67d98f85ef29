"""The private runtime folder (the pid file that is only a hint is tested against a real
child process in tests/components/test_proc.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from servekit._proc import prepare_start_dir, private_dir
from servekit.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_new_runtime_folder_and_each_start_folder_are_private(tmp_path: Path) -> None:
    parent = tmp_path / "servekit-8080"
    start = prepare_start_dir(parent, 4242)
    assert mode(parent) == 0o700
    assert mode(start) == 0o700
    assert mode(start / "metrics") == 0o700


def test_an_existing_folder_of_ours_that_others_may_read_is_closed(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    private_dir(folder)
    assert mode(folder) == 0o700


@pytest.mark.parametrize("bits", [0o777, 0o770, 0o1777])
def test_a_folder_others_may_write_to_is_refused(tmp_path: Path, bits: int) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, bits)
    with pytest.raises(ConfigError, match="can be written by other users"):
        prepare_start_dir(folder, 1)
    assert not any(folder.iterdir()), "nothing was made inside it"


def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test makes a folder owned by another user: run it as root")
    folder = tmp_path / "planted"
    folder.mkdir(mode=0o700)
    os.chown(folder, 12345, 12345)
    with pytest.raises(ConfigError, match=r"belongs to another user \(uid 12345\)"):
        prepare_start_dir(folder, 1)


def test_a_link_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(ConfigError, match="is not a folder"):
        prepare_start_dir(tmp_path / "link", 1)
