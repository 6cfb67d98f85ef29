"""The tester page in a real browser: Debian's headless Chromium, driven by selenium,
against a real ``servekit serve``. Screenshots are kept in ``test-artifacts/``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import REPO, run_cli, write_project

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = REPO / "test-artifacts"
WAIT = 15.0

MODEL = '''
    from dataclasses import dataclass
    from typing import Annotated

    from servekit import Range

    @dataclass
    class Row:
        age: int
        name: str = "anon"

    def predict(start: Annotated[int, Range(ge=0)], stop: int, rows: list[Row] = (),
                scale: float = 1.0) -> dict:
        """Sum a range, scaled.

        Args:
            start: the first value, included
            stop: the end, excluded
            rows: people whose ages are echoed back
        """
        return {"total": sum(range(start, stop)) * scale, "ages": [r.age for r in rows]}
'''
REQUEST = json.dumps(  # typed into the editor; the apostrophe tests the samples' quoting
    {"data": {"start": 2, "stop": 5, "rows": [{"age": 41, "name": "O'Brien"}], "scale": 2.0}}
)
RESULT = {"total": 18.0, "ages": [41]}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for this module, with a fresh profile; never downloads."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} missing: apt-get install chromium chromium-driver "
            "(scripts/test does)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1700",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    yield driver
    driver.quit()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "typed", {"model.py": MODEL})


def text(driver: Any, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def wait_for(driver: Any, check: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until ``check()``; fail naming ``what`` and the response panel."""
    try:
        WebDriverWait(driver, WAIT, poll_frequency=0.05).until(lambda _: check())
    except Exception:
        panel = text(driver, "response-section")
        raise AssertionError(f"{what} not seen within {WAIT}s; response panel:\n{panel}") from None


def open_page(driver: Any, url: str) -> None:
    driver.get(url + "/")
    wait_for(driver, lambda: driver.execute_script("return document.body.dataset.ready"), "page")
    origin = {"origin": url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}
    driver.execute_cdp_cmd("Browser.grantPermissions", origin)


def type_request(driver: Any, body: str) -> None:
    editor = driver.find_element(By.ID, "request")
    editor.clear()
    editor.send_keys(body)


def send(driver: Any, button: str = "send") -> None:
    driver.execute_script("document.getElementById('status').textContent = '';")
    driver.find_element(By.ID, button).click()


def response_body(driver: Any) -> Any:
    return json.loads(text(driver, "response-body"))


def copied(driver: Any, button: Any) -> str:
    """Click a Copy button and read back what reached the clipboard."""
    button.click()
    wait_for(driver, lambda: button.text == "Copied", "Copied")
    read = "const done = arguments[0]; (window.realClipboard || navigator.clipboard).readText()"
    return str(driver.execute_async_script(read + ".then(done, (e) => done('ERROR ' + e));"))


def run_curl(sample: str, env: dict[str, str] | None = None) -> tuple[str, Any]:
    """Run a curl sample as shown (plus a last line with the status code)."""
    done = subprocess.run(
        ["bash", "-c", sample + " -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return status, json.loads(body)


def page_errors(driver: Any) -> list[str]:
    """Script errors and Content-Security-Policy violations logged by the page."""
    logged = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    messages = [str(e.get("message", "")) for e in logged]
    return [m for m in messages if "Failed to load resource" not in m]  # a 401 is logged too


def screenshot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / name))


