"""servekit on KServe (k8s-templates/kserve and `servekit k8s render --kserve`): the
ServingRuntime, ClusterServingRuntime, InferenceServices and NetworkPolicy, validated
strictly against KServe's API types (the kserve package's, tests/k8s/kserve_schemas.py),
and the pod KServe makes of them (tests/k8s/kserve_pod.py) checked as a Pod:
kubernetes-validate --strict at the oldest and newest Kubernetes supported, checkov, the
restricted Pod Security level, and settings that fit it (ports, probes, processes,
shutdown, the model's name and folder)."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from servekit.http.routes import ROUTES
from servekit.k8s.kserve import KServeRelease, render_kserve
from servekit.k8s.mounts import parse_secret_env
from servekit.k8s.tiers import load_tiers
from servekit.runtimes import parse_target
from servekit.serving.uwsgi import HARAKIRI_EXTRA_SECONDS
from servekit.settings import Settings, env_name
from tests.k8s import kserve_schemas
from tests.k8s.checkov_scan import problems, run_checkov
from tests.k8s.conftest import TEMPLATES, kustomize, venv_tool, write_kustomization
from tests.k8s.kserve_pod import (
    CONTAINER,
    MODEL_DIR,
    PROVISION_VOLUME,
    container_env,
    kserve_pod,
    template_actions,
)
from tests.k8s.manifests import validate_strictly
from tests.k8s.test_schemas import KUBERNETES_VERSIONS

Doc = dict[str, Any]
KSERVE = TEMPLATES / "kserve"
RUNTIMES = ("ServingRuntime", "ClusterServingRuntime")
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
"""The volume types Pod Security's restricted level allows."""


def releases() -> dict[str, KServeRelease]:
    """What `servekit k8s render --kserve` is tested with."""
    found = {
        "render:onnx": KServeRelease("churn", "3", "r.example.com/churn:3", "s3://m/churn/3"),
        "render:servekit": KServeRelease(
            "range",
            "1.2",
            "r.example.com/range@sha256:" + "b" * 64,
            "gs://m/range/1.2",
            target="src/model.py:predict",
            cluster_runtime=True,
            namespace="ml",
            settings=(("SERVEKIT_TIMEOUT", "30"), ("HF_HOME", "/tmp/hf")),
            secret_env=(parse_secret_env("DB_PASSWORD=range-db/password"),),
        ),
        "render:gpu": KServeRelease(
            "vision", "7", "r.example.com/vision:7", "pvc://models/vision/7", gpu=True
        ),
    }
    for tier, shape in load_tiers().items():
        found[f"render:tier-{tier}"] = KServeRelease(
            "churn", "5", "r.example.com/churn:5", "s3://m/churn/5/model.onnx", sizing=shape
        )
    return found


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    """Every KServe combination, rendered: the templates' kustomization (with the
    ClusterServingRuntime, applied on its own) and each render."""
    found = {
        "templates": [
            *kustomize(KSERVE),
            yaml.safe_load((KSERVE / "clusterservingruntime.yaml").read_text()),
        ]
    }
    root = tmp_path_factory.mktemp("kserve")
    for case, release in releases().items():
        folder = root / case.replace(":", "-")
        render_kserve(release, folder)
        found[case] = kustomize(folder)
    return found


def kserve_documents(cases: dict[str, list[Doc]]) -> list[Doc]:
    return [d for docs in cases.values() for d in docs if d["apiVersion"].startswith("serving.")]


def pods(cases: dict[str, list[Doc]]) -> list[tuple[str, Doc, Doc, Doc]]:
    """(case, runtime, InferenceService, the pod KServe makes) of every InferenceService."""
    found = []
    for case, documents in cases.items():
        runtimes = {d["metadata"]["name"]: d for d in documents if d["kind"] in RUNTIMES}
        for service in (d for d in documents if d["kind"] == "InferenceService"):
            runtime = runtimes[service["spec"]["predictor"]["model"]["runtime"]]
            found.append((case, runtime, service, kserve_pod(runtime, service)))
    assert len(found) >= len(cases)
    return found


