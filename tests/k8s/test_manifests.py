"""Every combination of the templates renders, its references resolve (also under a
namePrefix / nameSuffix), and every pod keeps servekit's production settings."""

from __future__ import annotations

import shutil
from pathlib import Path

from servekit._version import __version__
from tests.k8s.conftest import TEMPLATES, kustomize, write_kustomization
from tests.k8s.manifests import Doc, by_kind, container_env, dangling, names, unscraped


def test_every_combination_renders_with_its_references_resolved(
    rendered: dict[str, list[Doc]],
) -> None:
    assert set(rendered) >= {
        "base",
        "components:all",
        "overlay:canary-gateway",
        "render:everything",
    }
    for case, documents in rendered.items():
        assert documents, case
        problems = dangling(documents)
        # The canary route of a render names the other version's Service, rendered on its own.
        if case == "render:everything":
            assert problems == ["HTTPRoute names 'churn-v3-0-servekit', which is not rendered"]
        else:
            assert problems == [], f"{case}: {problems}"


def test_http_routes_point_at_rendered_services_or_the_other_version(
    rendered: dict[str, list[Doc]],
) -> None:
    gateway = rendered["overlay:canary-gateway"]
    (route,) = by_kind(gateway, "HTTPRoute")
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert {r["name"] for r in refs} == {"servekit-v1", "servekit-v2"} <= names(gateway, "Service")
    assert sum(r["weight"] for r in refs) == 100
    everything = rendered["render:everything"]
    (route,) = by_kind(everything, "HTTPRoute")
    refs = {r["name"]: r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]}
    assert refs == {"churn-v3-1-servekit": 90, "churn-v3-0-servekit": 10}
    assert "churn-v3-1-servekit" in names(everything, "Service")


def test_a_name_prefix_reaches_the_references_inside_custom_resources(
    rendered: dict[str, list[Doc]],
) -> None:
    documents = rendered["components:all"]
    assert names(documents, "Deployment") == {"acme-servekit-prod", "acme-servekit-worker-prod"}
    (scaled,) = by_kind(documents, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "acme-servekit-worker-prod"
    (route,) = by_kind(documents, "IngressRoute")
    assert route["spec"]["routes"][0]["services"][0]["name"] == "acme-servekit-prod"
    assert route["spec"]["routes"][0]["middlewares"][0]["name"] == "acme-servekit-strip-prefix-prod"


def test_the_prefix_reaches_the_canary_routes_too(tmp_path: Path) -> None:
    for overlay in ("canary-gateway", "canary-traefik"):
        folder = write_kustomization(
            tmp_path / overlay,
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namePrefix": "team-",
                "resources": [str(TEMPLATES / "overlays" / overlay)],
            },
        )
        documents = kustomize(folder)
        assert dangling(documents) == []
        pointed = [
            r["name"]
            for h in by_kind(documents, "HTTPRoute")
            for r in h["spec"]["rules"][0]["backendRefs"]
        ]
        pointed += [
            s["name"]
            for t in by_kind(documents, "TraefikService")
            for s in t["spec"]["weighted"]["services"]
        ]
        assert sorted(pointed) == ["team-servekit-v1", "team-servekit-v2"]


