"""`make loadtest`: the Locust scenario, headless and time-bounded, against a
`collector serve` it starts (embedded Redis, SQLite, in-process flusher).

Keeps Locust's CSV files in loadtests/results/. Exits non-zero when Locust saw an
unexpected answer, or when storage does not hold exactly the ratings that got a 303.
Environment: LOADTEST_USERS (default 200), LOADTEST_SECONDS (default 60).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadtests import processes

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _stored(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM ratings").fetchone()[0])


def main() -> int:
    users = int(os.environ.get("LOADTEST_USERS", "200"))
    seconds = int(os.environ.get("LOADTEST_SECONDS", "60"))
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="civic-feedback-loadtest-") as directory:
        work = Path(directory)
        collector = processes.collector(work / "data", "", 1, flusher=True)
        collector.start("/health")
        accepted_file = work / "accepted.json"
        try:
            locust = subprocess.run(  # noqa: S603 (our own arguments)
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(HERE / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(users),
                    "--spawn-rate",
                    str(max(1, users // 10)),
                    "--run-time",
                    f"{seconds}s",
                    "--stop-timeout",
                    "15",
                    "--host",
                    collector.url,
                    "--csv",
                    str(RESULTS / "locust"),
                    "--only-summary",
                ],
                env={**os.environ, "ACCEPTED_FILE": str(accepted_file)},
                check=False,
                timeout=seconds + 120,
            )
            accepted = json.loads(accepted_file.read_text())["accepted"]
            # The flusher stores what is in the stream within about a second.
            database = work / "data" / "collector.db"
            deadline = time.monotonic() + 60
            while _stored(database) < accepted and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            collector.stop()
        stored = _stored(database)
    print(f"loadtest: {accepted} ratings thanked, {stored} stored; Locust exit {locust.returncode}")
    print(f"loadtest: Locust's CSV files are in {RESULTS}/")
    if stored != accepted:
        print("loadtest: storage does not match the thanked ratings", file=sys.stderr)
        return 1
    return locust.returncode


if __name__ == "__main__":
    sys.exit(main())