def test_every_combination_renders_the_runtime_and_an_inference_service(
    cases: dict[str, list[Doc]],
) -> None:
    for case, documents in cases.items():
        kinds = sorted(d["kind"] for d in documents)
        if case == "templates":
            expected = sorted(["ClusterServingRuntime", "ServingRuntime", "NetworkPolicy"])
            assert kinds == sorted([*expected, "InferenceService", "InferenceService"])
        else:
            runtime = "ClusterServingRuntime" if "servekit" in case else "ServingRuntime"
            assert kinds == sorted([runtime, "NetworkPolicy", "InferenceService"]), case


# --- KServe's API types (kserve_schemas) ---


def test_the_kserve_resources_match_kserves_api_types(cases: dict[str, list[Doc]]) -> None:
    documents = kserve_documents(cases)
    assert {d["kind"] for d in documents} == {*RUNTIMES, "InferenceService"}
    failures = {
        f"{d['kind']} {d['metadata']['name']}": errors
        for d in documents
        if (errors := kserve_schemas.validate(d))
    }
    assert failures == {}


def _template(kind: str) -> Doc:
    path = KSERVE / ("servingruntime.yaml" if kind == "ServingRuntime" else kind)
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        (  # a misspelt field, deep in a Kubernetes type
            "servingruntime.yaml",
            lambda d: d["spec"]["containers"][0]["ports"][0].update(containerport=8080),
            "/spec/containers/0/ports/0: Additional properties are not allowed "
            "('containerport' was unexpected)",
        ),
        (  # a misspelt field of KServe's own types
            "servingruntime.yaml",
            lambda d: d["spec"]["supportedModelFormats"][0].update(autoselect=True),
            "/spec/supportedModelFormats/0: Additional properties are not allowed "
            "('autoselect' was unexpected)",
        ),
        (
            "servingruntime.yaml",
            lambda d: d["metadata"].update(lables={"a": "b"}),
            "/metadata: Additional properties are not allowed ('lables' was unexpected)",
        ),
        (  # a wrong type
            "inferenceservice-onnx.yaml",
            lambda d: d["spec"]["predictor"].update(minReplicas="2"),
            "/spec/predictor/minReplicas: '2' is not of type 'integer'",
        ),
        (  # a required field
            "inferenceservice-onnx.yaml",
            lambda d: d["spec"]["predictor"]["model"].pop("modelFormat"),
            "/spec/predictor/model: 'modelFormat' is a required property",
        ),
        (
            "clusterservingruntime.yaml",
            lambda d: d["spec"].pop("containers"),
            "/spec: 'containers' is a required property",
        ),
        (
            "inferenceservice-servekit.yaml",
            lambda d: d["spec"]["predictor"]["model"].update(storageURI="gs://x"),
            "/spec/predictor/model: Additional properties are not allowed "
            "('storageURI' was unexpected)",
        ),
    ],
)
def test_the_api_types_catch_mistakes(file: str, change: Any, expected: str) -> None:
    document = yaml.safe_load((KSERVE / file).read_text(encoding="utf-8"))
    assert kserve_schemas.validate(document) == []
    change(document)
    assert kserve_schemas.validate(document) == [expected]


def test_maps_take_any_key_and_other_kinds_are_not_passed() -> None:
    runtime = yaml.safe_load((KSERVE / "servingruntime.yaml").read_text(encoding="utf-8"))
    runtime["metadata"]["annotations"] = {"example.com/any": "x"}
    runtime["spec"]["annotations"]["anything.else/here"] = "y"
    runtime["spec"]["nodeSelector"] = {"pool": "cpu"}
    assert kserve_schemas.validate(runtime) == []
    other = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "TrainedModel"}
    assert kserve_schemas.validate(other) == [
        "no schema for serving.kserve.io/v1alpha1/TrainedModel"
    ]


