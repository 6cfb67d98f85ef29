"""Domino's published example client for asynchronous Model APIs, as a function.

It follows the documented example step by step (``requests``, Bearer token,
``{"parameters": ...}``): submit, retrying 5xx answers with a doubling delay (1 s up to
60 s); poll the same way while the status is ``queued``; then log the ``result`` of a
``succeeded`` job or the ``errors`` of a ``failed`` one, and raise on any other status.
Only the base URL and the token differ from what a Domino user runs, as the issue asks.
``max_wait`` bounds the loops here (the published example has no bound).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests

SUCCEEDED_STATUS = "succeeded"
FAILED_STATUS = "failed"
QUEUED_STATUS = "queued"
PENDING_STATUSES = [QUEUED_STATUS]
MAX_RETRY_DELAY_SEC = 60

log = logging.getLogger("domino-example-client")


def run(base_url: str, model_id: str, token: str, parameters: Any, max_wait: float = 60) -> Any:
    """Submit ``parameters``, poll to the end; the final status response's JSON."""
    model_base_url = f"{base_url}/api/modelApis/async/v1/{model_id}"
    headers = {"Authorization": f"Bearer {token}"}
    give_up = time.monotonic() + max_wait

    create_response = None
    retry_delay_sec = 0
    while create_response is None or (500 <= create_response.status_code < 600):
        assert time.monotonic() < give_up, "submission did not succeed in time"
        if retry_delay_sec > 0:
            time.sleep(retry_delay_sec)
        retry_delay_sec = min(max(retry_delay_sec * 2, 1), MAX_RETRY_DELAY_SEC)
        create_response = requests.post(
            model_base_url, headers=headers, json={"parameters": parameters}, timeout=10
        )
    if create_response.status_code != 200:
        raise Exception(f"create prediction request failed, response: {create_response}")
    prediction_id = create_response.json()["asyncPredictionId"]
    log.info("prediction id: %s", prediction_id)

    status_response = None
    retry_delay_sec = 0
    while (
        status_response is None
        or (500 <= status_response.status_code < 600)
        or (
            status_response.status_code == 200
            and status_response.json()["status"] in PENDING_STATUSES
        )
    ):
        assert time.monotonic() < give_up, "the prediction did not finish in time"
        if retry_delay_sec > 0:
            time.sleep(retry_delay_sec)
        retry_delay_sec = min(max(retry_delay_sec * 2, 1), MAX_RETRY_DELAY_SEC)
        status_response = requests.get(
            f"{model_base_url}/{prediction_id}", headers=headers, timeout=10
        )
    if status_response.status_code != 200:
        raise Exception(f"prediction status request failed, response: {status_response}")
    status = status_response.json()["status"]
    if status == SUCCEEDED_STATUS:
        log.info("result: %s", status_response.json()["result"])
    elif status == FAILED_STATUS:
        log.error("errors: %s", status_response.json()["errors"])
    else:
        raise Exception(f"unexpected terminal prediction response status: {status}")
    return status_response.json()
