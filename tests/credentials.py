"""The credentials every test runs with: servers bootstrap this root key, clients sign
with it, and nothing on the machine running the tests (~/.aws, AWS_* variables) leaks in.
Tests about credentials themselves create users and keys of their own."""

from __future__ import annotations

import os
from pathlib import Path

ROOT_KEY_ID = "AKIAENGINETESTROOT01"
ROOT_SECRET = "engine-test-root-secret-0123456789abcdef"
REGION = "us-east-1"


def use_test_credentials() -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update({
        "ENGINE_ROOT_ACCESS_KEY_ID": ROOT_KEY_ID,
        "ENGINE_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_ACCESS_KEY_ID": ROOT_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_SHARED_CREDENTIALS_FILE": str(Path(os.devnull)),
        "AWS_CONFIG_FILE": str(Path(os.devnull)),
    })
