"""`engine serve`: run one node in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from engine.config import DEFAULT_DATA_DIR, DEFAULT_LISTEN, NodeConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run a node (single node by default)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                   help="data directory (default: ./engine-data)")
    p.add_argument("--listen", default=DEFAULT_LISTEN,
                   help="gRPC address to listen on (default: 127.0.0.1:50051)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.node import serve

    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    serve(NodeConfig(data_dir=args.data, listen=args.listen))
    return 0
