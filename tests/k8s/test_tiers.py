"""Hardware tiers: every tier of the shipped file renders with its resources, processes,
nodes and replica bounds, the PDB and HPA fit those bounds, the flags override one value,
and a user's tiers file replaces the default one (checked strictly)."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest

from servekit.errors import ConfigError
from servekit.k8s._quantities import parse_cpu, parse_memory, parse_resource
from servekit.k8s.render import Release, render
from servekit.k8s.tiers import BASE, GPU, Sizing, load_tiers, sizing
from tests.k8s.conftest import kustomize
from tests.k8s.manifests import Doc, by_kind, container_env
from tests.k8s.test_pods import cpus
from tests.k8s.test_render_command import CHURN_4, run

TIERS = load_tiers()


def test_the_default_file_ships_the_four_tiers() -> None:
    assert list(TIERS) == ["small", "medium", "large", "gpu"]
    assert [t.gpus for t in TIERS.values()] == [0, 0, 0, 1]
    assert all(t.node_selector for t in TIERS.values())
    assert TIERS["gpu"].tolerations == (("nvidia.com/gpu", "", "NoSchedule"),)


@pytest.mark.parametrize("tier", list(TIERS))
def test_every_tier_renders_its_shape_with_a_pdb_and_hpa_that_fit(
    rendered: dict[str, list[Doc]], tier: str
) -> None:
    shape = TIERS[tier]
    documents = rendered[f"render:tier-{tier}"]
    (hpa,) = by_kind(documents, "HorizontalPodAutoscaler")
    pdb, workers_pdb = sorted(
        by_kind(documents, "PodDisruptionBudget"), key=lambda d: d["metadata"]["name"]
    )
    assert workers_pdb["metadata"]["name"].endswith("-worker")
    assert workers_pdb["spec"]["maxUnavailable"] == 1  # KEDA's pods: not the tier's bounds
    low, high = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
    assert (low, high) == (shape.min_replicas, shape.max_replicas)
    assert 1 <= low <= high
    unavailable = pdb["spec"]["maxUnavailable"]
    assert "minAvailable" not in pdb["spec"]
    assert unavailable >= 1, "a PDB that allows no eviction blocks every node drain"
    if low >= 2:
        assert low - unavailable >= 1, "a drain must leave a pod of the minimum serving"
    assert unavailable <= max(1, low // 4)
    deployments = by_kind(documents, "Deployment")
    assert len(deployments) == 2  # the job workers get the tier too
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        resources = container["resources"]
        assert (resources["requests"]["cpu"], resources["limits"]["cpu"]) == shape.cpu
        assert (resources["requests"]["memory"], resources["limits"]["memory"]) == shape.memory
        gpus = resources["limits"].get("nvidia.com/gpu")
        assert gpus == (str(shape.gpus) if shape.gpus else None)
        assert spec["nodeSelector"] == dict(shape.node_selector)
        tolerated = {(t["key"], t["effect"]) for t in spec.get("tolerations", [])}
        assert tolerated == {(k, e) for k, _, e in shape.tolerations}
        processes = int(container_env(documents, container)["SERVEKIT_PROCESSES"])
        limit = cpus(resources["limits"]["cpu"])
        assert processes == (shape.gpus or max(1, math.floor(limit)))
        assert processes <= math.ceil(limit)


def test_the_base_and_gpu_values_are_the_templates(tmp_path: Path) -> None:
    """Without a tier, the flags override these: they must be what the templates say."""
    for gpu, expected in ((False, BASE), (True, GPU)):
        folder = tmp_path / str(gpu)
        documents = kustomize(render(Release("m", "1", "r/m:1", gpu=gpu), folder)[0].parent)
        (deployment,) = by_kind(documents, "Deployment")
        spec = deployment["spec"]["template"]["spec"]
        resources = spec["containers"][0]["resources"]
        (hpa,) = by_kind(documents, "HorizontalPodAutoscaler")
        found = Sizing(
            cpu=(resources["requests"]["cpu"], resources["limits"]["cpu"]),
            memory=(resources["requests"]["memory"], resources["limits"]["memory"]),
            gpus=int(resources["limits"].get("nvidia.com/gpu", 0)),
            min_replicas=hpa["spec"]["minReplicas"],
            max_replicas=hpa["spec"]["maxReplicas"],
            tolerations=tuple((t["key"], "", t["effect"]) for t in spec.get("tolerations", [])),
        )
        assert found == expected


def test_flags_override_one_value_of_the_tier(tmp_path: Path) -> None:
    args = ["--tier", "large", "--replicas", "4", "--memory", "8Gi:12Gi"]
    assert run(*CHURN_4, *args, "--output", str(tmp_path)) == 0
    documents = kustomize(tmp_path)
    (hpa,) = by_kind(documents, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 4)
    (deployment,) = by_kind(documents, "Deployment")
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"]["cpu"] == "4"  # the tier's
    assert (resources["requests"]["memory"], resources["limits"]["memory"]) == ("8Gi", "12Gi")


def test_a_gpu_count_without_a_tier_starts_from_the_gpu_component() -> None:
    shape = sizing(None, gpus=2, min_replicas=3)
    assert shape == Sizing(
        cpu=GPU.cpu, memory=GPU.memory, gpus=2, min_replicas=3, max_replicas=10,
        tolerations=GPU.tolerations,
    )  # fmt: skip
    assert shape is not None
    assert shape.processes == 2
    assert sizing(None) is None
    # A CPU pod, still on that tier's nodes.
    assert sizing(TIERS["gpu"], gpus=0) == dataclasses.replace(TIERS["gpu"], gpus=0)
    with pytest.raises(ConfigError, match="minimum not above the maximum"):
        sizing(None, max_replicas=1)
    with pytest.raises(ConfigError, match="--replicas is exact"):
        sizing(None, replicas=2, max_replicas=3)


@pytest.mark.parametrize(
    ("text", "millicores"), [("2", 2000), ("1.5", 1500), ("500m", 500), ("0.25", 250)]
)
def test_cpu_quantities(text: str, millicores: int) -> None:
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize("text", ["0", "0m", "-1", "2 cores", "1.2345", "1e3", ""])
def test_bad_cpu_quantities_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="CPU"):
        parse_cpu(text)


def test_memory_quantities_and_request_limit_pairs() -> None:
    assert parse_memory("2Gi") == 2 * 2**30
    assert parse_memory("1G") == 10**9
    assert parse_resource("memory", "1Gi:2Gi") == ("1Gi", "2Gi")
    assert parse_resource("cpu", "2") == ("2", "2")
    for text in ("2GB", "1.5Gi", "0Mi", "Gi"):
        with pytest.raises(ConfigError, match="memory"):
            parse_memory(text)
    with pytest.raises(ConfigError, match="request is above the limit"):
        parse_resource("memory", "2Gi:1Gi")


def test_a_users_tiers_file_replaces_the_default(tmp_path: Path) -> None:
    mine = tmp_path / "tiers.ini"
    mine.write_text(
        "[xl]\ncpu = 8\nmemory = 32Gi\nreplicas = 3\n"
        "node-selector = dominodatalab.com/node-pool=large\n"
        "tolerations = dedicated=ml:NoExecute, spot:PreferNoSchedule\n",
        encoding="utf-8",
    )
    (xl,) = load_tiers(mine).values()
    assert (xl.min_replicas, xl.max_replicas, xl.processes, xl.max_unavailable) == (3, 3, 8, 1)
    assert xl.tolerations == (("dedicated", "ml", "NoExecute"), ("spot", "", "PreferNoSchedule"))
    assert run(*CHURN_4, "--tiers", str(mine), "--tier", "xl", "--output", str(tmp_path)) == 0
    (deployment,) = by_kind(kustomize(tmp_path), "Deployment")
    tolerations = deployment["spec"]["template"]["spec"]["tolerations"]
    assert tolerations[0] == {
        "key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute"
    }  # fmt: skip
    with pytest.raises(ConfigError, match=re.escape("the tiers are xl")):
        run(*CHURN_4, "--tiers", str(mine), "--tier", "small", "--output", str(tmp_path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[a]\ncpu = 1\nmemory = 1Gi\n", "tier [a]: no replicas"),
        ("[a]\ncpu = 1\nmemory = 1Gi\nreplicas = 2\ngpu = 1\n", "unknown keys ['gpu']"),
        ("[a]\ncpu = 2:1\nmemory = 1Gi\nreplicas = 2\n", "request is above the limit"),
        ("[a]\ncpu = 1\nmemory = 1Gi\nreplicas = 0-2\n", "at least 1"),
        ("[a]\ncpu = 1\nmemory = 1Gi\nreplicas = 2\ngpus = one\n", "gpus 'one'"),
        ("[a]\ncpu = 1\nmemory = 1Gi\nreplicas = 2\ntolerations = gpu\n", "KEY[=VALUE]:EFFECT"),
        ("[a]\ncpu = 1\nmemory = 1Gi\nreplicas = 2\nnode-selector = pool\n", "KEY=VALUE"),
        ("# nothing\n", "no tier in it"),
        ("cpu = 1\n", "--tiers"),
    ],
)
def test_a_bad_tiers_file_is_refused_naming_the_tier(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "tiers.ini"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_tiers(path)
