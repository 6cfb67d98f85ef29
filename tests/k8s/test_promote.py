"""The model's folder and `servekit k8s promote`: /models/NAME/latest/ and /models/NAME/
go to the version marked latest, a canary gets its weight, each promote step and the
rollback give the weights they should (in every route form), only the model's folder
is rewritten, and what cannot be done is refused."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest
import yaml

from servekit.errors import ConfigError
from servekit.k8s import command
from servekit.k8s.model import ModelState, read_model
from servekit.k8s.promote import promoted
from tests.k8s.conftest import PROMOTIONS, kustomize
from tests.k8s.manifests import Doc, by_kind

EXPECTED = {
    "gateway": [{"2": 100}, {"2": 90, "3": 10}, {"2": 50, "3": 50}, {"3": 100}, {"2": 100}],
    "ingress": [{"2": 100}, {"3": 100}, {"2": 100}],
}
"""The traffic of each form after each step of its PROMOTIONS (step 0: as rendered)."""
EXPECTED["traefik"] = EXPECTED["gateway"]


def model_objects(documents: list[Doc]) -> list[Doc]:
    """The model's route objects (the versions' own are named churn-vN-...)."""
    return [d for d in documents if d["metadata"]["name"].startswith("churn-latest")]


def shares(documents: list[Doc]) -> dict[str, int]:
    """version -> weight, of the model's routes as rendered (every rule agrees)."""
    documents = model_objects(documents)
    found = []
    for route in by_kind(documents, "HTTPRoute"):
        assert [r["matches"][0]["path"]["value"] for r in route["spec"]["rules"]] == [
            "/models/churn/latest", "/models/churn",
        ]  # fmt: skip
        for rule in route["spec"]["rules"]:
            assert rule["filters"][0]["urlRewrite"]["path"]["replacePrefixMatch"] == "/"
            found.append({b["name"]: b["weight"] for b in rule["backendRefs"]})
    for weighted in by_kind(documents, "TraefikService"):
        found.append({s["name"]: s["weight"] for s in weighted["spec"]["weighted"]["services"]})
    for ingress in by_kind(documents, "Ingress"):
        (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
        assert path["path"] == "/models/churn/"
        found.append({path["backend"]["service"]["name"]: 100})
    for middleware in by_kind(documents, "Middleware"):
        prefixes = middleware["spec"]["stripPrefix"]["prefixes"]
        assert prefixes == ["/models/churn/latest", "/models/churn"]  # latest first
    assert found
    assert all(f == found[0] for f in found), found
    return {name.split("-v")[1].split("-")[0]: weight for name, weight in found[0].items()}


@pytest.mark.parametrize("form", list(PROMOTIONS))
def test_each_promote_step_renders_the_weights_it_should(
    rendered: dict[str, list[Doc]], form: str
) -> None:
    for step, expected in enumerate(EXPECTED[form]):
        documents = rendered[f"model:{form}" + (f"-{step}" if step else "")]
        assert shares(documents) == expected, (form, step)
        kinds = ("HTTPRoute", "IngressRoute", "Ingress")
        (route,) = [d for d in model_objects(documents) if d["kind"] in kinds]
        annotations = route["metadata"]["annotations"]
        assert annotations["servekit/latest"] == max(expected, key=expected.__getitem__)
        assert ("servekit/canary" in annotations) == (len(expected) == 2)


def test_a_plain_ingress_names_the_model_middleware_in_its_namespace(
    rendered: dict[str, list[Doc]],
) -> None:
    (ingress,) = by_kind(model_objects(rendered["model:ingress"]), "Ingress")
    annotation = ingress["metadata"]["annotations"][
        "traefik.ingress.kubernetes.io/router.middlewares"
    ]
    assert annotation == "risk-churn-latest-strip@kubernetescrd"
    assert ingress["metadata"]["namespace"] == "risk"


STATE = ModelState("churn", "2", versions=["2", "3"])


@pytest.mark.parametrize(
    ("state", "to", "weight", "rollback", "message"),
    [
        (STATE, "4", 10, False, "version 4 of churn is not rendered"),
        (STATE, "2", 10, False, "2 is latest already"),
        (STATE, "3", 101, False, "a percent, 0 to 100"),
        (STATE, "3", 0, False, "3 is not the canary"),
        (STATE, None, 100, True, "nothing to roll back to"),
        (STATE, "3", 100, True, "give no --to"),
        (STATE, None, 100, False, "give --to VERSION"),
        (ModelState("churn", "2", versions=["2", "3"], form="ingress"), "3", 10, False,
         "a plain Ingress (render --ingress ingress) has no weights"),
    ],
)  # fmt: skip
def test_what_cannot_be_promoted_is_refused(
    state: ModelState, to: str | None, weight: int, rollback: bool, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        promoted(state, to, weight, rollback)


def test_the_canary_ends_at_weight_0_or_by_promoting_the_latest_again() -> None:
    canary = promoted(STATE, "3", 10, False)
    assert promoted(canary, "3", 0, False).weights() == {"2": 100}
    assert promoted(canary, "2", 100, False).weights() == {"2": 100}
    assert promoted(canary, None, 100, True).weights() == {"2": 100}
    switched = promoted(canary, "3", 100, False)
    assert (switched.latest, switched.history, switched.canary) == ("3", ["2"], None)


def k8s(*args: str) -> int:
    parser = argparse.ArgumentParser(prog="servekit")
    command.add_parser(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args(["k8s", *args])
    return int(ns.handler(ns))


def digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def test_the_domino_walk_through_with_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Render 2 and 3 (2 is latest), canary 3 at 10%, promote it, roll back: the model's
    folder only, the diff of the rendered manifests printed each time."""
    monkeypatch.chdir(tmp_path)
    for version in ("2", "3"):
        assert k8s("render", "--name", "churn", "--version", version,
                   "--image", f"r/churn:{version}") == 0  # fmt: skip
    assert (tmp_path / "k8s" / "churn-v2").is_dir()
    state = read_model(tmp_path / "k8s" / "churn")
    assert state is not None
    assert (state.latest, state.versions) == ("2", ["2", "3"])
    capsys.readouterr()
    versions = {v: digest(tmp_path / "k8s" / f"churn-v{v}") for v in ("2", "3")}
    steps = [
        (["--to", "3", "--weight", "10"], {"2": 90, "3": 10}, "+      weight: 10\n"),
        (["--to", "3"], {"3": 100}, '+    servekit/latest: "3"\n'),
        (["--rollback"], {"2": 100}, "+    - name: churn-v2-servekit\n"),
    ]
    for args, expected, line in steps:
        assert k8s("promote", "--name", "churn", *args) == 0
        out, err = capsys.readouterr()
        assert out.startswith("--- k8s/churn (before)\n+++ k8s/churn (after)\n"), out
        assert line in out, out
        assert "kubectl apply -k k8s/churn" in err
        assert shares(kustomize(tmp_path / "k8s" / "churn")) == expected
    assert {v: digest(tmp_path / "k8s" / f"churn-v{v}") for v in ("2", "3")} == versions


def test_rendering_another_version_keeps_the_latest_and_refuses_a_foreign_folder(
    tmp_path: Path,
) -> None:
    model = tmp_path / "churn"
    for version in ("2", "3", "4"):
        k8s("render", "--name", "churn", "--version", version, "--image", "r/c:1",
            "--output", str(tmp_path / f"churn-v{version}"))  # fmt: skip
    state = read_model(model)
    assert state is not None
    assert (state.latest, state.versions) == ("2", ["2", "3", "4"])
    text = (model / "kustomization.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["resources"] == ["routes.yaml"]
    (model / "kustomization.yaml").write_text("resources: [routes.yaml]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not written by servekit"):
        k8s("promote", "--name", "churn", "--to", "3", "--model-dir", str(model))
    with pytest.raises(ConfigError, match="no model kustomization"):
        k8s("promote", "--name", "fraud", "--to", "3", "--model-dir", str(tmp_path / "x"))
