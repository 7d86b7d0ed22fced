#!/usr/bin/env python3
"""A TCP proxy in front of a real PostgreSQL that breaks connections at the worst moment: right
after forwarding a commit point (the COMMIT of a transaction, or the Sync that ends a writing
statement outside one) to the server, before the client hears the reply. The server
commits; the client sees a lost connection and cannot know whether its change went through.

    pg_cutter.py LISTEN_PORT UPSTREAM_PORT CONTROL_FILE

CONTROL_FILE holds N: every Nth commit point of all connections is cut (0 or absent: none).
Each cut is printed as "cut N after COMMIT" or "cut N after autocommit STATEMENT" on stdout.
"""
import os
import socket
import struct
import sys
import threading
import time

listen_port, upstream_port, control = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
commit_points = 0
cuts = 0


def every():
    try:
        with open(control) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def should_cut(what):
    global commit_points, cuts
    n = every()
    with lock:
        commit_points += 1
        if n > 0 and commit_points % n == 0:
            cuts += 1
            print(f"cut {cuts} after {what}", flush=True)
            return True
    return False


def server_to_client(up, down, cut):
    try:
        while True:
            data = up.recv(65536)
            if not data or cut.is_set():  # the answer to a cut commit never reaches the client
                break
            down.sendall(data)
    except OSError:
        pass
    for s in (up, down):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def client_to_server(down, up, cut):
    try:
        # untyped packets first: SSLRequest / GSSENCRequest (answered by one byte), then startup
        while True:
            head = recv_exact(down, 4)
            (length,) = struct.unpack("!i", head)
            body = recv_exact(down, length - 4)
            up.sendall(head + body)
            code = struct.unpack("!i", body[:4])[0] if len(body) >= 4 else 0
            if code in (80877103, 80877104):
                continue
            break
        statements = {}  # prepared statement name -> whether it writes
        in_txn = False
        writes = False  # an autocommit write executed since the last Sync
        bound = False
        last = ""
        while True:
            kind = recv_exact(down, 1)
            head = recv_exact(down, 4)
            (length,) = struct.unpack("!i", head)
            body = recv_exact(down, length - 4)
            point = False
            if kind == b"Q":
                q = body.rstrip(b"\0").strip().upper()
                if q.startswith(b"BEGIN"):
                    in_txn = True
                elif q.startswith(b"COMMIT") or q.startswith(b"ROLLBACK"):
                    point = in_txn and q.startswith(b"COMMIT")
                    in_txn = False
            elif kind == b"P":
                name, rest = body.split(b"\0", 1)
                sql = rest.split(b"\0", 1)[0].lstrip().upper()
                statements[name] = sql.startswith((b"INSERT", b"UPDATE", b"DELETE", b"WITH"))
            elif kind == b"B":
                stmt = body.split(b"\0", 2)[1]
                bound = statements.get(stmt, False)
                last = stmt.decode(errors="replace")
            elif kind == b"E":
                writes = writes or (bound and not in_txn)
            elif kind == b"S":
                point, writes = writes, False
            if point and should_cut(("COMMIT after " if kind == b"Q" else "autocommit ") + last):
                cut.set()
                up.sendall(kind + head + body)
                time.sleep(0.05)  # the server has it and commits; the client never hears
                break
            up.sendall(kind + head + body)

    except (EOFError, OSError):
        pass
    for s in (up, down):  # shutdown wakes the other thread's recv; close alone would not
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def serve():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(64)
    print("listening", flush=True)
    while True:
        down, _ = ls.accept()
        try:
            up = socket.create_connection(("127.0.0.1", upstream_port))
        except OSError:
            down.close()
            continue
        for s in (up, down):  # one write per message: without this, Nagle holds each for an ACK
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cut = threading.Event()
        threading.Thread(target=server_to_client, args=(up, down, cut), daemon=True).start()
        threading.Thread(target=client_to_server, args=(down, up, cut), daemon=True).start()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    serve()
