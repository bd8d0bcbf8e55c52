"""A stand-in node for the network nemesis tests: run as a node's identity, it listens on
the node's address and opens connections when told, so the tests can see which packets a
partition lets through. It is driven line by line over stdin/stdout (pipes, which no
partition touches):

    connect NAME HOST PORT   -> ok | fail <error>    (a new connection, named NAME)
    send NAME TOKEN          -> ok                   (TOKEN on connection NAME)
    reply TOKEN              -> ok                   (TOKEN on every accepted connection)
    got NAME TOKEN SECONDS   -> yes | no             (TOKEN arrived on NAME within SECONDS)
    inbox TOKEN SECONDS      -> yes | no             (... on any accepted connection)

It prints ``port N`` once listening. Standard library only: it runs as another uid.
"""

from __future__ import annotations

import socket
import sys
import threading

received: dict[str, bytearray] = {}  # connection name ("in" for accepted ones) -> bytes
changed = threading.Condition()
clients: dict[str, socket.socket] = {}
accepted: list[socket.socket] = []
CONNECT_TIMEOUT = 0.5


def read_into(sock: socket.socket, name: str) -> None:
    while True:
        try:
            data = sock.recv(4096)
        except OSError:
            return
        if not data:
            return
        with changed:
            received.setdefault(name, bytearray()).extend(data)
            changed.notify_all()


def accept_loop(server: socket.socket) -> None:
    while True:
        conn, _ = server.accept()
        accepted.append(conn)
        threading.Thread(target=read_into, args=(conn, "in"), daemon=True).start()


def arrived(name: str, token: str, seconds: float) -> bool:
    with changed:
        return changed.wait_for(lambda: token.encode() in received.get(name, b""), seconds)


def handle(words: list[str]) -> str:
    match words:
        case ["connect", name, host, port]:
            try:
                sock = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT)
            except OSError as exc:
                return f"fail {type(exc).__name__}"
            sock.settimeout(None)
            clients[name] = sock
            threading.Thread(target=read_into, args=(sock, name), daemon=True).start()
            return "ok"
        case ["send", name, token]:
            clients[name].sendall(token.encode() + b"\n")
            return "ok"
        case ["reply", token]:
            for conn in accepted:
                conn.sendall(token.encode() + b"\n")
            return "ok"
        case ["got", name, token, seconds]:
            return "yes" if arrived(name, token, float(seconds)) else "no"
        case ["inbox", token, seconds]:
            return "yes" if arrived("in", token, float(seconds)) else "no"
    return f"error unknown command {words!r}"


def main() -> None:
    server = socket.create_server((sys.argv[1], 0))
    threading.Thread(target=accept_loop, args=(server,), daemon=True).start()
    print(f"port {server.getsockname()[1]}", flush=True)
    for line in sys.stdin:
        print(handle(line.split()), flush=True)


if __name__ == "__main__":
    main()
