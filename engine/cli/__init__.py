"""The `engine` command. Each subcommand lives in its own module with a `register` hook."""

from __future__ import annotations

import argparse
import os
import sys

# gRPC's C core logs at INFO unless told otherwise (a refused TLS handshake prints lines
# before our one-line error); before any module here imports grpc.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from engine import __version__
from engine.cli import admin, bench, chaos, cluster, iam, s3, serve, status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine", description=__doc__)
    parser.add_argument("--version", action="version", version=f"engine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, cluster, s3, iam, status, admin, bench, chaos):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
