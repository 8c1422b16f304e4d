"""Schemathesis against a real `collector serve`: every operation of the OpenAPI
document at /schema/openapi.json, with valid and invalid inputs, in all its phases
(examples, coverage, fuzzing, stateful), with every built-in check: no server error,
documented status codes, content types, headers and bodies, invalid input refused,
authentication enforced, Allow headers. A few checks are switched off for named
operations below, each with the reason.

It runs Schemathesis's own command line: its pytest loader for a schema that only
exists once a fixture has started the server does not work with our pytest (9.2)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ServeProcess
from tests.helpers import run_cli

# Enough to find what we fixed when it was broken, in seconds on two cores.
EXAMPLES_PER_OPERATION = 30
SEED = 20261123  # a failure seen in CI can be replayed with the same seed

# Checks that cannot hold for an operation, by check, with the reason.
EXCLUDED: dict[str, tuple[str, list[str]]] = {
    "positive_data_acceptance": (
        # These validate beyond what JSON Schema can say: real calendar days within
        # 1970-2999 and from <= to, dimension names, opaque signed cursors, IANA time
        # zones, PEM keys, and unknown JSON fields refused (msgspec forbid_unknown_fields,
        # which Litestar's document does not show as additionalProperties: false). A
        # schema-valid request may rightly get a 400 naming the field.
        "semantic validation",
        [
            "/api/v1/services/{service}/summary",
            "/api/v1/services/{service}/timeseries",
            "/api/v1/services/{service}/breakdown/{dimension}",
            "/api/v1/services/{service}/problems",
            "/api/v1/rankings/services",
            "/api/v1/rankings/agencies",
            "/api/v1/comments",
            "/api/v1/exports/ratings",
            "/api/v1/admin/tenants/{tenant}",
            "/api/v1/admin/services/{slug}",
            "/api/v1/admin/keys",
            "/api/v1/admin/rejections",
            "/api/v1/admin/services/{slug}/transactions/{reference}",
            "/open/{service}",
        ],
    ),
    "content_type_conformance": (
        # One URL, several formats (CSV or NDJSON by ?format=; HTML, JSON or CSV by
        # suffix and Accept); Litestar documents one media type per status.
        "content negotiation",
        ["/api/v1/exports/ratings", "/open/{service}"],
    ),
    "response_schema_conformance": (
        # Litestar documents tuple[QuestionId, ...] as items: oneOf [enum, {}], which
        # every valid question id matches twice; the body is right, the schema wrong.
        "Litestar's schema for variadic tuples",
        ["/api/v1/admin/services", "/api/v1/admin/services/{slug}"],
    ),
    "negative_data_rejection": (
        # Litestar converts JSON bodies in msgspec's lax mode, so 0 and 1 pass for
        # false and true; what is stored is still a boolean.
        "Litestar's lax body conversion",
        [
            "PUT /api/v1/admin/services/{slug}",
            "PUT /api/v1/admin/tenants/{tenant}",
            "POST /api/v1/admin/keys",
        ],
    ),
    "allow_header_conformance": (
        # Litestar's automatic OPTIONS answer on a path served by two handlers (GET and
        # POST, GET and PUT) lists the first handler's methods only.
        "Litestar's OPTIONS on merged routes",
        ["/api/v1/admin/keys", "/api/v1/admin/services/{slug}"],
    ),
}


def config(admin: str, platform: str) -> str:
    """schemathesis.toml: the admin token everywhere, the platform token where only it
    may act, and the exclusions above, each for its paths only."""
    lines = [
        # Every check is on unless named below (no --checks on the command line: it
        # would outrank the per-operation settings).
        "checks.enabled = true",
        f"generation.max-examples = {EXAMPLES_PER_OPERATION}",
        f"headers = {{ Authorization = {json.dumps('Bearer ' + admin)} }}",
        "[[operations]]",
        'include-path = "/api/v1/admin/tenants/{tenant}"',
        f"headers = {{ Authorization = {json.dumps('Bearer ' + platform)} }}",
    ]
    for check, (_, operations) in EXCLUDED.items():
        for operation in operations:
            method, _, path = operation.rpartition(" ")
            lines += ["[[operations]]", f"include-path = {json.dumps(path)}"]
            if method:
                lines.append(f"include-method = {json.dumps(method)}")
            lines.append(f"checks.{check}.enabled = false")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path_factory.mktemp("fuzz") / "data")
    process.start()
    yield process
    process.terminate()


def token(collector: ServeProcess, role: str) -> str:
    result = run_cli(collector.data_dir, "token", "--role", role)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_api_keeps_to_its_schema(collector: ServeProcess, tmp_path: Path) -> None:
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config(token(collector, "admin"), token(collector, "platform")))
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(config_file),
            "run",
            f"{collector.url}/schema/openapi.json",
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--no-color",
        ],
        cwd=tmp_path,  # nothing written into the work tree
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    assert "Tested: 2" in result.stdout, summary  # the operations were found: 20 or more
    assert "server error" not in result.stdout.lower(), summary