def test_the_page_sends_submits_and_its_samples_run(
    serve: Any, project: Path, browser: Any
) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "1", "--async-workers", "1")
    open_page(browser, server.url)
    assert text(browser, "model-name") == "typed"
    assert text(browser, "model-version") == "version 1"
    rows = [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in browser.find_elements(By.CSS_SELECTOR, "#signature tbody tr")
    ]
    assert rows == [
        ["start", "integer ≥ 0", "required", "the first value, included"],
        ["stop", "integer", "required", "the end, excluded"],
        ["rows", "array of Row", "[]", "people whose ages are echoed back"],
        ["scale", "number", "1", ""],
    ]
    assert "{age: integer, name?: string}" in text(browser, "definitions")
    example = json.loads(browser.find_element(By.ID, "request").get_attribute("value"))
    assert example == {"data": {"start": 1, "stop": 2, "rows": [], "scale": 1}}
    send(browser)  # the example as it is: start < stop, so the range has a value
    wait_for(browser, lambda: text(browser, "status").startswith("200"), "200")
    assert response_body(browser)["result"] == {"total": 1.0, "ages": []}

    type_request(browser, '{"data": ')  # not JSON: shown, and nothing is sent
    send(browser)
    assert text(browser, "request-error").startswith("Invalid JSON: ")
    assert text(browser, "status") == ""

    type_request(browser, REQUEST)
    assert not browser.find_element(By.ID, "request-error").is_displayed()
    send(browser)
    wait_for(browser, lambda: text(browser, "status").startswith("200"), "200")
    answer = response_body(browser)
    assert answer["result"] == RESULT
    assert text(browser, "request-id") == answer["request_id"]
    assert text(browser, "time").endswith(" ms")
    screenshot(browser, "tester-page.png")

    send(browser, "submit")
    wait_for(browser, lambda: "succeeded" in text(browser, "job"), "succeeded")
    job = response_body(browser)
    assert (job["status"], job["result"]) == ("succeeded", RESULT)
    assert text(browser, "status").startswith("200")

    curl = browser.find_element(By.ID, "sample-curl-sync")
    sample = copied(browser, browser.find_element(By.CSS_SELECTOR, "#panel-curl .copy"))
    assert sample == curl.text
    assert f"'{server.url}/model'" in sample
    status, body = run_curl(sample)
    assert (status, body["result"]) == ("200", RESULT)

    # Without the asynchronous clipboard API (plain http to another host), the fallback copies.
    browser.execute_script(
        "window.realClipboard = navigator.clipboard;"
        "Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true});"
    )
    copy_async = browser.find_elements(By.CSS_SELECTOR, "#panel-curl .copy")[1]
    assert copied(browser, copy_async) == text(browser, "sample-curl-async")

    browser.find_element(By.ID, "tab-python").click()
    python = text(browser, "sample-python-sync")
    done = subprocess.run(
        [sys.executable, "-c", python], capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("200 {'result': {'total': 18.0, 'ages': [41]}")
    assert page_errors(browser) == []


def test_with_tokens_the_page_sends_the_one_typed(serve: Any, project: Path, browser: Any) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "1", "--access-tokens", "right")
    open_page(browser, server.url)  # the page itself needs no token
    assert not browser.find_elements(By.ID, "submit")
    type_request(browser, REQUEST)
    token = browser.find_element(By.ID, "token")
    token.send_keys("wrong")
    send(browser)
    wait_for(browser, lambda: text(browser, "status").startswith("401"), "401")
    assert response_body(browser)["error"]["code"] == "UNAUTHORIZED"
    token.clear()
    token.send_keys("right")
    send(browser)
    wait_for(browser, lambda: text(browser, "status").startswith("200"), "200")
    assert response_body(browser)["result"] == RESULT
    screenshot(browser, "tester-page-auth.png")
    sample = text(browser, "sample-curl-sync")
    assert "right" not in sample  # the token is read from the environment
    status, body = run_curl(sample, {"MODEL_API_TOKEN": "right"})
    assert (status, body["result"]) == ("200", RESULT)
    assert page_errors(browser) == []


def test_a_missing_example_file_stops_start_up(project: Path) -> None:
    done = run_cli(["serve", f"{project}/model.py:predict", "--example-request", "nope.json"])
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()  # one line: a JSON record (the default format)
    assert json.loads(line)["message"] == (  # the path it looked at: made absolute
        f"servekit: error: SERVEKIT_EXAMPLE_REQUEST '{Path.cwd() / 'nope.json'}' cannot be "
        "read: No such file or directory"
    )
