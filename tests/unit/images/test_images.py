"""`servekit build`'s pieces: .modelignore, the plan and its Dockerfile, engines, progress
(a build with a fake podman is in tests/components/images/test_images.py)."""

from __future__ import annotations

import io
import itertools
import os
import stat
from pathlib import Path

import pytest

from servekit._version import __version__
from servekit.cli import main
from servekit.errors import ConfigError
from servekit.images.command import stage_context
from servekit.images.engines import find_engine
from servekit.images.modelignore import ModelIgnore, dockerignore, included_files
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


def test_character_classes_and_escaped_trailing_spaces() -> None:
    ignore = ModelIgnore.parse("*.py[cod]\n[Bb]uild/\n*.sw[!p]\nkeep\\ \nlog[0-9]\n")
    assert ignore.excluded("a.pyc", False)
    assert ignore.excluded("pkg/a.pyd", False)
    assert not ignore.excluded("a.py", False)
    assert not ignore.excluded("a.py[cod]", False)
    assert ignore.excluded("Build", True)
    assert ignore.excluded("x.swo", False)
    assert not ignore.excluded("x.swp", False)
    assert ignore.excluded("keep ", False)
    assert not ignore.excluded("keep", False)
    assert ignore.excluded("log7", False)
    assert not ignore.excluded("logx", False)
    assert not ModelIgnore.parse("a[/]b\n").excluded("a/b", False)  # never a slash


def test_dockerignore_lets_exactly_the_files_through() -> None:
    text = dockerignore(["model.py", "data/keep[1].csv", "odd*name?.txt"])
    assert text.splitlines()[2:] == [
        "**",
        "!model.py",
        "!data/keep\\[1].csv",
        "!odd\\*name\\?.txt",
    ]


def _from(dockerfile: str) -> str:
    """The Dockerfile's FROM line."""
    return next(line for line in dockerfile.splitlines() if line.startswith("FROM "))


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
    assert _from(text) == f"FROM servekit/cpu:{__version__}"
    assert 'COPY ["requirements.txt", "/tmp/servekit-requirements/requirements.txt"]' in text
    assert (
        "pip install --no-cache-dir -c /opt/servekit/constraints.txt "
        "-r /tmp/servekit-requirements/requirements.txt"
    ) in text
    assert text.index("USER root") < text.index("pip install") < text.index("pip check")
    assert text.index("pip check") < text.index("USER 10001:10001")
    assert 'SERVEKIT_TARGET="model.py:predict"' in text
    assert 'SERVEKIT_MODEL_NAME="Churn Model"' in text
    assert 'SERVEKIT_MODEL_VERSION="3"' in text


def test_odd_names_are_quoted_for_the_dockerfile(tmp_path: Path) -> None:
    project = write_project(tmp_path / "modèle $HOME", {'mod "è".py': ""})
    plan = plan_build(project, 'mod "è".py:predict', model_version="1 $(x)")
    text = render_dockerfile(plan)
    assert 'SERVEKIT_TARGET="mod \\"è\\".py:predict"' in text
    assert 'SERVEKIT_MODEL_NAME="modèle \\$HOME"' in text
    assert 'SERVEKIT_MODEL_VERSION="1 \\$(x)"' in text
    with pytest.raises(ConfigError, match="control characters"):
        plan_build(project, 'mod "è".py:predict', model_name="two\nlines")
    with pytest.raises(ConfigError, match="is not an image name"):
        plan_build(project, 'mod "è".py:predict', tag="Bad Tag")
    assert plan_build(project, 'mod "è".py:predict', tag="reg.io:5000/team/m:1.0-rc1").tag


def test_requirement_files_they_name_are_copied_too(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "model.py": "",
            "requirements.txt": "-r reqs/base.txt\n--constraint=reqs/pins.txt\nidna  # dns\n",
            "reqs/base.txt": "-r ../requirements.txt\n-r https://example.com/r.txt\nsix\n",
            "reqs/pins.txt": "six==1.16.0\n",
        },
    )
    plan = plan_build(tmp_path, "model.py:predict")
    assert plan.project.requirements == ("requirements.txt", "reqs/base.txt", "reqs/pins.txt")
    text = render_dockerfile(plan)
    assert 'COPY ["reqs/base.txt", "/tmp/servekit-requirements/reqs/base.txt"]' in text
    (tmp_path / ".modelignore").write_text("reqs/\n")
    with pytest.raises(ConfigError, match=r"leaves out reqs/base.txt, which requirements.txt"):
        plan_build(tmp_path, "model.py:predict")


def test_links_the_image_could_not_follow_are_refused(tmp_path: Path) -> None:
    outside = write_project(tmp_path / "outside", {"weights.bin": "w"})
    project = write_project(tmp_path / "p", {"model.py": "", "secret.txt": "s"})
    (project / "data").mkdir()
    (project / "data.link").symlink_to("data")
    (project / "model_link.py").symlink_to("model.py")
    assert plan_build(project, "model.py:predict").project.files[-1] == "secret.txt"
    (project / ".modelignore").write_text("secret.txt\n")
    (project / "s.link").symlink_to("secret.txt")
    with pytest.raises(ConfigError, match=r"links to secret.txt, which .modelignore excludes"):
        plan_build(project, "model.py:predict")
    (project / "s.link").unlink()
    (project / "weights").symlink_to(outside / "weights.bin")
    with pytest.raises(ConfigError, match="outside the project"):
        plan_build(project, "model.py:predict")
    (project / "weights").unlink()
    os.mkfifo(project / "pipe")
    with pytest.raises(ConfigError, match="not a regular file"):
        plan_build(project, "model.py:predict")


