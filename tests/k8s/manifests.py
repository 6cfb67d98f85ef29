"""Reading rendered manifests: objects by kind and name, pod specs, each container's
environment as Kubernetes builds it, and the references that do not resolve."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]


def by_kind(documents: list[Doc], kind: str) -> list[Doc]:
    return [d for d in documents if d["kind"] == kind]


def names(documents: list[Doc], *kinds: str) -> set[str]:
    return {d["metadata"]["name"] for d in documents if d["kind"] in kinds}


def pod_specs(documents: list[Doc]) -> list[tuple[str, Doc]]:
    """(owner, pod spec) of every Deployment and SeldonDeployment predictor."""
    specs = [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in by_kind(documents, "Deployment")
    ]
    for seldon in by_kind(documents, "SeldonDeployment"):
        for predictor in seldon["spec"]["predictors"]:
            specs += [(seldon["metadata"]["name"], c["spec"]) for c in predictor["componentSpecs"]]
    return specs


def dangling(documents: list[Doc]) -> list[str]:
    """Every name one object gives for another that the rendering does not contain."""
    services = names(documents, "Service")
    deployments = names(documents, "Deployment")
    configmaps = names(documents, "ConfigMap")
    accounts = names(documents, "ServiceAccount")
    middlewares = names(documents, "Middleware")
    traefik_services = names(documents, "TraefikService")
    problems = []

    def need(what: str, name: str, pool: set[str]) -> None:
        if name not in pool:
            problems.append(f"{what} names {name!r}, which is not rendered")

    for _, spec in pod_specs(documents):
        need("a pod", spec["serviceAccountName"], accounts)
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                need("envFrom", source["configMapRef"]["name"], configmaps)
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for doc in by_kind(documents, kind):
            need(kind, doc["spec"]["scaleTargetRef"]["name"], deployments)
    for route in by_kind(documents, "IngressRoute"):
        for rule in route["spec"]["routes"]:
            for middleware in rule.get("middlewares", []):
                need("IngressRoute middleware", middleware["name"], middlewares)
            for service in rule["services"]:
                pool = traefik_services if service.get("kind") == "TraefikService" else services
                need("IngressRoute service", service["name"], pool)
    for weighted in by_kind(documents, "TraefikService"):
        for service in weighted["spec"]["weighted"]["services"]:
            need("TraefikService", service["name"], services)
    for route in by_kind(documents, "HTTPRoute"):
        for rule in route["spec"]["rules"]:
            for backend in rule["backendRefs"]:
                need("HTTPRoute", backend["name"], services)
    for ingress in by_kind(documents, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                need("Ingress", path["backend"]["service"]["name"], services)
    problems += unscraped(documents)
    for selecting in by_kind(documents, "Service"):
        selector = selecting["spec"]["selector"].items()
        pods = [
            d["spec"]["template"]["metadata"]["labels"] for d in by_kind(documents, "Deployment")
        ]
        if not any(selector <= labels.items() for labels in pods):
            problems.append(f"Service {selecting['metadata']['name']} selects no pod")
    return problems


def settings(documents: list[Doc]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for config in by_kind(documents, "ConfigMap"):
        merged.update(config.get("data", {}))
    return merged


def container_env(documents: list[Doc], container: Doc) -> dict[str, str]:
    """``container``'s environment as the kubelet builds it: each ``envFrom`` ConfigMap
    in order (a later one wins), then ``env`` (which wins over all of them)."""
    configs = {c["metadata"]["name"]: c.get("data", {}) for c in by_kind(documents, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configs[source["configMapRef"]["name"]])
    env.update({v["name"]: v["value"] for v in container.get("env", []) if "value" in v})
    return env


def unscraped(documents: list[Doc]) -> list[str]:
    """With a ServiceMonitor rendered: every Service with a ``metrics`` port that none
    selects (its pods' metrics would never be scraped), and every selector matching none."""
    monitors = [
        m["spec"]["selector"]["matchLabels"].items() for m in by_kind(documents, "ServiceMonitor")
    ]
    services = by_kind(documents, "Service")
    problems = [
        f"ServiceMonitor selector {dict(wanted)} matches no Service"
        for wanted in monitors
        if not any(wanted <= s["metadata"].get("labels", {}).items() for s in services)
    ]
    for service in services if monitors else []:
        labels = service["metadata"].get("labels", {}).items()
        exposes = any(p.get("name") == "metrics" for p in service["spec"]["ports"])
        if exposes and not any(wanted <= labels for wanted in monitors):
            problems.append(f"no ServiceMonitor selects Service {service['metadata']['name']}")
    return problems


def validate_strictly(validate: str, version: str, documents: list[Doc], folder: Path) -> None:
    """Run ``kubernetes-validate --strict`` for Kubernetes ``version`` on ``documents``
    (written into ``folder``); assert it accepts them all."""
    files = []
    for index, document in enumerate(documents):
        path = folder / f"{index:03}-{document['kind']}.yaml"
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        files.append(str(path))
    done = subprocess.run(
        [validate, "--strict", "--quiet", "-k", version, *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kubernetes-validate {version}:\n{done.stdout}{done.stderr}"
