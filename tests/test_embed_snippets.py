"""The token-signing examples in embed-snippets/, run as a portal would run them.

Each example signs with the shared test vectors through the same environment variables,
and the collector's own verifier must accept the printed token with every claim intact.
Python and Node always run; Java, Go, PHP and .NET run where their toolchain is installed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from collector.services import DEMO_SERVICE
from collector.signing_keys import KeyRing, SigningKey
from collector.transaction_token import (
    AUDIENCE,
    TokenRefusal,
    TransactionClaims,
    TransactionTokenError,
    TransactionTokenVerifier,
)

SNIPPETS = Path(__file__).resolve().parent.parent / "embed-snippets"
VECTORS: dict[str, Any] = json.loads((SNIPPETS / "test-vectors.json").read_text())
CLAIMS: dict[str, Any] = VECTORS["claims"]
LIFETIME: int = VECTORS["lifetime_seconds"]
OTHER_LIFETIME = 7200  # the second run's, so an example that ignores CF_LIFETIME fails
TIMEOUT_SECONDS = 300  # the first `go run` or `dotnet run` compiles


@dataclass(frozen=True)
class Example:
    language: str
    directory: str  # under embed-snippets/; the command runs there
    command: tuple[str, ...]
    eddsa: bool  # signs EdDSA too (the language's standard library has Ed25519)
    copy: bool = False  # run in a copy: `dotnet run` writes bin/ and obj/ beside the project


EXAMPLES = (
    Example("python", "python", (sys.executable, "sign_rating_token.py"), eddsa=True),
    Example("node", "node", ("node", "sign-rating-token.mjs"), eddsa=True),
    Example("java", "java", ("java", "SignRatingToken.java"), eddsa=True),
    Example("go", "go", ("go", "run", "."), eddsa=True),
    Example("php", "php", ("php", "sign_rating_token.php"), eddsa=True),
    Example("csharp", "csharp", ("dotnet", "run", "--verbosity", "quiet"), eddsa=False, copy=True),
)
# Not installed on every machine: these skip there. Python and Node never skip.
OPTIONAL_TOOLCHAINS = {"go", "php", "dotnet"}


def _cases() -> list[Any]:
    cases = []
    for example in EXAMPLES:
        tool = example.command[0]
        marks = []
        if tool in OPTIONAL_TOOLCHAINS:
            marks.append(
                pytest.mark.skipif(
                    shutil.which(tool) is None, reason=f"{tool} toolchain not installed"
                )
            )
        for algorithm in ("HS256", "EdDSA") if example.eddsa else ("HS256",):
            cases.append(
                pytest.param(example, algorithm, marks=marks, id=f"{example.language}-{algorithm}")
            )
    return cases


def _key_ring() -> KeyRing:
    return KeyRing(
        [
            SigningKey(
                kid=VECTORS["hs256"]["kid"],
                tenant_id=DEMO_SERVICE.tenant_id,
                algorithm="HS256",
                material=VECTORS["hs256"]["secret"],
                created_at=0,
            ),
            SigningKey(
                kid=VECTORS["eddsa"]["kid"],
                tenant_id=DEMO_SERVICE.tenant_id,
                algorithm="EdDSA",
                material=VECTORS["eddsa"]["public_key_pem"],
                created_at=0,
            ),
        ]
    )


def _sign(example: Example, algorithm: str, lifetime: int, tmp_path: Path) -> str:
    """Run the example with the vectors; the one line it prints."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CF_")}
    env.update(
        CF_KID=VECTORS["hs256" if algorithm == "HS256" else "eddsa"]["kid"],
        CF_TENANT=CLAIMS["iss"],
        CF_SERVICE=CLAIMS["svc"],
        CF_TXN=CLAIMS["txn"],
        CF_OFFICE=CLAIMS["office"],
        CF_OPERATOR=CLAIMS["operator"],
        CF_CASE_OPENED_AT=str(CLAIMS["case_opened_at"]),
        CF_CASE_ANSWERED_AT=str(CLAIMS["case_answered_at"]),
        CF_LIFETIME=str(lifetime),
        DOTNET_NOLOGO="1",
        DOTNET_CLI_TELEMETRY_OPTOUT="1",
    )
    if algorithm == "HS256":
        env["CF_SECRET"] = VECTORS["hs256"]["secret"]
    else:
        key_file = tmp_path / "portal.pem"
        key_file.write_text(VECTORS["eddsa"]["private_key_pem"])
        env["CF_PRIVATE_KEY_FILE"] = str(key_file)
    directory = SNIPPETS / example.directory
    if example.copy:
        directory = Path(
            shutil.copytree(directory, tmp_path / example.directory, dirs_exist_ok=True)
        )
    result = subprocess.run(
        example.command,
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"{example.language} failed:\n{result.stdout}{result.stderr}"
    lines = result.stdout.splitlines()
    assert len(lines) == 1, f"{example.language} printed {result.stdout!r}, not one line"
    return lines[0]


def _check_encoding(token: str, algorithm: str, kid: str) -> None:
    """Three base64url parts without padding; compact JSON; the header we document."""
    parts = token.split(".")
    assert len(parts) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", part) for part in parts), token
    for part in parts[:2]:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        # No value in the vectors holds white space, so compact JSON holds none at all.
        assert not re.search(rb"\s", raw), raw
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "kid": kid, "typ": "JWT"}


