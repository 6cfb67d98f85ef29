"""Every pod of every combination runs restricted, with settings that fit its container:
its processes within its CPU limit, a writable HOME, a liveness probe that outlasts a
request's timeout, and a shutdown that fits its termination grace period."""

from __future__ import annotations

import math
from typing import Any

from servekit.serving.uwsgi import HARAKIRI_EXTRA_SECONDS
from servekit.settings import Settings
from tests.k8s.manifests import Doc, by_kind, container_env, pod_specs

WORKER_MARGIN = 10
"""Seconds between a worker's SERVEKIT_GRACE_SECONDS and its termination grace period."""


def containers(rendered: dict[str, list[Doc]]) -> list[tuple[str, Doc, Doc, dict[str, str]]]:
    """(where, pod spec, container, its environment) of every servekit container."""
    found = []
    for case, documents in rendered.items():
        for owner, spec in pod_specs(documents):
            for container in spec["containers"]:
                env = container_env(documents, container)
                found.append((f"{case}: {owner}", spec, container, env))
    assert len(found) >= len(rendered)
    return found


def cpus(quantity: str) -> float:
    """A CPU quantity ("2", "500m") in cores."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def is_worker(container: Doc) -> bool:
    return container.get("command") == ["servekit", "worker"]


def test_every_pod_runs_restricted(rendered: dict[str, list[Doc]]) -> None:
    for where, spec, container, _ in containers(rendered):
        assert spec["automountServiceAccountToken"] is False, where
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (10001,) * 3, where
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["capabilities"]["drop"] == ["ALL"], where
        assert {"requests", "limits"} <= container["resources"].keys(), where
        assert "livenessProbe" in container, where
        if not is_worker(container):  # the job worker: no traffic, no readiness
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            startup = container["startupProbe"]
            assert startup["failureThreshold"] * startup["periodSeconds"] >= 120, where


def test_home_and_caches_are_on_a_writable_volume(rendered: dict[str, list[Doc]]) -> None:
    """The root file system is read-only (the image user's HOME, /srv/model, with it)."""
    for where, spec, container, env in containers(rendered):
        empty = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        writable = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty]
        for variable in ("HOME", "XDG_CACHE_HOME", "SERVEKIT_RUNTIME_DIR"):
            path = env[variable]
            assert any(path == m or path.startswith(m + "/") for m in writable), (where, path)


def test_processes_are_set_and_fit_the_cpu_limit(rendered: dict[str, list[Doc]]) -> None:
    """Unset, servekit starts one process per core of the node (the affinity mask does
    not show the cgroup's CPU limit), each with a copy of the model."""
    for where, _, container, env in containers(rendered):
        assert "SERVEKIT_PROCESSES" in env, f"{where}: SERVEKIT_PROCESSES unset"
        limit = math.ceil(cpus(container["resources"]["limits"]["cpu"]))
        assert 1 <= int(env["SERVEKIT_PROCESSES"]) <= limit, where


def test_with_a_gpu_every_container_runs_one_process(rendered: dict[str, list[Doc]]) -> None:
    """The worker's own env (which wins over the ConfigMap) says 1 too, with --async."""
    documents = rendered["render:everything"]
    seen = []
    for deployment in by_kind(documents, "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        seen.append((is_worker(container), container_env(documents, container)))
    assert sorted(worker for worker, _ in seen) == [False, True]
    assert [env["SERVEKIT_PROCESSES"] for _, env in seen] == ["1", "1"]


def test_liveness_outlasts_a_request_that_runs_to_its_timeout(
    rendered: dict[str, list[Doc]],
) -> None:
    """/healthz is answered by the same uWSGI workers as predictions: a saturated pod
    answers it once a request ends, at the latest at harakiri (timeout + 5 s)."""
    checked = 0
    for where, _, container, env in containers(rendered):
        probe: dict[str, Any] = container["livenessProbe"]
        if "httpGet" not in probe:  # the worker's: its metrics process, not busy with jobs
            assert is_worker(container), where
            continue
        timeout = int(env.get("SERVEKIT_TIMEOUT", Settings.timeout))
        budget = probe["periodSeconds"] * (probe["failureThreshold"] - 1)
        assert budget + probe["timeoutSeconds"] > timeout + HARAKIRI_EXTRA_SECONDS, where
        assert probe["httpGet"]["path"] == "/healthz", where
        checked += 1
    assert checked >= len(rendered)


def test_shutdown_fits_the_termination_grace_period(rendered: dict[str, list[Doc]]) -> None:
    """HTTP pods: preStop sleep, then SERVEKIT_DRAIN_SECONDS of 503 on /readyz, then
    SERVEKIT_GRACE_SECONDS for requests in flight. `servekit worker` on SIGTERM: its
    supervisor kills a process still busy after SERVEKIT_GRACE_SECONDS (drain seconds
    are added only on SIGUSR1, which only `servekit serve --async-workers` sends)."""
    for where, spec, container, env in containers(rendered):
        grace = int(env["SERVEKIT_GRACE_SECONDS"])
        period = spec["terminationGracePeriodSeconds"]
        if is_worker(container):
            assert grace >= 60, f"{where}: jobs get a minute at least"
            assert grace + WORKER_MARGIN <= period, where
            continue
        hook = container.get("lifecycle", {}).get("preStop")
        pre_stop = hook["sleep"]["seconds"] if hook else 0
        assert pre_stop + int(env["SERVEKIT_DRAIN_SECONDS"]) + grace + 5 <= period, where


def test_deployments_sleep_before_stopping_but_seldon_does_not(
    rendered: dict[str, list[Doc]],
) -> None:
    """Seldon Core v1's structural CRD schema predates the `sleep` action: it would be
    pruned to an empty handler, which the API server refuses."""
    for case, documents in rendered.items():
        for seldon in by_kind(documents, "SeldonDeployment"):
            for predictor in seldon["spec"]["predictors"]:
                for component in predictor["componentSpecs"]:
                    for container in component["spec"]["containers"]:
                        assert "preStop" not in container.get("lifecycle", {}), case
        for deployment in by_kind(documents, "Deployment"):
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                if not is_worker(container):
                    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] >= 5, case
    assert by_kind(rendered["overlay:seldon"], "SeldonDeployment")
