"""Type stubs for the RESP request scanner (native/resp_scan.pyx)."""

INLINE_MAX: int
MAX_MULTIBULK: int
UNAUTHENTICATED_MULTIBULK: int
UNAUTHENTICATED_BULK: int

class ScanError(ValueError):
    """The bytes broke the protocol; the message follows "Protocol error: "."""

class RequestScanner:
    held_bytes: int
    """Bytes of the finished arguments of the request in progress."""

    @property
    def busy(self) -> bool:
        """Whether an array request has started and not finished."""

    def scan(self, buf: bytearray, pos: int, out: list[list[bytes]], authenticated: bool,
             max_bulk: int, limit: int = 0) -> tuple[int, bool]:
        """Complete array requests of ``buf[pos:]`` into ``out``: (next position, more
        data needed)."""
