"""``servekit k8s render --kserve``: what it writes for each option, what it refuses, and
what the command prints."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from servekit.errors import ConfigError
from servekit.k8s import _kubectl, command
from servekit.k8s.kserve import KServeRelease, kserve_kustomization, model_format, render_kserve
from servekit.k8s.mounts import parse_secret_env
from servekit.k8s.tiers import load_tiers
from tests.k8s.conftest import kustomize

Doc = dict[str, Any]
CHURN = ("--name", "churn", "--version", "3", "--image", "reg/servekit-onnx:1")
URI = ("--storage-uri", "s3://models/churn/3")


def run(*args: str) -> int:
    parser = argparse.ArgumentParser(prog="servekit")
    command.add_parser(parser.add_subparsers(dest="command", required=True))
    return command.run(parser.parse_args(["k8s", "render", *args]))


def one(documents: list[Doc], kind: str) -> Doc:
    (found,) = [d for d in documents if d["kind"] == kind]
    return found


def env_of(service: Doc) -> dict[str, Any]:
    return {
        v["name"]: v.get("value", v.get("valueFrom"))
        for v in service["spec"]["predictor"]["model"]["env"]
    }


def rendered(release: KServeRelease, folder: Path) -> list[Doc]:
    render_kserve(release, folder)
    return kustomize(folder)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("model.onnx", "onnx"),
        ("churn/churn-v3.ONNX", "onnx"),
        ("/mnt/models/model.onnx", "onnx"),
        ("model.py:predict", "servekit"),
        ("src/model.py:Model.predict", "servekit"),
        ("score.R:score", "servekit"),
        ("churn.model:predict", "servekit"),
    ],
)
def test_the_format_follows_the_target(target: str, expected: str) -> None:
    assert model_format(target) == expected


@pytest.mark.parametrize("target", ["../model.onnx", "/srv/model/model.py:predict", "model.py"])
def test_targets_outside_the_model_folder_or_malformed_are_refused(target: str) -> None:
    with pytest.raises(ConfigError, match="--target"):
        model_format(target)


def test_an_onnx_model_gets_the_runtime_and_an_inference_service(tmp_path: Path) -> None:
    release = KServeRelease("churn", "3.1", "reg/churn-runtime:3", "s3://models/churn/3")
    written = render_kserve(release, tmp_path / "out")
    assert written == [tmp_path / "out" / "kustomization.yaml"]
    moved = tmp_path / "elsewhere"
    (tmp_path / "out").rename(moved)  # self-contained: no path outside the folder
    documents = kustomize(moved)
    runtime = one(documents, "ServingRuntime")
    service = one(documents, "InferenceService")
    policy = one(documents, "NetworkPolicy")
    assert runtime["metadata"]["name"] == policy["metadata"]["name"] == "churn-servekit"
    assert service["metadata"]["name"] == "churn"
    assert "namespace" not in service["metadata"]
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == "churn-servekit"
    assert model["modelFormat"] == {"name": "onnx"}
    assert model["storageUri"] == "s3://models/churn/3"
    assert env_of(service) == {"SERVEKIT_TARGET": "model.onnx", "SERVEKIT_MODEL_VERSION": "3.1"}
    assert runtime["spec"]["containers"][0]["image"] == "reg/churn-runtime:3"
    assert policy["spec"]["podSelector"]["matchLabels"]["serving.kserve.io/inferenceservice"] == (
        "churn"
    )
    for document in documents:
        labels = document["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "churn"
        assert labels["app.kubernetes.io/version"] == "3.1"
        assert labels["app.kubernetes.io/part-of"] == "servekit"


def test_a_servekit_project_with_a_cluster_runtime_in_a_namespace(tmp_path: Path) -> None:
    release = KServeRelease(
        "range",
        "1",
        "reg/range@sha256:" + "c" * 64,
        "gs://models/range/1",
        target="model.py:predict",
        cluster_runtime=True,
        namespace="ml",
        settings=(("SERVEKIT_TIMEOUT", "30"),),
        secret_env=(parse_secret_env("API_KEY=range-keys/api"),),
    )
    documents = rendered(release, tmp_path)
    runtime = one(documents, "ClusterServingRuntime")
    assert "namespace" not in runtime["metadata"]  # cluster-scoped
    assert runtime["spec"]["containers"][0]["image"] == "reg/range@sha256:" + "c" * 64
    service = one(documents, "InferenceService")
    assert (
        service["metadata"]["namespace"]
        == one(documents, "NetworkPolicy")["metadata"]["namespace"]
        == "ml"
    )
    assert service["spec"]["predictor"]["model"]["modelFormat"] == {"name": "servekit"}
    assert env_of(service) == {
        "SERVEKIT_TARGET": "model.py:predict",
        "SERVEKIT_MODEL_VERSION": "1",
        "SERVEKIT_TIMEOUT": "30",
        "API_KEY": {"secretKeyRef": {"name": "range-keys", "key": "api"}},
    }


@pytest.mark.parametrize("tier", sorted(load_tiers()))
def test_a_tier_sizes_the_pods_and_their_processes(tier: str, tmp_path: Path) -> None:
    shape = load_tiers()[tier]
    release = KServeRelease("churn", "3", "reg/c:3", "s3://m/c", sizing=shape)
    predictor = one(rendered(release, tmp_path), "InferenceService")["spec"]["predictor"]
    limits = predictor["model"]["resources"]["limits"]
    assert (limits["cpu"], limits["memory"]) == (shape.cpu[1], shape.memory[1])
    assert limits.get("nvidia.com/gpu") == (str(shape.gpus) if shape.gpus else None)
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (
        shape.min_replicas,
        shape.max_replicas,
    )
    assert predictor["nodeSelector"] == dict(shape.node_selector)
    env = {v["name"]: v["value"] for v in predictor["model"]["env"]}
    assert env["SERVEKIT_PROCESSES"] == str(shape.processes)
    if shape.gpus:
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in (
            predictor["tolerations"]
        )


def test_gpu_alone_takes_the_gpu_components_shape_and_set_processes_wins(tmp_path: Path) -> None:
    release = KServeRelease(
        "vision", "2", "reg/v:2", "s3://m/v", gpu=True, settings=(("SERVEKIT_PROCESSES", "2"),)
    )
    predictor = one(rendered(release, tmp_path), "InferenceService")["spec"]["predictor"]
    assert predictor["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert [v for v in predictor["model"]["env"] if v["name"] == "SERVEKIT_PROCESSES"] == [
        {"name": "SERVEKIT_PROCESSES", "value": "2"}
    ]


def _release(**changes: Any) -> KServeRelease:
    values: dict[str, Any] = {
        "name": "churn",
        "version": "3",
        "image": "reg/c:3",
        "storage_uri": "s3://m/c",
    }
    return KServeRelease(**{**values, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Churn"}, "--name"),
        ({"name": "c" * 54}, "KServe names its Service"),
        ({"version": "3_1"}, "--version"),
        ({"image": "reg/c:latest"}, "--image"),
        ({"storage_uri": "models/churn"}, "--storage-uri"),
        ({"storage_uri": "s3://m/with space"}, "--storage-uri"),
        ({"namespace": "ML"}, "--namespace"),
        ({"target": "model.py"}, "--target"),
        ({"settings": (("SERVEKIT_TARGET", "x.onnx"),)}, "set by --target"),
        ({"settings": (("SERVEKIT_GRPC_PORT", "9000"),)}, "set by the runtime"),
        ({"settings": (("SERVEKIT_PROJECT_DIR", "/srv"),)}, "set by the runtime"),
        ({"settings": (("SERVEKIT_MODEL_ID", "x"),)}, "set by the runtime"),
        ({"settings": (("PYTHONPATH", "/x"),)}, "KServe"),
        ({"settings": (("SERVEKIT_MODEL_VERSION", "4"),)}, "--version"),
        ({"settings": (("SERVEKIT_TIMEOUT", "soon"),)}, "SERVEKIT_TIMEOUT"),
        ({"settings": (("SERVEKIT_NOPE", "1"),)}, "no such setting"),
        (
            {"settings": (("HOME", "/tmp"),), "secret_env": (parse_secret_env("HOME=s/k"),)},
            "set by --set",
        ),
        ({"secret_env": (parse_secret_env("SERVEKIT_TARGET=s/k"),)}, "--target"),
        ({"secret_env": (parse_secret_env("SERVEKIT_NOPE=s/k"),)}, "no such setting"),
    ],
)
def test_what_cannot_be_rendered_is_a_config_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        kserve_kustomization(_release(**changes))


def test_the_command_prints_the_rendered_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--kserve", *CHURN, *URI, "--tier", "small", "--output", str(tmp_path)) == 0
    out, err = capsys.readouterr()
    documents = list(yaml.safe_load_all(out))
    assert sorted(d["kind"] for d in documents) == [
        "InferenceService",
        "NetworkPolicy",
        "ServingRuntime",
    ]
    service = one(documents, "InferenceService")
    assert service["spec"]["predictor"]["model"]["resources"]["limits"]["cpu"] == "1"
    assert f"kubectl apply -k {tmp_path}" in err
    assert not (tmp_path.parent / "churn").exists()  # no model folder: KServe routes


def test_the_command_takes_a_target_and_a_cluster_runtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--target", "model.py:predict", "--cluster-runtime", "--namespace", "ml")
    assert run("--kserve", *CHURN, *URI, *args, "--output", str(tmp_path)) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr()[0]))
    assert one(documents, "ClusterServingRuntime")["metadata"]["name"] == "churn-servekit"
    assert env_of(one(documents, "InferenceService"))["SERVEKIT_TARGET"] == "model.py:predict"


def test_the_default_folder_is_the_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("--kserve", "--name", "churn", "--version", "3.1", "--image", "r/c:3", *URI) == 0
    assert (tmp_path / "k8s" / "churn-v3-1" / "kustomization.yaml").is_file()


def test_without_kubectl_the_command_prints_the_kustomization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_kubectl.shutil, "which", lambda name: None)
    assert run("--kserve", *CHURN, *URI, "--output", str(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out)["resources"][0] == "templates/kserve/servingruntime.yaml"
    assert "kubectl not found" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kserve", *CHURN), "--kserve needs --storage-uri"),
        (("--kserve", *CHURN, *URI, "--async"), "does not take --async"),
        (("--kserve", *CHURN, *URI, "--canary", "2=10"), "does not take --canary"),
        (("--kserve", *CHURN, *URI, "--ingress", "traefik"), "does not take --ingress"),
        (("--kserve", *CHURN, *URI, "--volume", "d=pvc:c:/d"), "does not take --volume"),
        (("--kserve", *CHURN, *URI, "--model-dir", "m"), "does not take --model-dir"),
        ((*CHURN, *URI), "--storage-uri is for --kserve"),
        ((*CHURN, "--target", "model.onnx"), "--target is for --kserve"),
        ((*CHURN, "--cluster-runtime"), "--cluster-runtime is for --kserve"),
        (("--kserve", *CHURN, *URI, "--set", "SERVEKIT_PORT=9000"), "SERVEKIT_PORT"),
    ],
)
def test_options_that_do_not_fit_are_refused(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        run(*args, "--output", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_rendering_again_replaces_its_own_files_but_no_one_elses(tmp_path: Path) -> None:
    render_kserve(_release(), tmp_path)
    render_kserve(_release(version="4"), tmp_path)
    assert "version 4" in (tmp_path / "kustomization.yaml").read_text(encoding="utf-8")
    (tmp_path / "kustomization.yaml").write_text("resources: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not written by servekit"):
        render_kserve(_release(), tmp_path)
