"""The pod KServe makes of a ServingRuntime and an InferenceService, as KServe's
controller builds it (pkg/controller/v1beta1/inferenceservice: MergeRuntimeContainers,
MergePodSpec, ReplacePlaceholders, the storage initializer's volume), so that the tests
can check it as the Pod it becomes: strictly against Kubernetes' schema, for the
restricted Pod Security level, and by running it with podman.

What KServe does, and this copies:

- the runtime's ``kserve-container`` merged with the InferenceService's
  ``predictor.model`` container fields by a strategic merge patch (``env`` by name,
  ``ports`` by containerPort, ``volumeMounts`` by mountPath, maps key by key, the rest
  replaced), except ``args``, which are concatenated;
- ``INFERENCE_SERVICE_NAME`` in its environment;
- the pod from the runtime's pod fields (nodeSelector, affinity, tolerations, volumes,
  imagePullSecrets, schedulerName, resourceClaims) with the predictor's pod fields
  merged over them (``volumes`` by name);
- the pod's labels and annotations from the runtime's, the InferenceService's and its
  predictor's, with KServe's own labels;
- the container's text as a Go template over the InferenceService's metadata, of which
  the runtime uses ``{{.Name}}`` only (a test checks that);
- with a ``storageUri``, the storage initializer's emptyDir ``kserve-provision-location``
  mounted read-only at /mnt/models in the model's container (its init container, which
  fills it, is KServe's and not checked here).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

Doc = dict[str, Any]

MODEL_DIR = "/mnt/models"
PROVISION_VOLUME = "kserve-provision-location"
CONTAINER = "kserve-container"
_RUNTIME_POD_FIELDS = (
    "nodeSelector",
    "affinity",
    "tolerations",
    "volumes",
    "imagePullSecrets",
    "schedulerName",
    "resourceClaims",
)
_MERGE_KEYS = {
    "env": "name",
    "envFrom": None,
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "volumes": "name",
    "tolerations": None,
    "imagePullSecrets": "name",
}
"""The lists a strategic merge patch merges by key (None: replaced whole)."""
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")


def _merge_lists(base: list[Any], patch: list[Any], key: str | None) -> list[Any]:
    if key is None:
        return copy.deepcopy(patch)
    merged = [copy.deepcopy(item) for item in base]
    for item in patch:
        for index, present in enumerate(merged):
            if present.get(key) == item.get(key):
                merged[index] = _merge(present, item)
                break
        else:
            merged.append(copy.deepcopy(item))
    return merged


def _merge(base: Doc, patch: Doc) -> Doc:
    """A strategic merge patch of ``patch`` over ``base`` (the cases KServe meets)."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = _merge_lists(merged[key], value, _MERGE_KEYS.get(key))
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def template_actions(container: Doc) -> set[str]:
    """Every ``{{...}}`` action in ``container``'s JSON (KServe executes it as a template)."""
    return {match.strip() for match in _TEMPLATE.findall(json.dumps(container))}


def _fill(container: Doc, metadata: Doc) -> Doc:
    """``{{.Name}}``, ``{{.Namespace}}`` filled in, as KServe's ReplacePlaceholders does."""
    fields = {".Name": metadata["name"], ".Namespace": metadata.get("namespace", "default")}

    def action(match: re.Match[str]) -> str:
        return str(fields[match.group(1).strip()])

    return dict(json.loads(_TEMPLATE.sub(action, json.dumps(container))))


def container_fields() -> set[str]:
    """The fields of a Kubernetes Container (the predictor's model inlines them)."""
    from kubernetes.client.models import V1Container

    return set(V1Container.attribute_map.values())


def pod_fields() -> set[str]:
    """The fields of a Kubernetes PodSpec (the predictor inlines them)."""
    from kubernetes.client.models import V1PodSpec

    return set(V1PodSpec.attribute_map.values())


def kserve_pod(runtime: Doc, service: Doc) -> Doc:
    """The Pod KServe makes for ``service`` (an InferenceService) with ``runtime``."""
    spec = runtime["spec"]
    predictor = service["spec"]["predictor"]
    model = {key: v for key, v in predictor["model"].items() if key in container_fields()}
    (base,) = [c for c in spec["containers"] if c["name"] == CONTAINER]
    container = _merge(base, model)
    container["args"] = [*base.get("args", []), *model.get("args", [])]
    if not container["args"]:
        del container["args"]
    container = _fill(container, service["metadata"])
    name = {"name": "INFERENCE_SERVICE_NAME", "value": service["metadata"]["name"]}
    container["env"] = _merge_lists(container.get("env", []), [name], "name")
    pod = {key: copy.deepcopy(spec[key]) for key in _RUNTIME_POD_FIELDS if key in spec}
    overrides = {key: value for key, value in predictor.items() if key in pod_fields()}
    pod = _merge(pod, overrides)
    if "storageUri" in predictor["model"]:
        pod.setdefault("volumes", []).append({"name": PROVISION_VOLUME, "emptyDir": {}})
        mount = {"name": PROVISION_VOLUME, "mountPath": MODEL_DIR, "readOnly": True}
        container.setdefault("volumeMounts", []).append(mount)
    pod["containers"] = [container]
    labels = {
        **spec.get("labels", {}),
        **service["metadata"].get("labels", {}),
        **predictor.get("labels", {}),
        "serving.kserve.io/inferenceservice": service["metadata"]["name"],
        "component": "predictor",
    }
    annotations = {
        **spec.get("annotations", {}),
        **service["metadata"].get("annotations", {}),
        **predictor.get("annotations", {}),
    }
    metadata = {
        "name": f"{service['metadata']['name']}-predictor-0",
        "labels": labels,
        "annotations": annotations,
    }
    if "namespace" in service["metadata"]:
        metadata["namespace"] = service["metadata"]["namespace"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod}


def container_env(pod: Doc) -> dict[str, str]:
    """The model container's plain environment variables."""
    env = pod["spec"]["containers"][0].get("env", [])
    return {v["name"]: v["value"] for v in env if "value" in v}
