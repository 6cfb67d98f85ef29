"""kustomize patches as plain data: JSON 6902 operations and strategic merge patches
with their targets (what a kustomization's ``patches`` lists)."""

from __future__ import annotations

import json

__all__ = ["add", "container_patch", "patch", "replace"]

_CONTAINERS = {"server": "servekit", "worker": "worker"}
"""The container of each Deployment component in the templates."""


def patch(kind: str, operations: list[dict[str, object]], name: str = "") -> dict[str, object]:
    """A JSON 6902 patch of every ``kind`` (named ``name``, when given)."""
    target = {"kind": kind, **({"name": name} if name else {})}
    return {"target": target, "patch": json.dumps(operations)}


def replace(path: str, value: object) -> dict[str, object]:
    """A JSON 6902 ``replace`` operation (the path must exist)."""
    return {"op": "replace", "path": path, "value": value}


def add(path: str, value: object) -> dict[str, object]:
    """A JSON 6902 ``add`` operation (replaces an existing member)."""
    return {"op": "add", "path": path, "value": value}


def container_patch(component: str, container: dict[str, object]) -> dict[str, object]:
    """A strategic merge patch of the container of the Deployments labelled
    ``app.kubernetes.io/component=component`` (``server`` or ``worker``): its lists
    (``env``, ``volumeMounts``) merge by name with the template's."""
    document = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "any"},
        "spec": {
            "template": {"spec": {"containers": [{"name": _CONTAINERS[component], **container}]}}
        },
    }
    selector = f"app.kubernetes.io/component={component}"
    return {
        "target": {"kind": "Deployment", "labelSelector": selector},
        "patch": json.dumps(document),
    }