def test_the_api_types_come_from_installed_packages() -> None:
    """The schemas are the kserve package's (PyPI), with the kubernetes client's types."""
    assert set(kserve_schemas.versions()) == {"kserve", "kubernetes"}
    for kind in kserve_schemas.KINDS:
        found, _ = kserve_schemas.schema(kind)
        assert found["$ref"].startswith("#/$defs/V1")
        assert len(found["$defs"]) > 50, kind  # the whole pod spec is in it
        container = found["$defs"]["V1Container"]
        assert container["additionalProperties"] is False
        assert "name" in container["required"]


# --- the pod KServe makes (kserve_pod) ---


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_pods_kserve_makes_are_valid_strictly(
    cases: dict[str, list[Doc]], version: str, tmp_path: Path
) -> None:
    validate = venv_tool(
        "kubernetes-validate",
        "SERVEKIT_TEST_KUBERNETES_VALIDATE",
        "pip install kubernetes-validate",
    )
    documents = [pod for _, _, _, pod in pods(cases)]
    documents += [d for docs in cases.values() for d in docs if d["kind"] == "NetworkPolicy"]
    validate_strictly(validate, version, documents, tmp_path)


def test_checkov_finds_nothing_in_the_pods_but_the_justified_skips(
    cases: dict[str, list[Doc]], tmp_path: Path
) -> None:
    found = {  # each with its NetworkPolicy (CKV2_K8S_6)
        case: [pod for _, _, _, pod in pods({case: documents})]
        + [d for d in documents if d["kind"] == "NetworkPolicy"]
        for case, documents in cases.items()
    }
    report = run_checkov(found, tmp_path)
    assert problems(report, found) == []
    assert report.passed > 80 * len(cases)
    assert [(case, check) for case, check, _ in report.skipped] == [
        ("render:servekit", "CKV_K8S_35")  # its --secret-env
    ]


def test_the_pods_run_restricted(cases: dict[str, list[Doc]]) -> None:
    for case, _, service, pod in pods(cases):
        where = f"{case}: {service['metadata']['name']}"
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["enableServiceLinks"] is False, where
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["seccompProfile"]["type"] == "RuntimeDefault", where
        ids = (context["runAsUser"], context["runAsGroup"], context["fsGroup"])
        assert ids == (10001, 10001, 10001), where
        (container,) = spec["containers"]
        own = container["securityContext"]  # the runtime's, which holds without the pod's
        assert own["allowPrivilegeEscalation"] is False, where
        assert own["readOnlyRootFilesystem"] is True, where
        assert own["runAsNonRoot"] is True, where
        assert (own["runAsUser"], own["runAsGroup"]) == (10001, 10001), where
        assert own["capabilities"]["drop"] == ["ALL"], where
        assert own["seccompProfile"]["type"] == "RuntimeDefault", where
        assert {"requests", "limits"} <= container["resources"].keys(), where
        for volume in spec["volumes"]:
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUMES, (where, volume)


def test_the_ports_probes_and_metrics_are_servekits(cases: dict[str, list[Doc]]) -> None:
    for case, runtime, _, pod in pods(cases):
        (container,) = pod["spec"]["containers"]
        env = container_env(pod)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http1": int(env["SERVEKIT_PORT"]), "h2c": int(env["SERVEKIT_GRPC_PORT"])}
        assert container["name"] == CONTAINER
        assert container["ports"][0]["name"] == "http1", "KServe's Service serves the first"
        for probe, path in (
            ("startupProbe", "/readyz"),
            ("readinessProbe", "/readyz"),
            ("livenessProbe", "/healthz"),
        ):
            assert container[probe]["httpGet"] == {"path": path, "port": ports["http1"]}, case
        annotations = pod["metadata"]["annotations"]
        for key in ("prometheus.io/port", "prometheus.kserve.io/port"):
            assert annotations[key] == env["SERVEKIT_METRICS_PORT"], case
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(env["SERVEKIT_METRICS_PORT"]) not in ports.values()
        assert runtime["spec"]["multiModel"] is False


