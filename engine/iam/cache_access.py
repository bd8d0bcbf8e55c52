"""ElastiCache's rules for a user's access string and passwords, on top of Redis's.

ElastiCache takes Redis ACL rules with limits of its own (its RBAC guide): passwords are
set with the API, never in the access string (``>pw``, ``<pw``, ``#hash``, ``!hash``,
``nopass``, ``resetpass`` are refused, and so is ``reset``, which would drop them); a
string with neither ``on`` nor ``off`` leaves the user off. Passwords are 16 to 128
printable ASCII characters without space, ``"``, ``/`` or ``@`` (its AUTH token rules),
one or two per user. Only their SHA-256 is kept, as Redis keeps them.

Refusals are ValueErrors carrying ElastiCache's InvalidParameterValue text; the service
raises them as EngineError, the identity machine as Rejected. A refused rule is named
in the text, clipped; a password never is.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import clip
from engine.iam.redis_acl import Acl, AclError, parse, password_hash

MAX_PASSWORDS = 2
PASSWORD_LENGTH = (16, 128)
_PASSWORD_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('"/@')
_SECRET_RULES = (">", "<", "#", "!")
_PASSWORD_WORDS = frozenset({"nopass", "resetpass"})


class InvalidParameter(ValueError):
    """An InvalidParameterValue refusal; ``str()`` is the message a client sees."""


def parse_access_string(text: str) -> Acl:
    """The user's permissions, or InvalidParameter naming the rule ElastiCache refuses."""
    rules = text.split()
    if not rules:
        raise InvalidParameter("Access string is invalid: it must contain at least one rule")
    for rule in rules:
        if rule.startswith(_SECRET_RULES) or rule.lower() in _PASSWORD_WORDS:
            raise InvalidParameter("Access string is invalid: passwords cannot be set in an "
                                   "access string; use Passwords, NoPasswordRequired or "
                                   "AuthenticationMode")
        if rule.lower() == "reset":
            raise InvalidParameter("Access string is invalid: the reset rule cannot be used "
                                   "in an access string")
    try:
        return parse(text)
    except AclError as err:
        raise InvalidParameter(f"Access string is invalid: {err.reason} (in rule "
                               f"'{clip(err.rule, 128)}')") from None


def hash_passwords(passwords: Sequence[object]) -> list[str]:
    """The SHA-256 hex of each password, once each is checked."""
    if not 1 <= len(passwords) <= MAX_PASSWORDS:
        raise InvalidParameter("Passwords must contain one or two passwords.")
    hashes: list[str] = []
    for password in passwords:
        if not isinstance(password, str) or not (
                PASSWORD_LENGTH[0] <= len(password) <= PASSWORD_LENGTH[1]):
            raise InvalidParameter("Passwords length must be between 16-128 characters.")
        if not set(password) <= _PASSWORD_CHARS:
            raise InvalidParameter("Passwords can contain only printable ASCII characters "
                                   "other than space, '\"', '/' and '@'.")
        hashes.append(password_hash(password))
    return hashes
