"""The monitoring-capture components: every pod that runs the model writes its own
folder of one ReadWriteMany claim; the monitor's CronJob reads that claim, runs
restricted and without network, fails its Job on servekit monitor's exit 1 and 2; its
shell script passes what it should and keeps the exit status; and the alert looks at a
CronJob's latest Job only (against a control that alerts on an old failure)."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from tests.k8s.conftest import MONITORING_DIR, tool
from tests.k8s.manifests import Doc, by_kind, names
from tests.k8s.test_promql import promtool_test

CAPTURED = ("components:all", "render:capture", "component:monitoring-capture/files")
CAPTURE_DIR = "/var/lib/servekit/capture"


def cronjob_pod(documents: list[Doc]) -> Doc:
    (cronjob,) = by_kind(documents, "CronJob")
    spec: Doc = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def claims(spec: Doc) -> dict[str, Doc]:
    """Mount path -> the claim's volume source, with the mount's readOnly."""
    volumes = {v["name"]: v for v in spec["volumes"]}
    found = {}
    for mount in spec["containers"][0]["volumeMounts"]:
        source = volumes[mount["name"]].get("persistentVolumeClaim")
        if source:
            found[mount["mountPath"]] = {**source, "mountReadOnly": mount.get("readOnly", False)}
    return found


def test_each_pod_that_runs_the_model_writes_its_own_folder_of_one_claim(
    rendered: dict[str, list[Doc]],
) -> None:
    for case in CAPTURED:
        documents = rendered[case]
        (claim,) = by_kind(documents, "PersistentVolumeClaim")[:1]
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"], case
        deployments = by_kind(documents, "Deployment")
        assert len(deployments) == (1 if case.startswith("component:") else 2), case
        for deployment in deployments:
            spec = deployment["spec"]["template"]["spec"]
            assert claims(spec)[CAPTURE_DIR]["claimName"] == claim["metadata"]["name"], case
            assert spec["securityContext"]["fsGroup"] == 10001, case
            env = [(e["name"], e) for e in spec["containers"][0]["env"]]
            order = [name for name, _ in env]
            # The kubelet expands $(POD_NAME) only from a variable defined before it.
            assert order.index("POD_NAME") < order.index("SERVEKIT_CAPTURE"), case
            values = dict(env)
            assert values["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            assert values["SERVEKIT_CAPTURE"]["value"] == f"file://{CAPTURE_DIR}/$(POD_NAME)"
    workers = [d for d in by_kind(rendered["components:all"], "Deployment") if "worker" in str(d)]
    assert workers, "the job workers capture too"


def test_the_monitor_reads_that_claim_and_writes_its_own(rendered: dict[str, list[Doc]]) -> None:
    for case in ("components:all", "render:capture"):
        documents = rendered[case]
        spec = cronjob_pod(documents)
        (server,) = [d for d in by_kind(documents, "Deployment") if "worker" not in str(d)]
        written = claims(server["spec"]["template"]["spec"])[CAPTURE_DIR]["claimName"]
        mounted = claims(spec)
        assert mounted[CAPTURE_DIR]["claimName"] == written, case
        assert mounted[CAPTURE_DIR]["readOnly"], case
        assert mounted[CAPTURE_DIR]["mountReadOnly"], case
        reports = mounted["/var/lib/servekit/reports"]["claimName"]
        assert reports != written
        assert {written, reports} == names(documents, "PersistentVolumeClaim"), case
        assert spec["serviceAccountName"] in names(documents, "ServiceAccount"), case
    prefixed = claims(cronjob_pod(rendered["components:all"]))
    assert prefixed[CAPTURE_DIR]["claimName"] == "acme-servekit-capture-prod"


def test_the_monitor_runs_restricted_without_network(rendered: dict[str, list[Doc]]) -> None:
    for case in ("components:all", "render:capture"):
        documents = rendered[case]
        spec = cronjob_pod(documents)
        assert spec["automountServiceAccountToken"] is False
        pod = spec["securityContext"]
        assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (10001,) * 3
        assert pod["runAsNonRoot"]
        assert pod["seccompProfile"]["type"] == "RuntimeDefault"
        (container,) = spec["containers"]
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"]
        assert not context["allowPrivilegeEscalation"]
        assert context["capabilities"]["drop"] == ["ALL"]
        env = {e["name"]: e["value"] for e in container["env"]}
        empty = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        tmp = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty]
        for variable in ("HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR"):
            assert any(env[variable].startswith(path) for path in tmp), variable
        (cronjob,) = by_kind(documents, "CronJob")
        labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        isolating = [
            p
            for p in by_kind(documents, "NetworkPolicy")
            if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        (policy,) = isolating
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert "ingress" not in policy["spec"]
        assert "egress" not in policy["spec"]


def test_a_crossed_threshold_or_an_error_fails_the_job_at_once(
    rendered: dict[str, list[Doc]],
) -> None:
    (cronjob,) = by_kind(rendered["render:capture"], "CronJob")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy needs it
    (fail, ignore) = job["podFailurePolicy"]["rules"]
    assert fail["action"] == "FailJob"
    assert fail["onExitCodes"] == {"containerName": "monitor", "operator": "In", "values": [1, 2]}
    assert ignore["onPodConditions"][0]["type"] == "DisruptionTarget"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert cronjob["spec"]["schedule"] == "15 4 * * MON-FRI"
    assert cronjob["spec"]["timeZone"] == "Etc/UTC"


def run_script(
    documents: list[Doc], tmp_path: Path, code: int, **env: str
) -> tuple[int, list[str]]:
    """The CronJob's script run by this machine's sh and GNU date, its folders moved under
    ``tmp_path`` and ``servekit`` a stand-in that writes its arguments and exits ``code``."""
    (container,) = cronjob_pod(documents)["containers"]
    assert container["command"] == ["/bin/sh", "-c"]
    script = container["args"][0].replace("/var/lib/servekit", str(tmp_path))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "servekit"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/args"\nexit {code}\n')
    fake.chmod(0o755)
    variables = {e["name"]: e["value"] for e in container["env"]}
    path = f"{bin_dir}:{os.environ['PATH']}"
    done = subprocess.run(
        [tool("sh"), "-c", script],
        env={**variables, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    args = (tmp_path / "args").read_text().splitlines() if (tmp_path / "args").exists() else []
    return done.returncode, args


@pytest.mark.parametrize("code", [0, 1, 2])
def test_the_script_runs_servekit_monitor_over_the_window_and_keeps_its_status(
    rendered: dict[str, list[Doc]], tmp_path: Path, code: int
) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    status, args = run_script(rendered["render:capture"], tmp_path, code)
    assert status == code, "the Job's pod fails with servekit monitor's status"
    options = dict(zip(args[1::2], args[2::2], strict=False))
    assert args[0] == "monitor"
    assert options["--records"] == str(tmp_path / "capture")
    assert options["--baseline"] == "/etc/servekit/baseline/train.csv"
    assert options["--thresholds"] == "/etc/servekit/baseline/thresholds.yaml"
    since = datetime.fromisoformat(options["--since"].replace("Z", "+00:00"))
    assert abs(before - timedelta(hours=24) - since) < timedelta(seconds=5)
    out = Path(options["--out"])
    assert out.parent == tmp_path / "reports"
    assert out.is_dir()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d{6}Z", out.name), out.name


def test_the_script_takes_a_folder_as_captured_records_and_no_thresholds(
    rendered: dict[str, list[Doc]], tmp_path: Path
) -> None:
    folder = tmp_path / "good-week"
    folder.mkdir()
    env = {"MONITOR_BASELINE": str(folder), "MONITOR_THRESHOLDS": "", "MONITOR_WINDOW_HOURS": "2"}
    status, args = run_script(rendered["render:capture"], tmp_path, 0, **env)
    assert status == 0
    assert "--baseline" not in args
    assert "--thresholds" not in args
    assert args[args.index("--baseline-records") + 1] == str(folder)
    since = datetime.fromisoformat(args[args.index("--since") + 1].replace("Z", "+00:00"))
    assert datetime.now(timezone.utc) - since < timedelta(hours=2, seconds=5)


def test_the_alert_looks_at_the_latest_job_only(tmp_path: Path) -> None:
    """The control: alerting on every failed Job would fire for churn's old failure, which
    a CronJob keeps (failedJobsHistoryLimit) after later runs pass."""
    spec = yaml.safe_load((MONITORING_DIR / "prometheusrule.yaml").read_text())["spec"]
    tests = yaml.safe_load((MONITORING_DIR / "prometheusrule-tests.yaml").read_text())["tests"]
    (monitor,) = [t for t in tests if "kube_job_owner" in t["input_series"][0]["series"]]
    (group,) = [g for g in spec["groups"] if g["name"] == "servekit-monitor"]
    assert promtool_test(tmp_path, [group], [monitor]) == ""
    group["rules"][0]["expr"] = 'kube_job_failed{condition="true"} == 1'
    failed = promtool_test(tmp_path, [group], [monitor])
    assert "churn-v3-servekit-monitor-100" in failed
