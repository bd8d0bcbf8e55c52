"""Redis ACL rules (``on ~app:* +@read -keys``): the parser and the permission check.

Rules apply left to right to a user's state exactly as ``ACL SETUSER`` applies them
(Redis 7: key permissions ``%R~``/``%W~``, channels, subcommands), so an access string
means here what it means to Redis and to ElastiCache. Not supported: selectors
(``(...)``, ``clearselectors``), which ElastiCache does not document either. The command
table is engine.iam.redis_commands.

The check answers Redis's NOPERM texts (Redis 7.2 ``getAclErrorMessage``): a command
outside the user's commands, then a key outside its key patterns (with the permission
the command needs on it), then a channel outside its channel patterns.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.cache.glob import glob_match
from engine.iam.redis_commands import (
    BY_CATEGORY,
    COMMANDS,
    CONTAINERS,
    NO_AUTH,
    SUBCOMMANDS,
    resolve,
)

_HASH = re.compile(r"^[0-9a-f]{64}$")


class AclError(ValueError):
    """A rule Redis would refuse: ``rule`` is the word, ``reason`` Redis's text."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"Error in ACL SETUSER modifier '{rule}': {reason}")
        self.rule = rule
        self.reason = reason


@dataclass
class KeyPattern:
    pattern: bytes
    read: bool
    write: bool


@dataclass
class Acl:
    """One user's permissions; a new user is Redis's: off, no password, nothing allowed."""

    enabled: bool = False
    nopass: bool = False
    passwords: list[str] = field(default_factory=list)  # SHA-256 hex, as Redis keeps them
    allcommands: bool = False
    allowed: set[str] = field(default_factory=set)  # full names: "get", "client|kill"
    firstargs: dict[str, set[str]] = field(default_factory=dict)  # "select" -> {"0"}
    allkeys: bool = False
    keys: list[KeyPattern] = field(default_factory=list)
    allchannels: bool = False
    channels: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class Denied:
    """Why a command is refused: ``reason`` is "command", "key" or "channel"."""

    reason: str
    message: str  # Redis's text after "NOPERM "

    @property
    def reply(self) -> str:
        """The RESP error line (without the leading "-")."""
        return f"NOPERM {self.message}"


def password_hash(password: str | bytes) -> str:
    data = password.encode() if isinstance(password, str) else password
    return hashlib.sha256(data).hexdigest()


# -- the rules ------------------------------------------------------------------------


def parse(text: str, base: Acl | None = None) -> Acl:
    """Apply the rules of ``text`` (whitespace-separated) to a copy of ``base`` (a new
    user when None); AclError names the first rule Redis would refuse."""
    acl = copy.deepcopy(base) if base is not None else Acl()
    for rule in text.split():
        apply_rule(acl, rule)
    return acl


def apply_rule(acl: Acl, rule: str) -> None:
    word = rule.lower()
    simple = _SIMPLE.get(word)
    if simple is not None:
        simple(acl)
    elif rule.startswith(("~", "%")):
        _key_pattern(acl, rule)
    elif rule.startswith("&"):
        if acl.allchannels:
            raise AclError(rule, "Adding a pattern after the * pattern (or the "
                           "'allchannels' flag) is not valid and does not have any effect. "
                           "Try 'resetchannels' to start with an empty list of channels")
        if rule == "&*":
            _all_channels(acl)
        else:
            acl.channels.append(rule[1:].encode())
    elif rule.startswith(">"):
        _add_password(acl, password_hash(rule[1:]))
    elif rule.startswith("#"):
        if not _HASH.match(rule[1:]):
            raise AclError(rule, "The password hash must be exactly 64 characters and "
                           "contain only lowercase hexadecimal characters")
        _add_password(acl, rule[1:])
    elif rule.startswith(("<", "!")):
        digest = password_hash(rule[1:]) if rule[0] == "<" else rule[1:]
        if rule[0] == "!" and not _HASH.match(digest):
            raise AclError(rule, "The password hash must be exactly 64 characters and "
                           "contain only lowercase hexadecimal characters")
        if digest not in acl.passwords:
            raise AclError(rule, "The password you are trying to remove from the user does "
                           "not exist")
        acl.passwords.remove(digest)
    elif rule.startswith(("+", "-")) and len(rule) > 1:
        _command_rule(acl, rule)
    elif rule.startswith("(") or word == "clearselectors":
        raise AclError(rule, "Selectors are not supported")
    else:
        raise AclError(rule, "Syntax error")


