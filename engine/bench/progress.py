"""The live view of a running bench: one progress bar per phase on stderr (time through
warm-up + duration, or ops done of --ops), with the ops, ops/s and errors counted in the
measured window so far. Off (a one-line note per phase instead) when stderr is not a
terminal, and silent with --quiet, so logs and CI output stay readable.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from engine.bench.runner import Monitor, RunPlan


class LiveProgress(Monitor):
    """A Monitor that draws; use as a context manager around the run."""

    def __init__(self, console: Console, plan: RunPlan, quiet: bool = False,
                 label: str = "") -> None:
        self.console = console
        self.plan = plan
        self.quiet = quiet
        self.label = label
        self.live = console.is_terminal and not quiet
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.fields[ops]:>10,} ops {task.fields[rate]:>10,.0f} ops/s "
                       "{task.fields[errors]} errors"),
            TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, TaskID] = {}
        self.started: dict[str, float] = {}
        self.totals: dict[str, float] = {}

    def __enter__(self) -> LiveProgress:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live:
            if kind is None:
                self._finish_all()
            self.progress.stop()

    def _name(self, phase: str) -> str:
        return f"{self.label} {phase}".strip()

    def phase(self, name: str) -> None:
        plan = self.plan
        length = f"{plan.ops:,} ops" if plan.ops else f"{plan.duration_s:g} s"
        if not self.live:
            if not self.quiet:
                self.console.print(
                    f"[dim]{self._name(name)}: {plan.warmup_s:g} s warm-up + {length}, "
                    f"{plan.concurrency} x {plan.processes} in flight over "
                    f"{len(plan.targets)} endpoint(s)[/dim]")
            return
        self._finish_all()
        total = plan.ops if plan.ops else plan.warmup_s + plan.duration_s
        self.totals[name] = total or 1
        self.tasks[name] = self.progress.add_task(self._name(name), total=total or 1,
                                                  ops=0, rate=0.0, errors=0)

    def update(self, name: str, ops: int, errors: int) -> None:
        task = self.tasks.get(name)
        if task is None:
            return
        now = time.monotonic()
        start = self.started.setdefault(name, now)
        elapsed = now - start
        measured = elapsed - self.plan.warmup_s
        rate = ops / measured if measured > 0 else 0.0
        done = ops if self.plan.ops else min(elapsed, self.plan.warmup_s + self.plan.duration_s)
        self.progress.update(task, completed=done, ops=ops, rate=rate, errors=errors)

    def _finish_all(self) -> None:
        """Fill the bars of phases that ended (their last update may be a slot behind)."""
        for name, task in self.tasks.items():
            self.progress.update(task, completed=self.totals[name])
