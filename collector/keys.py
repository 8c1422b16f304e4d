"""Redis key names. Every key shares one hash tag, so that the submit script's keys
live in one Redis Cluster slot and the hot path stays a single round trip (and so that
RENAME works between the impression keys)."""

from __future__ import annotations

_TAG = "{ratings}"

STREAM = f"cf:{_TAG}:stream"
DEAD_LETTERS = f"cf:{_TAG}:dead"
FLUSHER_GROUP = "flushers"
# Counters behind /metrics (collector/metrics.py): refusals per reason since the start,
# and the flushers' batch figures.
REJECTIONS_TOTAL = f"cf:{_TAG}:rejections:total"
FLUSH_METRICS = f"cf:{_TAG}:metrics:flush"
# Widget views: workers add to this hash ("service|quarter_start" -> views); the
# impression flusher renames it to a pending batch, listed in the set below until stored.
IMPRESSIONS = f"cf:{_TAG}:impressions"
IMPRESSION_BATCHES = f"cf:{_TAG}:impressions:pending"


def form_nonce(service: str, nonce: str) -> str:
    return f"cf:{_TAG}:nonce:{service}:{nonce}"


def transaction(service: str, reference: str) -> str:
    """Marks a portal transaction as rated (one rating per transaction)."""
    return f"cf:{_TAG}:txn:{service}:{reference}"


def client_rate(service: str, client_hash: str) -> str:
    """One client's rate limit on one service (the GCRA's arrival time)."""
    return f"cf:{_TAG}:rate:{service}:{client_hash}"


def service_rate(service: str) -> str:
    """A service's rate limit over all its clients."""
    return f"cf:{_TAG}:service-rate:{service}"


def rejections(service: str, day: str) -> str:
    return f"cf:{_TAG}:rejections:{service}:{day}"


def client_salt(day: str) -> str:
    return f"cf:{_TAG}:salt:{day}"


def impression_batch(batch_id: str) -> str:
    """The views of one batch, from the rename until storage has them."""
    return f"cf:{_TAG}:impressions:batch:{batch_id}"


def dashboard_link(token_id: str) -> str:
    """Marks a dashboard sign-in link as used (it works once). No hash tag: it is
    never used with the stream's keys."""
    return f"cf:dashboard-link:{token_id}"


def dashboard_session_ended(token_id: str) -> str:
    """Marks a dashboard session as signed out before its token expires."""
    return f"cf:dashboard-session-ended:{token_id}"