def test_the_settings_fit_the_pod(cases: dict[str, list[Doc]]) -> None:
    for case, _, service, pod in pods(cases):
        where = f"{case}: {service['metadata']['name']}"
        spec = pod["spec"]
        (container,) = spec["containers"]
        env = container_env(pod)
        unknown = [k for k in env if k.startswith("SERVEKIT_") and k not in known_settings()]
        assert unknown == [], where
        settings = Settings.from_env(env)  # every value parses
        limit = container["resources"]["limits"]["cpu"]
        cores = int(limit[:-1]) / 1000 if limit.endswith("m") else float(limit)
        gpus = int(container["resources"]["limits"].get("nvidia.com/gpu", "0"))
        assert 1 <= settings.processes <= max(1, math.ceil(cores)), where
        assert settings.processes == (gpus or max(1, math.floor(cores))), where
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert env["HOME"] == "/tmp", where
        assert "/tmp" in mounts, where
        assert env["XDG_CACHE_HOME"].startswith("/tmp/"), where
        liveness = container["livenessProbe"]
        patience = liveness["periodSeconds"] * (liveness["failureThreshold"] - 1)
        assert patience + liveness["timeoutSeconds"] > settings.timeout + HARAKIRI_EXTRA_SECONDS
        shutdown = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        shutdown += settings.drain_seconds + settings.grace_seconds
        assert shutdown < spec["terminationGracePeriodSeconds"], where
        assert settings.require_auth, where
        assert mounts["/etc/servekit/secrets"]["readOnly"] is True, where
        assert settings.access_tokens_file.startswith("/etc/servekit/secrets/"), where


def known_settings() -> set[str]:
    import dataclasses

    return {env_name(f.name) for f in dataclasses.fields(Settings)}


def test_the_model_is_the_inference_services_at_mnt_models(cases: dict[str, list[Doc]]) -> None:
    for case, runtime, service, pod in pods(cases):
        where = f"{case}: {service['metadata']['name']}"
        env = container_env(pod)
        name = service["metadata"]["name"]
        assert env["SERVEKIT_MODEL_ID"] == name, where  # /v2/models/<name> answers
        assert env["SERVEKIT_MODEL_NAME"] == name, where
        assert env["SERVEKIT_PROJECT_DIR"] == MODEL_DIR, where
        (container,) = pod["spec"]["containers"]
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == MODEL_DIR)
        assert mount == {"name": PROVISION_VOLUME, "mountPath": MODEL_DIR, "readOnly": True}
        model = service["spec"]["predictor"]["model"]
        target = parse_target(env["SERVEKIT_TARGET"], MODEL_DIR)
        assert model["modelFormat"]["name"] == ("onnx" if target.runtime == "onnx" else "servekit")
        if target.path is not None:
            assert str(target.path).startswith(MODEL_DIR + "/"), where
        supported = runtime["spec"]["supportedModelFormats"]
        assert model["modelFormat"]["name"] in {f["name"] for f in supported}, where
        assert model["protocolVersion"] in runtime["spec"]["protocolVersions"], where
        annotations = service["metadata"]["annotations"]
        assert annotations["serving.kserve.io/deploymentMode"] == "RawDeployment", where


def test_the_network_policy_opens_the_pods_ports_only(cases: dict[str, list[Doc]]) -> None:
    for case, documents in cases.items():
        (policy,) = [d for d in documents if d["kind"] == "NetworkPolicy"]
        wanted = policy["spec"]["podSelector"]["matchLabels"].items()
        opened = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
        for where, _, service, pod in pods({case: documents}):
            assert wanted <= pod["metadata"]["labels"].items(), (where, service["metadata"])
            env = container_env(pod)
            served = {int(env[k]) for k in ("SERVEKIT_PORT", "SERVEKIT_GRPC_PORT")}
            assert opened == served | {int(env["SERVEKIT_METRICS_PORT"])}, where


# --- the runtime itself ---


def runtime_template() -> Doc:
    return dict(yaml.safe_load((KSERVE / "servingruntime.yaml").read_text(encoding="utf-8")))


