"""`servekit build` cannot lose what the model needs, nor its own files, nor the base's
packages: the refusals and the files it writes (no containers; tests/integration builds;
the pip step run by sh is in tests/components/images/test_build_safety.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servekit._version import __version__
from servekit.cli import main
from servekit.errors import ConfigError
from servekit.images.command import stage_context
from servekit.images.modelignore import ModelIgnore
from servekit.images.plan import CONSTRAINTS, plan_build, render_dockerfile
from servekit.images.project import MARKER
from tests.conftest import REPO, write_project


def _refusal(project: Path, target: str, **options: bool) -> str:
    with pytest.raises(ConfigError) as caught:
        plan_build(project, target, **options)
    return caught.value.message


def test_the_deciding_rule_and_its_line_are_named() -> None:
    ignore = ModelIgnore.parse("# data\ndata/\n*.txt\n!keep.txt\n")
    found = ignore.leaving_out("notes.txt")
    assert found is not None
    assert (found[0], found[1].pattern, found[1].line) == ("notes.txt", "*.txt", 3)
    assert ignore.leaving_out("keep.txt") is None
    # A folder left out decides for everything in it, a later re-include notwithstanding.
    found = ignore.leaving_out("data/keep.txt")
    assert found is not None
    assert (found[0], found[1].pattern, found[1].line) == ("data", "data/", 2)
    found = ignore.leaving_out(".git/config")
    assert found is not None
    assert (found[0], found[1].line) == (".git", 0)


def test_a_requirements_file_left_out_is_refused_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "model.py": "import idna\n",
        "requirements.txt": "idna\n",
        ".modelignore": "# notes stay out\ndata/\n*.txt\n",
    }
    project = write_project(tmp_path / "p", files)
    argv = ["build", str(project), "--target", "model.py:predict", "--dockerfile-only"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "servekit: error: .modelignore line 3 ('*.txt') leaves out requirements.txt, which the "
        "image needs (add '!requirements.txt' after it)\n"
    )
    assert not (project / "Dockerfile").exists()
    # The fix it names works.
    (project / ".modelignore").write_text(files[".modelignore"] + "!requirements.txt\n")
    text = render_dockerfile(plan_build(project, "model.py:predict"))
    assert "-r /tmp/servekit-requirements/requirements.txt" in text


def test_requirement_and_constraint_files_it_names_are_needed_too(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        {
            "model.py": "",
            "requirements.txt": "six\n-r reqs/base.txt\n--constraint pins/c.txt\n",
            "reqs/base.txt": "idna\n",
            "pins/c.txt": "idna==3.7\n",
            ".modelignore": "reqs/\n",
        },
    )
    assert _refusal(project, "model.py:predict") == (
        ".modelignore line 1 ('reqs/') leaves out reqs/base.txt, which requirements.txt names "
        "(line 2) and the image needs (add '!reqs/', 'reqs/*', '!reqs/base.txt' after it)"
    )
    # git's rules cannot bring a file back out of a folder left out; the lines named can.
    (project / ".modelignore").write_text("reqs/\n!reqs/\nreqs/*\n!reqs/base.txt\n")
    assert plan_build(project, "model.py:predict").project.requirements == (
        "requirements.txt",
        "reqs/base.txt",
        "pins/c.txt",
    )
    (project / ".modelignore").write_text("*.txt\n!requirements.txt\n!base.txt\n")
    assert _refusal(project, "model.py:predict") == (
        ".modelignore line 1 ('*.txt') leaves out pins/c.txt, which requirements.txt names "
        "(line 3) and the image needs (add '!pins/c.txt' after it)"
    )
    (project / "reqs" / "base.txt").write_text("-r ../../elsewhere.txt\n")
    assert _refusal(project, "model.py:predict") == (
        "reqs/base.txt line 1 names ../../elsewhere.txt, outside the project folder, which "
        "the image cannot copy (move it into the project)"
    )


@pytest.mark.parametrize(
    ("files", "ignore", "target", "message"),
    [
        (
            {"model.py": ""},
            "*.py\n",
            "model.py:predict",
            ".modelignore line 1 ('*.py') leaves out model.py, the TARGET, which the image "
            "needs (add '!model.py' after it)",
        ),
        (
            {"pkg/mod.py": ""},
            "*.md\nmod.py\n",
            "pkg/mod.py:Model",
            ".modelignore line 2 ('mod.py') leaves out pkg/mod.py, the TARGET, which the image "
            "needs (add '!pkg/mod.py' after it)",
        ),
        (
            {"model.onnx": "graph"},
            "*.onnx\n",
            "model.onnx",
            ".modelignore line 1 ('*.onnx') leaves out model.onnx, the TARGET, which the image "
            "needs (add '!model.onnx' after it)",
        ),
        (
            {"model.R": ""},
            "/model.R\n",
            "model.R:predict",
            ".modelignore line 1 ('/model.R') leaves out model.R, the TARGET, which the image "
            "needs (add '!model.R' after it)",
        ),
        (
            {"shop/__init__.py": "", "shop/pricing.py": ""},
            "shop/\n",
            "shop.pricing:predict",
            ".modelignore line 1 ('shop/') leaves out shop/, which holds the TARGET "
            "shop.pricing:predict and the image needs (add '!shop/' after it)",
        ),
        (
            {"shop/__init__.py": "", "shop/pricing.py": ""},
            "pricing.py\n",
            "shop.pricing:predict",
            ".modelignore line 1 ('pricing.py') leaves out shop/pricing.py, which holds the "
            "TARGET shop.pricing:predict and the image needs (add '!shop/pricing.py' after it)",
        ),
        (
            {"shop/__init__.py": "", "shop/pricing.py": ""},
            "__init__.py\n",
            "shop.pricing:predict",
            ".modelignore line 1 ('__init__.py') leaves out shop/__init__.py, which holds the "
            "TARGET shop.pricing:predict and the image needs (add '!shop/__init__.py' after it)",
        ),
    ],
)
def test_a_target_left_out_is_refused(
    tmp_path: Path, files: dict[str, str], ignore: str, target: str, message: str
) -> None:
    project = write_project(tmp_path, {**files, ".modelignore": ignore})
    assert _refusal(project, target) == message


@pytest.mark.parametrize(
    ("files", "ignore", "message"),
    [
        (
            {"model.py": "import os\nimport helpers\n", "helpers.py": ""},
            "helpers.py\n",
            ".modelignore line 1 ('helpers.py') leaves out helpers.py, which model.py imports "
            "(line 2) and the image needs (add '!helpers.py' after it)",
        ),
        (
            {"model.py": "from lib import tools\n", "lib/__init__.py": "", "lib/tools.py": ""},
            "tools.py\n",
            ".modelignore line 1 ('tools.py') leaves out lib/tools.py, which model.py imports "
            "(line 1) and the image needs (add '!lib/tools.py' after it)",
        ),
        (
            {"model.py": "import lib.tools as t\n", "lib/tools.py": ""},  # a namespace package
            "lib/\n",
            ".modelignore line 1 ('lib/') leaves out lib/, which model.py imports (line 1) and "
            "the image needs (add '!lib/' after it)",
        ),
        (
            {"model.py": "from helpers import f\n", "helpers.py": "import util\n", "util.py": ""},
            "util*\n",
            ".modelignore line 1 ('util*') leaves out util.py, which helpers.py imports (line 1) "
            "and the image needs (add '!util.py' after it)",
        ),
    ],
)
def test_a_local_module_the_target_imports_left_out_is_refused(
    tmp_path: Path, files: dict[str, str], ignore: str, message: str
) -> None:
    project = write_project(tmp_path, {**files, ".modelignore": ignore})
    assert _refusal(project, "model.py:predict") == message


def test_relative_imports_of_a_module_target_are_followed(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/pricing.py": "from . import rules\nfrom .tables import rates\n",
            "shop/rules.py": "",
            "shop/tables/__init__.py": "",
            "shop/tables/rates.py": "",
            ".modelignore": "rates.py\n",
        },
    )
    assert _refusal(project, "shop.pricing:predict") == (
        ".modelignore line 1 ('rates.py') leaves out shop/tables/rates.py, which "
        "shop/pricing.py imports (line 2) and the image needs (add '!shop/tables/rates.py' "
        "after it)"
    )
    (project / ".modelignore").write_text("rules.py\n")
    assert "leaves out shop/rules.py, which shop/pricing.py imports (line 1)" in _refusal(
        project, "shop.pricing:predict"
    )


def test_imports_that_need_nothing_left_out_are_not_refused(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        {
            "model.py": (
                "import numpy\n"  # installed, not in the project
                "import tokenizers\n"  # a data folder of that name is not a package
                "try:\n    import extras\nexcept ImportError:\n    extras = None\n"
                "def predict():\n    import scratch\n    return 1\n"
            ),
            "tokenizers/vocab.json": "{}",
            "extras.py": "",
            "scratch.py": "",
            "broken.py": "def (",
            ".modelignore": "tokenizers/\nextras.py\nscratch.py\n",
        },
    )
    assert plan_build(project, "model.py:predict").project.files == (
        ".modelignore",
        "broken.py",
        "model.py",
    )
    (project / "model.py").write_text("import broken\n")  # serve says what is wrong with it
    assert plan_build(project, "model.py:predict").target == "model.py:predict"


def test_the_written_dockerfile_stays_out_of_later_builds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write_project(tmp_path / "p", {"model.py": ""})
    argv = ["build", str(project), "--target", "model.py:predict", "--quiet"]
    assert main([*argv, "--dockerfile-only"]) == 0
    capsys.readouterr()
    assert (project / "Dockerfile").read_text().startswith(MARKER)
    assert (project / ".dockerignore").read_text().startswith(MARKER)
    plan = plan_build(project, "model.py:predict")
    assert plan.project.files == ("model.py",)
    context = tmp_path / "context"
    context.mkdir()
    stage_context(plan.project, context)
    assert sorted(os.listdir(context)) == ["model.py"]
    # Written again over its own files, without --force; the .dockerignore lets the model
    # through and nothing servekit wrote.
    assert main([*argv, "--dockerfile-only"]) == 0
    assert (project / ".dockerignore").read_text().splitlines()[2:] == ["**", "!model.py"]


def test_a_users_own_dockerfile_is_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write_project(tmp_path, {"model.py": "", "Dockerfile": "# Written by me\nFROM x\n"})
    argv = ["build", str(project), "--target", "model.py:predict", "--quiet", "--dockerfile-only"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"servekit: error: {project}/Dockerfile exists and servekit did not write it (its first "
        "line does not say so): not replaced (move it away, or --force to replace it)\n"
    )
    assert (project / "Dockerfile").read_text() == "# Written by me\nFROM x\n"
    # A user's own Dockerfile is a project file like any other; servekit's replaces it.
    assert plan_build(project, "model.py:predict").project.files == ("Dockerfile", "model.py")
    assert main([*argv, "--force"]) == 0
    assert (project / "Dockerfile").read_text().startswith(MARKER)
    assert plan_build(project, "model.py:predict").project.files == ("model.py",)
    (project / ".dockerignore").write_text("*\n")
    assert main(argv) == 2
    assert ".dockerignore exists and servekit did not write it" in capsys.readouterr().err


def test_the_default_base_is_said_to_be_built_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write_project(tmp_path, {"model.py": ""})
    argv = ["build", str(project), "--target", "model.py:predict", "--dockerfile-only"]
    assert main([*argv, "--tag", "m:1"]) == 0
    shown, told = capsys.readouterr()
    base = f"servekit/cpu:{__version__}"
    assert f"# {base} is servekit's base image, on no public registry" in shown
    assert "# with base-images/build from servekit's source" in shown
    assert f"`servekit build --base-image registry.example.com/{base}`" in shown
    assert (
        f"its base, {base}, is on no public registry (docker.io/servekit/cpu is not "
        "servekit's): build it first on the machine that builds the image, with "
        "base-images/build from servekit's source"
    ) in told
    assert f"--base-image registry.example.com/{base}\nthen build with: docker build -t m:1 " in (
        told
    )
    # --base names another base: no word about servekit's.
    assert main([*argv, "--tag", "m:1", "--base", "registry.example.com/servekit/cpu:1"]) == 0
    shown, told = capsys.readouterr()
    assert "FROM registry.example.com/servekit/cpu:1\n" in shown
    assert "base-images/build" not in shown + told
    assert told.endswith(f"build with: docker build -t m:1 {project}\n")


def test_requirements_install_under_the_base_images_pins(tmp_path: Path) -> None:
    project = write_project(tmp_path, {"model.onnx": "graph", "requirements.txt": "idna\n"})
    text = render_dockerfile(plan_build(project, "model.onnx"))
    run = text[text.index("RUN ") : text.index("USER 10001")]
    assert run.startswith(
        f'RUN pip install --no-cache-dir -c {CONSTRAINTS} "onnxruntime>=1.17" '
        "-r /tmp/servekit-requirements/requirements.txt"
    )
    assert run.rstrip().endswith("&& pip check")
    # The base images write the pins there (cuda again, with onnxruntime-gpu in them).
    for flavour in ("cpu", "cuda"):
        assert CONSTRAINTS in (REPO / "base-images" / flavour / "Dockerfile").read_text()


@pytest.mark.parametrize(
    "line", ["onnxruntime", "ONNXRuntime==1.20.1", "onnxruntime ; python_version > '3'"]
)
def test_onnxruntime_is_refused_on_the_cuda_base(tmp_path: Path, line: str) -> None:
    project = write_project(
        tmp_path,
        {"model.py": "", "requirements.txt": "-r more.txt\n", "more.txt": f"idna\n{line}\n"},
    )
    assert _refusal(project, "model.py:predict", gpu=True) == (
        "more.txt line 2 names onnxruntime: the CUDA base has onnxruntime-gpu, whose module it "
        "would overwrite; remove that line (the constraints of the base cannot stop a package "
        "of another name)"
    )
    assert plan_build(project, "model.py:predict").flavour == "cpu"  # fine on the cpu base


def test_onnxruntime_gpu_is_refused_for_an_onnx_target_on_the_cpu_base(tmp_path: Path) -> None:
    project = write_project(
        tmp_path, {"model.onnx": "graph", "requirements.txt": "onnxruntime_gpu>=1.17\n"}
    )
    assert _refusal(project, "model.onnx").startswith(
        "requirements.txt line 1 names onnxruntime-gpu: servekit installs onnxruntime>=1.17 "
        "for a .onnx TARGET on the cpu base"
    )
    assert plan_build(project, "model.onnx", gpu=True).flavour == "cuda"


def test_a_constraint_file_naming_onnxruntime_installs_nothing(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        {
            "model.py": "",
            "requirements.txt": "idna \\\n  >=3\n-c pins.txt  # pins\n",
            "pins.txt": "onnxruntime==1.20.1\n",
        },
    )
    plan = plan_build(project, "model.py:predict", gpu=True)
    assert [(r.name, r.file, r.line) for r in plan.project.installs] == [
        ("idna", "requirements.txt", 1)
    ]
