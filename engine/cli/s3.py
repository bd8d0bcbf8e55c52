"""Placeholder: `engine s3` is being written."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("s3", help="(not yet available)").set_defaults(run=lambda _a: 2)
