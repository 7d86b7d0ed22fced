#!/usr/bin/env python3
"""A TCP proxy in front of a real PostgreSQL that ends a connection without a word: once
CONTROL_FILE exists, the next bytes a client sends on an open connection are not forwarded; both
sides are closed and the file removed. To the client the idle connection looked healthy (nothing
to read) until it spoke.

    pg_mute_cut.py LISTEN_PORT UPSTREAM_PORT CONTROL_FILE
"""
import os
import socket
import sys
import threading

listen_port, upstream_port, control = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()


def pump(src, dst, from_client, pair):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if from_client:
                with lock:
                    cut = os.path.exists(control)
                    if cut:
                        os.unlink(control)
                if cut:
                    print("cut", flush=True)
                    break
            dst.sendall(data)
    except OSError:
        pass
    for s in pair:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(16)
print("listening", flush=True)
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", upstream_port))
    threading.Thread(target=pump, args=(c, u, True, (c, u)), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False, (c, u)), daemon=True).start()
