"""Redis key names, grouped by hash tag so that every multi-key operation stays in one
Redis Cluster slot.

Ratings are sharded (REDIS_SHARDS): shard i has its own stream, dead letters, flush
metrics, and the nonce, transaction and rate-limit keys of the ratings it takes, all
under the hash tag `{ratings-i}`, so the submit script and the flusher's acknowledgement
each touch one slot. Shard 0 keeps the tag `{ratings}` of the unsharded layout, so one
shard is exactly the old key layout. The other keys (impressions, rejections, salts)
keep `{ratings}` too: RENAME works between the impression keys, and one script
adds views and counts refused ones.
"""

from __future__ import annotations

_TAG = "{ratings}"


def shard_tag(shard: int) -> str:
    return _TAG if shard == 0 else f"{{ratings-{shard}}}"


def stream(shard: int = 0) -> str:
    return f"cf:{shard_tag(shard)}:stream"


def dead_letters(shard: int = 0) -> str:
    return f"cf:{shard_tag(shard)}:dead"


def flush_metrics(shard: int = 0) -> str:
    """The flushers' batch figures of one shard (summed by collector/metrics.py)."""
    return f"cf:{shard_tag(shard)}:metrics:flush"


# Shard 0's keys: the whole buffer when REDIS_SHARDS is 1.
STREAM = stream(0)
DEAD_LETTERS = dead_letters(0)
FLUSH_METRICS = flush_metrics(0)
FLUSHER_GROUP = "flushers"
# Refusals per reason since the start, behind /metrics (collector/metrics.py).
REJECTIONS_TOTAL = f"cf:{_TAG}:rejections:total"
# Widget views: workers add to this hash ("service|quarter_start" -> views); the
# impression flusher renames it to a pending batch, listed in the set below until stored.
IMPRESSIONS = f"cf:{_TAG}:impressions"
IMPRESSION_BATCHES = f"cf:{_TAG}:impressions:pending"


def form_nonce(service: str, nonce: str, shard: int = 0) -> str:
    return f"cf:{shard_tag(shard)}:nonce:{service}:{nonce}"


def transaction(service: str, reference: str, shard: int = 0) -> str:
    """Marks a portal transaction as rated (one rating per transaction)."""
    return f"cf:{shard_tag(shard)}:txn:{service}:{reference}"


def client_rate(service: str, client_hash: str, shard: int = 0) -> str:
    """One client's rate limit on one service (the GCRA's arrival time), per shard."""
    return f"cf:{shard_tag(shard)}:rate:{service}:{client_hash}"


def service_rate(service: str, shard: int = 0) -> str:
    """A service's rate limit over all its clients, per shard."""
    return f"cf:{shard_tag(shard)}:service-rate:{service}"


def view(service: str, client_hash: str) -> str:
    """Marks a client's view of a service as counted, for a few minutes
    (collector/impression_counter.py); in the impressions' slot."""
    return f"cf:{_TAG}:view:{service}:{client_hash}"


def rejections(service: str, day: str) -> str:
    return f"cf:{_TAG}:rejections:{service}:{day}"


def client_salt(day: str) -> str:
    """The day's salt of client hashes (rate limits)."""
    return f"cf:{_TAG}:salt:{day}"


def view_salt(day: str) -> str:
    """The day's salt of view hashes, apart from client_salt so that a view key cannot
    be linked to the rate-limit key of the same client."""
    return f"cf:{_TAG}:view-salt:{day}"


def view_push(push_id: str) -> str:
    """Marks one part of an impression push as applied, with its result, so that the
    part sent again after a lost reply changes nothing."""
    return f"cf:{_TAG}:view-push:{push_id}"


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
