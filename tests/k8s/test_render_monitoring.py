"""``servekit k8s render``'s capture and monitor options: what reaches the pods and the
CronJob, and every combination that makes no sense refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from servekit.errors import ConfigError
from servekit.k8s.checks import parse_setting
from servekit.k8s.monitoring import check_schedule, parse_baseline
from tests.k8s.manifests import Doc, by_kind, container_env
from tests.k8s.test_render_command import CHURN_4, run


def rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[Doc]:
    assert run(*CHURN_4, "--output", str(tmp_path / "out"), *args) == 0
    return [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]


def test_a_sink_url_and_the_sample_reach_every_container(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--async", "--capture", "redis://redis.data:6379/2", "--capture-sample", "0.25")
    documents = rendered(tmp_path, capsys, *args)
    deployments = by_kind(documents, "Deployment")
    assert len(deployments) == 2
    for deployment in deployments:
        env = container_env(documents, deployment["spec"]["template"]["spec"]["containers"][0])
        # The stream is this version's; the sample wins over the component's 1.
        assert (
            env["SERVEKIT_CAPTURE"] == "redis://redis.data:6379/2?stream=servekit:churn:4:capture"
        )
        assert env["SERVEKIT_CAPTURE_SAMPLE"] == "0.25"
    assert not by_kind(documents, "PersistentVolumeClaim")
    assert not by_kind(documents, "CronJob")
    url = "https://sink.example.com/events?x=1"
    documents = rendered(tmp_path, capsys, "--capture", url)
    (server,) = by_kind(documents, "Deployment")
    env = container_env(documents, server["spec"]["template"]["spec"]["containers"][0])
    assert env["SERVEKIT_CAPTURE"] == url
    named = "redis://r:6379/0?stream=mine&maxlen=10"
    documents = rendered(tmp_path, capsys, "--capture", named)
    assert {"SERVEKIT_CAPTURE": named}.items() <= by_kind(documents, "ConfigMap")[0]["data"].items()


def test_the_monitor_gets_its_schedule_baseline_window_and_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--capture", "file", "--monitor-schedule", "@daily", "--monitor-window", "72")
    args += ("--baseline", "pvc:churn-data/train/base.parquet", "--thresholds", "t.json")
    documents = rendered(tmp_path, capsys, *args, "--monitor-image", "reg/monitor:2")
    (cronjob,) = by_kind(documents, "CronJob")
    assert cronjob["metadata"]["name"] == "churn-v4-servekit-monitor"
    assert cronjob["spec"]["schedule"] == "@daily"
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == "reg/monitor:2"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MONITOR_BASELINE"] == "/etc/servekit/baseline/train/base.parquet"
    assert env["MONITOR_THRESHOLDS"] == "/etc/servekit/baseline/train/t.json"
    assert env["MONITOR_WINDOW_HOURS"] == "72"
    (baseline,) = [v for v in spec["volumes"] if v["name"] == "baseline"]
    assert baseline == {
        "name": "baseline",
        "persistentVolumeClaim": {"claimName": "churn-data", "readOnly": True},
    }
    default = rendered(tmp_path, capsys, *args[:4], "--baseline", "churn-train/train.csv")
    (cronjob,) = by_kind(default, "CronJob")
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == "reg/churn:4", "the model's image by default"
    (baseline,) = [v for v in spec["volumes"] if v["name"] == "baseline"]
    assert baseline["configMap"]["name"] == "churn-train", "the user's, not renamed"


FILE = ("--capture", "file")
SCHEDULED = (*FILE, "--monitor-schedule", "0 6 * * *")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--capture-sample", "0.5"), "--capture-sample needs --capture"),
        (("--monitor-schedule", "0 6 * * *"), "--monitor-schedule needs --capture"),
        ((*FILE, "--capture-sample", "2"), "a number from 0 to 1"),
        ((*FILE, "--capture-sample", "half"), "a number from 0 to 1"),
        (("--capture", "s3://bucket/x"), "--capture 's3://bucket/x': file"),
        (("--capture", "redis://:pw@redis:6379/0"), "would write it into a ConfigMap"),
        (("--capture", "https://u:p@sink/x"), "would write it into a ConfigMap"),
        (("--capture", "redis://r:port/0"), "--capture 'redis://r:port/0'"),
        ((*FILE, "--baseline", "b/base.csv"), "--baseline is for --monitor-schedule"),
        ((*FILE, "--monitor-window", "4"), "--monitor-window is for --monitor-schedule"),
        (
            ("--capture", "redis://r:6379/0", "--monitor-schedule", "@daily"),
            "capture with --capture file",
        ),
        (SCHEDULED, "needs --baseline"),
        ((*SCHEDULED, "--baseline", "b/base.txt"), "a .csv or .parquet"),
        ((*SCHEDULED, "--baseline", "servekit-settings/a.csv"), "the templates' own"),
        ((*SCHEDULED, "--baseline", "pvc:data/../etc/x.csv"), "without '..'"),
        ((*SCHEDULED, "--baseline", "b/base.csv", "--thresholds", "a/b"), "a key of the"),
        ((*SCHEDULED, "--baseline", "b/base.csv", "--monitor-image", "m"), "--monitor-image 'm'"),
        ((*SCHEDULED, "--baseline", "b/base.csv", "--monitor-window", "0"), "1 hour or more"),
        ((*FILE, "--set", "SERVEKIT_CAPTURE=file:///x"), "set by --capture"),
        (("--set", "SERVEKIT_CAPTURE_SAMPLE=1"), "set by --capture-sample"),
        ((*FILE, "--secret-env", "POD_NAME=s/k"), "set by --capture file"),
        ((*FILE, "--volume", "c=pvc:c:/var/lib/servekit"), "a mount path outside it"),
        ((*FILE, "--volume", "capture=pvc:c:/data"), "use another name"),
        (("--kserve", "--storage-uri", "s3://m/1", *FILE), "--kserve does not take --capture"),
    ],
)
def test_combinations_that_make_no_sense_are_refused(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        run(*CHURN_4, "--output", str(tmp_path), *args)
    assert not (tmp_path / "kustomization.yaml").exists()


@pytest.mark.parametrize(
    "schedule",
    ["0 6 * * *", "*/15 * * * *", "0 0-6/2 1,15 JAN-MAR mon-fri", "30 5 ? * 0", "@hourly"],
)
def test_schedules_kubernetes_takes_are_taken(schedule: str) -> None:
    check_schedule(schedule)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("0 6 * *", "five fields"),
        ("@every 1h", "five fields"),
        ("60 * * * *", "'60' is not a minute"),
        ("0 24 * * *", "'24' is not a hour"),
        ("0 0 0 * *", "'0' is not a day of month"),
        ("0 0 * 13 *", "'13' is not a month"),
        ("0 0 * * 7", "'7' is not a day of week"),
        ("*/0 * * * *", "'\\*/0'"),
        ("CRON_TZ=Europe/Paris 0 6 * * *", "refuses TZ="),
    ],
)
def test_schedules_kubernetes_refuses_are_refused(schedule: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_schedule(schedule)


def test_a_baseline_is_a_configmap_key_or_a_path_on_a_claim() -> None:
    assert parse_baseline("churn-baseline/train.parquet") == (
        "configmap",
        "churn-baseline",
        "train.parquet",
    )
    assert parse_baseline("pvc:data/weeks/2026-w48") == ("pvc", "data", "weeks/2026-w48")
    for wrong in ("train.csv", "Churn/train.csv", "pvc:data", "pvc:data//x.csv", "pvc:/x.csv"):
        with pytest.raises(ConfigError, match="--baseline"):
            parse_baseline(wrong)


def test_a_float_setting_is_checked_as_one() -> None:
    """SERVEKIT_CAPTURE_SAMPLE is servekit's first float setting (KServe renders take it
    through --set)."""
    assert parse_setting("SERVEKIT_CAPTURE_SAMPLE=0.5") == ("SERVEKIT_CAPTURE_SAMPLE", "0.5")
    with pytest.raises(ConfigError, match="SERVEKIT_CAPTURE_SAMPLE"):
        parse_setting("SERVEKIT_CAPTURE_SAMPLE=half")
