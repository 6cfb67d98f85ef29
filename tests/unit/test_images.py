"""`servekit build`'s pieces: .modelignore, the plan and its Dockerfile, engines, progress."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest

from servekit._version import __version__
from servekit.cli import main
from servekit.errors import ConfigError
from servekit.images.engines import find_engine
from servekit.images.modelignore import ModelIgnore, included_files
from servekit.images.plan import base_flavour, default_tag, plan_build, render_dockerfile
from servekit.images.progress import Progress
from tests.conftest import write_project

IGNORE = """
# data and secrets stay out
data/
/notes
*.csv
!keep.csv
.env
build/**/*.o
"""


@pytest.mark.parametrize(
    ("path", "is_dir", "out"),
    [
        ("data", True, True),  # folder only
        ("data", False, False),
        ("sub/data", True, True),  # a name pattern matches at any depth
        ("notes", True, True),  # anchored
        ("sub/notes", True, False),
        ("a.csv", False, True),
        ("deep/down/b.csv", False, True),
        ("keep.csv", False, False),  # re-included
        (".env", False, True),
        ("build/x/y/z.o", False, True),
        ("build/z.o", False, True),  # ** matches zero folders too
        ("build/z.c", False, False),
        (".git", True, True),  # always
        ("model.py", False, False),
    ],
)
def test_modelignore_follows_gitignore_rules(path: str, is_dir: bool, out: bool) -> None:
    assert ModelIgnore.parse(IGNORE).excluded(path, is_dir) is out


def test_included_files_walks_the_project_and_skips_excluded_folders(tmp_path: Path) -> None:
    for folder in ("data", "pkg", ".git"):
        (tmp_path / folder).mkdir()
    write_project(
        tmp_path,
        {
            "model.py": "def predict(): return 1\n",
            ".modelignore": IGNORE,
            "data/big.bin": "x",
            "keep.csv": "a\n",
            "other.csv": "b\n",
            "pkg/util.py": "",
            ".git/HEAD": "ref",
        },
    )
    ignore = ModelIgnore.parse((tmp_path / ".modelignore").read_text())
    assert included_files(tmp_path, ignore) == [
        ".modelignore",
        "keep.csv",
        "model.py",
        "pkg/util.py",
    ]


def test_dockerignore_anchors_name_patterns_everywhere() -> None:
    text = ModelIgnore.parse("data/\n/notes\n!keep.csv\nsrc/*.tmp\n").dockerignore()
    assert text.splitlines()[1:] == ["**/.git", "**/data", "notes", "!**/keep.csv", "src/*.tmp"]


def test_base_flavour_by_runtime_and_gpu() -> None:
    pairs = itertools.product(("python", "onnx"), (False, True))
    assert [base_flavour(r, g) for r, g in pairs] == ["cpu", "cuda", "cpu", "cuda"]
    assert base_flavour("r", False) == "r"
    with pytest.raises(ConfigError, match="no CUDA image for R"):
        base_flavour("r", True)


def test_plan_and_dockerfile_for_a_python_project(tmp_path: Path) -> None:
    project = tmp_path / "Churn Model"
    write_project(project, {"model.py": "", "requirements.txt": "idna\n", ".modelignore": ""})
    plan = plan_build(project, "model.py:predict", model_version="3")
    assert (plan.flavour, plan.base_image, plan.tag) == (
        "cpu",
        f"servekit/cpu:{__version__}",
        "churn-model:latest",
    )
    text = render_dockerfile(plan)
    assert text.splitlines()[2] == f"FROM servekit/cpu:{__version__}"
    assert "pip install --no-cache-dir -r /tmp/servekit-requirements.txt" in text
    assert text.index("USER root") < text.index("pip install") < text.index("USER 10001:10001")
    assert 'SERVEKIT_TARGET="model.py:predict"' in text
    assert 'SERVEKIT_MODEL_NAME="Churn Model"' in text
    assert 'SERVEKIT_MODEL_VERSION="3"' in text


def test_onnx_on_cpu_adds_onnxruntime_and_on_gpu_takes_the_cuda_base(tmp_path: Path) -> None:
    write_project(tmp_path, {"model.onnx": "not really"})
    cpu = render_dockerfile(plan_build(tmp_path, "model.onnx"))
    assert 'pip install --no-cache-dir "onnxruntime>=1.17"' in cpu
    assert "requirements" not in cpu
    gpu = plan_build(tmp_path, "model.onnx", gpu=True, tag="m:2")
    assert (gpu.base_image, gpu.tag) == (f"servekit/cuda:{__version__}", "m:2")
    assert "pip install" not in render_dockerfile(gpu)
    r_plan = plan_build(tmp_path / ".." / tmp_path.name, "model.onnx", base_image="my/base:1")
    assert render_dockerfile(r_plan).splitlines()[2] == "FROM my/base:1"


@pytest.mark.parametrize(
    ("files", "target", "message"),
    [
        ({"model.py": ""}, "missing.py:predict", "no file missing.py"),
        ({"model.py": "", ".modelignore": "*.py\n"}, "model.py:predict", "excluded by"),
        ({"model.py": ""}, "../model.py:predict", "outside the project"),
        ({"model.py": ""}, "model.py", "not of the form"),
    ],
)
def test_plan_refuses_a_target_the_image_would_not_have(
    tmp_path: Path, files: dict[str, str], target: str, message: str
) -> None:
    write_project(tmp_path / "p", files)
    with pytest.raises(ConfigError, match=message):
        plan_build(tmp_path / "p", target)


def test_default_tag_is_a_valid_image_name(tmp_path: Path) -> None:
    assert default_tag(tmp_path / "My_Model v2!") == "my_model-v2:latest"


def test_find_engine_skips_a_docker_client_without_a_daemon() -> None:
    paths = {"docker": "/bin/docker", "buildah": "/bin/buildah"}
    engine = find_engine("", which=paths.get, docker_answers=lambda _: False)
    assert (engine.name, engine.path) == ("buildah", "/bin/buildah")
    assert find_engine("", which=paths.get, docker_answers=lambda _: True).name == "docker"
    with pytest.raises(ConfigError, match=r"daemon does not answer"):
        find_engine("", which={"docker": "/bin/docker"}.get, docker_answers=lambda _: False)
    with pytest.raises(ConfigError, match="no podman command"):
        find_engine("podman", which=paths.get)


def test_build_commands_keep_the_docker_format_for_healthcheck() -> None:
    which = {"podman": "/bin/podman", "buildah": "/bin/buildah", "docker": "/bin/docker"}.get
    ctx, df = Path("/c"), Path("/d/Dockerfile")
    assert find_engine("buildah", which=which).build_command(ctx, df, "t:1", ["--pull=never"]) == [
        "/bin/buildah",
        "bud",
        "--format",
        "docker",
        "--pull=never",
        "-f",
        "/d/Dockerfile",
        "-t",
        "t:1",
        "/c",
    ]
    assert find_engine("podman", which=which).build_command(ctx, df, "t")[1:4] == [
        "build",
        "--format",
        "docker",
    ]
    assert find_engine("docker", which=which).build_command(ctx, df, "t")[1:3] == [
        "build",
        "--progress=plain",
    ]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_shows_each_step_once() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress(out, tty=False, clock=clock)
    for line in [
        "[1/2] STEP 1/3: FROM debian AS build",
        "Get:1 http://deb.debian.org ...",
        "[1/2] STEP 2/3: RUN apt-get install gcc",
        "#7 [build 3/9] RUN pip install .",
        "#7 [build 3/9] RUN pip install .",  # docker repeats a step's header
        "STEP 4/4: COPY . /srv/model",
    ]:
        clock.now += 2
        progress.feed(line)
    progress.finish(ok=True)
    assert out.getvalue().splitlines() == [
        "[stage 1/2 1/3] FROM debian AS build",
        "[stage 1/2 2/3] RUN apt-get install gcc",
        "[build 3/9] RUN pip install .",
        "[4/4] COPY . /srv/model",
        "built in 12.0 s",
    ]


def test_progress_on_a_terminal_rewrites_the_line_with_the_time() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress(out, tty=True, clock=clock)
    progress.feed("STEP 1/2: RUN make")
    clock.now = 1.5
    progress.feed("compiling")
    clock.now = 4.0
    progress.feed("STEP 2/2: COPY . /x")
    clock.now = 5.0
    progress.finish(ok=False)
    assert out.getvalue() == (
        "\r\x1b[K[1/2] RUN make    0.0 s"
        "\r\x1b[K[1/2] RUN make    1.5 s"
        "\r\x1b[K[1/2] RUN make    4.0 s\n"
        "\r\x1b[K[2/2] COPY . /x    0.0 s"
        "\r\x1b[K[2/2] COPY . /x    1.0 s\n"
        "FAILED in 5.0 s\n"
    )


def test_dockerfile_only_writes_both_files_and_keeps_a_users_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, {"model.py": "", ".modelignore": "data/\n"})
    assert main(["build", str(tmp_path), "--target", "model.py:predict", "--dockerfile-only"]) == 0
    shown = capsys.readouterr().out
    assert (tmp_path / "Dockerfile").read_text() == shown
    assert "**/data" in (tmp_path / ".dockerignore").read_text().splitlines()
    (tmp_path / "Dockerfile").write_text("FROM mine\n")
    assert main(["build", str(tmp_path), "--target", "model.py:predict", "--dockerfile-only"]) == 2
    assert "was not written by servekit" in capsys.readouterr().err
    assert (tmp_path / "Dockerfile").read_text() == "FROM mine\n"
