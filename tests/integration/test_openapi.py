"""/openapi.json on a real server: valid OpenAPI 3.1, and a schema-driven fuzzer
(schemathesis) finds no 500 and no answer that contradicts the document."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from tests import onnx_models
from tests.conftest import EXAMPLES, http, post_json, write_project

pytestmark = pytest.mark.integration

MODEL = """
    from dataclasses import dataclass
    from typing import Annotated, Literal

    from servekit import Length, Range


    @dataclass
    class Item:
        name: Annotated[str, Length(max=20)]
        qty: Annotated[int, Range(ge=0, le=1000)] = 1


    def predict(
        items: Annotated[list[Item], Length(max=10)],
        discount: Annotated[float, Range(ge=0, le=1)] = 0.0,
        currency: Literal["EUR", "USD"] = "EUR",
    ) -> dict:
        \"\"\"Price a basket.

        Args:
            items: what is bought.
            discount: a fraction off.
        \"\"\"
        total = sum(i.qty for i in items) * (1 - discount)
        return {"total": total, "currency": currency, "lines": len(items)}
"""

# Checks that hold exactly. positive_data_acceptance is left out, for two reasons the
# schema cannot express: JSON Schema counts 178.0 as an integer while the binder is
# type-strict (an `int` takes JSON integers only), and Seldon's routes take any
# SeldonMessage while a given function accepts only some ndarrays.
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "ignored_auth",
    ]
)


@pytest.fixture
def server(serve, tmp_path: Path):
    project = write_project(tmp_path / "basket", {"model.py": MODEL})
    return serve(
        f"{project}/model.py:predict",
        "--processes",
        "2",
        "--async-workers",
        "1",
        "--metrics-dir",
        str(tmp_path / "run"),
        env={"SERVEKIT_ACCESS_TOKENS": "t0ken"},
    )


def test_the_document_is_valid_openapi_3_1(server) -> None:
    document = http("GET", f"{server.url}/openapi.json").body
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"]["description"].startswith("Price a basket.")
    data = document["components"]["schemas"]["Data"]
    assert data["required"] == ["items"]
    assert data["properties"]["discount"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "a fraction off.",
        "default": 0.0,
    }
    item = document["components"]["schemas"]["Item"]
    assert item["properties"]["qty"]["maximum"] == 1000
    for path in ("/model", "/async", "/async/{job_id}", "/api/v1.0/predictions", "/readyz"):
        assert path in document["paths"], path
    post = document["paths"]["/model"]["post"]
    assert post["security"] == [{"bearer": []}, {"basic": []}]
    assert {"400", "401", "413", "415", "422", "500", "503", "504"} <= set(post["responses"])
    assert set(document["components"]["securitySchemes"]) == {"bearer", "basic"}


# A body over the async limit is refused with 413 before it is read: a right answer to
# schema-violating data too, which schemathesis does not count among rejections by default.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "5xx"]
"""


def test_a_schema_driven_fuzzer_finds_nothing(server, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--seed",
            "7",
            "--header",
            "Authorization: Bearer t0ken",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    selected = re.search(r"Selected: (\d+)/(\d+)", done.stdout)
    tested = re.search(r"Tested: (\d+)", done.stdout)
    assert selected is not None, report
    assert tested is not None, report
    assert selected.group(1) == selected.group(2) == tested.group(1), "every operation ran"


def test_onnx_inputs_and_r_formals_are_described(serve, tmp_path: Path) -> None:
    model = onnx_models.adder(tmp_path / "adder.onnx")
    onnx_server = serve(str(model), "--processes", "1")
    data = http("GET", f"{onnx_server.url}/openapi.json").body["components"]["schemas"]["Data"]
    validate(http("GET", f"{onnx_server.url}/openapi.json").body)
    a = data["properties"]["a"]
    assert a["minItems"] == 1, "a dynamic dimension needs one row at least"
    assert a["items"]["minItems"] == a["items"]["maxItems"] == 3
    leaf = a["items"]["items"]
    assert leaf["type"] == "number"
    assert leaf["maximum"] == pytest.approx(3.4028234663852886e38)
    assert data["required"] == ["a", "b"]
    r_server = serve(str(EXAMPLES / "r_score" / "model.R") + ":predict", "--processes", "1")
    r_data = http("GET", f"{r_server.url}/openapi.json").body["components"]["schemas"]["Data"]
    assert r_data["properties"]["threshold"] == {"type": "number", "default": 0.5}
    assert r_data["required"] == ["tenure_months", "monthly_spend"]
    refused = post_json(
        f"{r_server.url}/model",
        {"data": {"tenure_months": 3, "monthly_spend": 9, "threshold": "x"}},
    )
    assert refused.status == 422, "an R default's type is enforced"
