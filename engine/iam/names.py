"""IAM's names, paths, unique ids and ARNs, with IAM's validation wording.

IAM refuses a name that breaks its pattern or length with ``ValidationError`` in the
AWS SDK's words ("1 validation error detected: Value 'a b' at 'userName' failed to
satisfy constraint: ..."), so a script that checks for it here behaves as against AWS.
Names are unique regardless of case (IAM: "user names are not distinguished by case"),
so the store keys them by :func:`fold`.
"""

from __future__ import annotations

import re
import secrets

from engine.errors import EngineError

NAME_PATTERN = r"[\w+=,.@-]+"
_NAME = re.compile(rf"^{NAME_PATTERN}$", re.ASCII)
_PATH = re.compile(r"^(?:/|/[\x21-\x7E]+/)$")
# The alphabet of AWS's unique ids and access key ids (RFC 4648 base32, upper case).
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

# entity -> (unique-id prefix, longest name): AWS's "IAM identifiers" page.
PREFIXES = {"user": "AIDA", "group": "AGPA", "role": "AROA", "policy": "ANPA",
            "key": "AKIA", "session-key": "ASIA"}
MAX_NAME = {"user": 64, "group": 128, "role": 64, "policy": 128, "inline": 128,
            "session": 64}
_FIELD = {"user": "userName", "group": "groupName", "role": "roleName",
          "policy": "policyName", "inline": "policyName", "session": "roleSessionName"}


def validation_error(field: str, value: str, constraint: str) -> EngineError:
    shown = value if len(value) <= 128 else value[:128] + "..."
    return EngineError("ValidationError", f"1 validation error detected: Value '{shown}' at "
                       f"'{field}' failed to satisfy constraint: {constraint}")


def check_name(kind: str, name: str) -> str:
    field, longest = _FIELD[kind], MAX_NAME[kind]
    if not 1 <= len(name) <= longest:
        raise validation_error(field, name, f"Member must have length less than or equal "
                               f"to {longest}" if name else "Member must have length "
                               "greater than or equal to 1")
    if not _NAME.match(name):
        raise validation_error(field, name, "Member must satisfy regular expression "
                               f"pattern: {NAME_PATTERN}")
    return name


def check_path(path: str) -> str:
    if not 1 <= len(path) <= 512 or not _PATH.match(path):
        raise validation_error("path", path, "Member must satisfy regular expression "
                               "pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)")
    return path


def fold(name: str) -> str:
    """The store's key for a name: IAM names differ only if they differ ignoring case."""
    return name.lower()


def new_id(kind: str) -> str:
    """A unique id as AWS shapes them: a 4-letter prefix and 17 base32 characters
    (access key ids: 16, so the whole id is 20 characters like AWS's)."""
    length = 16 if kind in ("key", "session-key") else 17
    return PREFIXES[kind] + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_secret() -> str:
    """A 40-character secret access key (AWS's length and alphabet)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def user_arn(account: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:user{path}{name}"


def group_arn(account: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:group{path}{name}"


def role_arn(account: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def policy_arn(account: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:policy{path}{name}"


def root_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def session_arn(account: str, role: str, session: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
