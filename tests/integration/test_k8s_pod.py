"""The Deployment `servekit k8s render` writes, run as a pod with `podman kube play`.

podman runs the Deployment and its ConfigMap as rendered, with two changes forced by
these machines: the ConfigMap's SERVEKIT_HOST is 127.0.0.1 (servers in tests listen on
loopback only, so every request is made from inside the pod) and the access-token Secret
is a podman secret. What podman does not honour is listed in k8s-templates/README.md.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import write_project
from tests.containers import inspect, podman, sh

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2100)]  # with the image builds

TOKEN = "pod-token-1"
SECRET = "servekit-tokens"  # the name the base Deployment mounts
CLIENT = """
import json, sys, urllib.error, urllib.request
method, path, token, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
headers = {"Content-Type": "application/json"}
if token:
    headers["Authorization"] = "Bearer " + token
request = urllib.request.Request(
    "http://127.0.0.1:8080" + path, method=method, data=body.encode() or None, headers=headers)
try:
    with urllib.request.urlopen(request, timeout=30) as reply:
        print(reply.status, reply.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode())
"""

# Inside the pod: a 4 s prediction in a thread while /readyz is polled; then its status.
DRAIN_WATCH = """
import json, sys, threading, time, urllib.error, urllib.request
token = sys.argv[1]
def status(path, body=None):
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
    request = urllib.request.Request("http://127.0.0.1:8080" + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
slow = []
thread = threading.Thread(target=lambda: slow.append(status("/model", b'{"data": {"s": 4}}')))
thread.start()
end = time.monotonic() + 4.5
while time.monotonic() < end and thread.is_alive():
    print(status("/readyz"), flush=True)
    time.sleep(0.25)
thread.join(30)
print("slow=%s" % (slow[0] if slow else "none"), flush=True)
"""


class Pod:
    """The pod podman made of the Deployment, and its servekit container."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name, self.container, self.env = name, f"{name}-servekit", env

    def call(
        self, method: str, path: str, token: str = "", body: str = "", check: bool = True
    ) -> tuple[int, str]:
        """(status, body) of one request from inside the pod; (0, error) when none came
        and not ``check``."""
        done = sh(
            podman("exec", self.container, "python3", "-c", CLIENT, method, path, token, body),
            self.env,
            check=check,
        )
        if done.returncode != 0:
            return 0, done.stderr[-500:]
        status, _, text = done.stdout.strip().partition(" ")
        return int(status), text

    def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            done = sh(podman("exec", self.container, "true"), self.env, check=False)
            # Until the front listens (uWSGI's master starts nginx) connecting is refused.
            if done.returncode == 0 and self.call("GET", "/readyz", check=False)[0] == 200:
                return
            time.sleep(0.5)
        logs = sh(["podman", "logs", self.container], self.env, check=False)
        pytest.fail(f"the pod was not ready in {seconds} s:\n{logs.stdout}{logs.stderr}"[-4000:])


def _play_manifests(rendered: str, folder: Path) -> tuple[Path, str]:
    documents = list(yaml.safe_load_all(rendered))
    kinds = sorted(d["kind"] for d in documents)
    assert "Deployment" in kinds, kinds
    assert "ConfigMap" in kinds, kinds
    play = [d for d in documents if d["kind"] in ("Deployment", "ConfigMap")]
    for document in play:
        if document["kind"] == "ConfigMap":
            assert document["data"]["SERVEKIT_HOST"] == "0.0.0.0"
            document["data"]["SERVEKIT_HOST"] = "127.0.0.1"
    deployment = next(d for d in play if d["kind"] == "Deployment")
    path = folder / "play.yaml"
    path.write_text(yaml.safe_dump_all(play), encoding="utf-8")
    return path, deployment["metadata"]["name"]


def test_the_rendered_deployment_runs_as_a_non_root_read_only_pod_and_drains(
    env: dict[str, str], built: list[str], tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "pod-model",
        {
            "model.py": (
                "import time\n\ndef predict(s: float = 0) -> dict:\n"
                "    time.sleep(s)\n    return {'slept': s}\n"
            )
        },
    )
    tag = "localhost/servekit-test/pod-model:1"
    built.append(tag)
    cli = [sys.executable, "-m", "servekit"]
    build = [*cli, "build", "--engine", "podman", str(project), "--target", "model.py:predict"]
    sh([*build, "--tag", tag, "--quiet"], env)
    render = ["k8s", "render", "--name", "pod-model", "--version", "1", "--image", tag]
    rendered = sh([*cli, *render, "--output", str(tmp_path / "k8s")], env).stdout
    play, deployment = _play_manifests(rendered, tmp_path)
    secret = tmp_path / "secret.yaml"
    encoded = base64.b64encode(f"{TOKEN}\n".encode()).decode()
    secret.write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {SECRET}\ndata:\n  tokens: {encoded}\n"
    )
    sh(["podman", "secret", "rm", SECRET], env, check=False)
    sh(["podman", "secret", "create", SECRET, str(secret)], env)
    pod = Pod(f"{deployment}-pod-0", env)
    try:
        sh(podman("kube", "play", str(play)), env)
        pod.wait_ready()
        # podman 4.3 mounts a Secret's values still base64-encoded: use what it wrote.
        written = sh(
            podman("exec", pod.container, "cat", "/etc/servekit/secrets/tokens"), env
        ).stdout.strip()
        assert written in (TOKEN, encoded)
        status, body = pod.call("POST", "/model", written, '{"data": {"s": 0}}')
        assert (status, '"slept":0' in body.replace(" ", "")) == (200, True), body
        assert pod.call("POST", "/model", "", '{"data": {}}')[0] == 401
        assert pod.call("POST", "/model", "wrong", '{"data": {}}')[0] == 401
        status = sh(podman("exec", pod.container, "cat", "/proc/1/status"), env).stdout
        assert re.search(r"^Uid:\s+10001\s", status, re.M), status
        cmdline = sh(podman("exec", pod.container, "cat", "/proc/1/cmdline"), env).stdout
        assert "uWSGI master" in cmdline.replace("\0", " ")
        config = inspect(pod.container, env, "container")
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        denied = sh(podman("exec", pod.container, "touch", "/srv/model/x"), env, check=False)
        assert "Read-only file system" in denied.stderr
        sh(podman("exec", pod.container, "touch", "/tmp/written"), env)  # the emptyDir
        # Drain: SIGTERM (podman pod stop) while a 4 s request runs. podman refuses new
        # exec sessions into a stopping container, so one started before the stop makes
        # the slow request and polls /readyz meanwhile.
        watcher = subprocess.Popen(
            [*podman("exec", pod.container, "python3", "-c", DRAIN_WATCH, written)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(1.5)
            sh(["podman", "pod", "stop", "-t", "40", pod.name], env, timeout=90)  # fails on != 0
            out, _ = watcher.communicate(timeout=60)
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.communicate()
        lines = out.split()
        assert lines[-1] == "slow=200", out
        statuses = lines[:-1]
        assert statuses[0] == "200", out  # ready before the stop
        assert "503" in statuses, out  # then draining, while the slow request still ran
        state = inspect(pod.container, env, "container")["State"]
        assert (state["Running"], state["ExitCode"]) == (False, 0)
    finally:
        sh(["podman", "pod", "rm", "-f", "-t", "2", pod.name], env, check=False)
        sh(["podman", "secret", "rm", SECRET], env, check=False)