def _all_keys(acl: Acl) -> None:
    acl.allkeys = True
    acl.keys = [KeyPattern(b"*", True, True)]


def _all_channels(acl: Acl) -> None:
    acl.allchannels = True
    acl.channels = [b"*"]


def _reset_keys(acl: Acl) -> None:
    acl.allkeys = False
    acl.keys = []


def _reset_channels(acl: Acl) -> None:
    acl.allchannels = False
    acl.channels = []


def _all_commands(acl: Acl) -> None:
    acl.allcommands = True
    acl.allowed = set(COMMANDS)
    acl.firstargs = {}


def _no_commands(acl: Acl) -> None:
    acl.allcommands = False
    acl.allowed = set()
    acl.firstargs = {}


def _nopass(acl: Acl) -> None:
    acl.nopass = True
    acl.passwords = []


def _resetpass(acl: Acl) -> None:
    acl.nopass = False
    acl.passwords = []


def _reset(acl: Acl) -> None:
    """Back to a new user's state (Redis: resetpass resetkeys resetchannels off -@all)."""
    fresh = Acl()
    acl.__dict__.update(fresh.__dict__)


def _add_password(acl: Acl, digest: str) -> None:
    acl.nopass = False
    if digest not in acl.passwords:
        acl.passwords.append(digest)


_SIMPLE = {
    "on": lambda acl: setattr(acl, "enabled", True),
    "off": lambda acl: setattr(acl, "enabled", False),
    "allkeys": _all_keys,
    "resetkeys": _reset_keys,
    "allchannels": _all_channels,
    "resetchannels": _reset_channels,
    "allcommands": _all_commands,
    "nocommands": _no_commands,
    "nopass": _nopass,
    "resetpass": _resetpass,
    "reset": _reset,
}


def _key_pattern(acl: Acl, rule: str) -> None:
    if rule.startswith("%"):
        flags, tilde, pattern = rule[1:].partition("~")
        if not tilde or not flags or set(flags.upper()) - {"R", "W"}:
            raise AclError(rule, "Syntax error")
        read, write = "R" in flags.upper(), "W" in flags.upper()
    else:
        pattern, read, write = rule[1:], True, True
    if acl.allkeys:
        raise AclError(rule, "Adding a pattern after the * pattern (or the 'allkeys' flag) "
                       "is not valid and does not have any effect. Try 'resetkeys' to start "
                       "with an empty list of patterns")
    if pattern == "*" and read and write:
        _all_keys(acl)
        return
    for existing in acl.keys:  # the same pattern again widens its permissions
        if existing.pattern == pattern.encode():
            existing.read, existing.write = existing.read or read, existing.write or write
            return
    acl.keys.append(KeyPattern(pattern.encode(), read, write))


def _command_rule(acl: Acl, rule: str) -> None:
    allow, name = rule[0] == "+", rule[1:].lower()
    if name.startswith("@"):
        members = BY_CATEGORY.get(name[1:]) if name != "@all" else None
        if name == "@all":
            (_all_commands if allow else _no_commands)(acl)
            return
        if members is None:
            raise AclError(rule, "Unknown command or category name in ACL")
        _set(acl, members, allow)
        return
    command, bar, sub = name.partition("|")
    if not bar:
        if command not in COMMANDS and command not in CONTAINERS:
            raise AclError(rule, "Unknown command or category name in ACL")
        _set(acl, SUBCOMMANDS.get(command, frozenset({command})), allow)
        acl.firstargs.pop(command, None)
        return
    if not sub or "|" in sub:
        raise AclError(rule, "Unknown command or category name in ACL")
    if command in CONTAINERS:
        if name not in COMMANDS:
            raise AclError(rule, "Unknown command or category name in ACL")
        _set(acl, frozenset({name}), allow)
        return
    if command not in COMMANDS:
        raise AclError(rule, "Unknown command or category name in ACL")
    if not allow:  # Redis: first args can only be added ("-select|0" is refused)
        raise AclError(rule, "Allowing first-arg of a subcommand is not supported")
    if command not in acl.allowed:
        acl.firstargs.setdefault(command, set()).add(sub)


