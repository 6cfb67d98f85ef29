"""The base images and `servekit build`, built and run for real with podman and buildah.

The session fixture ``env`` (tests/integration/conftest.py) makes a Debian base with
debootstrap and builds the cpu, r and cuda images with base-images/build (a few minutes);
every test then builds or runs on them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from servekit._version import __version__
from servekit.images.plan import CONSTRAINTS
from servekit.images.project import MARKER
from tests.conftest import http, post_json, write_project
from tests.containers import (
    CERTS,
    ROOT,
    Container,
    image,
    inspect,
    podman,
    run_container,
    sh,
)
from tests.onnx_models import adder

# The first test also waits for the session fixture: debootstrap (600 s at most) and the
# three builds (1200 s at most).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2100)]

BUILD = [sys.executable, "-m", "servekit", "build", "--engine", "podman"]
"""`servekit build`, told to use podman: the tests run the images with podman."""


def _user_of_pid_1(container: Container) -> str:
    match = re.search(r"^Uid:\s+(\d+)", container.exec("cat", "/proc/1/status"), re.M)
    assert match is not None
    return match.group(1)


def test_the_cpu_image_is_labelled_non_root_and_checks_its_health(env: dict[str, str]) -> None:
    config = inspect(image("cpu"), env)["Config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == __version__
    revision = sh(["git", "-C", str(ROOT), "rev-parse", "HEAD"], env).stdout.strip()
    assert labels["org.opencontainers.image.revision"] == revision
    assert labels["org.opencontainers.image.source"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["servekit", "serve"]
    assert "8080/tcp" in config["ExposedPorts"]
    healthcheck = inspect(image("cpu"), env)["Healthcheck"]  # podman puts it beside Config
    assert healthcheck["Test"] == ["CMD", "python3", "-m", "servekit.healthcheck"]
    for flavour in ("cpu", "r", "cuda"):
        probe = "command -v gcc cc make cpp ld || true"
        found = sh(podman("run", "--rm", "--entrypoint", "sh", image(flavour), "-c", probe), env)
        assert found.stdout.strip() == "", f"build tools left in {flavour}: {found.stdout}"
        assert inspect(image(flavour), env)["Config"]["User"] == "10001:10001"
    # Its user, made with groupadd and useradd (from passwd, which the cpu Dockerfile
    # installs when a base lacks it; bookworm's minbase has it: apt needs adduser).
    user = sh(podman("run", "--rm", "--entrypoint", "getent", image("cpu"), "passwd", "10001"), env)
    assert user.stdout.startswith("servekit:x:10001:10001:")


def _constraints(flavour: str, env: dict[str, str]) -> dict[str, str]:
    """The base image's pins: {normalised name: version}."""
    text = sh(podman("run", "--rm", "--entrypoint", "cat", image(flavour), CONSTRAINTS), env)
    lines = [line for line in text.stdout.splitlines() if not line.startswith("#")]
    pairs = [line.split("==") for line in lines]
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pairs}


