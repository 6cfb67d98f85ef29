"""``servekit k8s render``: the names it generates, --ingress ingress's namespace,
--set and --redis-url, and keeping one's own changes across renders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from servekit.errors import ConfigError
from servekit.k8s.checks import parse_setting, redis_target, resource_names
from servekit.k8s.render import Release, kustomization, render
from tests.k8s.conftest import kustomize, write_kustomization
from tests.k8s.manifests import by_kind, container_env, names
from tests.k8s.test_render_command import run

DNS_1035 = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


def test_the_generated_names_are_the_rendered_ones(tmp_path: Path) -> None:
    documents = kustomize(
        render(Release("m", "1.2", "r/m:1", async_workers=True), tmp_path)[0].parent
    )
    rendered = names(documents, "Service", "Deployment")
    assert (
        rendered == set(resource_names("m", "1.2")) == {"m-v1-2-servekit", "m-v1-2-servekit-worker"}
    )


@pytest.mark.parametrize(
    ("name", "version", "longest"),
    [("a" * 44, "1", 63), ("m", "1" * 44, 63), ("churn", "2024.06.01", 33), ("x1-b", "v3rc1", 27)],
)
def test_names_up_to_63_characters_render_as_dns_1035_labels(
    tmp_path: Path, name: str, version: str, longest: int
) -> None:
    release = Release(name, version, "r/m:1", async_workers=True, canary=("0", 5))
    documents = kustomize(render(release, tmp_path)[0].parent)
    rendered = names(documents, "Service", "Deployment")
    assert max(len(n) for n in rendered) == longest
    assert all(DNS_1035.match(n) for n in rendered), rendered


@pytest.mark.parametrize(
    ("release", "message"),
    [
        (Release("a" * 45, "1", "r/m:1"), "(64 characters): Kubernetes allows 63"),
        (Release("m", "1" * 45, "r/m:1"), "(64 characters): Kubernetes allows 63"),
        (Release("m", "1", "r/m:1", canary=("1" * 45, 5)), "Kubernetes allows 63"),
        (Release("3d-model", "1", "r/m:1"), "starting with a letter"),
        (Release("model-", "1", "r/m:1"), "--name"),
        (Release("m", "3-1", "r/m:1"), "3.1 and 3-1 would get the same names"),
        (Release("m", "3_1", "r/m:1"), "version '3_1'"),
        (Release("m", "V3", "r/m:1"), "version 'V3'"),
        (Release("m", ".3", "r/m:1"), "version '.3'"),
    ],
)
def test_names_kubernetes_would_refuse_or_that_collide_are_refused(
    release: Release, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        kustomization(release)


def test_an_ingress_needs_the_namespace_its_annotation_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--ingress ingress needs --namespace"):
        run("--name", "m", "--version", "1", "--image", "r/m:1", "--ingress", "ingress",
            "--output", str(tmp_path))  # fmt: skip
    assert not (tmp_path / "kustomization.yaml").exists()
    release = Release("m", "1", "r/m:1", ingress="ingress", namespace="risk")
    (ingress,) = by_kind(kustomize(render(release, tmp_path)[0].parent), "Ingress")
    annotation = ingress["metadata"]["annotations"][
        "traefik.ingress.kubernetes.io/router.middlewares"
    ]
    assert annotation == "risk-m-v1-servekit-strip-prefix@kubernetescrd"


def test_settings_and_the_redis_url_reach_the_pods_and_keda(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--name",
        "m",
        "--version",
        "1",
        "--image",
        "r/m:1",
        "--async",
        "--output",
        str(tmp_path),
    ]
    args += ["--set", "SERVEKIT_TIMEOUT=30", "--set", "HF_HOME=/tmp/hf", "--set", "A_B=x=y"]
    assert run(*args, "--redis-url", "redis://redis.data:6380/3") == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    for deployment in by_kind(documents, "Deployment"):
        env = container_env(documents, deployment["spec"]["template"]["spec"]["containers"][0])
        assert (env["SERVEKIT_TIMEOUT"], env["HF_HOME"], env["A_B"]) == ("30", "/tmp/hf", "x=y")
        assert env["SERVEKIT_ASYNC_STORE"] == "redis://redis.data:6380/3"
        assert env["REDIS_ADDRESS"] == "redis.data:6380"
    (scaled,) = by_kind(documents, "ScaledObject")
    metadata = scaled["spec"]["triggers"][0]["metadata"]
    assert metadata["databaseIndex"] == "3"
    assert "enableTLS" not in metadata


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SERVEKIT_TIMEOUT", "KEY=VALUE"),
        ("servekit_timeout=3", "KEY=VALUE"),
        ("SERVEKIT_TIMEOUTS=3", "no such setting"),
        ("SERVEKIT_TIMEOUT=soon", "SERVEKIT_TIMEOUT"),
        ("SERVEKIT_MODEL_NAME=x", "set by --name"),
        ("SERVEKIT_PORT=9000", "set by the manifests"),
        ("SERVEKIT_ASYNC_STORE=redis://r", "set by --redis-url"),
        ("HOME=/a\nB=c", "one line"),
    ],
)
def test_bad_settings_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_setting(text)
    assert parse_setting("HOME=/tmp") == ("HOME", "/tmp")


def test_the_redis_url_is_checked_and_needs_async() -> None:
    assert redis_target("rediss://[::1]") == (
        "[::1]:6379",
        {"databaseIndex": "0", "enableTLS": "true"},
    )
    for url, message in [
        ("http://redis:6379", "expected redis://"),
        ("redis://:secret@redis:6379/0", "password"),
        ("redis://redis:6379/zero", "database number"),
        ("redis://redis:port", "--redis-url"),
    ]:
        with pytest.raises(ConfigError, match=message):
            redis_target(url)
    with pytest.raises(ConfigError, match="give --async too"):
        kustomization(Release("m", "1", "r/m:1", redis_url="redis://redis:6379/0"))
    duplicated = (("SERVEKIT_TIMEOUT", "1"), ("SERVEKIT_TIMEOUT", "2"))
    with pytest.raises(ConfigError, match="more than once"):
        kustomization(Release("m", "1", "r/m:1", settings=duplicated))


def test_own_changes_in_a_kustomization_over_the_folder_survive_a_new_render(
    tmp_path: Path,
) -> None:
    """What the README tells users: DIR is rewritten, a kustomization naming it is theirs."""
    render(Release("m", "1", "r/m:1"), tmp_path / "rendered")
    mine = write_kustomization(
        tmp_path / "mine",
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["../rendered"],
            "patches": [
                {
                    "target": {"kind": "HorizontalPodAutoscaler"},
                    "patch": '[{"op": "replace", "path": "/spec/maxReplicas", "value": 4}]',
                }
            ],
        },
    )
    render(Release("m", "1", "r/m:2"), tmp_path / "rendered")
    documents = kustomize(mine)
    (hpa,) = by_kind(documents, "HorizontalPodAutoscaler")
    (deployment,) = by_kind(documents, "Deployment")
    assert hpa["spec"]["maxReplicas"] == 4
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "r/m:2"
