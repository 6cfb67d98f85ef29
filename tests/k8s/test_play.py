"""A rendered tier with a Secret variable and read-only volumes, run with `podman kube
play`: the model reads the Secret's value from its environment and a file from each
volume (a hostPath and a PersistentVolumeClaim, which podman makes a named volume), and
cannot write to them. And the pod KServe makes of servekit's ServingRuntime and a
rendered InferenceService (tests/k8s/kserve_pod.py), with the model's project where
KServe's storage initializer would have put it (a hostPath at /mnt/models, read-only):
it answers KServe's V1 and the Open Inference Protocol as the InferenceService's name,
over REST and gRPC.

It needs servekit's cpu base image: one already in podman's store (kept by
SERVEKIT_TEST_KEEP_IMAGES=1 after the image tests) is used as it is; else it is built
here from this tree on a debootstrap Debian (about 3 minutes) and removed at the end,
unless SERVEKIT_TEST_KEEP_IMAGES=1. What podman does not honour is listed in
k8s-templates/README.md; tests/integration/test_k8s_pod.py covers the rest of the pod.
"""

from __future__ import annotations

import base64
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import write_project
from tests.containers import (
    CERTS,
    DEBIAN,
    ROOT,
    container_env,
    image,
    keep_images,
    make_debian,
    podman,
    remove_images,
    require_tools,
    sh,
    tagged,
)
from tests.integration.test_k8s_pod import Pod
from tests.k8s.kserve_pod import MODEL_DIR, PROVISION_VOLUME, kserve_pod

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

