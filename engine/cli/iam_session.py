"""What every `engine iam` command shares: its clients, its error handling and how it
answers (a table, a confirmation line, or the API's JSON with --json)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from engine.cli import iam_tables
from engine.cli.s3 import CliError
from engine.client import ClientError, IAMClient, STSClient, client

# `engine iam simulate` exits with this when a simulated request is denied.
DENIED_EXIT = 3


class Session:
    """The IAM and STS clients of one command, opened on first use, signed with the
    SDK's credential chain (``profile`` names a shared-file profile)."""

    def __init__(self, endpoint: str, profile: str | None) -> None:
        self.endpoint, self.profile = endpoint, profile
        self._iam: IAMClient | None = None
        self._sts: STSClient | None = None

    @property
    def iam(self) -> IAMClient:
        if self._iam is None:
            self._iam = client("iam", endpoint=self.endpoint, profile=self.profile)
        return self._iam

    @property
    def sts(self) -> STSClient:
        if self._sts is None:
            self._sts = client("sts", endpoint=self.endpoint, profile=self.profile)
        return self._sts

    def all(self, operation: str, key: str, **params: Any) -> list[Any]:
        """Every item of a paged IAM list call."""
        pages = self.iam.get_paginator(operation).paginate(**params)
        return [item for page in pages for item in page.get(key, [])]

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for opened in (self._iam, self._sts):
            if opened is not None:
                opened.close()


Command = Callable[[Session, argparse.Namespace], int]


def runner(command: Command) -> Callable[[argparse.Namespace], int]:
    """One session for the command's duration; every failure as one stderr line."""

    def run(args: argparse.Namespace) -> int:
        try:
            with Session(args.endpoint, args.profile) as session:
                return command(session, args)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return fail(error.get("Code", "Unknown"), error.get("Message", str(exc)))
        except CliError as exc:
            return fail(exc.code, exc.message)
        except ValueError as exc:  # a malformed --endpoint, a profile that does not exist
            return fail("InvalidArgument", str(exc))
        except BrokenPipeError:  # a reader such as `head` went away
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except OSError as exc:  # a policy document file that cannot be read
            return fail(type(exc).__name__, str(exc))
        except KeyboardInterrupt:
            return 130

    return run


def verb(verbs: argparse._SubParsersAction, name: str, common: argparse.ArgumentParser,
         command: Command, what: str, positional: str | None = None
         ) -> argparse.ArgumentParser:
    """A subcommand running ``command``; ``positional`` names its NAME-like argument."""
    parser = verbs.add_parser(name, parents=[common], help=what)
    if positional is not None:
        parser.add_argument("name", metavar=positional)
    parser.set_defaults(run=runner(command))
    return parser


def fail(code: str, message: str) -> int:
    print(f"engine: {code}: {message}", file=sys.stderr)
    return 1


def answer(args: argparse.Namespace, result: dict[str, Any], shown: Any = None,
           done: str = "") -> int:
    """Print the result as JSON (--json), else as its table or a confirmation line."""
    if args.json:
        iam_tables.print_json(result)
    elif shown is not None:
        iam_tables.show(shown)
    elif done:
        print(done)
    return 0
