"""`collector key add|rotate|revoke|list`, run as a person would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import run_cli
from tests.portal_tokens import ED25519_PRIVATE, RSA_PRIVATE, public_pem


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert run_cli(tmp_path, "tenant", "add", "city-hall", "--name", "City hall").returncode == 0
    return tmp_path


def fields(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(kid|algorithm|tenant|secret): (.+)$", output, re.MULTILINE))


def test_add_prints_the_secret_once_and_list_never(data_dir: Path) -> None:
    added = run_cli(data_dir, "key", "add", "city-hall")
    assert added.returncode == 0, added.stderr
    key = fields(added.stdout)
    assert key["algorithm"] == "HS256"
    assert re.fullmatch(r"city-hall-\d{8}-[0-9a-f]{6}", key["kid"])
    assert len(key["secret"]) == 43
    listed = run_cli(data_dir, "key", "list").stdout
    assert key["kid"] in listed
    assert "active" in listed
    assert key["secret"] not in listed


def test_rotate_keeps_the_old_key_until_it_is_revoked(data_dir: Path, tmp_path: Path) -> None:
    pem = tmp_path / "portal.pub.pem"
    pem.write_text(public_pem(ED25519_PRIVATE))
    first = run_cli(
        data_dir, "key", "add", "city-hall", "--algorithm", "EdDSA", "--public-key", str(pem)
    )
    assert first.returncode == 0, first.stderr
    old = fields(first.stdout)["kid"]
    assert "secret" not in fields(first.stdout)
    rotated = run_cli(
        data_dir, "key", "rotate", "city-hall", "--public-key", str(pem), "--kid", "ed-2"
    )
    assert rotated.returncode == 0, rotated.stderr
    assert fields(rotated.stdout)["algorithm"] == "EdDSA"  # the newest key's
    assert f"Still accepted: {old}" in rotated.stdout
    assert "collector key revoke city-hall KID" in rotated.stdout
    revoked = run_cli(data_dir, "key", "revoke", "city-hall", old)
    assert revoked.stdout == f"key {old} of city-hall revoked\n"
    states = {
        line.split("\t")[0]: line.split("\t")[-1]
        for line in run_cli(data_dir, "key", "list", "--tenant", "city-hall").stdout.splitlines()
    }
    assert states["ed-2"] == "active"
    assert states[old].startswith("revoked ")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("key", "add", "nobody"), "no tenant 'nobody'"),
        (("key", "rotate", "city-hall"), "no active key to rotate"),
        (("key", "add", "city-hall", "--algorithm", "EdDSA"), "needs the portal's public key"),
        (
            ("key", "add", "city-hall", "--algorithm", "RS256", "--public-key", "/nonexistent"),
            "cannot read",
        ),
        (("key", "add", "city-hall", "--kid", "bad kid"), "kid 'bad kid'"),
        (("key", "revoke", "city-hall", "nope"), "no key 'nope' in tenant 'city-hall'"),
    ],
)
def test_problems_are_said_plainly(
    data_dir: Path, arguments: tuple[str, ...], message: str
) -> None:
    result = run_cli(data_dir, *arguments)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_small_rsa_key_is_refused(data_dir: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.pem"
    small.write_text(public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))  # noqa: S505 (the point)
    result = run_cli(
        data_dir, "key", "add", "city-hall", "--algorithm", "RS256", "--public-key", str(small)
    )
    assert result.returncode == 2
    assert "at least 2048" in result.stderr
    good = tmp_path / "good.pem"
    good.write_text(public_pem(RSA_PRIVATE))
    result = run_cli(
        data_dir, "key", "add", "city-hall", "--algorithm", "RS256", "--public-key", str(good)
    )
    assert result.returncode == 0, result.stderr


def test_a_kid_is_per_tenant_and_another_tenants_is_not_revealed(data_dir: Path) -> None:
    assert run_cli(data_dir, "tenant", "add", "tax", "--name", "Tax office").returncode == 0
    assert run_cli(data_dir, "key", "add", "tax", "--kid", "portal-1").returncode == 0
    # tax uses portal-1: city-hall may too, and is told nothing of it.
    mine = run_cli(data_dir, "key", "add", "city-hall", "--kid", "portal-1")
    assert mine.returncode == 0, mine.stderr
    again = run_cli(data_dir, "key", "add", "city-hall", "--kid", "portal-1")
    assert again.returncode == 2
    assert "tenant 'city-hall' has a key 'portal-1' already" in again.stderr
    assert "tax" not in again.stderr
    assert run_cli(data_dir, "key", "revoke", "tax", "portal-1").returncode == 0
    states = [line.split("\t") for line in run_cli(data_dir, "key", "list").stdout.splitlines()]
    assert {(row[1], row[-1].split(" ")[0]) for row in states} == {
        ("tax", "revoked"),
        ("city-hall", "active"),
    }


def test_keys_are_not_added_with_a_secret_that_cannot_open_the_stored_ones(
    data_dir: Path,
) -> None:
    """A key sealed with another secret than the collectors' would be useless."""
    assert run_cli(data_dir, "key", "add", "city-hall").returncode == 0
    (data_dir / "secret.key").write_text("another-secret-than-the-one-that-sealed-the-key\n")
    refused = run_cli(data_dir, "key", "add", "city-hall")
    assert refused.returncode == 2
    assert "COLLECTOR_SECRET does not open the stored secrets of 1 active key(s)" in (
        refused.stderr
    )