def test_the_cluster_runtime_is_the_same_runtime() -> None:
    cluster = yaml.safe_load((KSERVE / "clusterservingruntime.yaml").read_text(encoding="utf-8"))
    runtime = runtime_template()
    assert (runtime["kind"], cluster["kind"]) == RUNTIMES
    assert cluster["metadata"] == runtime["metadata"]
    assert cluster["spec"] == runtime["spec"]


def test_only_the_inference_services_name_is_templated() -> None:
    """KServe executes the container as a Go template over the InferenceService's
    metadata: {{.Name}} is the one action, in the model's name and id."""
    (container,) = runtime_template()["spec"]["containers"]
    assert template_actions(container) == {".Name"}
    templated = {v["name"] for v in container["env"] if "{{" in v.get("value", "")}
    assert templated == {"SERVEKIT_MODEL_NAME", "SERVEKIT_MODEL_ID"}


def test_the_formats_and_protocols_are_what_servekit_serves() -> None:
    spec = runtime_template()["spec"]
    formats = spec["supportedModelFormats"]
    assert [(f["name"], f["version"], f["autoSelect"]) for f in formats] == [
        ("onnx", "1", True),
        ("servekit", "1", True),
    ]
    # KServe's webhook refuses two auto-selected runtimes of one format at one priority:
    # Triton's claims onnx at priority 1, so this one sets none.
    assert all("priority" not in f for f in formats)
    paths = {r.path for r in ROUTES}
    served = {
        "v1": "/v1/models/<name>:predict" in paths and "/v1/models/<name>" in paths,
        "v2": "/v2/models/<name>/infer" in paths and "/v2/health/ready" in paths,
        "grpc-v2": "SERVEKIT_GRPC_PORT" in known_settings(),
    }
    assert spec["protocolVersions"] == [p for p, yes in served.items() if yes]
    (container,) = spec["containers"]
    assert container["name"] == CONTAINER


def test_a_name_prefix_renames_the_runtime_where_the_services_name_it(tmp_path: Path) -> None:
    folder = write_kustomization(
        tmp_path / "prefixed",
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namePrefix": "acme-",
            "resources": [str(KSERVE)],
        },
    )
    documents = kustomize(folder)
    (runtime,) = [d["metadata"]["name"] for d in documents if d["kind"] == "ServingRuntime"]
    assert runtime == "acme-servekit"
    services = [d for d in documents if d["kind"] == "InferenceService"]
    assert [s["spec"]["predictor"]["model"]["runtime"] for s in services] == [runtime] * 2


def test_the_examples_say_how_to_reach_them() -> None:
    for file in ("inferenceservice-onnx.yaml", "inferenceservice-servekit.yaml"):
        text = (KSERVE / file).read_text(encoding="utf-8")
        name = yaml.safe_load(text)["metadata"]["name"]
        assert f"/v2/models/{name}/infer" in text, file
        assert f"{name}-predictor" in text, file
        assert re.search(r"storageUri: \w+://", text), file


def test_kserve_merges_the_services_env_over_the_runtimes() -> None:
    """The emulation the other tests rely on: by name, the InferenceService's winning;
    resources key by key; args concatenated."""
    runtime = runtime_template()
    service = yaml.safe_load((KSERVE / "inferenceservice-servekit.yaml").read_text())
    service["spec"]["predictor"]["model"]["resources"] = {"limits": {"cpu": "1"}}
    service["spec"]["predictor"]["model"]["args"] = ["--x"]
    runtime["spec"]["containers"][0]["args"] = ["--a"]
    pod = kserve_pod(copy.deepcopy(runtime), service)
    (container,) = pod["spec"]["containers"]
    names = [v["name"] for v in container["env"]]
    assert len(names) == len(set(names))
    assert container_env(pod)["SERVEKIT_TARGET"] == "model.py:predict"
    assert names.index("SERVEKIT_TARGET") == 5  # the runtime's place
    assert container["resources"]["limits"]["cpu"] == "1"
    assert container["resources"]["limits"]["memory"] == "2Gi"
    assert container["args"] == ["--a", "--x"]