TAG = "localhost/servekit-test/k8s-play:1"
TOKEN = "play-token"
MODEL = """
import os

def predict() -> dict:
    return {
        "password": os.environ["DB_PASSWORD"],
        "greeting": open("/data/greeting.txt").read(),
        "reference": open("/ref/reference.txt").read(),
    }
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """podman's environment with the cpu base image and the model's image."""
    require_tools()
    folder = tmp_path_factory.mktemp("play")
    environment = container_env(folder)
    built_base = not tagged(image("cpu"), environment)
    volumes = set(sh(["podman", "volume", "ls", "-q"], environment).stdout.split())
    try:
        if built_base:
            make_debian(folder, environment)
            build = [str(ROOT / "base-images" / "build"), "--engine", "podman"]
            sh(
                [*build, "--base-image", DEBIAN, "cpu"],
                {**environment, "ENGINE_ARGS": CERTS.replace("=", " ", 1)},
                timeout=1200,
            )
        project = write_project(folder / "model", {"model.py": MODEL})
        servekit = [sys.executable, "-m", "servekit", "build", "--engine", "podman"]
        sh([*servekit, str(project), "--target", "model.py:predict", "--tag", TAG, "--quiet"],
           environment)  # fmt: skip
        yield environment
    finally:  # the volumes podman kube play made (the tokens Secret's), and the images
        made = set(sh(["podman", "volume", "ls", "-q"], environment).stdout.split()) - volumes
        for volume in sorted(made):
            sh(["podman", "volume", "rm", "-f", volume], environment, check=False)
        if not keep_images():
            remove_images([TAG, *([image("cpu"), DEBIAN] if built_base else [])], environment)


def secret(name: str, content: str, folder: Path, env: dict[str, str]) -> None:
    """A podman secret named ``name`` holding ``content``."""
    path = folder / f"{name}.secret"
    path.write_text(content, encoding="utf-8")
    sh(["podman", "secret", "rm", name], env, check=False)
    sh(["podman", "secret", "create", name, str(path)], env)


def encoded(data: dict[str, str]) -> dict[str, str]:
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


def test_a_tier_with_a_secret_variable_and_read_only_volumes_runs(
    env: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "greeting.txt").write_text("hello from the node", encoding="utf-8")
    data.chmod(0o755)
    (data / "greeting.txt").chmod(0o644)
    claim = "play-reference"
    (tmp_path / "reference.txt").write_text("from the claim", encoding="utf-8")
    with tarfile.open(tmp_path / "ref.tar", "w") as tar:
        tar.add(tmp_path / "reference.txt", arcname="reference.txt")
    sh(["podman", "volume", "rm", "-f", claim], env, check=False)
    sh(["podman", "volume", "create", claim], env)
    sh(["podman", "volume", "import", claim, str(tmp_path / "ref.tar")], env)
    render = [sys.executable, "-m", "servekit", "k8s", "render", "--name", "play",
              "--version", "1", "--image", TAG, "--tier", "small",
              "--secret-env", "DB_PASSWORD=play-db/password",
              "--volume", f"data=hostPath:{data}:/data",
              "--volume", f"ref=pvc:{claim}:/ref",
              "--output", str(tmp_path / "k8s" / "play-v1")]  # fmt: skip
    documents = list(yaml.safe_load_all(sh(render, env).stdout))
    play = [d for d in documents if d["kind"] in ("Deployment", "ConfigMap")]
    for document in play:
        if document["kind"] == "ConfigMap":
            document["data"]["SERVEKIT_HOST"] = "127.0.0.1"  # loopback only on these machines
    (deployment,) = [d for d in play if d["kind"] == "Deployment"]
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "1"
    )  # the small tier
    manifest = tmp_path / "play.yaml"
    manifest.write_text(yaml.safe_dump_all(play), encoding="utf-8")
    # podman 4.3 reads a Secret volume's podman secret as a Kubernetes Secret (YAML), and
    # a secretKeyRef's as a JSON map of base64 values.
    tokens = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "servekit-tokens"}}
    tokens["data"] = encoded({"tokens": f"{TOKEN}\n"})
    secret("servekit-tokens", yaml.safe_dump(tokens), tmp_path, env)
    secret("play-db", json.dumps(encoded({"password": "s3cret-from-a-secret"})), tmp_path, env)
    pod = Pod(f"{deployment['metadata']['name']}-pod-0", env)
    try:
        sh(podman("kube", "play", str(manifest)), env)
        pod.wait_ready()
        # podman 4.3 mounts a Secret's values still base64-encoded: use what it wrote.
        token = sh(
            podman("exec", pod.container, "cat", "/etc/servekit/secrets/tokens"), env
        ).stdout.strip()
        status, body = pod.call("POST", "/model", token, '{"data": {}}')
        assert status == 200, body
        result = json.loads(body)
        answer = result.get("result", result)
        assert answer == {
            "password": "s3cret-from-a-secret",
            "greeting": "hello from the node",
            "reference": "from the claim",
        }, body
        for path in ("/data/x", "/ref/x"):
            denied = sh(podman("exec", pod.container, "touch", path), env, check=False)
            assert "Read-only file system" in denied.stderr, (path, denied.stderr)
        processes = sh(podman("exec", pod.container, "printenv", "SERVEKIT_PROCESSES"), env)
        assert processes.stdout.strip() == "1"  # the small tier's one core
    finally:
        sh(["podman", "pod", "rm", "-f", "-t", "2", pod.name], env, check=False)
        for name in ("servekit-tokens", "play-db"):
            sh(["podman", "secret", "rm", name], env, check=False)
        sh(["podman", "volume", "rm", "-f", claim], env, check=False)


KSERVE_MODEL = """
def predict(start: int, stop: int, step: int = 1) -> dict:
    values = list(range(start, stop, step))
    return {"values": values, "total": sum(values)}
"""
GRPC_CLIENT = """
import json, sys
import grpc, numpy
from servekit.protocols.v2.stubs import SERVICE, messages
token, model = sys.argv[1], sys.argv[2]
found = messages()
call = grpc.insecure_channel("127.0.0.1:8081").unary_unary(
    f"/{SERVICE}/ModelInfer",
    request_serializer=lambda r: r.SerializeToString(),
    response_deserializer=found["ModelInferResponse"].FromString,
)
request = found["ModelInferRequest"](model_name=model)
for name, value in (("start", 1), ("stop", 5)):
    tensor = request.inputs.add(name=name, datatype="INT64", shape=[1])
    tensor.contents.int64_contents.append(value)
reply = call(request, metadata=[("authorization", "Bearer " + token)], timeout=30)
outputs = {}
for index, output in enumerate(reply.outputs):  # raw_output_contents, as Triton answers
    assert output.datatype == "INT64", output.datatype
    raw = reply.raw_output_contents[index] if reply.raw_output_contents else None
    values = numpy.frombuffer(raw, "<i8") if raw is not None else output.contents.int64_contents
    outputs[output.name] = [int(value) for value in values]
