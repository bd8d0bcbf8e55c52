"""Bench-wide reporting: throughput in GB/s for benchmarks that record extra_info["bytes"]."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """pytest-benchmark reports time per call; sizes differ by 16000x, so print GB/s too."""
    session = getattr(config, "_benchmarksession", None)
    rows = []
    for bench in getattr(session, "benchmarks", None) or []:
        nbytes = bench.extra_info.get("bytes")
        if not nbytes or not bench.stats:
            continue
        stats = bench.stats
        rows.append(
            (bench.group or "", bench.name, nbytes / stats.median / 1e9, nbytes / stats.min / 1e9)
        )
    if not rows:
        return
    terminalreporter.section("throughput (decimal GB/s = 1e9 bytes/s)")
    terminalreporter.write_line(f"{'group':<20} {'benchmark':<60} {'median':>8} {'best':>8}")
    for group, name, median, best in sorted(rows):
        terminalreporter.write_line(f"{group:<20} {name:<60} {median:8.2f} {best:8.2f}")