def test_unreadable_project_files_are_config_errors(tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": "", ".dockerignore": "*\n"})
    (tmp_path / ".modelignore").write_bytes(b"\xff\xfe data\n")
    with pytest.raises(ConfigError, match="cannot read the project"):
        plan_build(tmp_path, "model.py:predict")
    (tmp_path / ".modelignore").write_text("\ufeffdata/\n")  # a BOM is fine
    # An ignore file in the project would be applied by the engine too: it stays out.
    assert ".dockerignore" not in plan_build(tmp_path, "model.py:predict").project.files


def test_staging_makes_files_readable_and_keeps_links(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"model.py": "", "pkg/util.py": "", "run.sh": ""})
    (project / "model.py").chmod(0o600)
    (project / "run.sh").chmod(0o700)
    (project / "pkg_link").symlink_to("pkg")
    (project / "pkg").chmod(0o700)
    context = tmp_path / "ctx"
    context.mkdir()
    stage_context(plan_build(project, "model.py:predict").project, context)
    assert stat.S_IMODE((context / "model.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((context / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((context / "pkg").stat().st_mode) == 0o755
    assert os.readlink(context / "pkg_link") == "pkg"
    assert stat.S_IMODE((project / "pkg").stat().st_mode) == 0o700  # the project is untouched


def test_onnx_on_cpu_adds_onnxruntime_and_on_gpu_takes_the_cuda_base(tmp_path: Path) -> None:
    write_project(tmp_path, {"model.onnx": "not really"})
    cpu = render_dockerfile(plan_build(tmp_path, "model.onnx"))
    assert 'pip install --no-cache-dir -c /opt/servekit/constraints.txt "onnxruntime>=1.17"' in cpu
    assert "/tmp/servekit-requirements" not in cpu
    gpu = plan_build(tmp_path, "model.onnx", gpu=True, tag="m:2")
    assert (gpu.base_image, gpu.tag) == (f"servekit/cuda:{__version__}", "m:2")
    assert "pip install" not in render_dockerfile(gpu)
    r_plan = plan_build(tmp_path / ".." / tmp_path.name, "model.onnx", base_image="my/base:1")
    assert _from(render_dockerfile(r_plan)) == "FROM my/base:1"


@pytest.mark.parametrize(
    ("files", "target", "message"),
    [
        ({"model.py": ""}, "missing.py:predict", "no file missing.py"),
        ({"model.py": "", ".modelignore": "*.py\n"}, "model.py:predict", "leaves out model.py"),
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
        "STEP 4/5: COPY . /srv/model",
        "Step 5/5 : ENV A=1",  # docker's legacy builder
    ]:
        clock.now += 2
        progress.feed(line)
    progress.finish(ok=True)
    assert out.getvalue().splitlines() == [
        "[stage 1/2 1/3] FROM debian AS build",
        "    4.0 s",
        "[stage 1/2 2/3] RUN apt-get install gcc",
        "    2.0 s",
        "[build 3/9] RUN pip install .",
        "    4.0 s",
        "[4/5] COPY . /srv/model",
        "    2.0 s",
        "[5/5] ENV A=1",
        "    0.0 s",
        "built in 14.0 s",
    ]


def test_progress_on_a_terminal_rewrites_the_line_with_the_time() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress(out, tty=True, clock=clock)
    progress.feed("STEP 1/2: RUN make")
    clock.now = 1.5
    progress.feed("compiling")
    clock.now = 4.0
    progress.tick()  # the ticker, while the engine is quiet
    progress.feed("STEP 2/2: COPY . /x")
    clock.now = 5.0
    progress.finish(ok=False)
    assert out.getvalue() == (
        "\r\x1b[K[1/2] RUN make    0.0 s"
        "\r\x1b[K[1/2] RUN make    1.5 s"
        "\r\x1b[K[1/2] RUN make    4.0 s"
        "\r\x1b[K[1/2] RUN make    4.0 s\n"
        "\r\x1b[K[2/2] COPY . /x    0.0 s"
        "\r\x1b[K[2/2] COPY . /x    1.0 s\n"
        "FAILED in 5.0 s\n"
    )


def test_dockerfile_only_writes_both_files_and_keeps_a_users_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, {"model.py": "", ".modelignore": "data/\n", "data/x.csv": ""})
    (tmp_path / "model.py").chmod(0o600)
    assert main(["build", str(tmp_path), "--target", "model.py:predict", "--dockerfile-only"]) == 0
    shown, told = capsys.readouterr()
    assert "uid 10001) cannot read these files, which COPY keeps as they are here: model.py" in told
    assert (tmp_path / "Dockerfile").read_text() == shown
    # Written again: the Dockerfile and .dockerignore are servekit's, and stay out.
    assert main(["build", str(tmp_path), "--target", "model.py:predict", "--dockerfile-only"]) == 0
    capsys.readouterr()
    assert (tmp_path / ".dockerignore").read_text().splitlines()[2:] == [
        "**",
        "!.modelignore",
        "!model.py",
    ]
    (tmp_path / "Dockerfile").write_text("FROM mine\n")
    assert main(["build", str(tmp_path), "--target", "model.py:predict", "--dockerfile-only"]) == 2
    assert "servekit did not write it" in capsys.readouterr().err
    assert (tmp_path / "Dockerfile").read_text() == "FROM mine\n"
