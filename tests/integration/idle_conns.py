#!/usr/bin/env python3
"""idle_conns.py HOST PORT N STATUS_FILE [SOURCE_ADDR]: opens N TCP connections to HOST:PORT from
SOURCE_ADDR (default 127.0.0.2) and leaves them idle: every third sends half a request line and
nothing more. Every 0.2 s it rewrites STATUS_FILE with "connected=A open=B closed=C failed=D":
connections made, still open, closed by the server, and connects that failed. Runs until killed."""
import errno, os, resource, select, socket, sys, time

host, port, n, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
source = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.2"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def write_status(**counts):
    tmp = status + ".tmp"
    with open(tmp, "w") as f:
        f.write(" ".join(f"{k}={v}" for k, v in counts.items()) + "\n")
    os.replace(tmp, status)

socks, failed = [], 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(5)
    try:
        s.connect((host, port))
        if i % 3 == 0:
            s.sendall(b"GET /hea")
    except OSError:
        failed += 1
        s.close()
        continue
    s.setblocking(False)
    socks.append(s)

closed = set()
poller = select.poll()
for s in socks:
    poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
by_fd = {s.fileno(): s for s in socks}
while True:
    for fd, ev in poller.poll(200):
        s = by_fd[fd]
        try:
            data = s.recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:  # the server closed it (or reset it)
            closed.add(fd)
            poller.unregister(fd)
    write_status(connected=len(socks), open=len(socks) - len(closed), closed=len(closed), failed=failed)
