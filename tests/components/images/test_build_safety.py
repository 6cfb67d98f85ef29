"""`servekit build`'s pip step run by a real `sh`, with a fake pip first on PATH: the words
it says when pip fails. It starts processes, so it is not with the rest of
tests/unit/images/test_build_safety.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from servekit.images.plan import CONSTRAINTS, plan_build, render_dockerfile
from tests.conftest import write_project


def test_a_failing_pip_step_says_why_in_its_own_words(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"model.py": "", "requirements.txt": "idna\n"})
    text = render_dockerfile(plan_build(project, "model.py:predict"))
    run = text[text.index("RUN ") + 4 : text.index("USER 10001")].replace("\\\n", "")
    fake = tmp_path / "bin" / "pip"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "pip $*"\n[ "$1" = check ] || exit 1\n')
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin"}
    done = subprocess.run(["sh", "-c", run], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stdout.startswith(f"pip install --no-cache-dir -c {CONSTRAINTS} -r ")
    assert re.match(r"servekit: pip failed \(see above\)\. If it cannot open ", done.stderr)
    assert "a requirement would replace a package of the base image" in done.stderr
    fake.write_text('#!/bin/sh\necho "pip $*"\n')
    done = subprocess.run(["sh", "-c", run], env=env, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.splitlines()[-1]) == (0, "pip check")
