"""Prometheus metrics at /metrics, read from Redis so every worker answers the same.

`collector serve --workers N` puts N processes behind one socket, and flushers may run
elsewhere: counters kept in one process's memory would change with whichever process
a scrape reaches. So every figure lives in Redis:

- accepted ratings: the stream's own count of entries ever added (XINFO STREAM);
- rejected requests per reason: a hash incremented next to the per-day counters
  (collector/rejections.py);
- stream length, consumer-group lag and pending entries, dead letters: XINFO / XLEN;
- flusher batches (count, size and duration histograms, rows stored, duplicates,
  dead letters): a hash the flusher increments in the same script as its XACK, so a
  batch costs no extra round trip.

Stream, dead letters and flush figures exist once per shard (REDIS_SHARDS); every
figure here is their sum, so the metrics read the same whatever the shard count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from redis.exceptions import ResponseError

from collector import keys
from collector.redis_clients import RedisClient, reply_text

# prometheus_client writes text format 0.0.4; Litestar adds the charset.
CONTENT_TYPE = "text/plain; version=0.0.4"
PREFIX = "civic_feedback"
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
BATCH_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def bucket_field(kind: str, value: float, bounds: tuple[float, ...]) -> str:
    """The flush metrics hash field that counts a batch of this size or duration: the
    first bucket that holds it only (the renderer sums them into cumulative buckets,
    so a batch costs one increment whatever the bucket count)."""
    bound = next((b for b in bounds if value <= b), float("inf"))
    return f"{kind}_le_{_bucket_label(bound)}"


def _bucket_label(bound: float) -> str:
    return f"{bound:g}"


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    # prometheus_client appends "_total" to a counter's samples.
    return CounterMetricFamily(f"{PREFIX}_{name.removesuffix('_total')}", help_text, value=value)


def _labelled(
    kind: type[CounterMetricFamily | GaugeMetricFamily],
    name: str,
    help_text: str,
    label: str,
    values: Iterable[tuple[str, float]],
) -> CounterMetricFamily | GaugeMetricFamily:
    family = kind(f"{PREFIX}_{name.removesuffix('_total')}", help_text, labels=[label])
    for label_value, value in values:
        family.add_metric([label_value], value)
    return family


def _histogram(
    name: str,
    help_text: str,
    counts: dict[str, int],
    prefix: str,
    bounds: tuple[float, ...],
    total: float,
) -> HistogramMetricFamily:
    """Buckets from the per-bucket counts the flusher keeps (not yet cumulative)."""
    buckets: list[tuple[str, float]] = []
    cumulative = 0
    for bound in bounds:
        cumulative += counts.get(f"{prefix}_le_{_bucket_label(bound)}", 0)
        buckets.append((_bucket_label(bound), cumulative))
    cumulative += counts.get(f"{prefix}_le_inf", 0)
    buckets.append(("+Inf", cumulative))
    return HistogramMetricFamily(f"{PREFIX}_{name}", help_text, buckets=buckets, sum_value=total)


class _Families(Collector):
    """One scrape's figures, as read from Redis, for prometheus_client to write out."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


def _decoded(mapping: dict[Any, Any]) -> dict[str, str]:
    """A hash's fields and values as text (its reply type differs between clients)."""
    return {reply_text(name): reply_text(value) for name, value in mapping.items()}


@dataclass(slots=True)
class _Buffer:
    """The rating buffer's figures, summed over its shards."""

    accepted: int = 0
    stream_length: int = 0
    dead_letters: int = 0
    lag: Counter[str] = field(default_factory=Counter)
    pending: Counter[str] = field(default_factory=Counter)
    flushed: dict[str, float] = field(default_factory=dict)


async def _read_buffer(redis: RedisClient, shards: int) -> _Buffer:
    figures = _Buffer()
    async with redis.pipeline(transaction=False) as pipeline:
        for shard in range(shards):
            pipeline.xlen(keys.stream(shard))
            pipeline.xlen(keys.dead_letters(shard))
            pipeline.hgetall(keys.flush_metrics(shard))
        replies = await pipeline.execute()
    for shard in range(shards):
        stream_length, dead_letters, flushed = replies[3 * shard : 3 * shard + 3]
        figures.stream_length += stream_length
        figures.dead_letters += dead_letters
        for name, value in _decoded(flushed).items():
            figures.flushed[name] = figures.flushed.get(name, 0.0) + float(value)
        try:
            stream = await redis.xinfo_stream(keys.stream(shard))
            groups = await redis.xinfo_groups(keys.stream(shard))
        except ResponseError:  # no stream yet: nothing accepted on this shard so far
            continue
        figures.accepted += int(stream.get("entries-added", 0))
        for group in groups:
            name = reply_text(group["name"])
            figures.lag[name] += int(group.get("lag") or 0)
            figures.pending[name] += int(group["pending"])
    return figures


async def render(redis: RedisClient, shards: int = 1) -> str:
    """The exposition text; raises RedisError when Redis does not answer.

    Written by prometheus_client, which keeps every digit of a counter (1.2345678e+07,
    not the 1.23457e+06 of a "%g" format)."""
    # Reads only (HGETALL, XLEN, XINFO), never re-sent: a failed scrape answers 503
    # and the next one reads again.
    rejected = await redis.hgetall(keys.REJECTIONS_TOTAL)
    buffer = await _read_buffer(redis, shards)
    figures = dict(buffer.flushed)
    counts = {name: int(value) for name, value in figures.items() if "_le_" in name}
    families: list[Metric] = [
        _counter(
            "ratings_accepted_total",
            "Ratings acknowledged to citizens (entries ever added to the stream).",
            buffer.accepted,
        ),
        _labelled(
            CounterMetricFamily,
            "requests_rejected_total",
            "Refused widget requests, by reason.",
            "reason",
            ((reason, int(count)) for reason, count in sorted(_decoded(rejected).items())),
        ),
        GaugeMetricFamily(
            f"{PREFIX}_stream_length", "Entries in the Redis streams.", buffer.stream_length
        ),
        _labelled(
            GaugeMetricFamily,
            "consumer_lag",
            "Entries in the streams not yet delivered to the consumer group.",
            "group",
            sorted(buffer.lag.items()),
        ),
        _labelled(
            GaugeMetricFamily,
            "pending_entries",
            "Entries delivered to a flusher and not yet acknowledged.",
            "group",
            sorted(buffer.pending.items()),
        ),
        GaugeMetricFamily(
            f"{PREFIX}_dead_letters", "Entries in the dead-letter streams.", buffer.dead_letters
        ),
    ]
    for name, help_text in (
        ("stored", "Ratings written to storage by flushers."),
        ("duplicates", "Entries skipped as already stored (redelivery, repeated transaction)."),
        ("dead_letters", "Entries flushers sent to the dead-letter stream."),
        ("entries", "Stream entries flushers processed."),
    ):
        families.append(_counter(f"flushed_{name}_total", help_text, figures.get(name, 0)))
    families.append(
        _histogram(
            "flush_batch_size",
            "Entries per flushed batch.",
            counts,
            "size",
            BATCH_SIZE_BUCKETS,
            figures.get("entries", 0),
        )
    )
    families.append(
        _histogram(
            "flush_batch_seconds",
            "Time to store one batch (storage transaction included, acknowledgement not).",
            counts,
            "seconds",
            BATCH_SECONDS_BUCKETS,
            figures.get("seconds_sum", 0.0),
        )
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry).decode()
