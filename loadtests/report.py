"""docs/performance.md from one benchmark's figures: medians, ratios, targets."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtests.bench import Figures
    from loadtests.wrk_runs import WrkResult


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _http(runs: list[WrkResult]) -> tuple[float, float, float, int]:
    return (
        _median([r.requests_per_second for r in runs]),
        _median([r.p50_ms for r in runs]),
        _median([r.p99_ms for r in runs]),
        sum(r.errors for r in runs),
    )


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def write_report(figures: Figures, output: Path) -> None:
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`loadtests/bench.py`); do not edit by hand.",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Machine: {figures.machine}. wrk, the servers and Redis share it.",
        "- Settings: " + ", ".join(f"{k} {v}" for k, v in figures.settings.items()) + ".",
        "- Every figure is the median of the runs; baseline and collector ran in turn,",
        "  in the same run, on the same server (uvicorn, httptools, uvloop).",
        "",
        "## HTTP",
        "",
        "| workers | request | baseline req/s | collector req/s | ratio | collector p50 ms "
        "| collector p99 ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    targets: list[tuple[str, str, str]] = []
    workers_seen = sorted({int(name.rsplit("/", 1)[1]) for name in figures.http})
    for workers in workers_seen:
        for request in ("get", "post"):
            base = _http(figures.http.get(f"{request}/baseline/{workers}", []))
            ours = _http(figures.http.get(f"{request}/collector/{workers}", []))
            ratio = ours[0] / base[0] if base[0] else float("nan")
            lines.append(
                f"| {workers} | {request.upper()} | {base[0]:,.0f} | {ours[0]:,.0f} | "
                f"{ratio:.2f} | {ours[1]:.2f} | {ours[2]:.2f} | {ours[3]} |"
            )
            if workers == 1:
                goal = 0.5 if request == "get" else 0.25
                targets.append(
                    (
                        f"widget {request.upper()} ≥ {goal} x raw ASGI (1 worker)",
                        f"{ratio:.2f}",
                        _verdict(ratio >= goal),
                    )
                )
    lines += ["", "POST at half of the measured POST peak (wrk pacing each connection):", ""]
    lines += [
        "| workers | aimed at req/s | achieved req/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for workers in workers_seen:
        half = _http(figures.http.get(f"half/collector/{workers}", []))
        aim = _http(figures.http.get(f"post/collector/{workers}", []))[0] / 2
        lines.append(f"| {workers} | {aim:,.0f} | {half[0]:,.0f} | {half[1]:.2f} | {half[2]:.2f} |")
        if workers == 1:
            targets.append(
                (
                    "p99 < 25 ms at half the peak (1 worker)",
                    f"{half[2]:.1f} ms",
                    _verdict(half[2] < 25),
                )
            )
    lines += [
        "",
        "## Redis and the flusher",
        "",
        "| what | median |",
        "| --- | ---: |",
    ]
    for name, values in figures.xadd.items():
        lines.append(
            f"| redis-benchmark XADD, 50 clients, pipeline {name[1:]} | {_median(values):,.0f} /s |"
        )
    flusher = _median(figures.flusher)
    lines.append(
        f"| flusher into SQLite, {figures.settings['flusher entries']:,} pre-filled entries "
        f"| {flusher:,.0f} rows/s |"
    )
    if figures.flusher_postgres:
        lines.append(
            f"| flusher into PostgreSQL (on disk, fsync on), "
            f"{figures.settings['flusher entries']:,} pre-filled entries "
            f"| {_median(figures.flusher_postgres):,.0f} rows/s |"
        )
    targets.append(
        ("flusher ≥ 20,000 rows/s into SQLite", f"{flusher:,.0f}", _verdict(flusher >= 20_000))
    )
    if figures.memory:
        memory = figures.memory
        growth = (memory["end"] - memory["start"]) / memory["start"]
        lines += [
            "",
            "## Memory",
            "",
            f"One worker with its flusher, under about 1,000 ratings/s for "
            f"{memory['minutes']:.0f} minutes. RSS of the collector process:",
            "",
            f"- at start: {memory['start']:.1f} MB",
            f"- after the first minute: {memory['after_first_minute']:.1f} MB",
            f"- at the end: {memory['end']:.1f} MB ({growth:+.1%} since the start, "
            f"{(memory['end'] - memory['after_first_minute']) / memory['after_first_minute']:+.1%}"
            " since the first minute)",
        ]
        targets.append(
            (
                "RSS growth < 5% over the run, from start (server ready, before load)",
                f"{growth:+.1%}",
                _verdict(growth < 0.05),
            )
        )
    lines += ["", "## Targets", "", "| target | measured | |", "| --- | ---: | --- |"]
    lines += [f"| {name} | {value} | {verdict} |" for name, value, verdict in targets]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")