print(json.dumps({"model": reply.model_name, "outputs": outputs}))
"""


def test_the_pod_kserve_makes_of_the_runtime_serves_a_project_from_mnt_models(
    env: dict[str, str], tmp_path: Path
) -> None:
    models = tmp_path / "models"  # what the storage initializer would have copied
    models.mkdir()
    (models / "model.py").write_text(KSERVE_MODEL, encoding="utf-8")
    models.chmod(0o755)
    (models / "model.py").chmod(0o644)
    render = [sys.executable, "-m", "servekit", "k8s", "render", "--kserve", "--name", "range",
              "--version", "2", "--image", image("cpu"), "--storage-uri", "pvc://models/range",
              "--target", "model.py:predict", "--output", str(tmp_path / "k8s")]  # fmt: skip
    documents = list(yaml.safe_load_all(sh(render, env).stdout))
    (runtime,) = [d for d in documents if d["kind"] == "ServingRuntime"]
    (service,) = [d for d in documents if d["kind"] == "InferenceService"]
    pod = kserve_pod(runtime, service)
    spec = pod["spec"]
    (provision,) = [v for v in spec["volumes"] if v["name"] == PROVISION_VOLUME]
    provision.pop("emptyDir")
    provision["hostPath"] = {"path": str(models), "type": "Directory"}
    (container,) = spec["containers"]
    for variable in container["env"]:
        if variable["name"] == "SERVEKIT_HOST":  # loopback only on these machines
            variable["value"] = "127.0.0.1"
    manifest = tmp_path / "kserve-pod.yaml"
    manifest.write_text(yaml.safe_dump(pod), encoding="utf-8")
    tokens = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "servekit-tokens"}}
    tokens["data"] = encoded({"tokens": f"{TOKEN}\n"})
    secret("servekit-tokens", yaml.safe_dump(tokens), tmp_path, env)
    played = Pod(pod["metadata"]["name"], env)
    played.container = f"{played.name}-{container['name']}"
    try:
        sh(podman("kube", "play", str(manifest)), env)
        played.wait_ready()
        token = sh(
            podman("exec", played.container, "cat", "/etc/servekit/secrets/tokens"), env
        ).stdout.strip()

        def call(method: str, path: str, body: str = "", key: str = token) -> tuple[int, str]:
            return played.call(method, path, key, body)

        assert call("GET", "/v2/health/ready")[0] == 200
        status, body = call("GET", "/v2/models/range")
        assert status == 200, body
        assert json.loads(body)["name"] == "range"
        infer = {
            "inputs": [
                {"name": "start", "datatype": "INT64", "shape": [1], "data": [1]},
                {"name": "stop", "datatype": "INT64", "shape": [1], "data": [5]},
            ]
        }
        status, body = call("POST", "/v2/models/range/infer", json.dumps(infer))
        assert status == 200, body
        answer = json.loads(body)
        assert answer["model_name"] == "range"
        assert answer["model_version"] == "2"
        assert {o["name"]: o["data"] for o in answer["outputs"]}["total"] == [10]
        assert call("POST", "/v2/models/range/infer", json.dumps(infer), key="")[0] == 401
        assert call("POST", "/v2/models/other/infer", json.dumps(infer))[0] == 404
        instances = json.dumps({"instances": [{"start": 1, "stop": 5}, {"start": 2, "stop": 4}]})
        status, body = call("POST", "/v1/models/range:predict", instances)
        assert status == 200, body
        assert [p["total"] for p in json.loads(body)["predictions"]] == [10, 5]
        grpc = podman("exec", played.container, "python", "-c", GRPC_CLIENT, token, "range")
        reply = json.loads(sh(grpc, env).stdout)
        assert reply["model"] == "range"
        assert reply["outputs"]["total"] == [10]
        denied = sh(podman("exec", played.container, "touch", f"{MODEL_DIR}/x"), env, check=False)
        assert "Read-only file system" in denied.stderr
        user = sh(podman("exec", played.container, "id", "-u"), env).stdout.strip()
        assert user == "10001"
    finally:
        sh(["podman", "pod", "rm", "-f", "-t", "2", played.name], env, check=False)
        sh(["podman", "secret", "rm", "servekit-tokens"], env, check=False)
