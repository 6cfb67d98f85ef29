"""`servekit build` on an MLflow model folder: the requirements MLflow wrote, the Python
it recorded, and the folder served as it is (a real build: tests/integration/test_images.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from servekit.errors import ConfigError
from servekit.images.mlflow_env import read_mlflow_env
from servekit.images.plan import plan_build, render_dockerfile
from servekit.runtimes import builtin
from servekit.runtimes.plugin import RuntimePlugin
from servekit.runtimes.registry import Installed, Registry

CONDA = """
channels:
- conda-forge
dependencies:
- python=3.10.12
- pip<=24.0
- pip:
  - mlflow==2.12.1
  - scikit-learn==1.4.2
name: mlflow-env
"""


def _mlflow_folder(folder: Path, *, requirements: bool = True, python: str = "3.11.7") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (folder / "model.pkl").write_bytes(b"\x80\x04N.")
    (folder / "python_env.yaml").write_text(
        f"python: {python}\ndependencies:\n- -r requirements.txt\n"
    )
    (folder / "conda.yaml").write_text(CONDA)
    if requirements:
        (folder / "requirements.txt").write_text("mlflow==2.12.1\nscikit-learn==1.4.2\n")
    return folder


@pytest.fixture(autouse=True)
def _mlflow_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry with an mlflow plugin claiming MLmodel folders (the real one's claims)."""
    fake = RuntimePlugin(name="mlflow", make=lambda t, c: None, markers=("MLmodel",))  # type: ignore[arg-type,return-value]
    registry = Registry(
        Installed(p, "servekit", "0") for p in (builtin.PYTHON, builtin.ONNX, builtin.R, fake)
    )
    monkeypatch.setattr("servekit.runtimes.registry.installed", lambda: registry)
    monkeypatch.setattr("servekit.images.needs.installed", lambda: registry)


def test_a_model_folder_needs_no_target_and_installs_what_mlflow_wrote(tmp_path: Path) -> None:
    plan = plan_build(_mlflow_folder(tmp_path / "churn"), "")
    assert (plan.runtime, plan.target, plan.model_name) == ("mlflow", ".", "churn")
    dockerfile = render_dockerfile(plan)
    assert 'SERVEKIT_TARGET="."' in dockerfile
    assert "-r /tmp/servekit-requirements/requirements.txt" in dockerfile
    assert '"mlflow-skinny" "pandas"' in dockerfile  # what the runtime itself needs
    assert "&& pip check" in dockerfile
    # the Python check comes before anything is installed
    check = dockerfile.index("sys.version_info[:2] != (3, 11)")
    assert check < dockerfile.index("pip install")
    assert "saved with Python 3.11.7 (python_env.yaml)" in dockerfile


def test_the_python_check_fails_on_another_python_and_passes_on_this_one(tmp_path: Path) -> None:
    """The RUN line as the Dockerfile writes it, run by this machine's shell and python3."""
    import sys

    for version, code in (("3.8.10", 1), (f"{sys.version_info[0]}.{sys.version_info[1]}.0", 0)):
        plan = plan_build(_mlflow_folder(tmp_path / version, python=version), "")
        line = next(
            chunk for chunk in render_dockerfile(plan).split("\nRUN ") if "version_info" in chunk
        )
        script = line.split("\n", 2)
        shell = (script[0].rstrip("\\") + script[1]).strip()
        ran = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=30)
        assert ran.returncode == code, ran.stderr
        if code:
            assert f"saved with Python {version}" in ran.stderr
            assert "this base image has Python 3." in ran.stderr


def test_without_requirements_txt_the_pip_part_of_conda_yaml_is_installed(tmp_path: Path) -> None:
    folder = _mlflow_folder(tmp_path / "m", requirements=False)
    (folder / "python_env.yaml").unlink()
    plan = plan_build(folder, "")
    assert plan.python.pip == ("mlflow==2.12.1", "scikit-learn==1.4.2")
    assert (plan.python.python, plan.python.source) == ("3.10.12", "conda.yaml")
    dockerfile = render_dockerfile(plan)
    assert '"mlflow==2.12.1" "scikit-learn==1.4.2"' in dockerfile
    assert "sys.version_info[:2] != (3, 10)" in dockerfile


@pytest.mark.parametrize(
    ("conda", "match"),
    [
        ("dependencies:\n- python=3.11\n- cudatoolkit=11.8\n", "conda packages pip cannot install"),
        ("dependencies:\n- pip:\n  - --extra-index-url http://x\n", "its pip part has options"),
        ("dependencies: [\n", "is not valid YAML"),
        ("dependencies: 3\n", "'dependencies' must be a list"),
    ],
)
def test_a_conda_yaml_pip_cannot_follow_is_refused(tmp_path: Path, conda: str, match: str) -> None:
    (tmp_path / "conda.yaml").write_text(conda)
    with pytest.raises(ConfigError, match=match):
        read_mlflow_env(tmp_path, has_requirements=False)


def test_with_requirements_txt_conda_yaml_only_gives_the_python_version(tmp_path: Path) -> None:
    (tmp_path / "conda.yaml").write_text("dependencies:\n- python=3.12.1\n- cudatoolkit\n")
    env = read_mlflow_env(tmp_path, has_requirements=True)
    assert (env.python, env.pip, env.major_minor) == ("3.12.1", (), (3, 12))


def test_a_model_folder_inside_a_project_and_what_build_refuses(tmp_path: Path) -> None:
    _mlflow_folder(tmp_path / "models" / "churn")
    plan = plan_build(tmp_path, "models/churn")
    assert (plan.runtime, plan.target) == ("mlflow", "models/churn")
    (tmp_path / ".modelignore").write_text("MLmodel\n")
    with pytest.raises(ConfigError, match="leaves out models/churn/MLmodel"):
        plan_build(tmp_path, "models/churn")
    with pytest.raises(ConfigError, match="--target: name what to serve"):
        plan_build(tmp_path / "models", "")
    (tmp_path / "app.py").write_text("def predict(x): return x\n")
    plan = plan_build(tmp_path, "app.py:predict")
    assert "version_info" not in render_dockerfile(plan)  # only MLflow models are checked


def test_a_uri_cannot_be_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = RuntimePlugin(name="mlflow", make=lambda t, c: None, schemes=("models",))  # type: ignore[arg-type,return-value]
    registry = Registry([Installed(builtin.PYTHON, "servekit", "0"), Installed(uri, "s", "0")])
    monkeypatch.setattr("servekit.runtimes.registry.installed", lambda: registry)
    (tmp_path / "x.py").write_text("")
    with pytest.raises(ConfigError, match="download the model into the project first"):
        plan_build(tmp_path, "models:/churn/1")
