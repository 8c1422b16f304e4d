"""wrk runs: throughput and latency percentiles of one URL for a fixed time."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "wrk"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors, and answers other than 2xx or 3xx


def _milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected latency {text!r} in wrk's output")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> WrkResult:
    """wrk --latency output: Requests/sec, the 50% and 99% lines, error counts."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rate and p50 and p99 and total):
        raise ValueError(f"cannot read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)) + sum(
        int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output)
    )
    return WrkResult(
        float(rate.group(1)),
        _milliseconds(p50.group(1)),
        _milliseconds(p99.group(1)),
        int(total.group(1)),
        errors,
    )


def run(
    url: str,
    *,
    seconds: int,
    connections: int,
    threads: int = 1,
    pace_milliseconds: float = 0,
    tokens: Path | None = None,
) -> WrkResult:
    """GET the url, or, with a file of form tokens, POST ratings to it."""
    environment = {**os.environ, "WRK_THREADS": str(threads)}
    if pace_milliseconds:
        environment["PACE_MS"] = str(max(1, round(pace_milliseconds)))
    if tokens is not None:
        environment["TOKENS"] = str(tokens)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(SCRIPTS / "widget.lua"),
        url,
    ]
    done = subprocess.run(  # noqa: S603 (our own arguments)
        command, env=environment, capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    return parse(done.stdout)
