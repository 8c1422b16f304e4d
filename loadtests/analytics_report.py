"""docs/analytics-performance.md from one analytics benchmark: the data, each read's
median and p95 against the issue's targets, and SQLite's plan for each read."""

from __future__ import annotations

import os
import platform
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from loadtests.analytics_ratings import DAYS, OTHER_TENANT_SERVICES, OTHER_TENANTS

if TYPE_CHECKING:
    from loadtests.analytics_dataset import Dataset
    from loadtests.analytics_scale import Timing


def machine() -> str:
    """Cores, CPU model, memory, Python and SQLite versions, OS."""
    cpu, memory = platform.processor() or "unknown CPU", "unknown RAM"
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.exists():
        models = [
            line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        cpu = models[0].split(":", 1)[1].strip() if models else cpu
    if meminfo.exists():
        kibibytes = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        memory = f"{kibibytes / 1024**2:.1f} GiB RAM"
    return (
        f"{os.cpu_count()} cores, {cpu}, {memory}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; {platform.platform()}"
    )


def verdict(timing: Timing) -> str:
    if timing.met is None:
        return "no target"
    return f"< {timing.target_ms:.0f} ms: " + ("met" if timing.met else "**not met**")


def _table(timings: list[Timing]) -> list[str]:
    lines = [
        "| read | one call returns | median ms | p95 ms | target (on the p95) |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    lines += [
        f"| {t.name} | {t.result} | {t.median_ms:.2f} | {t.p95_ms:.2f} | {verdict(t)} |"
        for t in timings
    ]
    return lines


def _size(dataset: Dataset, table: str) -> int:
    """A table's bytes with its indexes' (named after it, as every index here is)."""
    return sum(
        size
        for name, size in dataset.generation.table_bytes.items()
        if name == table or name.startswith((f"{table}_", f"sqlite_autoindex_{table}_"))
    )


def write_report(
    dataset: Dataset,
    storage_timings: list[Timing],
    http_timings: list[Timing],
    http_note: str,
    repeat: int,
    output: Path,
) -> None:
    data = dataset.generation
    biggest, smallest = data.biggest, data.smallest
    origin = (
        f"reused from an earlier run (generated on {data.generated_on})"
        if dataset.reused
        else "generated in this run"
    )
    lines = [
        "# Analytics performance",
        "",
        "Written by `make bench-analytics` (`loadtests/analytics_scale.py`); do not edit by hand.",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Machine: {machine()}.",
        f"- Data: {data.table_rows['ratings']:,} ratings over {DAYS} days up to "
        f"{data.last_day} (local days of {data.time_zone}); {data.services} services of the "
        f"tenant under test with Zipf-like volumes (the busiest, {biggest[0]}, has "
        f"{biggest[1]:,} ratings, the quietest, {smallest[0]}, {smallest[1]:,}), plus "
        f"{len(OTHER_TENANTS) * OTHER_TENANT_SERVICES} services of {len(OTHER_TENANTS)} other "
        f"tenants; {data.comment_share:.1%} with a comment.",
        f"- Database: {dataset.database_bytes / 1024**3:.2f} GiB, {origin}: raw rows "
        f"inserted in {data.raw_seconds:,.0f} s, then every rollup rebuilt by the storage's "
        f"`set_tenant_time_zone` in {data.rollup_seconds:,.0f} s.",
        f"- Each read: one untimed call, then {repeat} timed calls in a row; median and p95 "
        "(nearest rank). The issue's targets are judged on the p95.",
        "",
        "## Through the storage interface",
        "",
        "`SqliteStorage` on its reader thread, as the analytics API calls it; the league "
        "table includes the ranking (`rankings.service_contenders`, `rankings.rank`).",
        "",
        *_table(storage_timings),
        "",
        "## Through the HTTP API",
        "",
    ]
    if http_timings:
        lines += [
            "The collector's ASGI app in-process (httpx `ASGITransport`, no network), with "
            "an analyst token of the tenant: routing, token check, storage, JSON.",
            "",
            *_table(http_timings),
        ]
    lines += [http_note] if http_note else []
    lines += ["", "## Data sizes", "", "| table | rows | MiB with its indexes |"]
    lines += ["| --- | ---: | ---: |"]
    lines += [
        f"| {table} | {rows:,} | {_size(dataset, table) / 1024**2:,.1f} |"
        for table, rows in data.table_rows.items()
    ]
    lines += [
        "",
        "## Query plans",
        "",
        "SQLite's EXPLAIN QUERY PLAN of each statement a storage read ran, traced with its "
        "values written into the SQL (with bound parameters, as the storage runs it, SQLite "
        "may now and then choose another plan):",
        "",
    ]
    for timing in storage_timings:
        plans = "; then ".join(f"`{plan}`" for plan in timing.plan) or "(no SQL)"
        lines.append(f"- {timing.name}: {plans}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")
