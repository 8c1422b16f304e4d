"""`collector serve --workers 2` on a three-master Redis Cluster with three shards: many
concurrent ratings, each stored exactly once by the in-process flushers of every shard."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from collector import keys
from collector.redis_clients import hot_path_client
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import ServeProcess
from tests.faults.backlog import Backlog
from tests.faults.collector_process import FAULT_ENVIRONMENT
from tests.faults.load import RatingLoad
from tests.faults.storage_audit import assert_reconciled, rows_and_rolled_up
from tests.helpers import eventually

RATINGS = 3000
SHARDS = 3


def sample(name: str, metrics: str) -> float:
    match = re.search(rf"^civic_feedback_{name} (\S+)$", metrics, re.MULTILINE)
    assert match, f"no {name} in /metrics"
    return float(match.group(1))


async def test_concurrent_ratings_are_stored_once_over_every_shard(
    tmp_path: Path, redis_cluster_url: str
) -> None:
    environment = {
        **FAULT_ENVIRONMENT,  # no rate limits in the way of a load from one address
        "REDIS_URL": redis_cluster_url,
        "REDIS_CLUSTER": "on",
        "REDIS_SHARDS": str(SHARDS),
        "FLUSH_BLOCK_MILLISECONDS": "100",
    }
    serve = ServeProcess(tmp_path / "data", environment, arguments=("--workers", "2"))
    serve.start()
    database = serve.data_dir / "collector.db"
    backlog = Backlog(redis_cluster_url, cluster=True, shards=SHARDS)
    redis = hot_path_client(redis_cluster_url, cluster=True)
    try:
        load = RatingLoad(serve.url, TEST_SECRET, connections=32)
        outcomes = await load.run(RATINGS)
        assert outcomes.statuses() == {303: RATINGS}

        async def all_stored() -> bool:
            return rows_and_rolled_up(database)[0] >= RATINGS

        await eventually(all_stored, 60)
        await eventually(backlog.drained, 30)
        assert_reconciled(outcomes, database, load.prefix)
        assert rows_and_rolled_up(database) == (RATINGS, RATINGS)
        # Every shard took its part, on its own stream.
        added = [
            int((await redis.xinfo_stream(keys.stream(shard)))["entries-added"])
            for shard in range(SHARDS)
        ]
        assert sum(added) == RATINGS
        assert min(added) > RATINGS // SHARDS // 2
        async with httpx.AsyncClient(base_url=serve.url) as http:
            metrics = (await http.get("/metrics")).text
            ready = (await http.get("/health/ready")).json()
        assert sample("ratings_accepted_total", metrics) == RATINGS
        assert sample("flushed_stored_total", metrics) == RATINGS
        assert sample("dead_letters", metrics) == 0
        assert ready["status"] == "ok"
        assert ready["consumer_lag"] == 0
        assert serve.terminate() == 0
    finally:
        await redis.aclose()
        await backlog.close()
        serve.kill()
