"""Inline commands: what redis-cli's raw mode and telnet send (``SET k "a b"\\r\\n``).

:func:`split_args` is Redis's ``sdssplitargs``: whitespace-separated words, ``"double
quotes"`` with C escapes (``\\n \\r \\t \\b \\a \\\\ \\" \\xHH``), ``'single quotes'``
where only ``\\'`` is an escape, a closing quote that must end the word. None for
unbalanced quotes (Redis answers "Protocol error: unbalanced quotes in request").
"""

from __future__ import annotations

_SPACE = b" \n\r\t\v\f\0"
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def split_args(line: bytes) -> list[bytes] | None:
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        word = bytearray()
        in_double = in_single = False
        while True:
            if in_double:
                if i >= n:
                    return None
                c = line[i]
                if (c == 92 and i + 3 < n and line[i + 1] == ord("x")
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    word.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    word.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    word.append(c)
            elif in_single:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    word.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    word.append(c)
            else:
                if i >= n or line[i] in _SPACE:
                    break
                c = line[i]
                if c == 34:
                    in_double = True
                elif c == 39:
                    in_single = True
                else:
                    word.append(c)
            i += 1
        args.append(bytes(word))
