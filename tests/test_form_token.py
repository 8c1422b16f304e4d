"""Form tokens: issued for one service, refused with the exact reason otherwise."""

from __future__ import annotations

import pytest

from collector.form_token import FormToken, FormTokenError, FormTokenSigner, TokenProblem

SECRET = "form-token-secret-that-is-long-enough-0123456789"
SERVICE = "demo-passport"
MAX_AGE = 3600
ISSUED_AT = 1_700_000_000


def make_signer(secret: str = SECRET) -> FormTokenSigner:
    return FormTokenSigner(secret, MAX_AGE)


def issued_token() -> str:
    return make_signer().issue(SERVICE, now=ISSUED_AT)


def flip_last_character(text: str) -> str:
    return text[:-1] + ("A" if text[-1] != "A" else "B")


def test_round_trip_gives_issue_time_and_nonce() -> None:
    token = issued_token()
    issued_at, nonce, _signature = token.split(".")
    assert issued_at == str(ISSUED_AT)
    assert make_signer().verify(SERVICE, token, now=ISSUED_AT + 1) == FormToken(
        issued_at=ISSUED_AT, nonce=nonce
    )


def test_token_shape() -> None:
    issued_at, nonce, signature = issued_token().split(".")
    # 12 random bytes and a 16-byte signature, base64url without padding.
    assert (len(issued_at), len(nonce), len(signature)) == (10, 16, 22)


def test_two_issues_have_different_nonces() -> None:
    signer = make_signer()
    first = signer.verify(SERVICE, signer.issue(SERVICE, now=ISSUED_AT), now=ISSUED_AT)
    second = signer.verify(SERVICE, signer.issue(SERVICE, now=ISSUED_AT), now=ISSUED_AT)
    assert first.issued_at == second.issued_at
    assert first.nonce != second.nonce


def test_fractional_issue_time_is_truncated() -> None:
    token = make_signer().issue(SERVICE, now=ISSUED_AT + 0.99)
    assert make_signer().verify(SERVICE, token, now=ISSUED_AT).issued_at == ISSUED_AT


@pytest.mark.parametrize(
    ("now", "max_age"),
    [
        pytest.param(ISSUED_AT, MAX_AGE, id="at-issue"),
        pytest.param(ISSUED_AT + MAX_AGE - 1, MAX_AGE, id="one-second-inside-max-age"),
        pytest.param(ISSUED_AT + MAX_AGE, MAX_AGE, id="exactly-max-age"),
        pytest.param(ISSUED_AT - 60, MAX_AGE, id="issued-60s-in-the-future"),
        pytest.param(ISSUED_AT + 60, 60, id="shortest-max-age"),
    ],
)
def test_accepted_within_the_time_window(now: float, max_age: int) -> None:
    signer = FormTokenSigner(SECRET, max_age)
    token = signer.issue(SERVICE, now=ISSUED_AT)
    assert signer.verify(SERVICE, token, now=now).issued_at == ISSUED_AT


# One valid token, issued at import; the refused ones below are made from its parts.
TOKEN = issued_token()
TIME, NONCE, SIGNATURE = TOKEN.split(".")
OTHER_SECRET_TOKEN = make_signer(SECRET + "x").issue(SERVICE, now=ISSUED_AT)