def test_without_the_name_references_the_prefix_would_break_them(tmp_path: Path) -> None:
    """The control: the base's kustomizeconfig.yaml is what keeps custom resources right."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy)
    kustomization = copy / "base" / "kustomization.yaml"
    text = kustomization.read_text(encoding="utf-8")
    kustomization.write_text(
        text.replace("configurations:\n  - kustomizeconfig.yaml\n", ""), encoding="utf-8"
    )
    folder = write_kustomization(
        tmp_path / "top",
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namePrefix": "acme-",
            "resources": [str(copy / "base")],
            "components": [str(copy / "components" / "async-workers")],
        },
    )
    (scaled,) = by_kind(kustomize(folder), "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "servekit-worker"


def test_deployments_spread_over_nodes_and_zones(rendered: dict[str, list[Doc]]) -> None:
    for case, documents in rendered.items():
        for deployment in by_kind(documents, "Deployment"):
            template = deployment["spec"]["template"]
            keys = set()
            for constraint in template["spec"]["topologySpreadConstraints"]:
                keys.add(constraint["topologyKey"])
                selector = constraint["labelSelector"]["matchLabels"].items()
                assert selector <= template["metadata"]["labels"].items(), case
                assert selector == deployment["spec"]["selector"]["matchLabels"].items(), case
            assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, case


def test_the_server_is_configured_for_kubernetes(rendered: dict[str, list[Doc]]) -> None:
    documents = rendered["base"]
    (deployment,) = by_kind(documents, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = container_env(documents, container)
    assert env["SERVEKIT_HOST"] == "0.0.0.0"
    assert env["SERVEKIT_REQUIRE_AUTH"] == "true"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    secret_dir = str(Path(env["SERVEKIT_ACCESS_TOKENS_FILE"]).parent)
    (volume,) = [v for v in spec["volumes"] if v["name"] == mounts[secret_dir]]
    assert volume["secret"]["secretName"] == "servekit-tokens"
    assert env["SERVEKIT_RUNTIME_DIR"].startswith("/tmp/")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {
        "http": int(env["SERVEKIT_PORT"]),
        "metrics": int(env["SERVEKIT_METRICS_PORT"]),
    }
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == env["SERVEKIT_METRICS_PORT"]
    (service,) = by_kind(documents, "Service")
    assert {p["name"] for p in service["spec"]["ports"]} == {"http", "metrics"}
    (account,) = by_kind(documents, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    (hpa,) = by_kind(documents, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert by_kind(documents, "PodDisruptionBudget")
    assert container["image"] == f"servekit/cpu:{__version__}", "the templates name this release"


def test_components_do_what_they_say(rendered: dict[str, list[Doc]]) -> None:
    gpu = rendered["component:gpu"]
    (deployment,) = by_kind(gpu, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["image"] == f"servekit/cuda:{__version__}"
    assert deployment["spec"]["template"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    hpa = by_kind(rendered["component:hpa-custom-metrics"], "HorizontalPodAutoscaler")[0]
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Pods", "Pods"]
    workers = rendered["render:everything"]
    assert all(
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
        == "1"
        for d in by_kind(workers, "Deployment")
    ), "with --gpu --async the job workers get a GPU too"
    for deployment in by_kind(workers, "Deployment"):
        env = container_env(workers, deployment["spec"]["template"]["spec"]["containers"][0])
        assert env["SERVEKIT_ASYNC_STORE"] == "rediss://redis.data:6380/2"
        assert env["SERVEKIT_MODEL_NAME"] == "churn"
        assert env["SERVEKIT_MODEL_VERSION"] == "3.1"
    assert all(d["metadata"]["namespace"] == "ml" for d in workers)


def test_keda_scales_the_workers_on_the_stream_length(rendered: dict[str, list[Doc]]) -> None:
    """KEDA's redis-streams scaler chooses its mode from the trigger's metadata
    (parseRedisStreamsMetadata): consumerGroup with lagCount reads the group's lag,
    consumerGroup alone reads XPENDING against pendingEntriesCount (default 5) and ignores
    streamLength, and no consumerGroup reads XLEN against streamLength. servekit deletes
    an entry when its job ends, so XLEN is the jobs waiting and running: that mode."""
    for case in ("component:async-workers", "components:all", "render:everything"):
        (scaled,) = by_kind(rendered[case], "ScaledObject")
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "redis-streams", case
        metadata = trigger["metadata"]
        assert not {"consumerGroup", "lagCount", "pendingEntriesCount"} & metadata.keys(), case
        assert int(metadata["streamLength"]) >= 1, case
        assert metadata["addressFromEnv"] == "REDIS_ADDRESS", case
    (scaled,) = by_kind(rendered["render:everything"], "ScaledObject")
    metadata = scaled["spec"]["triggers"][0]["metadata"]
    assert metadata["stream"] == "servekit:churn:3.1:stream"
    assert (metadata["enableTLS"], metadata["databaseIndex"]) == ("true", "2")


def test_every_metrics_service_is_scraped_by_the_service_monitor(
    rendered: dict[str, list[Doc]],
) -> None:
    monitored = [case for case, docs in rendered.items() if by_kind(docs, "ServiceMonitor")]
    assert {"component:servicemonitor", "components:all"} <= set(monitored)
    for case in monitored:
        assert unscraped(rendered[case]) == [], case
    services = {s["metadata"]["name"] for s in by_kind(rendered["components:all"], "Service")}
    assert services == {"acme-servekit-prod", "acme-servekit-worker-prod"}


def test_a_service_without_the_monitors_labels_is_reported(
    rendered: dict[str, list[Doc]],
) -> None:
    """The control: the workers' Service as it was, without app.kubernetes.io/part-of."""
    documents = [dict(d) for d in rendered["components:all"]]
    for i, doc in enumerate(documents):
        if doc["kind"] == "Service" and "worker" in doc["metadata"]["name"]:
            labels = dict(doc["metadata"]["labels"])
            del labels["app.kubernetes.io/part-of"]
            documents[i] = {**doc, "metadata": {**doc["metadata"], "labels": labels}}
    assert unscraped(documents) == ["no ServiceMonitor selects Service acme-servekit-worker-prod"]