def _set(acl: Acl, names: frozenset[str], allow: bool) -> None:
    if allow:
        acl.allowed |= names
    else:
        acl.allowed -= names
        acl.allcommands = False
        for name in names:
            acl.firstargs.pop(name, None)


# -- the check ----------------------------------------------------------------------------


def check(acl: Acl, user: str, command: str, args: Sequence[bytes]) -> Denied | None:
    """May ``user`` (its ACL ``acl``) run ``command args...``? None: yes."""
    argv = [command.encode(), *args]
    full = resolve(command, list(args))
    if full.split("|")[0] in NO_AUTH:
        return None
    if not _command_allowed(acl, full, list(args)):
        return Denied("command", f"User {user} has no permissions to run the '{full}' "
                      "command")
    spec = COMMANDS.get(full)
    if spec is None:
        return None  # allcommands lets an unknown command through; it names no keys
    if not acl.allkeys:
        for key_spec in spec.keys:
            for key in key_spec.where.pick(argv):
                if not _key_allowed(acl, key, key_spec.read or _set_get(full, argv),
                                    key_spec.write):
                    return Denied("key", "No permissions to access a key")
    if spec.channels is not None and not acl.allchannels:
        for channel in spec.channels.pick(argv):
            if not _channel_allowed(acl, channel, literal=spec.channel_patterns):
                return Denied("channel", "No permissions to access a channel")
    return None


def _command_allowed(acl: Acl, full: str, args: list[bytes]) -> bool:
    if acl.allcommands or full in acl.allowed:
        return True
    allowed_first = acl.firstargs.get(full)
    return bool(allowed_first and args
                and args[0].decode("utf-8", "replace").lower() in allowed_first)


def _set_get(full: str, argv: list[bytes]) -> bool:
    """SET ... GET also reads the key it writes (its key spec's variable flags)."""
    return full == "set" and any(a.lower() == b"get" for a in argv[3:])


def _key_allowed(acl: Acl, key: bytes, read: bool, write: bool) -> bool:
    """A key needs one pattern granting every permission the command needs on it; with
    none needed (EXISTS, TYPE) any matching pattern will do."""
    return any((pattern.read or not read) and (pattern.write or not write)
               and glob_match(pattern.pattern, key) for pattern in acl.keys)


def _channel_allowed(acl: Acl, channel: bytes, *, literal: bool) -> bool:
    if literal:
        return channel in acl.channels
    return any(glob_match(pattern, channel) for pattern in acl.channels)


# -- ACL LIST's form ------------------------------------------------------------------


def describe(acl: Acl) -> str:
    """The rules that rebuild ``acl`` (ACL LIST's words, in its order)."""
    words = ["on" if acl.enabled else "off"]
    words += ["nopass"] if acl.nopass else [f"#{h}" for h in acl.passwords]
    if acl.allkeys:
        words.append("~*")
    else:
        for p in acl.keys:
            perms = "RW" if p.read and p.write else "R" if p.read else "W"
            text = p.pattern.decode("utf-8", "replace")
            words.append(f"~{text}" if perms == "RW" else f"%{perms}~{text}")
    words.append("&*" if acl.allchannels else "resetchannels")
    if not acl.allchannels:
        words += [f"&{c.decode('utf-8', 'replace')}" for c in acl.channels]
    if acl.allcommands:
        words.append("+@all")
    else:
        words.append("-@all")
        words += [f"+{name}" for name in sorted(acl.allowed)]
        words += [f"+{cmd}|{arg}" for cmd in sorted(acl.firstargs)
                  for arg in sorted(acl.firstargs[cmd])]
    return " ".join(words)
