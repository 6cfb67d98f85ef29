"""--secret-env and --volume: what they add to every container that runs the model, what
they refuse, and which choice leaves the restricted Pod Security level (hostPath only)."""

from __future__ import annotations

import re

import pytest

from servekit.errors import ConfigError
from servekit.k8s.mounts import Volume, parse_secret_env, parse_volume
from servekit.k8s.render import Release, kustomization
from tests.k8s.manifests import Doc, by_kind, pod_specs

RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
"""The volume types the restricted Pod Security level allows (its "Volume Types" rule)."""


def test_every_pod_but_the_hostpath_one_keeps_to_restricted_volumes(
    rendered: dict[str, list[Doc]],
) -> None:
    outside = set()
    for case, documents in rendered.items():
        for owner, spec in pod_specs(documents):
            for volume in spec.get("volumes", []):
                (kind,) = set(volume) - {"name"}
                if kind not in RESTRICTED_VOLUMES:
                    outside.add((case, owner, kind))
    assert outside == {("render:hostpath", "churn-v7-servekit", "hostPath")}


def test_secrets_and_volumes_reach_the_http_pods_and_the_job_workers(
    rendered: dict[str, list[Doc]],
) -> None:
    documents = rendered["render:mounts"]
    deployments = by_kind(documents, "Deployment")
    assert len(deployments) == 2
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        env = {e["name"]: e for e in container["env"]} if "env" in container else {}
        assert env["DB_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": "churn-db", "key": "password"}
        }
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"] == {
            "claimName": "churn-data", "readOnly": True
        }  # fmt: skip
        assert volumes["scratch"]["persistentVolumeClaim"]["readOnly"] is False
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert (mounts["data"]["mountPath"], mounts["data"]["readOnly"]) == ("/data", True)
        assert (mounts["scratch"]["mountPath"], mounts["scratch"]["readOnly"]) == (
            "/scratch", False
        )  # fmt: skip
        assert {"tmp"} <= mounts.keys()
        skip = deployment["metadata"]["annotations"]["checkov.io/skip2"]
        assert skip.startswith("CKV_K8S_35=--secret-env")
    (hostpath,) = by_kind(rendered["render:hostpath"], "Deployment")
    spec = hostpath["spec"]["template"]["spec"]
    (ref,) = [v for v in spec["volumes"] if v["name"] == "ref"]
    assert ref["hostPath"] == {"path": "/srv/ref", "type": "Directory"}
    assert {"name": "ref", "mountPath": "/ref", "readOnly": True} in spec["containers"][0][
        "volumeMounts"
    ]
    assert "annotations" not in hostpath["metadata"]


def test_volume_forms() -> None:
    assert parse_volume("data=pvc:churn-data:/data") == Volume(
        "data", "pvc", "churn-data", "/data", True
    )
    assert parse_volume("data=pvc:churn-data:/data:rw").read_only is False
    assert parse_volume("ref=hostPath:/mnt/ref:/srv/data:ro") == Volume(
        "ref", "hostPath", "/mnt/ref", "/srv/data", True
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data", "expected NAME=pvc:CLAIM:/MOUNT"),
        ("data=nfs:server:/data", "expected NAME=pvc:CLAIM:/MOUNT"),
        ("data=pvc:churn-data", "expected NAME=pvc:CLAIM:/MOUNT"),
        ("Data=pvc:churn-data:/data", "must be a DNS label"),
        ("tmp=pvc:churn-data:/data", "not one of the templates'"),
        ("data=pvc:Churn_Data:/data", "not a PersistentVolumeClaim's name"),
        ("data=pvc:churn-data:data", "absolute, normal path"),
        ("data=pvc:churn-data:/data/../etc", "absolute, normal path"),
        ("data=pvc:churn-data:/", "absolute, normal path"),
        ("data=pvc:churn-data:/data:rx", "'rx'"),
        ("ref=hostPath:/mnt/ref:/ref:rw", "a hostPath is read-only"),
        ("ref=hostPath:mnt:/ref", "the node's path"),
        ("data=pvc:churn-data:/tmp/data", "/tmp"),
        ("data=pvc:churn-data:/srv", "/srv/model"),
        ("data=pvc:churn-data:/etc/servekit", "/etc/servekit/secrets"),
        ("data=pvc:churn-data:/proc/x", "/proc"),
    ],
)
def test_bad_volumes_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_volume(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DB_PASSWORD", "expected NAME=SECRET/KEY"),
        ("DB_PASSWORD=churn-db", "expected NAME=SECRET/KEY"),
        ("DB-PASSWORD=churn-db/password", "expected NAME=SECRET/KEY"),
        ("DB_PASSWORD=Churn_DB/password", "is not a Secret's name"),
        ("DB_PASSWORD=churn-db/pass word", "is not a Secret key"),
        ("DB_PASSWORD=churn-db/..", "is not a Secret key"),
    ],
)
def test_bad_secret_variables_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_secret_env(text)


@pytest.mark.parametrize(
    ("secret_env", "volumes", "settings", "message"),
    [
        (("A=s/k", "A=t/k"), (), (), "--secret-env A is given more than once"),
        (("HF_TOKEN=s/k",), (), (("HF_TOKEN", "x"),), "--secret-env HF_TOKEN: set by --set"),
        (("SERVEKIT_MODEL_NAME=s/k",), (), (), "set by --name"),
        (("SERVEKIT_API_KEY=s/k",), (), (), "servekit has no such setting"),
        ((), ("a=pvc:c:/data", "a=pvc:d:/other"), (), "--volume a is given more than once"),
        ((), ("a=pvc:c:/data", "b=pvc:d:/data/sub"), (), "/data and /data/sub nest"),
    ],
)
def test_conflicts_are_refused(
    secret_env: tuple[str, ...],
    volumes: tuple[str, ...],
    settings: tuple[tuple[str, str], ...],
    message: str,
) -> None:
    release = Release(
        "m",
        "1",
        "r/m:1",
        settings=settings,
        secret_env=tuple(parse_secret_env(text) for text in secret_env),
        volumes=tuple(parse_volume(text) for text in volumes),
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        kustomization(release)
