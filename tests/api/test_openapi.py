"""The OpenAPI description is complete, and `docs/api.md` lists every route it describes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import dthub
from dthub.api import create_app
from dthub.hub.settings import Settings

DOCS = Path(__file__).parents[2] / "docs" / "api.md"
METHODS = {"get", "put", "post", "delete", "patch"}
ROUTE_ROW = re.compile(r"^\|\s*(GET|PUT|POST|DELETE|PATCH)\s*\|\s*`([^`]+)`\s*\|.*\|\s*([\d, ]+)\s*\|\s*$")
API_ERROR = {"$ref": "#/components/schemas/ApiError"}

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture
def openapi(settings: Settings) -> dict[str, Any]:
    with TestClient(create_app(settings)) as client:
        description: dict[str, Any] = client.get("/openapi.json").json()
    return description


def operations(openapi: dict[str, Any]) -> list[Operation]:
    return [
        (method.upper(), path, operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def codes_it_can_return(path: str, operation: dict[str, Any]) -> set[str]:
    """200; 422 when it takes parameters; 404 when a path parameter names a thing; 503 for health."""
    parameters = operation.get("parameters", [])
    codes = {"200"}
    if parameters:
        codes.add("422")
    if any(parameter["in"] == "path" for parameter in parameters):
        codes.add("404")
    if path == "/healthz":
        codes.add("503")
    return codes


def test_every_operation_documents_each_status_code_it_can_return(openapi: dict[str, Any]) -> None:
    undocumented = {
        f"{method} {path}": sorted(codes_it_can_return(path, operation) - set(operation["responses"]))
        for method, path, operation in operations(openapi)
    }

    assert {route: codes for route, codes in undocumented.items() if codes} == {}


def test_every_refusal_documents_the_api_error_body(openapi: dict[str, Any]) -> None:
    other_bodies = [
        f"{method} {path} {code}"
        for method, path, operation in operations(openapi)
        for code, response in operation["responses"].items()
        if code.startswith("4")
        and response.get("content", {}).get("application/json", {}).get("schema") != API_ERROR
    ]

    assert other_bodies == []


def test_every_operation_has_a_summary_and_a_description(openapi: dict[str, Any]) -> None:
    bare = [
        f"{method} {path}"
        for method, path, operation in operations(openapi)
        if not operation.get("summary") or not operation.get("description")
    ]

    assert bare == []


def test_docs_route_table_lists_every_route_with_its_status_codes(openapi: dict[str, Any]) -> None:
    documented = {
        f"{match[1]} {match[2]}": sorted(code.strip() for code in match[3].split(","))
        for match in map(ROUTE_ROW.match, DOCS.read_text().splitlines())
        if match
    }

    assert documented == {
        f"{method} {path}": sorted(operation["responses"]) for method, path, operation in operations(openapi)
    }


def test_app_is_dthub_at_its_version_described_in_chinese_and_english(openapi: dict[str, Any]) -> None:
    info = openapi["info"]

    assert (info["title"], info["version"]) == ("dthub", dthub.__version__)
    assert re.search(r"[\u4e00-\u9fff]", info["description"])
    assert "catalog" in info["description"]