def test_a_three_line_dockerfile_serves_the_model_as_non_root(
    env: dict[str, str], built: list[str]
) -> None:
    dockerfile = (ROOT / "examples" / "range" / "Dockerfile").read_text().splitlines()
    assert dockerfile[0] == f"FROM {image('cpu')}"
    assert len(dockerfile) == 3
    built.append("servekit-test/range:1")
    # --format docker, as base-images/README.md says: the OCI format drops HEALTHCHECK.
    sh(
        ["buildah", "bud", "--format", "docker", "-t", built[0], str(ROOT / "examples" / "range")],
        env,
    )
    container = run_container(built[0], env)
    try:
        reply = post_json(f"{container.url}/model", {"data": {"start": 1, "stop": 10}})
        assert (reply.status, reply.body["result"]["total"]) == (200, 45)
        assert _user_of_pid_1(container) == "10001"
        assert "uWSGI master" in container.exec("cat", "/proc/1/cmdline").replace("\0", " ")
        health = sh(["podman", "healthcheck", "run", container.cid], env, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
    finally:
        container.remove()


def test_podman_stop_drains_in_flight_requests(env: dict[str, str], built: list[str]) -> None:
    project = write_project(
        Path(env["CONTAINERS_CONF"]).parent / "slow",
        {
            "model.py": (
                "import time\n\ndef predict(s: float) -> float:\n    time.sleep(s)\n    return s\n"
            )
        },
    )
    built.append("servekit-test/slow:1")
    cli = [*BUILD, str(project), "--target", "model.py:predict"]
    sh([*cli, "--tag", built[0], "--quiet"], env)
    container = run_container(built[0], env, settings={"SERVEKIT_DRAIN_SECONDS": "3"})
    answers: list[int] = []

    def call() -> None:
        answers.append(post_json(f"{container.url}/model", {"data": {"s": 4}}).status)

    slow = threading.Thread(target=call)
    try:
        slow.start()
        time.sleep(1)
        stopper = subprocess.Popen(["podman", "stop", "-t", "30", container.cid], env=env)
        ready = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and 503 not in ready:
            ready.append(http("GET", f"{container.url}/readyz").status)
            time.sleep(0.2)
        assert 503 in ready, f"/readyz never said 503 while draining: {ready}"
        slow.join(30)
        assert stopper.wait(60) == 0
        assert answers == [200]
        state = inspect(container.cid, env, "container")["State"]
        assert (state["Running"], state["ExitCode"]) == (False, 0)
    finally:
        container.remove()


def test_servekit_build_turns_a_project_folder_into_a_running_image(
    env: dict[str, str], built: list[str]
) -> None:
    project = write_project(
        Path(env["CONTAINERS_CONF"]).parent / "idna-model",
        {
            "model.py": (
                "import idna\n\ndef predict(name: str) -> dict:\n"
                "    return {'ascii': idna.encode(name).decode()}\n"
            ),
            "requirements.txt": "idna\n",
            ".modelignore": "data/\n*.txt\n!requirements.txt\n.env\n",
            "notes.txt": "left out",
            ".env": "TOKEN=left-out",
        },
    )
    (project / "data").mkdir(exist_ok=True)
    (project / "data" / "train.csv").write_text("left out")
    (project / "model.py").chmod(0o600)  # only its owner reads it here; the image's user must too
    built.append("servekit-test/idna-model:2")
    cli = [*BUILD, str(project), "--target", "model.py:predict"]
    # The base's pins: a requirement cannot replace servekit (or uWSGI, numpy...).
    pins = _constraints("cpu", env)
    assert pins["servekit"] == __version__
    assert {"uwsgi", "numpy", "flask"} <= set(pins)
    (project / "requirements.txt").write_text("idna\nservekit==0.0.1\n")
    refused = sh([*cli, "--tag", built[0], "--quiet", f"--engine-arg={CERTS}"], env, check=False)
    assert refused.returncode != 0
    assert f"The user requested (constraint) servekit=={__version__}" in refused.stderr
    # (the RUN line quotes the message too: this is the echo's own line)
    assert re.search(r"^servekit: pip failed \(see above\)\. If it", refused.stderr, re.M)
    (project / "requirements.txt").write_text("idna\n")
    # A Dockerfile written for elsewhere stays out of servekit's own builds.
    told = sh([*cli, "--dockerfile-only", "--quiet"], env).stderr
    done = sh(
        [*cli, "--tag", built[0], "--model-version", "2", f"--engine-arg={CERTS}"], env, timeout=600
    )
    assert done.stdout.startswith(MARKER)
    assert re.search(r"^\[\d+/\d+\] RUN pip install", done.stderr, re.M), done.stderr
    assert "built in" in done.stderr
    listing = sh(
        podman("run", "--rm", "--entrypoint", "find", built[0], "/srv/model", "-type", "f"), env
    ).stdout
    assert sorted(listing.split()) == [
        "/srv/model/.modelignore",
        "/srv/model/model.py",
        "/srv/model/requirements.txt",
    ]
    container = run_container(built[0], env)
    try:
        reply = post_json(f"{container.url}/model", {"data": {"name": "bücher.example"}})
        assert reply.status == 200, reply.body
        assert reply.body["result"] == {"ascii": "xn--bcher-kva.example"}
        assert reply.body["release"]["model_name"] == "idna-model"
        assert reply.body["release"]["model_version"] == "2"
        assert _user_of_pid_1(container) == "10001"
    finally:
        container.remove()
    # The Dockerfile and .dockerignore for a build elsewhere (written before the build
    # above, which left them out) give the same files; a plain COPY keeps modes, so
    # servekit warned about model.py: it is made readable now.
    assert "cannot read these files, which COPY keeps as they are here: model.py" in told
    (project / "model.py").chmod(0o644)
    built.append("servekit-test/idna-model:elsewhere")
    sh(["buildah", "bud", "--format", "docker", CERTS, "-t", built[1], str(project)], env)
    elsewhere = sh(
        podman("run", "--rm", "--entrypoint", "find", built[1], "/srv/model", "-type", "f"), env
    ).stdout
    assert sorted(elsewhere.split()) == sorted(listing.split())
    container = run_container(built[1], env)
    try:
        reply = post_json(f"{container.url}/model", {"data": {"name": "bücher.example"}})
        assert (reply.status, reply.body["result"]) == (200, {"ascii": "xn--bcher-kva.example"})
    finally:
        container.remove()


def test_servekit_build_serves_an_mlflow_model_folder_as_it_is(
    env: dict[str, str], built: list[str]
) -> None:
    """A Domino user's registered model: the folder MLflow wrote, no --target, its
    requirements installed and checked; served in Domino's envelope and at /invocations."""
    from tests import mlflow_models

    folder = Path(env["CONTAINERS_CONF"]).parent / "churn-mlflow"
    rows = mlflow_models.churn_frame(rows=3, seed=11)
    with mlflow_models.quiet():  # MLflow warns at import and save about its type hints
        import mlflow.pyfunc

        mlflow_models.classifier(folder)
        expected = [int(v) for v in mlflow.pyfunc.load_model(str(folder)).predict(rows)]
    # A model saved with a Python the base does not have fails before anything is installed.
    wrong = Path(env["CONTAINERS_CONF"]).parent / "churn-py38"
    sh(["cp", "-r", str(folder), str(wrong)], env)
    (wrong / "python_env.yaml").write_text("python: 3.8.10\n")
    refused = sh(
        [*BUILD, str(wrong), "--tag", "servekit-test/churn-py38:1", "--quiet"], env, check=False
    )
    assert refused.returncode != 0
    assert re.search(
        r"^servekit: the model was saved with Python 3\.8\.10 \(python_env\.yaml\) and this "
        r"base image has Python 3\.\d+",
        refused.stderr,
        re.M,
    ), refused.stderr[-3000:]
    assert not re.search(r"^\[\d+/\d+\] RUN pip install", refused.stderr, re.M)
    built.append("servekit-test/churn-mlflow:1")
    done = sh([*BUILD, str(folder), "--tag", built[-1], f"--engine-arg={CERTS}"], env, timeout=900)
    assert 'SERVEKIT_TARGET="."' in done.stdout
    assert "&& pip check" in done.stdout
    container = run_container(built[-1], env)
    try:
        records = rows.to_dict(orient="records")
        reply = post_json(f"{container.url}/model", {"data": records})
        assert reply.status == 200, reply.body
        assert reply.body["result"] == expected
        assert reply.body["release"]["model_name"] == "churn-mlflow"
        split = {"dataframe_split": rows.to_dict(orient="split")}
        split["dataframe_split"].pop("index")
        scored = post_json(f"{container.url}/invocations", split)
        assert (scored.status, scored.body) == (200, {"predictions": expected})
        bad = post_json(f"{container.url}/model", {"data": {"tenure": "x"}})
        assert bad.status == 422
        assert {d["path"] for d in bad.body["error"]["details"]} >= {"data.tenure"}
        assert _user_of_pid_1(container) == "10001"
    finally:
        container.remove()


def test_the_r_image_serves_an_r_model(env: dict[str, str], built: list[str]) -> None:
    built.append("servekit-test/r-score:1")
    cli = [*BUILD, str(ROOT / "examples" / "r_score")]
    done = sh([*cli, "--target", "model.R:predict", "--tag", built[0]], env)
    assert f"FROM {image('r')}" in done.stdout
    container = run_container(built[0], env)
    try:
        body = {"data": {"tenure_months": 3, "monthly_spend": 80.5}}
        reply = post_json(f"{container.url}/model", body)
        assert reply.status == 200, reply.body
        assert set(reply.body["result"]) == {"churn_probability", "will_churn"}
        assert 0 < reply.body["result"]["churn_probability"] < 1
        assert _user_of_pid_1(container) == "10001"
    finally:
        container.remove()


def test_the_cuda_image_has_the_cuda_provider_and_serves_onnx(
    env: dict[str, str], built: list[str]
) -> None:
    probe = (
        "import onnxruntime as o, sysconfig; print(','.join(o.get_available_providers())); "
        "print(sysconfig.get_paths()['purelib'])"
    )
    out = sh(podman("run", "--rm", "--entrypoint", "python3", image("cuda"), "-c", probe), env)
    providers, site = out.stdout.split()
    assert "CUDAExecutionProvider" in providers.split(",")
    # Every library the CUDA provider links resolves inside the image, but the driver's.
    ldd = sh(
        podman(
            "run",
            "--rm",
            "--entrypoint",
            "ldd",
            image("cuda"),
            f"{site}/onnxruntime/capi/libonnxruntime_providers_cuda.so",
        ),
        env,
    ).stdout
    missing = sorted(set(re.findall(r"^\s*(\S+) => not found", ldd, re.M)))
    assert missing == ["libcuda.so.1"], ldd
    # Its pins hold onnxruntime-gpu and NVIDIA's wheels besides the cpu image's.
    pins = _constraints("cuda", env)
    assert pins["onnxruntime-gpu"] == "1.31.1"
    assert any(name.startswith("nvidia-") for name in pins), pins
    assert pins["servekit"] == __version__
    # Without a GPU (none here) the image still serves, on the CPU provider.
    project = Path(env["CONTAINERS_CONF"]).parent / "onnx-model"
    project.mkdir(exist_ok=True)
    adder(project / "model.onnx")
    built.append("servekit-test/onnx-gpu:1")
    cli = [*BUILD, str(project), "--target", "model.onnx"]
    done = sh([*cli, "--gpu", "--tag", built[0]], env)
    assert f"FROM {image('cuda')}" in done.stdout
    container = run_container(built[0], env)
    try:
        body = {"data": {"a": [[1, 2, 3]], "b": [[1, 1, 1]]}}
        reply = post_json(f"{container.url}/model", body)
        assert reply.status == 200, reply.body
        assert reply.body["result"]["total"] == [[2, 3, 4]]
        assert "CPUExecutionProvider" in container.logs()
    finally:
        container.remove()


def test_the_published_sizes_match_the_images(env: dict[str, str]) -> None:
    readme = (ROOT / "base-images" / "README.md").read_text()
    for flavour in ("cpu", "r", "cuda"):
        match = re.search(rf"^\| `servekit/{flavour}` \|.*\| ([\d,]+) MB \|$", readme, re.M)
        assert match, f"base-images/README.md has no size for servekit/{flavour}"
        published = int(match.group(1).replace(",", ""))
        measured = inspect(image(flavour), env)["Size"] / 1e6
        assert abs(measured - published) / published < 0.2, (flavour, measured, published)
