"""Placeholder: `engine bench` is being written."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("bench", help="(not yet available)").set_defaults(run=lambda _a: 2)
