"""``servekit k8s render``: its checks, the folder it writes, and what it prints."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from servekit.errors import ConfigError
from servekit.k8s import _kubectl, command
from servekit.k8s._yaml import to_yaml
from servekit.k8s.render import Release, kustomization, parse_canary, parse_image, render, templates
from tests.k8s.conftest import kustomize

CHURN_4 = ("--name", "churn", "--version", "4", "--image", "reg/churn:4")


def run(*args: str) -> int:
    parser = argparse.ArgumentParser(prog="servekit")
    command.add_parser(parser.add_subparsers(dest="command", required=True))
    return command.run(parser.parse_args(["k8s", "render", *args]))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (
            "reg.example.com:5000/ml/churn:1.2",
            {"newName": "reg.example.com:5000/ml/churn", "newTag": "1.2"},
        ),
        ("churn:3", {"newName": "churn", "newTag": "3"}),
        ("ml/churn@sha256:" + "0" * 64, {"newName": "ml/churn", "digest": "sha256:" + "0" * 64}),
    ],
)
def test_images_are_split_into_name_and_tag_or_digest(image: str, expected: dict[str, str]) -> None:
    assert parse_image(image) == expected


@pytest.mark.parametrize(
    "image", ["churn", "reg.example.com:5000/churn", "churn:latest", "churn@sha256:abc", "churn:"]
)
def test_images_without_a_fixed_tag_are_refused(image: str) -> None:
    with pytest.raises(ConfigError, match="--image"):
        parse_image(image)


def test_canary_takes_the_other_version_and_its_percent() -> None:
    assert parse_canary("2=10") == ("2", 10)
    for wrong in ("2", "=10", "2=101", "2=ten", "2=-1"):
        with pytest.raises(ConfigError, match="OTHER=WEIGHT"):
            parse_canary(wrong)


@pytest.mark.parametrize(
    ("release", "message"),
    [
        (Release("Churn", "1", "c:1"), "--name"),
        (Release("churn_model", "1", "c:1"), "--name"),
        (Release("churn", "1/2", "c:1"), "version"),
        (Release("churn", "1", "c:1", canary=("1", 5)), "same version"),
        (Release("churn", "1", "c:1", ingress="nginx"), "--ingress"),
        (Release("churn", "1", "c:1", namespace="ML"), "--namespace"),
        (Release("churn", "1", "c:latest"), "--image"),
    ],
)
def test_bad_releases_are_config_errors(release: Release, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        kustomization(release)


def test_the_folder_is_self_contained_and_renders(tmp_path: Path) -> None:
    written = render(Release("churn", "2", "reg/churn:2", async_workers=True), tmp_path / "out")
    assert written == [tmp_path / "out" / "kustomization.yaml"]
    assert (tmp_path / "out" / "templates" / "base" / "deployment.yaml").is_file()
    moved = tmp_path / "elsewhere"
    (tmp_path / "out").rename(moved)  # no path outside the folder
    documents = kustomize(moved)
    deployments = {d["metadata"]["name"] for d in documents if d["kind"] == "Deployment"}
    assert deployments == {"churn-v2-servekit", "churn-v2-servekit-worker"}


def test_rendering_again_replaces_its_own_files_but_no_one_elses(tmp_path: Path) -> None:
    render(Release("churn", "2", "reg/churn:2", canary=("1", 20)), tmp_path)
    assert (tmp_path / "canary-httproute.yaml").is_file()
    render(Release("churn", "2", "reg/churn:2"), tmp_path)
    assert not (tmp_path / "canary-httproute.yaml").exists()
    (tmp_path / "kustomization.yaml").write_text("resources: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not written by servekit"):
        render(Release("churn", "2", "reg/churn:2"), tmp_path)


def test_the_command_prints_the_rendered_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*CHURN_4, "--gpu", "--output", str(tmp_path)) == 0
    out, err = capsys.readouterr()
    documents = list(yaml.safe_load_all(out))
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "reg/churn:4"
    assert f"kubectl apply -k {tmp_path}" in err


def test_without_kubectl_the_command_prints_the_kustomization_and_how_to_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_kubectl.shutil, "which", lambda name: None)
    assert run(*CHURN_4, "--output", str(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out)["namePrefix"] == "churn-v4-"
    assert "kubectl not found" in err
    assert f"kubectl kustomize {tmp_path}" in err


def test_a_kustomize_failure_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\necho 'no such thing' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setattr(_kubectl.shutil, "which", lambda name: str(fake))
    with pytest.raises(ConfigError, match="no such thing"):
        run(*CHURN_4, "--output", str(tmp_path / "out"))


def test_the_yaml_writer_round_trips() -> None:
    data = {
        "a": [{"b": 1, "c": ["x", {"d": True}]}, "e: f", []],
        "g": {},
        "h": None,
        "i": 'quote " and\nnewline',
    }
    assert yaml.safe_load(to_yaml(data)) == data


def test_the_templates_are_package_data() -> None:
    root = templates()
    for part in (
        "base/kustomization.yaml",
        "checkov.yaml",
        "monitoring/grafana-dashboard.json",
        "components/async-workers/kustomization.yaml",
        "overlays/seldon/kustomization.yaml",
        "kserve/kustomization.yaml",
        "kserve/clusterservingruntime.yaml",
    ):
        assert root.joinpath(part).is_file(), part
