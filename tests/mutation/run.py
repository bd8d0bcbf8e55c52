"""`make mutation`: mutmut on the engine's central modules, each against its own unit
tests only, with a score per module.

mutmut 2 rewrites the module in place and can hang or kill its own runner on a mutant
that breaks an import, so every module is mutated in a throwaway copy of the tree (the
working tree is never touched) and each test run is cut off by `timeout`. Not run by CI:
a full pass takes tens of minutes on two cores.

    python tests/mutation/run.py [MODULE ...]        # default: all, smallest first
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# One mutant's test run; a hang (a mutant that loops) counts as killed. `timeout` must fire
# before mutmut's own limit: mutmut kills only its direct child, which would orphan a
# looping pytest that keeps mutmut waiting on its output forever.
PER_RUN_TIMEOUT_S = 60
MUTMUT_LIMIT_S = 300


@dataclass(frozen=True)
class Target:
    paths: tuple[str, ...]
    tests: tuple[str, ...]


TARGETS: dict[str, Target] = {
    "entries": Target(
        ("engine/storage/entries.py",),
        ("tests/unit/test_storage_entries_pinned.py", "tests/unit/test_version_patch.py"),
    ),
    "slots": Target(
        ("engine/cache/slots.py",),
        ("tests/unit/test_cache_slots.py", "tests/unit/test_cache_slots_pinned.py"),
    ),
    "receipts": Target(
        ("engine/queues/receipts.py",),
        ("tests/unit/test_queue_rules.py", "tests/unit/test_queue_receipts_pinned.py"),
    ),
    "policy": Target(
        ("engine/iam/policy/evaluate.py",),
        ("tests/unit/test_iam_policy_evaluate.py", "tests/unit/test_iam_policy_decisions.py",
         "tests/unit/test_iam_policy_conditions.py",
         "tests/unit/test_iam_policy_document.py"),
    ),
    "sigv4": Target(
        ("engine/iam/signature_check.py", "engine/iam/signature_header.py"),
        ("tests/unit/test_sigv4_verify.py", "tests/unit/test_sigv4_vectors.py",
         "tests/unit/test_sigv4_edges.py"),
    ),
    "consensus-log": Target(
        ("engine/cluster/consensus/log.py",),
        ("tests/unit/test_consensus_log.py", "tests/unit/test_consensus_simulation.py"),
    ),
    "consensus-core": Target(
        ("engine/cluster/consensus/core.py",),
        ("tests/unit/test_consensus_core.py", "tests/unit/test_consensus_simulation.py"),
    ),
}

_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "*.egg-info", "__pycache__", ".mutmut-cache", ".pytest_cache",
    ".hypothesis", "engine-data", ".ruff_cache",
)
_DETECTED = ("ok_killed", "bad_timeout", "ok_suspicious")


def copy_tree(dest: Path) -> None:
    """The parts of the tree a unit test needs, built extensions and stubs included."""
    for name in ("engine", "tests", "proto", "native"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name, ignore=_IGNORE)
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy2(ROOT / name, dest / name)


def counts(cache: Path) -> dict[str, int]:
    """Mutants per status, from mutmut 2's result cache."""
    with sqlite3.connect(cache) as db:
        return dict(db.execute("SELECT status, count(*) FROM Mutant GROUP BY status").fetchall())


def run(name: str, target: Target, keep: Path) -> tuple[int, int, dict[str, int]]:
    """Mutate one module in a fresh copy; returns (detected, total, counts by status)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    with tempfile.TemporaryDirectory(prefix=f"mutation-{name}-") as tmp:
        work = Path(tmp)
        copy_tree(work)
        runner = (f"timeout {PER_RUN_TIMEOUT_S} {sys.executable} -m pytest -x -q "
                  f"-p no:cacheprovider {' '.join(target.tests)}")
        command = [
            str(mutmut), "run", "--paths-to-mutate", ",".join(target.paths),
            "--tests-dir", "tests/unit", "--runner", runner, "--no-progress",
            "--simple-output", "--test-time-base", str(MUTMUT_LIMIT_S),
        ]
        log = keep / f"{name}.log"
        with log.open("w") as out:
            subprocess.run(command, cwd=work, stdout=out, stderr=subprocess.STDOUT, check=False)
        cache = work / ".mutmut-cache"
        if not cache.exists():
            raise SystemExit(f"{name}: mutmut produced no results, see {log}")
        shutil.copy2(cache, keep / f"{name}.mutmut-cache")
        by_status = counts(cache)
    total = sum(by_status.values())
    detected = sum(by_status.get(s, 0) for s in _DETECTED)
    return detected, total, by_status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(TARGETS)}")
    parser.add_argument("--keep", type=Path, default=ROOT / "build" / "mutation",
                        help="where logs and result caches go (`mutmut show` reads them)")
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    names = args.modules or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; pick from {', '.join(TARGETS)}")
    rows = []
    for name in names:
        started = time.monotonic()
        detected, total, by_status = run(name, TARGETS[name], args.keep)
        score = 100 * detected / total if total else 0.0
        minutes = (time.monotonic() - started) / 60
        rows.append((name, detected, total, score))
        print(f"{name:15} {score:5.1f} %  {detected}/{total} killed  "
              f"{by_status.get('bad_survived', 0)} survived  ({minutes:.0f} min)", flush=True)
    print("\nmodule          score   killed/total")
    for name, detected, total, score in rows:
        print(f"{name:15} {score:5.1f} %  {detected}/{total}")


if __name__ == "__main__":
    main()
