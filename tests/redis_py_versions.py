"""Running a user's program with one major version of redis-py (5, 6, 7 or 8) against a
RESP endpoint, for test_redis_py_versions.py (a node) and its cluster twin (RedisCluster).

5, 6 and 7 live in .venv/redis-py/<major>, installed by deploy/ci/redis-py-versions.sh
(`make test` runs it) without touching the venv; 8 is the venv's own. The program
(redis_py_probe.py) runs in a subprocess with that version first on PYTHONPATH and
prints what it saw as JSON. A version not installed skips the test, saying how to get it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from credentials import ROOT_KEY_ID, ROOT_SECRET

PROBE = Path(__file__).with_name("redis_py_probe.py")
VERSIONS_ROOT = Path(sys.prefix) / "redis-py"  # .venv/redis-py/<major>
MAJORS = ("5", "6", "7", "8")
VENV_MAJOR = "8"  # pyproject.toml's redis>=5,<9 resolves to the newest


def version_path(major: str) -> Path | None:
    """Where redis-py `major` is installed; None for the venv's own. Skips the test
    when that version is missing."""
    if major == VENV_MAJOR:
        return None
    target = VERSIONS_ROOT / major
    if not list(target.glob(f"redis-{major}.*.dist-info")):
        pytest.skip(f"redis-py {major} not in {target}: run deploy/ci/redis-py-versions.sh")
    return target


def run_probe(major: str, host: str, port: int, *args: str) -> dict[str, Any]:
    """What redis_py_probe.py saw with redis-py `major` against host:port, as root."""
    target = version_path(major)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if target is not None:
        env["PYTHONPATH"] = str(target)
    done = subprocess.run(
        [sys.executable, str(PROBE), "--host", host, "--port", str(port),
         "--user", ROOT_KEY_ID, "--password", ROOT_SECRET, *args],
        capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["version"].split(".")[0] == major, result["version"]
    if target is not None:  # the version under test, not the venv's
        assert Path(result["module"]).is_relative_to(target), result["module"]
    return result
