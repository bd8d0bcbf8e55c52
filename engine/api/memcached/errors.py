"""memcached's reply texts for errors, byte for byte as memcached 1.6 sends them."""

from __future__ import annotations

ERROR = "ERROR"
BAD_FORMAT = "CLIENT_ERROR bad command line format"
BAD_CHUNK = "CLIENT_ERROR bad data chunk"
BAD_DELTA = "CLIENT_ERROR invalid numeric delta argument"
BAD_EXPTIME = "CLIENT_ERROR invalid exptime argument"
NON_NUMERIC = "CLIENT_ERROR cannot increment or decrement non-numeric value"
DELETE_USAGE = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
INVALID_FLAG = "CLIENT_ERROR invalid flag"
DUPLICATE_FLAG = "CLIENT_ERROR duplicate flag"
BAD_TOKEN = "CLIENT_ERROR bad token in command line format"
INVALID_OR_DUPLICATE = "CLIENT_ERROR invalid or duplicate flag"
MS_MODE = "CLIENT_ERROR invalid mode for ms M token"
MA_MODE = "CLIENT_ERROR invalid mode for ma M token"
KEY_DECODE = "CLIENT_ERROR error decoding key"
OPAQUE_TOO_LONG = "CLIENT_ERROR opaque token too long"
TOO_LARGE = "SERVER_ERROR object too large for cache"
OUT_OF_MEMORY = "SERVER_ERROR out of memory storing object"
INTERNAL = "SERVER_ERROR internal error"
TOO_MANY_CONNECTIONS = "ERROR Too many open connections"
LINE_TOO_LONG = "CLIENT_ERROR line too long"


class MemcachedError(Exception):
    """A command's error reply (one line). ``noreply`` silences it, as in memcached."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class UnknownCommand(MemcachedError):
    """ERROR: no such command, or not its number of arguments; sent even with noreply
    (memcached cannot tell that the line asked for no reply)."""

    def __init__(self) -> None:
        super().__init__(ERROR)


class Quit(Exception):
    """``quit``: close the connection after what was already answered."""