@pytest.mark.parametrize(
    ("token", "service", "now", "problem"),
    [
        pytest.param("", SERVICE, ISSUED_AT, TokenProblem.MALFORMED, id="empty"),
        pytest.param(f"{TIME}.{NONCE}", SERVICE, ISSUED_AT, TokenProblem.MALFORMED, id="two-parts"),
        pytest.param(f"{TOKEN}.x", SERVICE, ISSUED_AT, TokenProblem.MALFORMED, id="four-parts"),
        pytest.param(
            f"17000000x0.{NONCE}.{SIGNATURE}",
            SERVICE,
            ISSUED_AT,
            TokenProblem.MALFORMED,
            id="non-digit-time",
        ),
        pytest.param(f"-{TOKEN}", SERVICE, ISSUED_AT, TokenProblem.MALFORMED, id="negative-time"),
        pytest.param(
            f".{NONCE}.{SIGNATURE}", SERVICE, ISSUED_AT, TokenProblem.MALFORMED, id="empty-time"
        ),
        pytest.param(
            f"{'1' * 13}.{NONCE}.{SIGNATURE}",
            SERVICE,
            ISSUED_AT,
            TokenProblem.MALFORMED,
            id="overlong-time",
        ),
        pytest.param(
            f"\u00b2.{NONCE}.{SIGNATURE}",
            SERVICE,
            ISSUED_AT,
            TokenProblem.MALFORMED,
            id="superscript-digit-time",
        ),
        pytest.param(f"0{TOKEN}", SERVICE, ISSUED_AT, TokenProblem.MALFORMED, id="leading-zero"),
        pytest.param(
            f"{TIME.translate(str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩'))}.{NONCE}.{SIGNATURE}",
            SERVICE,
            ISSUED_AT,
            TokenProblem.MALFORMED,
            id="arabic-indic-digits",
        ),
        pytest.param(TOKEN, "demo-tax", ISSUED_AT, TokenProblem.BAD_SIGNATURE, id="other-service"),
        pytest.param(
            OTHER_SECRET_TOKEN, SERVICE, ISSUED_AT, TokenProblem.BAD_SIGNATURE, id="other-secret"
        ),
        pytest.param(
            f"{TIME}.{NONCE}.{flip_last_character(SIGNATURE)}",
            SERVICE,
            ISSUED_AT,
            TokenProblem.BAD_SIGNATURE,
            id="flipped-signature-char",
        ),
        pytest.param(
            f"{TIME}.{NONCE}.", SERVICE, ISSUED_AT, TokenProblem.BAD_SIGNATURE, id="empty-signature"
        ),
        pytest.param(
            f"{TIME}.{flip_last_character(NONCE)}.{SIGNATURE}",
            SERVICE,
            ISSUED_AT,
            TokenProblem.BAD_SIGNATURE,
            id="changed-nonce",
        ),
        pytest.param(
            f"{ISSUED_AT + 1}.{NONCE}.{SIGNATURE}",
            SERVICE,
            ISSUED_AT,
            TokenProblem.BAD_SIGNATURE,
            id="changed-time",
        ),
        pytest.param(
            f"{TIME}.{NONCE}." + "\u00e9" * 22,
            SERVICE,
            ISSUED_AT,
            TokenProblem.MALFORMED,
            id="non-ascii-signature",
        ),
        pytest.param(
            TOKEN,
            SERVICE,
            ISSUED_AT + MAX_AGE + 1,
            TokenProblem.EXPIRED,
            id="one-second-past-max-age",
        ),
        pytest.param(
            TOKEN, SERVICE, ISSUED_AT + MAX_AGE + 0.5, TokenProblem.EXPIRED, id="half-second-past"
        ),
        pytest.param(TOKEN, SERVICE, ISSUED_AT + 86400, TokenProblem.EXPIRED, id="a-day-old"),
        pytest.param(
            TOKEN, SERVICE, ISSUED_AT - 60.5, TokenProblem.EXPIRED, id="60.5s-in-the-future"
        ),
        pytest.param(TOKEN, SERVICE, ISSUED_AT - 61, TokenProblem.EXPIRED, id="61s-in-the-future"),
        pytest.param(
            TOKEN, SERVICE, ISSUED_AT - 3600, TokenProblem.EXPIRED, id="an-hour-in-the-future"
        ),
    ],
)
def test_refused_tokens(token: str, service: str, now: float, problem: TokenProblem) -> None:
    with pytest.raises(FormTokenError) as caught:
        make_signer().verify(service, token, now=now)
    assert caught.value.problem is problem
    assert str(caught.value) == problem.value
