"""What authentication and authorization cost a small object call over gRPC.

Runs `engine bench objects --size 4KiB --op both` against two single nodes started side
by side, alternating rounds so both see the same machine:

- *before*: a checkout of the engine from before auth existed (unsigned calls), given as
  ``--before-tree`` (e.g. ``git worktree add /tmp/preauth 957cb5e`` plus its stubs and
  hot path built);
- *after*: this tree, auth on, the bench signing every call with the node's root key.

Optionally (``--insecure``) a third node of this tree with ``--insecure-no-auth``, and
(``--as-user``) the *after* node loaded a second time by an IAM user whose inline policy
(with a condition) is evaluated on every call, where root takes the evaluator's fast
path.
Prints ops/s and p50 per phase, and CPU per call of the server process (from /proc) and
of the bench client (rusage of its children), so a difference can be placed on one side.

    python bench/auth_overhead.py --before-tree /tmp/preauth --rounds 3 --duration 8
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
ROOT = {"ENGINE_ROOT_ACCESS_KEY_ID": "AKIABENCHROOT0000001",
        "ENGINE_ROOT_SECRET_ACCESS_KEY": "bench-root-secret-0123456789abcdefghijkl"}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


USER_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "s3:*",
    "Resource": ["arn:aws:s3:::*"],
    "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]})


def bench_user(port: int) -> dict[str, str]:
    """An IAM user allowed S3 by an inline policy; its key as environment variables."""
    sys.path.insert(0, str(HERE))
    from engine.client import client

    iam = client("iam", endpoint=f"127.0.0.1:{port}",
                 aws_access_key_id=ROOT["ENGINE_ROOT_ACCESS_KEY_ID"],
                 aws_secret_access_key=ROOT["ENGINE_ROOT_SECRET_ACCESS_KEY"])
    iam.create_user(UserName="bench")
    iam.put_user_policy(UserName="bench", PolicyName="s3", PolicyDocument=USER_POLICY)
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def environment(signed: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
                        "AWS_SESSION_TOKEN")}
    env.update(ROOT)
    if signed:
        env.update(AWS_ACCESS_KEY_ID=ROOT["ENGINE_ROOT_ACCESS_KEY_ID"],
                   AWS_SECRET_ACCESS_KEY=ROOT["ENGINE_ROOT_SECRET_ACCESS_KEY"])
    else:
        env.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-tree", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", default="8")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--as-user", action="store_true")
    parser.add_argument("--base-port", type=int, default=58621)
    args = parser.parse_args()
    configs = [("before", args.before_tree, args.base_port, False, []),
               ("after", HERE, args.base_port + 1, True, [])]
    if args.insecure:
        configs.append(("insecure", HERE, args.base_port + 2, False, ["--insecure-no-auth"]))
    scratch = Path(tempfile.mkdtemp(prefix="engine-auth-bench-"))
    servers: dict[str, subprocess.Popen[bytes]] = {}
    user: dict[str, str] = {}
    try:
        for name, tree, port, signed, extra in configs:
            servers[name] = subprocess.Popen(
                [sys.executable, "-m", "engine", "serve", "--listen", f"127.0.0.1:{port}",
                 "--data", str(scratch / name), *extra], cwd=tree, env=environment(signed),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(6)
        if args.as_user:
            user = bench_user(args.base_port + 1)
            configs.append(("after-user", HERE, args.base_port + 1, True, []))
            servers["after-user"] = servers["after"]
        for rnd in range(args.rounds):
            for name, tree, port, signed, _ in configs:
                out = scratch / f"{name}-{rnd}.json"
                env = environment(signed)
                if name == "after-user":
                    env.update(user)
                server_before = cpu_seconds(servers[name].pid)
                client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run(
                    [sys.executable, "-m", "engine", "bench", "objects", "--endpoint",
                     f"127.0.0.1:{port}", "--size", "4KiB", "--op", "both", "--duration",
                     args.duration, "--warmup", "1", "--quiet", "--no-baseline", "--json",
                     str(out)], cwd=tree, env=env, check=True,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
                client = (client_after.ru_utime - client_before.ru_utime
                          + client_after.ru_stime - client_before.ru_stime)
                server = cpu_seconds(servers[name].pid) - server_before
                phases = json.loads(out.read_text())["phases"]
                calls = sum(p["ops_per_s"] * (p["seconds"] + 1) for p in phases.values())
                print(name, rnd,
                      " ".join(f"{k} {v['ops_per_s']:,.0f}/s p50 {v['latency_ms']['p50']:.2f}ms"
                               for k, v in phases.items()),
                      f"server {server / calls * 1e6:.0f} us/call",
                      f"client {client / calls * 1e6:.0f} us/call", flush=True)
    finally:
        for proc in set(servers.values()):
            proc.kill()
            proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