def _check_claims(claims: TransactionClaims, lifetime: int) -> None:
    assert claims.iss == CLAIMS["iss"] == DEMO_SERVICE.tenant_id
    assert claims.aud == AUDIENCE == VECTORS["audience"]
    assert claims.svc == CLAIMS["svc"] == DEMO_SERVICE.slug
    assert claims.txn == CLAIMS["txn"]
    assert claims.office == CLAIMS["office"]
    assert claims.operator == CLAIMS["operator"]
    assert claims.case_opened_at == CLAIMS["case_opened_at"]
    assert claims.case_answered_at == CLAIMS["case_answered_at"]
    assert claims.answer_seconds() == CLAIMS["case_answered_at"] - CLAIMS["case_opened_at"]
    assert claims.exp - claims.iat == lifetime
    assert abs(claims.iat - time.time()) < TIMEOUT_SECONDS
    assert claims.jti
    assert claims.nbf is None
    assert claims.channel is None


@pytest.mark.parametrize(("example", "algorithm"), _cases())
def test_example_signs_a_token_the_collector_accepts(
    example: Example, algorithm: str, tmp_path: Path
) -> None:
    verifier = TransactionTokenVerifier(_key_ring())
    kid = VECTORS["hs256" if algorithm == "HS256" else "eddsa"]["kid"]
    jtis = []
    for lifetime in (LIFETIME, OTHER_LIFETIME):
        token = _sign(example, algorithm, lifetime, tmp_path)
        _check_encoding(token, algorithm, kid)
        claims = verifier.verify(token, DEMO_SERVICE)
        _check_claims(claims, lifetime)
        jtis.append(claims.jti)
    assert jtis[0] != jtis[1], "jti must be random, not repeated"


def test_a_token_with_a_changed_signature_is_refused(tmp_path: Path) -> None:
    token = _sign(EXAMPLES[0], "HS256", LIFETIME, tmp_path)
    verifier = TransactionTokenVerifier(_key_ring())
    verifier.verify(token, DEMO_SERVICE)  # the untouched token passes
    signed, signature = token.rsplit(".", 1)
    # The first character: all six of its bits are signature bits (the last one's may not be).
    changed = ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(TransactionTokenError) as refused:
        verifier.verify(f"{signed}.{changed}", DEMO_SERVICE)
    assert refused.value.refusal is TokenRefusal.BAD_SIGNATURE
