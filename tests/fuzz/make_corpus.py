#!/usr/bin/env python3
"""Writes the seed corpus of the Vertica fuzz targets: valid backend messages, one or a few per file."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def field(name, table_oid=0, schema="", table="", user_type=0, oid=6):
    b = cstr(name) + struct.pack("!Q", table_oid)
    if table_oid:
        b += cstr(schema) + cstr(table)
    return b + struct.pack("!HBIhHHiH", 1, user_type, oid, 8, 1, 0, -1, 0)


def rowdesc(fields, pool=()):
    b = struct.pack("!H", len(fields))
    if fields:
        b += struct.pack("!I", len(pool)) + b"".join(struct.pack("!I", o) + cstr(n) for o, n in pool)
    return msg(b"T", b + b"".join(fields))


def datarow(vals):
    b = struct.pack("!H", len(vals))
    for v in vals:
        b += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v.encode()
    return msg(b"D", b)


def error(t, fields):
    return msg(t, b"".join(k.encode() + cstr(v) for k, v in fields) + b"\0")


SALT = bytes([1, 2, 3, 4])
USER_SALT = bytes(range(1, 17))
rejected = struct.pack("<QQ", 2, 7)

SEEDS = {
    "auth_sha512": msg(b"R", struct.pack("!I", 66048) + SALT + struct.pack("!I", 16) + USER_SALT),
    "auth_md5": msg(b"R", struct.pack("!I", 5) + SALT),
    "auth_ok": msg(b"R", struct.pack("!I", 0)),
    "param_protocol": msg(b"S", cstr("protocol_version") + cstr("196624")),
    "backend_key": msg(b"K", struct.pack("!II", 4242, 99)),
    "ready": msg(b"Z", b"T"),
    "complete": msg(b"C", cstr("COPY 3")),
    "rowdesc_plain": rowdesc([field("Rows Loaded")]),
    "rowdesc_table": rowdesc([field("id", 45035996273704980, "public", "events"),
                              field("shape", 45035996273704980, "public", "events", 1, 0)], [(1043, "GEOMETRY")]),
    "datarow": datarow(["42", None, ""]),
    "error_v": error(b"E", [("S", "ERROR"), ("C", "42V01"), ("M", "Relation \"nope\" does not exist"), ("V", "4566")]),
    "notice": error(b"N", [("S", "NOTICE"), ("M", "hello")]),
    "verify_files": msg(b"F", struct.pack("!H", 1) + cstr("a.csv") + cstr("/tmp/rej") + cstr("")),
    "copy_in": msg(b"G", struct.pack("!BHHH", 0, 2, 0, 0)),
    "load_file": msg(b"H", cstr("a.csv")),
    "write_file_rejected": msg(b"O", cstr("") + struct.pack("!I", len(rejected)) + rejected),
    "write_file_named": msg(b"O", cstr("/tmp/rej") + struct.pack("!I", 4) + b"bad\n"),
    "lb_response": msg(b"Y", struct.pack("!I", 5433) + cstr("10.0.0.2")),
}

# Server replies to a whole session, a segment per client turn ("!" frames between them):
# startup (implied by the session target unless the input starts with 'R'), "SELECT 1",
# "COPY t FROM LOCAL STDIN" (T F | G | WriteFile... J | D C Z), "COMMIT".
TURN = b"!\0\0\0\4"
ready = msg(b"Z", b"T")
query = rowdesc([field("a"), field("b")]) + datarow(["1", None]) + msg(b"C", cstr("SELECT")) + ready + TURN
copy_local = (rowdesc([field("Rows Loaded")]) + msg(b"F", struct.pack("!H", 0) + cstr("") + cstr("")) + TURN
              + msg(b"G", struct.pack("!BH", 0, 0)) + TURN
              + SEEDS["write_file_rejected"] + SEEDS["write_file_named"] + msg(b"J") + TURN
              + datarow(["5"]) + msg(b"C", cstr("COPY")) + ready + TURN)
copy_plain = msg(b"G", struct.pack("!BH", 0, 0)) + TURN + msg(b"C", cstr("COPY 3")) + ready + TURN
failed = SEEDS["notice"] + SEEDS["error_v"] + ready + TURN
commit = msg(b"C", cstr("COMMIT")) + msg(b"Z", b"I")
startup = (SEEDS["auth_sha512"] + TURN + msg(b"R", struct.pack("!I", 11)) + SEEDS["auth_ok"]
           + SEEDS["param_protocol"] + SEEDS["backend_key"] + msg(b"Z", b"I") + TURN)
SESSION = {
    "copy_local": query + copy_local + commit,
    "copy_plain": query + copy_plain + commit,
    "errors": failed + failed + commit,
    "startup_sha512": startup + query + copy_local + commit,
    "startup_md5": SEEDS["auth_md5"] + TURN + SEEDS["auth_ok"] + msg(b"Z", b"I") + TURN + failed + copy_plain + commit,
    "all_at_once": (query + copy_plain + commit).replace(TURN, b""),
}

for name, data in SEEDS.items():
    with open(os.path.join(HERE, "corpus", "vproto", name), "wb") as f:
        f.write(data)
with open(os.path.join(HERE, "corpus", "vproto", "stream"), "wb") as f:
    f.write((startup + query + copy_local + failed + commit).replace(TURN, b""))
for name, data in SESSION.items():
    with open(os.path.join(HERE, "corpus", "vsession", name), "wb") as f:
        f.write(data)
