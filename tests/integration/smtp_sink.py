#!/usr/bin/env python3
"""An SMTP sink for the notification scenarios: python3 smtp_sink.py PORT DIR. Each message is
written to DIR/N.json ({"from", "rcpts", "data"}), N from 1, data with its CRLFs and the
dot-stuffing undone. Speaks just enough ESMTP for libcurl. Prints "listening" once bound."""
import json
import os
import socketserver
import sys
import threading

port, out = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
count = [0]


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        self.reply("220 sink ESMTP")
        sender, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode().rstrip("\r\n")
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.reply("250-sink")
                self.reply("250 8BITMIME")
            elif up.startswith("HELO"):
                self.reply("250 sink")
            elif up.startswith("MAIL FROM:"):
                sender, rcpts = cmd[10:].strip(), []
                self.reply("250 ok")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip())
                self.reply("250 ok")
            elif up == "DATA":
                self.reply("354 end with .")
                data = []
                while True:
                    l = self.rfile.readline()
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    data.append(l[1:] if l.startswith(b"..") else l)
                with lock:
                    count[0] += 1
                    path = os.path.join(out, "%d.json" % count[0])
                    with open(path + ".part", "w") as f:
                        json.dump({"from": sender, "rcpts": rcpts, "data": b"".join(data).decode()}, f)
                    os.rename(path + ".part", path)
                self.reply("250 queued")
            elif up in ("RSET", "NOOP"):
                self.reply("250 ok")
            elif up == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


server = Server(("127.0.0.1", port), Handler)
print("listening", flush=True)
server.serve_forever()
