#!/usr/bin/env python3
"""vemu: a strict Vertica server emulator for zload's integration tests (Python standard library only).

It speaks Vertica's side of the wire protocol (PostgreSQL v3 plus Vertica's additions, as described in
shared/reference/vertica-protocol.md) and runs the SQL on a real PostgreSQL, to which it is itself a
small v3 client (unix socket, trust auth). Each client connection gets a thread and its own PostgreSQL
connection; a client that goes away (or is refused) mid-transaction is rolled back. It can be SIGKILLed
and restarted on the same port (SO_REUSEADDR). Self-test: tests/vertica/test_emulator.py.

CLI
  --listen HOST:PORT        default 127.0.0.1:0; with port 0 the chosen port is printed on stdout
  --port-file PATH          write the bound port there (atomically, after listen())
  --pg-socket DIR           PostgreSQL's unix socket directory (required); socket DIR/.s.PGSQL.PORT
  --pg-port N               default 5432
  --pg-db NAME              database the SQL runs in (default postgres)
  --pg-user NAME            role (default postgres; trust auth over the socket)
  --database NAME           the Vertica database clients must name (default: --pg-db; empty = default)
  --user NAME:PASSWORD:METHOD   repeatable; user names are case-insensitive. METHOD:
                            sha512 (Authentication 66048), sha512-65536 (65536, same hash), md5 (5),
                            md5-65541 (65541), cleartext (3), trust (0, no password),
                            expired (SHA-512 check, then 9 CHANGE_PASSWORD; the login then fails),
                            grace (SHA-512 check, then 11 PASSWORD_GRACE, then 0).
                            Without any --user, every user gets in with Authentication 0.
  --tls-cert PEM --tls-key PEM   answer SSLRequest 'S' and do TLS (without them: 'N')
  --tls-required            a Startup that did not come over TLS gets FATAL 28000
  --lb-redirect HOST:PORT   answer LoadBalanceRequest 'Y' naming that node (without it: 'N')
  --node-name NAME          default v_vemu_node0001: COPY ... ON NAME, rejects tables, v_catalog.nodes
  --protocol-max 3.N        highest protocol agreed to (default 3.16; 3.14 makes VerifiedFiles Int16)
  --server-version STR      ParameterStatus server_version (default v24.1.0)
  --mount-root DIR          COPY FROM '/p' reads DIR/p (default: /p as given); server-side REJECTED
                            DATA / EXCEPTIONS files are written there too
  --s3-endpoint URL         s3://bucket/key sources: GET URL/bucket/key (path style), SigV4-signed with
                            the session's AWSAuth/AWSRegion/AWSSessionToken; globs use ListObjectsV2
  --sink                    COPY data is decompressed, its newline-terminated records counted, discarded
  --log PATH                JSON lines (see LOG)
  --batch-rows N            rows per PostgreSQL COPY (default 5000)

LOG  every line is {"ts": unix seconds, "event": NAME, "conn": N, ...} (null fields are left out)
  listen      host, port, pid, protocol_max, tls, node
  connect     peer                          lb_request  answer (Y|N), host, port
  ssl_request answer (S|N)                  cancel      pid, found
  startup     params (every Startup parameter), requested and protocol (decimal), protocol_text, tls
  auth        user, method, code, outcome: ok | grace | expired | bad_password | unknown_user |
              refused_no_tls | unknown_database
  ready       pid, key (BackendKeyData: the session is usable), session (CURRENT_SESSION())
  close_session  session, target (the conn closed)
  query       sql: a Query message's text exactly as received
  statement   sql (one statement of it), stmt_id, trans_id; pg (what PostgreSQL ran, when different);
              note (what the translation dropped, e.g. an unenforced PRIMARY KEY)
  alter_session  param, value (AWSAuth included: test credentials)
  copy        outcome (ok|error), table, mode (local_stdin|local_files|stdin|mount|s3), sources, files,
              parser, compression, bytes (received), raw_bytes (decompressed), rows (accepted),
              rejected, rejected_rows (first 1000 row numbers), rejects_table, batches, commit, ms,
              error and sqlstate when it failed
  error       severity, sqlstate, vcode, message: every ErrorResponse sent
  violation   deviation, phase: a protocol deviation refused (an error event and a close follow)
  unsupported what: an emulator limit, answered with SQLSTATE 0A000
  disconnect  reason, in_txn, rolled_back (a PostgreSQL transaction was open and is gone)
  internal    traceback: an emulator bug (the client got FATAL XX000)

SESSION
  autocommit as the Startup's autocommit says (default off). With it off, statements join one
  transaction until COMMIT/ROLLBACK; a failing statement rolls back only itself (Vertica's statement-
  level rollback; 40xxx errors roll back the transaction). A transaction that has only read runs its
  statements without a PostgreSQL transaction (Vertica's SELECTs take no locks), but still reports 'T'.
  COPY commits unless NO COMMIT. DDL (CREATE, DROP, ALTER, TRUNCATE, GRANT, REVOKE, COMMENT) commits
  the transaction; TRUNCATE commits even when it fails. INSERT/UPDATE/DELETE/MERGE answer a one-row
  result "OUTPUT" with the count, as Vertica does. PostgreSQL errors keep their SQLSTATE except 42P01 ->
  42V01, 55P03 -> 55V03, 40P01 -> 40V01, 42P07 -> 42710; every error and notice carries field V.

SQL
  COPY t [(c, ...)] FROM {LOCAL STDIN | LOCAL 'f' [, ...] | STDIN | 'path' [ON node|ON ANY NODE] [, ...] |
       's3://b/k' [, ...]} [UNCOMPRESSED|GZIP|BZIP after each source] [DELIMITER [AS] 'c'] [ENCLOSED [BY]
       'c'] [ESCAPE [AS] 'c' | NO ESCAPE] [NULL [AS] 's'] [RECORD TERMINATOR 's'] [SKIP n] [SKIP BYTES n]
       [TRAILING NULLCOLS] [ENFORCELENGTH] [[WITH] PARSER FJSONPARSER(...) | FCSVPARSER(...)]
       [REJECTED DATA {'path' | AS TABLE r}] [EXCEPTIONS 'path'] [REJECTMAX n] [ABORT ON ERROR]
       [DIRECT|AUTO|TRICKLE] [STREAM NAME 's'] [RETURNREJECTED] [NO COMMIT]
    Anything else (LZO, ZSTD, FILLER/expression columns, other parsers) is a syntax error or 0A000.
  CREATE [LOCAL|GLOBAL] [TEMP] [FLEX] TABLE [IF NOT EXISTS] ... : Vertica types mapped (INT -> BIGINT,
    VARCHAR -> VARCHAR(80), FLOAT -> DOUBLE PRECISION, NUMERIC -> NUMERIC(37,15), LONG VARCHAR(n), VARBINARY
    -> BYTEA, DATETIME, IDENTITY/AUTO_INCREMENT); ENCODING, ACCESSRANK, SET USING, ORDER BY, SEGMENTED BY,
    UNSEGMENTED, KSAFE, PARTITION BY dropped; PRIMARY KEY / UNIQUE enforced only when ENABLED (otherwise
    recorded as disabled, PK columns NOT NULL); FOREIGN KEY never enforced; temp tables ON COMMIT DELETE
    ROWS unless told; LIKE t -> (LIKE t INCLUDING ALL); FLEX -> __identity__ (no real columns) + __raw__
    jsonb, plus t_keys and t_view. ALTER TABLE t ADD [CONSTRAINT n] PRIMARY KEY|UNIQUE (...) [ENABLED].
  SET SESSION AUTOCOMMIT TO ON|OFF; ALTER SESSION SET [PARAMETER|UDPARAMETER [FOR lib]] k = v [, ...];
  ALTER SESSION CLEAR [PARAMETER] k|ALL; CREATE PROJECTION (ignored); BEGIN/START TRANSACTION, COMMIT,
  END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, ROLLBACK TO.
  Functions (in PostgreSQL schema v_catalog, on the search path): GET_NUM_ACCEPTED_ROWS(),
  GET_NUM_REJECTED_ROWS() (last COPY of the session), CURRENT_TRANS_ID(), CURRENT_STATEMENT(),
  CURRENT_SESSION(), COMPUTE_FLEXTABLE_KEYS_AND_BUILD_VIEW('t'), SET_LOAD_BALANCE_POLICY(p),
  ANALYZE_STATISTICS(t) (0), GETDATE(); SELECT CLOSE_SESSION('id') alone (the id CURRENT_SESSION() gives, or
  the ready event's session): as Vertica's documentation says, the session is interrupted, its transaction
  rolled back and its socket closed, with no message to it; the caller gets one row, "Session close command
  sent. Check v_monitor.sessions for progress."; an unknown id is 22023.
  Views: v_catalog.tables, columns, constraint_columns, table_constraints, primary_keys, views,
  schemata, nodes (Vertica's column names; search_path is "$user", public, v_catalog, v_monitor).
  Everything else goes to PostgreSQL as written.

STRICTNESS  each is FATAL 08P01 "Protocol violation: ...", field V 3706, logged, connection closed:
  a Startup version other than 3.5; protocol_version not first, not a raw Int32 + NUL (text), or
  below 3.5; no user; no database; duplicate or unterminated parameters; SSLRequest, LoadBalanceRequest
  or CancelRequest after Startup; LoadBalanceRequest after SSLRequest; a second SSLRequest or
  LoadBalanceRequest; anything but 'p' during authentication; a password whose form does not fit the
  method (md5 for a SHA-512 challenge, uppercase hex, no NUL); VerifiedFiles whose count width does not
  fit the protocol (Int32 from 3.15, Int16 before), that lists files for STDIN or files not asked for;
  CopyData before CopyInResponse (or LoadFile); CopyDone before EndOfBatch 'J' (also when sent without
  waiting for it); CopyData after 'J' in COPY LOCAL STDIN; EndOfBatchRequest in a plain COPY FROM STDIN;
  CopyDone, CopyFail, CopyError, EndOfBatchRequest or VerifiedFiles outside their COPY step; a password
  message after authentication; an unknown message type; a message length < 4 or over 256 MB.
  A wrong password or unknown user: FATAL 28000 "Invalid username or password" (V 3781). The extended
  query protocol (P/B/D/E/S/C/H) is not emulated: FATAL 0A000.
"""

import argparse
import bz2
import fnmatch
import glob
import hashlib
import hmac
import json
import os
import random
import re
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib

V3_5 = 3 << 16 | 5
V3_15 = 3 << 16 | 15
SSL_CODE = 80877103
CANCEL_CODE = 80877102
LB_CODE = 80936960
MAX_MSG = 256 << 20

# Vertica error codes ('V' field). The first ones are Vertica's own (seen in client sources and
# Vertica's messages); the rest are stable emulator-assigned numbers (9000-9999).
VCODES = {
    '08P01': 3706, '28000': 3781, '42V01': 4566, '42601': 4856, '22V04': 2035, '23505': 6745,
    '42703': 2624, '42710': 4213, '3D000': 5447, '0A000': 7004, '57014': 3960, '42883': 3457,
    '55V03': 5157, '40V01': 3010, '3F000': 4650, '42501': 4367, '58030': 2886, '22001': 4800,
    '08006': 2850, '08001': 2848, 'XX000': 1000, '25P02': 9101, '42704': 4588,
}

# PostgreSQL SQLSTATEs that Vertica spells differently.
SQLSTATE_MAP = {'42P01': '42V01', '55P03': '55V03', '40P01': '40V01', '42P07': '42710'}


def vcode_for(sqlstate):
    if sqlstate in VCODES:
        return VCODES[sqlstate]
    return 9000 + zlib.crc32(sqlstate.encode()) % 1000


class VError(Exception):
    """An error to send to the client as an ErrorResponse."""

    def __init__(self, sqlstate, message, severity='ERROR', detail=None, hint=None, vcode=None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message
        self.severity = severity
        self.detail = detail
        self.hint = hint
        self.vcode = vcode if vcode is not None else vcode_for(sqlstate)

    @property
    def fatal(self):
        return self.severity == 'FATAL'


class Violation(Exception):
    """A protocol deviation by the client: refused with 08P01 and the connection closes."""


class Unsupported(Exception):
    """Something the emulator does not do (answered with 0A000)."""


# ---------------------------------------------------------------------------------------------
# wire helpers

def cstr(s):
    if isinstance(s, str):
        s = s.encode('utf-8')
    return s + b'\0'


def packet(t, body=b''):
    return t + struct.pack('!I', len(body) + 4) + body


def read_cstr(data, pos, what='string'):
    end = data.find(b'\0', pos)
    if end < 0:
        raise Violation('%s is not NUL-terminated' % what)
    return bytes(data[pos:end]), end + 1


def err_fields(fields):
    return b''.join(k + cstr(v) for k, v in fields) + b'\0'


def verror_body(e):
    f = [(b'S', e.severity), (b'C', e.sqlstate), (b'M', e.message)]
    if e.detail:
        f.append((b'D', e.detail))
    if e.hint:
        f.append((b'H', e.hint))
    f.append((b'R', 'vemu'))
    f.append((b'V', str(e.vcode)))
    return err_fields(f)


def ver_text(v):
    return '%d.%d' % (v >> 16, v & 0xffff)


# ---------------------------------------------------------------------------------------------
# PostgreSQL v3 client (unix socket, trust auth, simple query and COPY FROM STDIN)

class PGError(Exception):
    def __init__(self, fields):
        self.fields = fields
        super().__init__(fields.get('M', 'PostgreSQL error'))

    @property
    def sqlstate(self):
        return self.fields.get('C', 'XX000')


class PGLost(Exception):
    pass


def parse_pg_fields(body):
    out = {}
    pos = 0
    while pos < len(body) and body[pos] != 0:
        k = chr(body[pos])
        end = body.find(b'\0', pos + 1)
        out[k] = body[pos + 1:end].decode('utf-8', 'replace')
        pos = end + 1
    return out


class PGResult:
    __slots__ = ('fields', 'rows', 'tag')

    def __init__(self, fields=None):
        self.fields = fields  # list of dicts, or None (no RowDescription)
        self.rows = []        # raw DataRow bodies
        self.tag = ''

    def values(self):
        """Rows decoded to lists of str/None."""
        out = []
        for body in self.rows:
            n = struct.unpack_from('!h', body, 0)[0]
            pos = 2
            row = []
            for _ in range(n):
                ln = struct.unpack_from('!i', body, pos)[0]
                pos += 4
                if ln < 0:
                    row.append(None)
                else:
                    row.append(body[pos:pos + ln].decode('utf-8', 'replace'))
                    pos += ln
            out.append(row)
        return out


class PGConn:
    def __init__(self, sockdir, port, db, user, appname='vemu'):
        self.path = os.path.join(sockdir, '.s.PGSQL.%d' % port)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(self.path)
        except OSError as e:
            self.sock.close()
            raise PGLost('cannot connect to PostgreSQL at %s: %s' % (self.path, e))
        self.rf = self.sock.makefile('rb', buffering=65536)
        self.notices = []
        self.status = b'I'
        self.pid = self.key = 0
        params = b''.join(cstr(k) + cstr(v) for k, v in (
            ('user', user), ('database', db), ('application_name', appname),
            ('client_encoding', 'UTF8'), ('DateStyle', 'ISO, MDY')))
        body = struct.pack('!I', 196608) + params + b'\0'
        self.sock.sendall(struct.pack('!I', len(body) + 4) + body)
        while True:
            t, b = self.recv()
            if t == b'R':
                code = struct.unpack_from('!I', b, 0)[0]
                if code != 0:
                    raise PGLost('PostgreSQL asks for authentication %d: vemu needs trust auth on the socket' % code)
            elif t == b'K':
                self.pid, self.key = struct.unpack('!II', b[:8])
            elif t == b'E':
                raise PGLost('PostgreSQL refused the connection: %s' % parse_pg_fields(b).get('M'))
            elif t == b'Z':
                self.status = b
                return

    def recv(self):
        hdr = self.rf.read(5)
        if len(hdr) < 5:
            raise PGLost('connection to PostgreSQL lost')
        t = hdr[:1]
        n = struct.unpack('!I', hdr[1:])[0] - 4
        body = self.rf.read(n) if n else b''
        if len(body) < n:
            raise PGLost('connection to PostgreSQL lost')
        return t, body

    def send(self, t, body):
        try:
            self.sock.sendall(packet(t, body))
        except OSError as e:
            raise PGLost('connection to PostgreSQL lost: %s' % e)

    def query(self, sql):
        """Runs sql (one or more statements); returns the list of results or raises PGError."""
        self.send(b'Q', cstr(sql))
        return self._collect(None)

    def copy_in(self, sql, data):
        """Runs a COPY ... FROM STDIN with data (bytes) as its input."""
        self.send(b'Q', cstr(sql))
        return self._collect(data)

    def _collect(self, copy_data):
        results = []
        cur = None
        err = None
        while True:
            t, b = self.recv()
            if t == b'T':
                cur = PGResult(self._rowdesc(b))
            elif t == b'D':
                if cur is not None:
                    cur.rows.append(b)
            elif t == b'C':
                if cur is None:
                    cur = PGResult()
                cur.tag = b[:-1].decode('utf-8', 'replace')
                results.append(cur)
                cur = None
            elif t == b'E':
                err = PGError(parse_pg_fields(b))
            elif t == b'N':
                self.notices.append(parse_pg_fields(b))
            elif t == b'G':
                if copy_data is None:
                    self.send(b'f', cstr('unexpected COPY FROM STDIN'))
                else:
                    mv = memoryview(copy_data)
                    step = 1 << 20
                    out = []
                    for i in range(0, len(mv), step):
                        out.append(packet(b'd', bytes(mv[i:i + step])))
                    out.append(packet(b'c'))
                    try:
                        self.sock.sendall(b''.join(out))
                    except OSError as e:
                        raise PGLost('connection to PostgreSQL lost: %s' % e)
                    copy_data = None
            elif t == b'Z':
                self.status = b
                break
            # S, A, I, d, c, H, n: nothing to do
        if err is not None:
            raise err
        return results

    @staticmethod
    def _rowdesc(b):
        n = struct.unpack_from('!h', b, 0)[0]
        pos = 2
        fields = []
        for _ in range(n):
            end = b.index(b'\0', pos)
            name = b[pos:end].decode('utf-8', 'replace')
            pos = end + 1
            tableoid, attnum, typoid, typlen, typmod, fmt = struct.unpack_from('!IhIhih', b, pos)
            pos += 18
            fields.append({'name': name, 'tableoid': tableoid, 'attnum': attnum, 'typoid': typoid,
                           'typlen': typlen, 'typmod': typmod})
        return fields

    def cancel(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path)
            s.sendall(struct.pack('!IIII', 16, CANCEL_CODE, self.pid, self.key))
            s.recv(1)
        except OSError:
            pass
        finally:
            s.close()

    def close(self):
        try:
            self.sock.sendall(packet(b'X'))
        except OSError:
            pass
        try:
            self.rf.close()
            self.sock.close()
        except OSError:
            pass


def qlit(s):
    return "'" + s.replace("'", "''") + "'"


def qident(s):
    return '"' + s.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------
# SQL lexer (PostgreSQL/Vertica lexical rules: '', E'', "", $tag$, --, nested /* */)

class Tok:
    __slots__ = ('kind', 'text', 'val', 'start', 'end')

    def __init__(self, kind, text, val, start, end):
        self.kind, self.text, self.val, self.start, self.end = kind, text, val, start, end

    def __repr__(self):
        return 'Tok(%s,%r)' % (self.kind, self.text)

    def is_kw(self, *words):
        return self.kind == 'id' and self.val in words


_TOK_RE = re.compile(r'''
  (?P<ws>\s+)
| (?P<lc>--[^\n]*)
| (?P<bc>/\*)
| (?P<estr>[eE]')
| (?P<str>')
| (?P<qid>")
| (?P<dol>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
| (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
| (?P<id>[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)
| (?P<op>::|<=|>=|<>|!=|\|\||.)
''', re.X | re.S)

_ESC = {'n': '\n', 't': '\t', 'r': '\r', 'b': '\b', 'f': '\f', '\\': '\\', "'": "'", '"': '"'}


def _decode_estr(body):
    out = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == "'" and i + 1 < n and body[i + 1] == "'":
            out.append("'")
            i += 2
        elif c == '\\' and i + 1 < n:
            d = body[i + 1]
            if d in _ESC:
                out.append(_ESC[d])
                i += 2
            elif d in '01234567':
                m = re.match(r'[0-7]{1,3}', body[i + 1:])
                out.append(chr(int(m.group(0), 8)))
                i += 1 + len(m.group(0))
            elif d == 'x' and re.match(r'[0-9A-Fa-f]', body[i + 2:i + 3]):
                m = re.match(r'[0-9A-Fa-f]{1,2}', body[i + 2:])
                out.append(chr(int(m.group(0), 16)))
                i += 2 + len(m.group(0))
            else:
                out.append(d)
                i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def tokenize(sql):
    """Tokens of sql without whitespace and comments. Raises VError 42601 on an unterminated quote."""
    toks = []
    pos = 0
    n = len(sql)
    while pos < n:
        m = _TOK_RE.match(sql, pos)
        kind = m.lastgroup
        if kind in ('ws', 'lc'):
            pos = m.end()
            continue
        if kind == 'bc':
            depth = 1
            i = pos + 2
            while depth and i < n:
                if sql.startswith('/*', i):
                    depth += 1
                    i += 2
                elif sql.startswith('*/', i):
                    depth -= 1
                    i += 2
                else:
                    i += 1
            if depth:
                raise VError('42601', 'Unterminated /* comment')
            pos = i
            continue
        if kind in ('str', 'estr', 'qid'):
            q = "'" if kind != 'qid' else '"'
            i = m.end()
            while True:
                if kind == 'estr':
                    mm = re.compile(r"(?:[^'\\]|\\.|'')*'", re.S).match(sql, i)
                else:
                    mm = re.compile(r"(?:[^%s]|%s%s)*%s" % (q, q, q, q), re.S).match(sql, i)
                if not mm:
                    raise VError('42601', 'Unterminated quoted %s' % ('identifier' if kind == 'qid' else 'string'))
                end = mm.end()
                break
            text = sql[pos:end]
            if kind == 'qid':
                val = text[1:-1].replace('""', '"')
            elif kind == 'str':
                val = text[1:-1].replace("''", "'")
            else:
                val = _decode_estr(text[2:-1])
                kind = 'str'
            toks.append(Tok(kind, text, val, pos, end))
            pos = end
            continue
        if kind == 'dol':
            tag = m.group(0)
            end = sql.find(tag, m.end())
            if end < 0:
                raise VError('42601', 'Unterminated dollar-quoted string')
            end += len(tag)
            toks.append(Tok('str', sql[pos:end], sql[m.end():end - len(tag)], pos, end))
            pos = end
            continue
        text = m.group(0)
        val = text.upper() if kind == 'id' else text
        toks.append(Tok(kind, text, val, pos, m.end()))
        pos = m.end()
    return toks


def split_statements(sql):
    """The statements of a Query message (text slices), without empty ones."""
    toks = tokenize(sql)
    out = []
    start = None
    last = None
    for t in toks:
        if t.kind == 'op' and t.text == ';':
            if start is not None:
                out.append(sql[start:last])
            start = None
            continue
        if start is None:
            start = t.start
        last = t.end
    if start is not None:
        out.append(sql[start:last])
    return out


def join_toks(toks):
    return ' '.join(t.text for t in toks)


class TokStream:
    def __init__(self, toks):
        self.toks = toks
        self.i = 0

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def next(self):
        t = self.peek()
        if t is None:
            raise VError('42601', 'Syntax error at end of input')
        self.i += 1
        return t

    def at_end(self):
        return self.i >= len(self.toks)

    def kw(self, *words):
        t = self.peek()
        if t is not None and t.is_kw(*words):
            self.i += 1
            return t.val
        return None

    def op(self, ch):
        t = self.peek()
        if t is not None and t.kind == 'op' and t.text == ch:
            self.i += 1
            return True
        return False

    def expect_kw(self, *words):
        v = self.kw(*words)
        if v is None:
            self.syntax()
        return v

    def expect_op(self, ch):
        if not self.op(ch):
            self.syntax()

    def syntax(self):
        t = self.peek()
        if t is None:
            raise VError('42601', 'Syntax error at end of input')
        raise VError('42601', 'Syntax error at or near "%s"' % t.text)

    def string(self):
        t = self.peek()
        if t is None or t.kind != 'str':
            self.syntax()
        self.i += 1
        return t.val

    def number(self):
        t = self.peek()
        if t is None or t.kind != 'num' or not t.text.isdigit():
            self.syntax()
        self.i += 1
        return int(t.text)

    def ident(self):
        t = self.peek()
        if t is None or t.kind not in ('id', 'qid'):
            self.syntax()
        self.i += 1
        return t

    def qname(self):
        """A possibly qualified name: list of identifier tokens."""
        parts = [self.ident()]
        while self.peek() is not None and self.peek().kind == 'op' and self.peek().text == '.':
            self.i += 1
            parts.append(self.ident())
        return parts


def name_text(parts):
    return '.'.join(p.text for p in parts)


def name_key(tok):
    """Identifier as PostgreSQL stores it (unquoted: folded to lower case)."""
    return tok.val if tok.kind == 'qid' else tok.text.lower()


# ---------------------------------------------------------------------------------------------
# Vertica's catalog and functions, created once in the PostgreSQL database (idempotent)

SETUP_SQL = r"""
SELECT pg_advisory_xact_lock(745510);
CREATE SCHEMA IF NOT EXISTS vemu;
CREATE SCHEMA IF NOT EXISTS v_catalog;
CREATE SCHEMA IF NOT EXISTS v_monitor;
CREATE TABLE IF NOT EXISTS vemu.disabled_constraints (
  table_oid oid NOT NULL, constraint_name text NOT NULL, constraint_type char(1) NOT NULL,
  column_name text NOT NULL, ordinal int NOT NULL);
CREATE OR REPLACE FUNCTION vemu.schema_name(n name) RETURNS varchar LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN n::text LIKE 'pg_temp%' THEN 'v_temp_schema' ELSE n::text END::varchar $$;
CREATE OR REPLACE FUNCTION vemu.user_schema(n name) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT n::text NOT IN ('pg_catalog', 'information_schema', 'vemu', 'v_catalog', 'v_monitor')
          AND n::text NOT LIKE 'pg_toast%' $$;
CREATE OR REPLACE FUNCTION vemu.vtype(t oid, m int) RETURNS varchar LANGUAGE sql IMMUTABLE AS $$
SELECT (CASE t
  WHEN 16 THEN 'boolean'
  WHEN 20 THEN 'int' WHEN 21 THEN 'int' WHEN 23 THEN 'int'
  WHEN 700 THEN 'float' WHEN 701 THEN 'float'
  WHEN 1043 THEN CASE WHEN m > 65004 THEN 'long varchar(' || (m - 4) || ')'
                      WHEN m > 4 THEN 'varchar(' || (m - 4) || ')' ELSE 'varchar(65000)' END
  WHEN 25 THEN 'long varchar(1048576)'
  WHEN 1042 THEN 'char(' || CASE WHEN m > 4 THEN m - 4 ELSE 1 END || ')'
  WHEN 1700 THEN CASE WHEN m > 4 THEN 'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')'
                      ELSE 'numeric(37,15)' END
  WHEN 1082 THEN 'date' WHEN 1083 THEN 'time' WHEN 1114 THEN 'timestamp' WHEN 1184 THEN 'timestamptz'
  WHEN 1266 THEN 'timetz' WHEN 1186 THEN 'interval' WHEN 17 THEN 'varbinary(80)' WHEN 2950 THEN 'uuid'
  WHEN 3802 THEN 'long varbinary(130000)' WHEN 114 THEN 'long varchar(1048576)'
  ELSE format_type(t, m) END)::varchar $$;
CREATE OR REPLACE FUNCTION vemu.vtype_id(t oid) RETURNS int8 LANGUAGE sql IMMUTABLE AS $$
SELECT (CASE t WHEN 16 THEN 5 WHEN 20 THEN 6 WHEN 21 THEN 6 WHEN 23 THEN 6 WHEN 700 THEN 7 WHEN 701 THEN 7
  WHEN 1042 THEN 8 WHEN 1043 THEN 9 WHEN 25 THEN 115 WHEN 1082 THEN 10 WHEN 1083 THEN 11 WHEN 1114 THEN 12
  WHEN 1184 THEN 13 WHEN 1186 THEN 14 WHEN 1266 THEN 15 WHEN 1700 THEN 16 WHEN 17 THEN 17 WHEN 2950 THEN 20
  WHEN 3802 THEN 116 WHEN 114 THEN 115 ELSE 9 END)::int8 $$;

CREATE OR REPLACE VIEW v_catalog.tables AS
SELECT c.relnamespace::int8 AS table_schema_id, vemu.schema_name(n.nspname) AS table_schema,
       c.oid::int8 AS table_id, c.relname::varchar AS table_name, c.relowner::int8 AS owner_id,
       pg_get_userbyid(c.relowner)::varchar AS owner_name, (c.relpersistence = 't') AS is_temp_table,
       false AS is_system_table, false AS force_outer,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '__raw__'
               AND NOT a.attisdropped) AS is_flextable,
       false AS is_shared, false AS has_aggregate_projection, ''::varchar AS system_table_creator,
       ''::varchar AS partition_expression, NULL::timestamptz AS create_time, ''::varchar AS table_definition,
       -1::int8 AS recover_priority, 'DIRECT'::varchar AS storage_mode
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND vemu.user_schema(n.nspname)
  AND (c.relpersistence <> 't' OR n.oid = pg_my_temp_schema());

CREATE OR REPLACE VIEW v_catalog.views AS
SELECT c.relnamespace::int8 AS table_schema_id, vemu.schema_name(n.nspname) AS table_schema,
       c.oid::int8 AS table_id, c.relname::varchar AS table_name, c.relowner::int8 AS owner_id,
       pg_get_userbyid(c.relowner)::varchar AS owner_name,
       pg_get_viewdef(c.oid)::varchar AS view_definition, false AS is_system_view,
       ''::varchar AS system_view_creator, NULL::timestamptz AS create_time, (c.relpersistence = 't') AS is_local_temp_view,
       'INVOKER'::varchar AS inherit_privileges
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND vemu.user_schema(n.nspname);

CREATE OR REPLACE VIEW v_catalog.schemata AS
SELECT n.oid::int8 AS schema_id, n.nspname::varchar AS schema_name, n.nspowner::int8 AS schema_owner_id,
       pg_get_userbyid(n.nspowner)::varchar AS schema_owner, false AS system_schema_creator,
       NULL::timestamptz AS create_time, false AS is_system_schema
FROM pg_namespace n WHERE vemu.user_schema(n.nspname) AND n.nspname NOT LIKE 'pg_temp%';

CREATE OR REPLACE VIEW v_catalog.columns AS
SELECT c.oid::int8 AS table_id, vemu.schema_name(n.nspname) AS table_schema, c.relname::varchar AS table_name,
       false AS is_system_table, (c.oid::text || '-' || a.attnum)::varchar AS column_id,
       a.attname::varchar AS column_name, vemu.vtype(a.atttypid, a.atttypmod) AS data_type,
       vemu.vtype_id(a.atttypid) AS data_type_id,
       (CASE WHEN a.atttypid IN (1042, 1043) AND a.atttypmod > 4 THEN a.atttypmod - 4
             WHEN a.atttypid IN (20, 21, 23, 700, 701, 1082, 1083, 1114, 1184, 1186, 1266) THEN 8
             WHEN a.atttypid = 16 THEN 1 WHEN a.atttypid = 2950 THEN 16 ELSE NULL END)::int8 AS data_type_length,
       (CASE WHEN a.atttypid IN (1042, 1043) AND a.atttypmod > 4 THEN a.atttypmod - 4 ELSE NULL END)::int8
         AS character_maximum_length,
       (CASE WHEN a.atttypid = 1700 AND a.atttypmod > 4 THEN (a.atttypmod - 4) >> 16
             WHEN a.atttypid = 1700 THEN 37 WHEN a.atttypid IN (20, 21, 23) THEN 64
             WHEN a.atttypid IN (700, 701) THEN 53 ELSE NULL END)::int8 AS numeric_precision,
       (CASE WHEN a.atttypid = 1700 AND a.atttypmod > 4 THEN (a.atttypmod - 4) & 65535
             WHEN a.atttypid = 1700 THEN 15 WHEN a.atttypid IN (20, 21, 23) THEN 0 ELSE NULL END)::int8 AS numeric_scale,
       (CASE WHEN a.atttypid IN (1083, 1114, 1184, 1266) THEN 6 ELSE NULL END)::int8 AS datetime_precision,
       NULL::int8 AS interval_precision, a.attnum::int8 AS ordinal_position, NOT a.attnotnull AS is_nullable,
       pg_get_expr(d.adbin, d.adrelid)::varchar AS column_default, ''::varchar AS column_set_using,
       (a.attidentity <> '') AS is_identity
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND vemu.user_schema(n.nspname)
  AND (c.relpersistence <> 't' OR n.oid = pg_my_temp_schema());

CREATE OR REPLACE VIEW v_catalog.constraint_columns AS
SELECT con.oid::int8 AS constraint_id, con.conname::varchar AS constraint_name,
       vemu.schema_name(n.nspname) AS table_schema, c.oid::int8 AS table_id, c.relname::varchar AS table_name,
       a.attname::varchar AS column_name, con.contype::char(1) AS constraint_type, true AS is_enabled,
       vemu.schema_name(rn.nspname) AS reference_table_schema, rc.relname::varchar AS reference_table_name,
       ra.attname::varchar AS reference_column_name, k.ord::int8 AS ordinal_position
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
LEFT JOIN pg_class rc ON rc.oid = con.confrelid LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
LEFT JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[k.ord]
WHERE con.contype IN ('p', 'u', 'f', 'c') AND vemu.user_schema(n.nspname)
UNION ALL
SELECT (c.oid::int8 << 16) + a.attnum, 'C_NOTNULL'::varchar, vemu.schema_name(n.nspname), c.oid::int8,
       c.relname::varchar, a.attname::varchar, 'n'::char(1), true, NULL, NULL, NULL, 1
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND a.attnotnull AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND vemu.user_schema(n.nspname)
UNION ALL
SELECT (d.table_oid::int8 << 20) + d.ordinal + abs(hashtext(d.constraint_name)) % 1000, d.constraint_name::varchar,
       vemu.schema_name(n.nspname), c.oid::int8, c.relname::varchar, d.column_name::varchar,
       d.constraint_type::char(1), false, NULL, NULL, NULL, d.ordinal::int8
FROM vemu.disabled_constraints d JOIN pg_class c ON c.oid = d.table_oid JOIN pg_namespace n ON n.oid = c.relnamespace;

CREATE OR REPLACE VIEW v_catalog.table_constraints AS
SELECT constraint_id, constraint_name, table_schema, table_id, table_name, constraint_type, is_enabled,
       count(*)::int8 AS constraint_key_count
FROM v_catalog.constraint_columns WHERE constraint_type <> 'n'
GROUP BY constraint_id, constraint_name, table_schema, table_id, table_name, constraint_type, is_enabled;

CREATE OR REPLACE VIEW v_catalog.primary_keys AS
SELECT constraint_id, constraint_name, column_name, ordinal_position, table_name, 'p'::char(1) AS constraint_type,
       table_schema, is_enabled
FROM v_catalog.constraint_columns WHERE constraint_type = 'p';

CREATE OR REPLACE VIEW v_catalog.nodes AS
SELECT 45035996273704980::int8 AS node_id, coalesce(current_setting('vemu.node_name', true), 'v_vemu_node0001')::varchar AS node_name,
       'UP'::varchar AS node_state, '127.0.0.1'::varchar AS node_address, 'PERMANENT'::varchar AS node_type;

CREATE OR REPLACE FUNCTION v_catalog.vemu_setting_int(k text) RETURNS int8 LANGUAGE sql STABLE AS
$$ SELECT coalesce(nullif(current_setting(k, true), ''), '0')::int8 $$;
CREATE OR REPLACE FUNCTION v_catalog.get_num_accepted_rows() RETURNS int8 LANGUAGE sql STABLE AS
$$ SELECT v_catalog.vemu_setting_int('vemu.accepted') $$;
CREATE OR REPLACE FUNCTION v_catalog.get_num_rejected_rows() RETURNS int8 LANGUAGE sql STABLE AS
$$ SELECT v_catalog.vemu_setting_int('vemu.rejected') $$;
CREATE OR REPLACE FUNCTION v_catalog.current_trans_id() RETURNS int8 LANGUAGE sql STABLE AS
$$ SELECT v_catalog.vemu_setting_int('vemu.trans_id') $$;
CREATE OR REPLACE FUNCTION v_catalog.current_statement() RETURNS int8 LANGUAGE sql STABLE AS
$$ SELECT v_catalog.vemu_setting_int('vemu.stmt_id') $$;
CREATE OR REPLACE FUNCTION v_catalog.current_session() RETURNS varchar LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('vemu.session_id', true), '')::varchar $$;
CREATE OR REPLACE FUNCTION v_catalog.analyze_statistics(t text) RETURNS int8 LANGUAGE sql VOLATILE AS
$$ SELECT 0::int8 $$;
CREATE OR REPLACE FUNCTION v_catalog.getdate() RETURNS timestamp LANGUAGE sql STABLE AS
$$ SELECT localtimestamp $$;
CREATE OR REPLACE FUNCTION v_catalog.set_load_balance_policy(p text) RETURNS varchar LANGUAGE sql VOLATILE AS
$$ SELECT ('Successfully changed the client initiator load balancing policy to: ' || lower(p))::varchar $$;

CREATE OR REPLACE FUNCTION v_catalog.compute_flextable_keys_and_build_view(tbl text) RETURNS varchar
LANGUAGE plpgsql AS $fn$
DECLARE
  rel regclass;
  sch text; nm text; keys_t text; view_t text; cols text; realcols text;
BEGIN
  rel := tbl::regclass;
  SELECT n.nspname, c.relname INTO sch, nm FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = rel;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = rel AND attname = '__raw__' AND NOT attisdropped) THEN
    RAISE EXCEPTION 'Table "%" is not a flex table', nm USING ERRCODE = '42809';
  END IF;
  keys_t := format('%I.%I', sch, nm || '_keys');
  view_t := format('%I.%I', sch, nm || '_view');
  EXECUTE format('DROP TABLE IF EXISTS %s', keys_t);
  EXECUTE format('CREATE TABLE %s (key_name varchar(65000), frequency int8, data_type_guess varchar(65000))', keys_t);
  EXECUTE format($q$
    INSERT INTO %s (key_name, frequency, data_type_guess)
    SELECT e.k, count(*),
      CASE WHEN bool_and(jsonb_typeof(e.v) = 'null') THEN 'Varchar(20)'
           WHEN bool_and(jsonb_typeof(e.v) IN ('number', 'null') AND (jsonb_typeof(e.v) = 'null' OR e.v::text ~ '^-?[0-9]+$')) THEN 'Integer'
           WHEN bool_and(jsonb_typeof(e.v) IN ('number', 'null')) THEN 'Numeric(' || greatest(6, max(length(e.v::text))) * 2 || ',' || 6 || ')'
           WHEN bool_and(jsonb_typeof(e.v) IN ('boolean', 'null')) THEN 'Boolean'
           WHEN bool_and(jsonb_typeof(e.v) IN ('object', 'array', 'null')) THEN 'long varbinary(' || greatest(20, max(length(e.v::text)) * 2) || ')'
           ELSE 'Varchar(' || greatest(20, max(octet_length(e.v #>> '{}')) * 2) || ')' END
    FROM %s t CROSS JOIN LATERAL jsonb_each(t.__raw__) AS e(k, v)
    GROUP BY e.k ORDER BY e.k$q$, keys_t, rel);
  EXECUTE format('SELECT string_agg(format(%L, key_name, key_name), %L ORDER BY key_name) FROM %s '
                 'WHERE lower(key_name) NOT IN (SELECT lower(attname) FROM pg_attribute WHERE attrelid = %s '
                 'AND attnum > 0 AND NOT attisdropped)',
                 '(__raw__ ->> %L)::varchar AS %I', ', ', keys_t, rel::oid) INTO cols;
  SELECT string_agg(format('%I', attname), ', ' ORDER BY attnum) INTO realcols FROM pg_attribute
   WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped AND attname NOT IN ('__raw__', '__identity__');
  IF realcols IS NOT NULL THEN
    cols := CASE WHEN cols IS NULL THEN realcols ELSE realcols || ', ' || cols END;
  END IF;
  EXECUTE format('DROP VIEW IF EXISTS %s', view_t);
  EXECUTE format('CREATE VIEW %s AS SELECT %s FROM %s', view_t,
                 coalesce(cols, '''No keys found''::varchar AS status'), rel);
  RETURN format('Please see %s.%s for updated keys', sch, nm || '_keys') || E'\n' ||
         format('The view %s.%s is ready for querying', sch, nm || '_view');
END
$fn$;
"""

# names of the emulated functions as Vertica reports them in a result's column name
FUNC_COLUMNS = {n.lower(): n for n in (
    'GET_NUM_ACCEPTED_ROWS', 'GET_NUM_REJECTED_ROWS', 'CURRENT_TRANS_ID', 'CURRENT_STATEMENT',
    'CURRENT_SESSION', 'SET_LOAD_BALANCE_POLICY', 'COMPUTE_FLEXTABLE_KEYS_AND_BUILD_VIEW')}
SESSION_FUNCS = {'GET_NUM_ACCEPTED_ROWS', 'GET_NUM_REJECTED_ROWS', 'CURRENT_TRANS_ID', 'CURRENT_STATEMENT',
                 'CURRENT_SESSION'}


# ---------------------------------------------------------------------------------------------
# CREATE / ALTER TABLE translation

INT_TYPES = {'INT', 'INTEGER', 'BIGINT', 'INT8', 'SMALLINT', 'TINYINT', 'INT4', 'INT2'}
FLOAT_TYPES = {'FLOAT', 'FLOAT8', 'REAL', 'DOUBLE', 'FLOAT4'}
COL_MODIFIERS = {'NOT', 'NULL', 'DEFAULT', 'PRIMARY', 'UNIQUE', 'REFERENCES', 'CHECK', 'CONSTRAINT', 'ENCODING',
                 'ACCESSRANK', 'AUTO_INCREMENT', 'IDENTITY', 'SET', 'COLLATE', 'GENERATED'}


def split_top(toks, sep=','):
    """Splits tokens at top-level separators (outside parentheses)."""
    items = [[]]
    depth = 0
    for t in toks:
        if t.kind == 'op' and t.text in '([':
            depth += 1
        elif t.kind == 'op' and t.text in ')]':
            depth -= 1
        if depth == 0 and t.kind == 'op' and t.text == sep:
            items.append([])
            continue
        items[-1].append(t)
    return [i for i in items if i]


def paren_group(toks, i):
    """Index just past the parenthesised group starting at toks[i] ('(')."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t.kind == 'op' and t.text == '(':
            depth += 1
        elif t.kind == 'op' and t.text == ')':
            depth -= 1
            if depth == 0:
                return j + 1
    raise VError('42601', 'Syntax error: unbalanced parentheses')


def map_type(tt):
    """Vertica type tokens -> PostgreSQL type text."""
    words = [t.val for t in tt if t.kind == 'id']
    nums = [int(t.text) for t in tt if t.kind == 'num' and t.text.isdigit()]
    if not words:
        return join_toks(tt)
    w0 = words[0]
    if w0 in INT_TYPES:
        return 'BIGINT'
    if w0 in FLOAT_TYPES:
        return 'DOUBLE PRECISION'
    if w0 == 'LONG' and len(words) > 1 and words[1] == 'VARCHAR':
        return 'VARCHAR(%d)' % (nums[0] if nums else 1048576)
    if w0 == 'LONG' and len(words) > 1 and words[1] == 'VARBINARY':
        return 'BYTEA'
    if w0 in ('VARCHAR', 'CHARACTER', 'CHAR') and ('VARYING' in words or w0 == 'VARCHAR'):
        return 'VARCHAR(%d)' % (nums[0] if nums else 80)
    if w0 in ('CHAR', 'CHARACTER'):
        return 'CHAR(%d)' % (nums[0] if nums else 1)
    if w0 in ('VARBINARY', 'BINARY', 'BYTEA', 'RAW'):
        return 'BYTEA'
    if w0 in ('NUMERIC', 'DECIMAL', 'NUMBER', 'MONEY'):
        if len(nums) >= 2:
            return 'NUMERIC(%d,%d)' % (nums[0], nums[1])
        if len(nums) == 1:
            return 'NUMERIC(%d,0)' % nums[0]
        return 'NUMERIC(18,4)' if w0 == 'MONEY' else 'NUMERIC(37,15)'
    if w0 in ('BOOLEAN', 'BOOL'):
        return 'BOOLEAN'
    if w0 in ('DATETIME', 'SMALLDATETIME'):
        return 'TIMESTAMP'
    if w0 == 'TIMESTAMPTZ':
        return 'TIMESTAMPTZ'
    if w0 == 'TIMETZ':
        return 'TIMETZ'
    if w0 == 'UUID':
        return 'UUID'
    return join_toks(tt)


class CreateResult:
    def __init__(self):
        self.sql = []          # statements for PostgreSQL, in order
        self.post = []         # run only if the table was created by this statement
        self.disabled = []     # (constraint type, name, [columns])
        self.notes = []
        self.table = None      # qualified name text
        self.if_not_exists = False
        self.flex = False


def translate_column(item, res):
    """One column definition -> PostgreSQL text; records disabled constraints on res."""
    col = item[0]
    j = 1
    depth = 0
    while j < len(item):
        t = item[j]
        if t.kind == 'op' and t.text == '(':
            depth += 1
        elif t.kind == 'op' and t.text == ')':
            depth -= 1
        elif depth == 0 and t.kind == 'id' and t.val in COL_MODIFIERS:
            break
        j += 1
    ptype = map_type(item[1:j])
    out = [col.text, ptype]
    mods = item[j:]
    k = 0
    while k < len(mods):
        t = mods[k]
        nxt = mods[k + 1] if k + 1 < len(mods) else None
        if t.is_kw('ENCODING', 'ACCESSRANK'):
            res.notes.append('dropped %s %s' % (t.val, nxt.text if nxt else ''))
            k += 2
            continue
        if t.is_kw('AUTO_INCREMENT', 'IDENTITY'):
            out[1] = 'BIGINT'
            out.append('GENERATED BY DEFAULT AS IDENTITY')
            k += 1
            if k < len(mods) and mods[k].kind == 'op' and mods[k].text == '(':
                k = paren_group(mods, k)
            continue
        if t.is_kw('PRIMARY') or t.is_kw('UNIQUE'):
            ctype = 'p' if t.val == 'PRIMARY' else 'u'
            k += 2 if ctype == 'p' else 1
            state = None
            if k < len(mods) and mods[k].is_kw('ENABLED', 'DISABLED'):
                state = mods[k].val
                k += 1
            if state == 'ENABLED':
                out.append('PRIMARY KEY' if ctype == 'p' else 'UNIQUE')
            else:
                res.disabled.append((ctype, 'C_PRIMARY' if ctype == 'p' else 'C_UNIQUE', [col]))
                res.notes.append('%s on %s not enforced (Vertica enforces it only when ENABLED)'
                                 % ('PRIMARY KEY' if ctype == 'p' else 'UNIQUE', col.text))
                if ctype == 'p':
                    out.append('NOT NULL')
            continue
        if t.is_kw('REFERENCES'):
            k += 1
            ref = []
            while k < len(mods) and not (mods[k].kind == 'id' and mods[k].val in COL_MODIFIERS):
                ref.append(mods[k])
                k += 1
            res.disabled.append(('f', 'C_FOREIGN', [col]))
            res.notes.append('foreign key on %s not enforced' % col.text)
            continue
        if t.is_kw('SET') and nxt is not None and nxt.is_kw('USING'):
            k += 2
            depth = 0
            while k < len(mods):
                m = mods[k]
                if m.kind == 'op' and m.text == '(':
                    depth += 1
                elif m.kind == 'op' and m.text == ')':
                    depth -= 1
                elif depth == 0 and m.kind == 'id' and m.val in COL_MODIFIERS:
                    break
                k += 1
            res.notes.append('dropped SET USING on %s' % col.text)
            continue
        out.append(t.text)
        k += 1
    return ' '.join(out)


def translate_table_constraint(item, res):
    """A table constraint -> PostgreSQL text or None (dropped: not enforced in Vertica)."""
    name = None
    k = 0
    if item[0].is_kw('CONSTRAINT'):
        name = item[1]
        k = 2
    head = item[k]
    if head.is_kw('PRIMARY', 'UNIQUE', 'FOREIGN'):
        ctype = {'PRIMARY': 'p', 'UNIQUE': 'u', 'FOREIGN': 'f'}[head.val]
        k += 2 if ctype in 'pf' else 1
        if k >= len(item) or item[k].text != '(':
            raise VError('42601', 'Syntax error at or near "%s"' % (item[k].text if k < len(item) else ''))
        end = paren_group(item, k)
        cols = [t for t in item[k + 1:end - 1] if t.kind in ('id', 'qid')]
        rest = item[end:]
        state = None
        if rest and rest[-1].is_kw('ENABLED', 'DISABLED'):
            state = rest[-1].val
            rest = rest[:-1]
        if ctype != 'f' and state == 'ENABLED':
            return join_toks(item[:end] + rest)
        cname = name.text if name is not None else {'p': 'C_PRIMARY', 'u': 'C_UNIQUE', 'f': 'C_FOREIGN'}[ctype]
        res.disabled.append((ctype, cname, cols))
        res.notes.append('%s (%s) not enforced%s' % (
            {'p': 'PRIMARY KEY', 'u': 'UNIQUE', 'f': 'FOREIGN KEY'}[ctype], ', '.join(c.text for c in cols),
            '' if ctype == 'f' else ' (Vertica enforces it only when ENABLED)'))
        return None
    if head.is_kw('CHECK'):
        if item[-1].is_kw('DISABLED'):
            res.notes.append('disabled CHECK dropped')
            return None
        if item[-1].is_kw('ENABLED'):
            item = item[:-1]
        return join_toks(item)
    return join_toks(item)


def translate_create_table(toks):
    """CREATE [LOCAL|GLOBAL] [TEMP] [FLEX] TABLE ... -> CreateResult, or None when not a table."""
    s = TokStream(toks)
    s.expect_kw('CREATE')
    res = CreateResult()
    temp = False
    if s.kw('OR'):
        s.expect_kw('REPLACE')
        return None
    scope = s.kw('LOCAL', 'GLOBAL')
    if s.kw('TEMP', 'TEMPORARY'):
        temp = True
    elif scope:
        s.syntax()
    if s.kw('FLEX', 'FLEXIBLE'):
        res.flex = True
    if s.kw('EXTERNAL'):
        raise Unsupported('CREATE EXTERNAL TABLE')
    if not s.kw('TABLE'):
        return None
    if s.kw('IF'):
        s.expect_kw('NOT')
        s.expect_kw('EXISTS')
        res.if_not_exists = True
    name = s.qname()
    res.table = name_text(name)
    head = 'CREATE %sTABLE %s%s' % ('TEMPORARY ' if temp else '', 'IF NOT EXISTS ' if res.if_not_exists else '',
                                     res.table)
    rest = toks[s.i:]
    if rest and rest[0].is_kw('LIKE'):
        src = TokStream(rest[1:]).qname()
        res.sql.append('%s (LIKE %s INCLUDING ALL)' % (head, name_text(src)))
        return res
    if (rest and rest[0].is_kw('AS')) or (not rest and not res.flex):
        res.sql.append('%s %s' % (head, join_toks(rest)))
        return res
    items = []
    tail = rest
    if rest and rest[0].text == '(':
        end = paren_group(rest, 0)
        items = split_top(rest[1:end - 1])
        tail = rest[end:]
    cols = []
    for item in items:
        if item[0].is_kw('CONSTRAINT', 'PRIMARY', 'UNIQUE', 'FOREIGN', 'CHECK'):
            c = translate_table_constraint(item, res)
        else:
            c = translate_column(item, res)
        if c:
            cols.append(c)
    if res.flex:
        if not items:
            cols.append('__identity__ BIGINT GENERATED BY DEFAULT AS IDENTITY')
        cols.append('__raw__ JSONB NOT NULL')
    # trailing clauses: keep ON COMMIT, drop Vertica's physical design clauses
    on_commit = None
    ts = TokStream(tail)
    dropped = []
    while not ts.at_end():
        if ts.kw('ON'):
            ts.expect_kw('COMMIT')
            what = ts.expect_kw('PRESERVE', 'DELETE')
            ts.expect_kw('ROWS')
            on_commit = 'ON COMMIT %s ROWS' % what
            continue
        if ts.peek().is_kw('AS'):
            raise Unsupported('CREATE TABLE (columns) AS SELECT')
        dropped.append(ts.next().text)
    if dropped:
        res.notes.append('dropped: ' + ' '.join(dropped))
    if temp and on_commit is None:
        on_commit = 'ON COMMIT DELETE ROWS'  # Vertica's default for temporary tables
    res.sql.append('%s (%s)%s' % (head, ', '.join(cols), ' ' + on_commit if on_commit else ''))
    if res.flex:
        base = name[-1]
        prefix = name_text(name[:-1]) + '.' if len(name) > 1 else ''

        def derived(suffix):
            if base.kind == 'qid':
                return prefix + qident(base.val + suffix)
            return prefix + base.text + suffix
        res.post.append('CREATE TABLE IF NOT EXISTS %s (key_name varchar(65000), frequency int8, '
                        'data_type_guess varchar(65000))' % derived('_keys'))
        res.post.append("CREATE OR REPLACE VIEW %s AS SELECT 'Please run compute_flextable_keys_and_build_view() "
                        "to update this view to reflect real and virtual columns in the flex table'::varchar AS status"
                        % derived('_view'))
    pk_cols = [c for ctype, _, cs in res.disabled if ctype == 'p' for c in cs]
    for c in pk_cols:
        res.post.append('ALTER TABLE %s ALTER COLUMN %s SET NOT NULL' % (res.table, c.text))
    for ctype, cname, cs in res.disabled:
        for i, c in enumerate(cs):
            res.post.append('INSERT INTO vemu.disabled_constraints VALUES (%s::regclass, %s, %s, %s, %d)' % (
                qlit(res.table), qlit(cname), qlit(ctype), qlit(name_key(c)), i + 1))
    return res


def translate_alter_table(toks):
    """ALTER TABLE t ADD [CONSTRAINT n] PRIMARY KEY|UNIQUE (cols) [ENABLED|DISABLED]."""
    s = TokStream(toks)
    s.expect_kw('ALTER')
    s.expect_kw('TABLE')
    name = s.qname()
    if not s.kw('ADD'):
        rest = toks[s.i:]
        for t in rest:
            if t.is_kw('ENABLED', 'DISABLED'):
                raise Unsupported('ALTER TABLE ... ENABLED/DISABLED other than in ADD CONSTRAINT')
        return None
    item = toks[s.i:]
    if not item or not item[0].is_kw('CONSTRAINT', 'PRIMARY', 'UNIQUE', 'FOREIGN', 'CHECK'):
        return None
    res = CreateResult()
    res.table = name_text(name)
    c = translate_table_constraint(item, res)
    if c:
        res.sql.append('ALTER TABLE %s ADD %s' % (res.table, c))
    else:
        for ctype, cname, cs in res.disabled:
            for i, col in enumerate(cs):
                res.sql.append('INSERT INTO vemu.disabled_constraints VALUES (%s::regclass, %s, %s, %s, %d)' % (
                    qlit(res.table), qlit(cname), qlit(ctype), qlit(name_key(col)), i + 1))
            if ctype == 'p':
                for col in cs:
                    res.sql.append('ALTER TABLE %s ALTER COLUMN %s SET NOT NULL' % (res.table, col.text))
    return res


# ---------------------------------------------------------------------------------------------
# COPY grammar (the subset a loader uses; anything else is a syntax error, as in Vertica)

COMPRESSIONS = ('UNCOMPRESSED', 'GZIP', 'BZIP', 'LZO', 'ZSTD')


class Source:
    def __init__(self, kind, path=None, compression='UNCOMPRESSED', node=None):
        self.kind = kind          # stdin | local | mount | s3
        self.path = path
        self.compression = compression
        self.node = node          # None, 'ANY', or a node name

    def __repr__(self):
        return '%s:%s' % (self.kind, self.path)


class CopySpec:
    def __init__(self):
        self.table = None
        self.cols = None
        self.mode = None
        self.sources = []
        self.delimiter = None
        self.enclosed = None
        self.escape = '\\'
        self.null = None
        self.record_terminator = None
        self.skip = 0
        self.skip_bytes = 0
        self.trailing_nullcols = False
        self.enforcelength = False
        self.rejectmax = None
        self.rejected_file = None
        self.rejected_table = None
        self.exceptions_file = None
        self.abort_on_error = False
        self.load_method = None
        self.no_commit = False
        self.returnrejected = False
        self.parser = None
        self.parser_args = {}
        self.seen = set()


def _single_char(s, what):
    if len(s) != 1:
        raise VError('22023', 'COPY %s must be a single character' % what)
    return s


def _compression(ts):
    c = ts.kw(*COMPRESSIONS)
    if c in ('LZO', 'ZSTD'):
        raise Unsupported('COPY ... %s (the emulator decompresses GZIP and BZIP only)' % c)
    return c or 'UNCOMPRESSED'


def parse_copy(toks, node_name):
    ts = TokStream(toks)
    ts.expect_kw('COPY')
    spec = CopySpec()
    spec.table = ts.qname()
    if ts.op('('):
        cols = []
        while True:
            c = ts.ident()
            nxt = ts.peek()
            if nxt is not None and not (nxt.kind == 'op' and nxt.text in ',)'):
                raise Unsupported('COPY column options (FILLER, AS expression, FORMAT ...) for column %s' % c.text)
            cols.append(c)
            if ts.op(')'):
                break
            ts.expect_op(',')
        spec.cols = cols
    ts.expect_kw('FROM')
    if ts.kw('LOCAL'):
        if ts.kw('STDIN'):
            spec.mode = 'local_stdin'
            spec.sources.append(Source('stdin', 'STDIN', _compression(ts)))
        else:
            spec.mode = 'local_files'
            while True:
                p = ts.string()
                spec.sources.append(Source('local', p, _compression(ts)))
                if not ts.op(','):
                    break
    elif ts.kw('STDIN'):
        spec.mode = 'stdin'
        spec.sources.append(Source('stdin', 'STDIN', _compression(ts)))
    else:
        kinds = set()
        while True:
            p = ts.string()
            node = None
            if ts.kw('ON'):
                if ts.kw('ANY'):
                    ts.expect_kw('NODE')
                    node = 'ANY'
                elif ts.kw('EACH'):
                    ts.expect_kw('NODE')
                    node = 'ANY'
                else:
                    n = ts.ident()
                    node = n.val if n.kind == 'qid' else n.text
                    if node.lower() != node_name.lower():
                        raise VError('42704', 'Node %s does not exist' % node)
            kind = 's3' if p.lower().startswith('s3://') else 'mount'
            if kind == 's3' and node not in (None, 'ANY'):
                pass
            kinds.add(kind)
            spec.sources.append(Source(kind, p, _compression(ts), node))
            if not ts.op(','):
                break
        if len(kinds) > 1:
            raise Unsupported('COPY mixing s3:// and file sources')
        spec.mode = kinds.pop()

    def once(name):
        if name in spec.seen:
            raise VError('42601', 'Syntax error: %s given twice' % name)
        spec.seen.add(name)

    while not ts.at_end():
        t = ts.peek()
        if t.kind == 'op' and t.text == ';':
            break
        kw = ts.kw('DELIMITER', 'ENCLOSED', 'ESCAPE', 'NO', 'NULL', 'RECORD', 'SKIP', 'TRAILING', 'ENFORCELENGTH',
                   'REJECTMAX', 'REJECTED', 'EXCEPTIONS', 'ABORT', 'DIRECT', 'AUTO', 'TRICKLE', 'STREAM',
                   'RETURNREJECTED', 'WITH', 'PARSER')
        if kw is None:
            if t.is_kw(*COMPRESSIONS):
                raise VError('42601', 'Syntax error at or near "%s" (the compression goes right after its source)'
                             % t.text)
            ts.syntax()
        if kw == 'DELIMITER':
            once(kw)
            ts.kw('AS')
            spec.delimiter = _single_char(ts.string(), 'DELIMITER')
        elif kw == 'ENCLOSED':
            once(kw)
            ts.kw('BY')
            spec.enclosed = _single_char(ts.string(), 'ENCLOSED BY')
        elif kw == 'ESCAPE':
            once('ESCAPE')
            ts.kw('AS')
            spec.escape = _single_char(ts.string(), 'ESCAPE AS')
        elif kw == 'NO':
            what = ts.expect_kw('ESCAPE', 'COMMIT')
            once(what)
            if what == 'ESCAPE':
                spec.escape = None
            else:
                spec.no_commit = True
        elif kw == 'NULL':
            once(kw)
            ts.kw('AS')
            spec.null = ts.string()
        elif kw == 'RECORD':
            ts.expect_kw('TERMINATOR')
            once('RECORD TERMINATOR')
            spec.record_terminator = ts.string()
            if not spec.record_terminator:
                raise VError('22023', 'COPY RECORD TERMINATOR cannot be empty')
        elif kw == 'SKIP':
            if ts.kw('BYTES'):
                once('SKIP BYTES')
                spec.skip_bytes = ts.number()
            else:
                once('SKIP')
                spec.skip = ts.number()
        elif kw == 'TRAILING':
            ts.expect_kw('NULLCOLS')
            once(kw)
            spec.trailing_nullcols = True
        elif kw == 'ENFORCELENGTH':
            once(kw)
            spec.enforcelength = True
        elif kw == 'REJECTMAX':
            once(kw)
            spec.rejectmax = ts.number()
        elif kw == 'REJECTED':
            ts.expect_kw('DATA')
            once('REJECTED DATA')
            if ts.kw('AS'):
                ts.expect_kw('TABLE')
                spec.rejected_table = ts.qname()
            else:
                spec.rejected_file = ts.string()
                if ts.kw('ON'):
                    ts.ident()
        elif kw == 'EXCEPTIONS':
            once(kw)
            spec.exceptions_file = ts.string()
            if ts.kw('ON'):
                ts.ident()
        elif kw == 'ABORT':
            ts.expect_kw('ON')
            ts.expect_kw('ERROR')
            once('ABORT ON ERROR')
            spec.abort_on_error = True
        elif kw in ('DIRECT', 'AUTO', 'TRICKLE'):
            once('load method')
            spec.load_method = kw
        elif kw == 'STREAM':
            ts.expect_kw('NAME')
            once('STREAM NAME')
            ts.string()
        elif kw == 'RETURNREJECTED':
            once(kw)
            spec.returnrejected = True
        elif kw in ('WITH', 'PARSER'):
            if kw == 'WITH':
                ts.expect_kw('PARSER')
            once('PARSER')
            p = ts.ident()
            spec.parser = p.val
            ts.expect_op('(')
            if not ts.op(')'):
                while True:
                    k = ts.ident().text.lower()
                    ts.expect_op('=')
                    v = ts.next()
                    if v.kind == 'str':
                        val = v.val
                    elif v.kind == 'num':
                        val = v.text
                    elif v.kind == 'id' and v.val in ('TRUE', 'FALSE'):
                        val = v.val.lower()
                    else:
                        raise VError('42601', 'Syntax error at or near "%s"' % v.text)
                    spec.parser_args[k] = val
                    if ts.op(')'):
                        break
                    ts.expect_op(',')
            if spec.parser not in ('FJSONPARSER', 'FCSVPARSER'):
                raise Unsupported('PARSER %s (the emulator knows FJSONPARSER and FCSVPARSER)' % p.text)
    if spec.returnrejected and spec.mode.startswith('local') and (spec.rejected_file or spec.exceptions_file):
        raise VError('0A000', 'COPY LOCAL does not support rejected row numbers with exceptions or rejected data options')
    if spec.parser and (spec.delimiter or spec.enclosed or spec.null is not None or spec.record_terminator):
        raise VError('0A000', 'COPY: DELIMITER, ENCLOSED BY, NULL and RECORD TERMINATOR cannot be used with '
                     'PARSER %s (give them as parser arguments)' % spec.parser)
    return spec


READ_KEYWORDS = ('SELECT', 'WITH', 'VALUES', 'SHOW', 'EXPLAIN', 'TABLE')
WRITE_HINTS = {'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'INTO', 'FOR', 'NEXTVAL', 'SETVAL', 'LOCK', 'ANALYZE',
               'COMPUTE_FLEXTABLE_KEYS_AND_BUILD_VIEW', 'PG_ADVISORY_XACT_LOCK', 'PG_ADVISORY_LOCK'}


def is_write(toks):
    """Whether a statement may write (or lock): it then opens a PostgreSQL transaction."""
    if not toks or not toks[0].is_kw(*READ_KEYWORDS):
        return True
    return any(t.kind == 'id' and t.val in WRITE_HINTS for t in toks)


def truthy(v):
    return str(v).lower() in ('true', 't', '1', 'yes', 'on')


# ---------------------------------------------------------------------------------------------
# record parsers: feed(bytes) -> list of records; finish() -> the rest.
# A delimited record is (raw bytes, [field bytes], [enclosed flags] or None, error or None).

class DelimParser:
    def __init__(self, delim, encl, esc, term, strip_cr=False):
        self.delim = delim
        self.encl = encl
        self.esc = esc
        self.term = term
        self.strip_cr = strip_cr
        self.buf = bytearray()
        self.look = max(len(term), len(delim), 2 * len(encl or b''), len(esc or b'') + 1, 2) + 1

    def feed(self, data):
        self.buf += data
        return self._records(False)

    def finish(self):
        return self._records(True)

    def _records(self, final):
        buf = self.buf
        n = len(buf)
        pos = 0
        out = []
        term, delim, esc, encl = self.term, self.delim, self.esc, self.encl
        tl = len(term)
        while pos < n:
            idx = buf.find(term, pos)
            if idx < 0:
                if not final:
                    break
                end, nxt = n, n
            else:
                end, nxt = idx, idx + tl
            rec = bytes(buf[pos:end])
            if (esc is None or esc not in rec) and (encl is None or encl not in rec):
                if self.strip_cr and rec.endswith(b'\r'):
                    rec = rec[:-1]
                if rec:
                    out.append((rec, rec.split(delim), None, None))
                pos = nxt
                continue
            r = self._slow(buf, pos, final)
            if r is None:
                break
            fields, flags, raw_end, nxt, err = r
            raw = bytes(buf[pos:raw_end])
            if self.strip_cr and raw.endswith(b'\r'):
                raw = raw[:-1]
            out.append((raw, fields, flags, err))
            pos = nxt
        del self.buf[:pos]
        return out

    def _slow(self, buf, pos, final):
        n = len(buf)
        i = pos
        delim, encl, esc, term = self.delim, self.encl, self.esc, self.term
        fields, flags = [], []
        cur = bytearray()
        enclosed = inq = after = False
        start = True
        err = None
        while True:
            if not final and n - i < self.look:
                return None
            if i >= n:
                if inq:
                    err = err or 'Unterminated enclosed field'
                f = bytes(cur)
                if self.strip_cr and not enclosed and f.endswith(b'\r'):
                    f = f[:-1]
                fields.append(f)
                flags.append(enclosed)
                return fields, flags, n, n, err
            if inq:
                if esc is not None and buf.startswith(esc, i):
                    j = i + len(esc)
                    if j < n:
                        cur.append(buf[j])
                        i = j + 1
                    else:
                        i = j
                    continue
                if buf.startswith(encl, i):
                    j = i + len(encl)
                    if buf.startswith(encl, j):
                        cur += encl
                        i = j + len(encl)
                        continue
                    inq = False
                    after = True
                    i = j
                    continue
                cur.append(buf[i])
                i += 1
                continue
            if buf.startswith(term, i):
                f = bytes(cur)
                if self.strip_cr and not enclosed and f.endswith(b'\r'):
                    f = f[:-1]
                fields.append(f)
                flags.append(enclosed)
                return fields, flags, i, i + len(term), err
            if buf.startswith(delim, i):
                fields.append(bytes(cur))
                flags.append(enclosed)
                cur = bytearray()
                enclosed = after = False
                start = True
                i += len(delim)
                continue
            if after:
                if self.strip_cr and buf[i] == 13 and buf.startswith(term, i + 1):
                    i += 1
                    continue
                err = err or 'Unexpected data after the closing %s' % encl.decode('utf-8', 'replace')
            if esc is not None and buf.startswith(esc, i):
                j = i + len(esc)
                if j < n:
                    cur.append(buf[j])
                    i = j + 1
                else:
                    i = j
                start = False
                continue
            if encl is not None and start and buf.startswith(encl, i):
                inq = enclosed = True
                start = False
                i += len(encl)
                continue
            cur.append(buf[i])
            i += 1
            start = False


class JsonLinesParser:
    """JSON records, one per line (a line holding an array gives one record per element)."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        k = self.buf.rfind(b'\n')
        if k < 0:
            return []
        chunk = bytes(self.buf[:k + 1])
        del self.buf[:k + 1]
        return self._lines(chunk)

    def finish(self):
        chunk = bytes(self.buf)
        self.buf = bytearray()
        return self._lines(chunk)

    @staticmethod
    def _lines(chunk):
        out = []
        for line in chunk.split(b'\n'):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line.decode('utf-8'))
            except UnicodeDecodeError:
                out.append((line, None, None, 'Invalid UTF-8 in JSON record'))
                continue
            except ValueError as e:
                out.append((line, None, None, 'Invalid JSON record: %s' % e))
                continue
            if isinstance(obj, list):
                for o in obj:
                    out.append((line, o, None, None if isinstance(o, dict) else 'Record is not a JSON object'))
            else:
                out.append((line, obj, None, None if isinstance(obj, dict) else 'Record is not a JSON object'))
        return out


def flatten(obj, sep='.', prefix='', maps=True):
    out = {}
    for k, v in obj.items():
        key = prefix + str(k)
        if maps and isinstance(v, dict) and v:
            out.update(flatten(v, sep, key + sep, maps))
        else:
            out[key] = v
    return out


def json_text(v):
    if v is None:
        return None
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return repr(v)
    return str(v)


class Decompressor:
    def __init__(self, kind):
        self.kind = kind
        self.d = self._new()
        self.started = False

    def _new(self):
        if self.kind == 'GZIP':
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.kind == 'BZIP':
            return bz2.BZ2Decompressor()
        return None

    def feed(self, data):
        if self.d is None:
            return data
        out = []
        try:
            while data:
                self.started = True
                out.append(self.d.decompress(data))
                if self.d.eof:
                    data = self.d.unused_data
                    self.d = self._new()
                    self.started = False
                else:
                    data = b''
        except (zlib.error, OSError, EOFError) as e:
            raise VError('22000', 'COPY: error decompressing %s input: %s' % (self.kind, e))
        return b''.join(out)

    def finish(self):
        if self.d is not None and self.started:
            raise VError('22000', 'COPY: %s input ends in the middle of a compressed stream' % self.kind)
        return b''


PG_COPY_ESC = str.maketrans({'\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r'})

VTYPE_WORDS = {16: 'boolean', 20: 'integer', 21: 'integer', 23: 'integer', 700: 'float', 701: 'float',
               1700: 'numeric', 1082: 'date', 1083: 'time', 1114: 'timestamp', 1184: 'timestamptz',
               1266: 'timetz', 1186: 'interval', 2950: 'uuid', 17: 'binary', 3802: 'json'}


_INT_RE = re.compile(r'\s*[+-]?\d+\s*\Z')
_NUM_RE = re.compile(r'\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*\Z')
_NUM_WORDS = {'nan', 'infinity', '+infinity', '-infinity', 'inf', '+inf', '-inf'}
_INT_RANGE = {20: 2 ** 63, 23: 2 ** 31, 21: 2 ** 15}


def _int_check(limit):
    def check(v):
        if not _INT_RE.match(v):
            return False
        return -limit <= int(v) < limit
    return check


def _num_check(v):
    return bool(_NUM_RE.match(v)) or v.strip().lower() in _NUM_WORDS


class Col:
    """A table column. check: a quick test of text PostgreSQL would surely refuse (None: let it decide)."""
    __slots__ = ('name', 'attnum', 'typoid', 'typmod', 'fmt', 'notnull', 'identity', 'generated',
                 'is_string', 'maxlen', 'is_bytea', 'lname', 'check')

    def __init__(self, row):
        (self.name, attnum, typoid, typmod, self.fmt, notnull, self.identity, self.generated) = row
        self.attnum = int(attnum)
        self.typoid = int(typoid)
        self.typmod = int(typmod)
        self.notnull = notnull == 't'
        self.is_string = self.typoid in (25, 1043, 1042)
        self.maxlen = self.typmod - 4 if self.typoid in (1043, 1042) and self.typmod > 4 else None
        self.is_bytea = self.typoid == 17
        self.lname = self.name.lower()
        if self.typoid in _INT_RANGE:
            self.check = _int_check(_INT_RANGE[self.typoid])
        elif self.typoid in (700, 701, 1700):
            self.check = _num_check
        else:
            self.check = None

    def vname(self):
        if self.typoid == 1043:
            return 'Varchar(%d)' % self.maxlen if self.maxlen else 'Varchar'
        if self.typoid == 1042:
            return 'Char(%d)' % (self.maxlen or 1)
        return VTYPE_WORDS.get(self.typoid, self.fmt)


def truncate_utf8(b, n):
    b = b[:n]
    while b and (b[-1] & 0xC0) == 0x80:
        b = b[:-1]
    if b and b[-1] >= 0xC0:
        b = b[:-1]
    return b


ROW_LEVEL_STATES = ('23502', '23514')
_COPY_LINE = re.compile(r'COPY .*?, line (\d+)')
_COPY_COL = re.compile(r'COPY .*?, line \d+, column ("(?:[^"]|"")+"|[^:]+):')


class Row:
    __slots__ = ('cum', 'srcrow', 'file', 'raw', 'vals')

    def __init__(self, cum, srcrow, file, raw, vals):
        self.cum, self.srcrow, self.file, self.raw, self.vals = cum, srcrow, file, raw, vals


class Target:
    """Where a COPY goes: the table, the PostgreSQL columns filled, and how records map to them."""

    def __init__(self, qtable, schema, table, allcols, loadcols, flex):
        self.qtable = qtable
        self.schema = schema
        self.table = table
        self.allcols = allcols
        self.loadcols = loadcols    # Col objects filled from the record (not __raw__)
        self.flex = flex            # __raw__ is filled with the whole record


class CopyLoader:
    def __init__(self, sess, spec, target):
        self.sess = sess
        self.pg = sess.pg
        self.spec = spec
        self.t = target
        self.sink = sess.srv.args.sink
        self.batch_rows = sess.srv.args.batch_rows
        if spec.parser == 'FJSONPARSER':
            self.kind = 'json'
        elif spec.parser == 'FCSVPARSER':
            self.kind = 'fcsv'
        else:
            self.kind = 'delim'
        pcols = (['__raw__'] if target.flex else []) + [c.name for c in target.loadcols]
        self.copy_sql = 'COPY %s (%s) FROM STDIN' % (target.qtable, ', '.join(qident(c) for c in pcols))
        self.colpos = {c.lower(): i for i, c in enumerate(pcols)}
        self.null_b = (spec.null if spec.null is not None else '').encode('utf-8')
        pa = spec.parser_args
        self.flatten_maps = truthy(pa.get('flatten_maps', 'true'))
        self.key_sep = pa.get('key_separator', '.')
        self.fcsv_header = truthy(pa.get('header', 'true'))
        self.bytes_in = 0
        self.raw_bytes = 0
        self.cum = 0
        self.accepted = 0
        self.sink_rows = 0
        self.rejected = 0
        self.rej_sample = []
        self.rej_entries = []       # for the rejects table
        self.batch_rej = []         # rejects since the last take_batch()
        self.pending = []
        self.pending_bytes = 0
        self.error = None
        self.batch_no = 0
        self.sp = 'none'            # the batch savepoint: none | fresh | dirty
        self.chunk = self.batch_rows
        self.sources = []
        self.parser = None
        self.decomp = None

    # -- sources
    def begin_source(self, name, compression):
        self.sources.append(name)
        self.file = name
        self.srcrow = 0
        self.skip_left = self.spec.skip
        self.skip_bytes_left = self.spec.skip_bytes
        self.header = None
        self.decomp = Decompressor(compression)
        self.sink_last = b'\n'
        s = self.spec
        if self.kind == 'json':
            self.parser = JsonLinesParser()
        elif self.kind == 'fcsv':
            pa = s.parser_args
            rfc = pa.get('type', 'rfc4180').lower() == 'rfc4180'
            esc = None if rfc else pa.get('escape', '\\')
            self.parser = DelimParser(pa.get('delimiter', ',').encode(), pa.get('enclosed_by', '"').encode(),
                                      esc.encode() if esc else None,
                                      pa.get('record_terminator', '\n').encode(), strip_cr=True)
        else:
            self.parser = DelimParser((s.delimiter or '|').encode('utf-8'),
                                      s.enclosed.encode('utf-8') if s.enclosed else None,
                                      s.escape.encode('utf-8') if s.escape else None,
                                      (s.record_terminator or '\n').encode('utf-8'))

    def feed(self, data):
        self.bytes_in += len(data)
        if self.error is not None:
            return
        try:
            self._feed_plain(self.decomp.feed(data))
        except VError as e:
            self.error = e
        except PGError as e:
            self.error = self.sess.map_pg_error(e)

    def _feed_plain(self, data):
        if self.skip_bytes_left:
            k = min(self.skip_bytes_left, len(data))
            data = data[k:]
            self.skip_bytes_left -= k
        if not data:
            return
        self.raw_bytes += len(data)
        if self.sink:
            self.sink_rows += data.count(b'\n')
            self.sink_last = data[-1:]
            return
        for rec in self.parser.feed(data):
            self._record(rec)
            if self.error is not None:
                return

    def end_source(self):
        try:
            self._end_source()
        except VError as e:
            self.error = e
        except PGError as e:
            self.error = self.sess.map_pg_error(e)

    def _end_source(self):
        if self.error is None:
            self._feed_plain(self.decomp.finish())
        if self.error is None:
            if self.sink:
                if self.sink_last != b'\n':
                    self.sink_rows += 1
                self.sink_rows = max(0, self.sink_rows - self.spec.skip)
            else:
                for rec in self.parser.finish():
                    self._record(rec)
                    if self.error is not None:
                        break
        self.flush()

    # -- records
    def _record(self, rec):
        raw, fields, flags, err = rec
        self.srcrow += 1
        self.cum += 1
        if self.skip_left:
            self.skip_left -= 1
            return
        if self.kind == 'fcsv' and self.header is None:
            if self.fcsv_header:
                self.header = [f.decode('utf-8', 'replace').strip() for f in fields]
                return
            self.header = ['ucol%d' % i for i in range(len(fields))]
        vals = None
        if err is None:
            if self.kind == 'delim':
                vals, err = self._conv_delim(fields, flags)
            elif self.kind == 'json':
                vals, err = self._conv_map(flatten(fields, self.key_sep, '', self.flatten_maps), True)
            else:
                if len(fields) != len(self.header):
                    err = 'Too %s columns found' % ('many' if len(fields) > len(self.header) else 'few')
                else:
                    rec_map = {}
                    for i, (h, f) in enumerate(zip(self.header, fields)):
                        try:
                            rec_map[h] = f.decode('utf-8')
                        except UnicodeDecodeError:
                            err = 'Invalid UTF-8 character in column %d (%s)' % (i + 1, h)
                            break
                    if err is None:
                        vals, err = self._conv_map(rec_map, False)
        if self.kind == 'json':
            raw = raw if isinstance(raw, bytes) else bytes(raw)
        row = Row(self.cum, self.srcrow, self.file, raw, vals)
        if err is not None:
            if self.spec.abort_on_error:
                self.flush()
                if self.error is not None:
                    return
            self.reject(row, err)
            return
        self.pending.append(row)
        self.pending_bytes += len(raw)
        if len(self.pending) >= self.batch_rows or self.pending_bytes >= (4 << 20):
            self.flush()

    def _conv_delim(self, fields, flags):
        cols = self.t.loadcols
        n = len(cols)
        if len(fields) > n:
            return None, 'Too many columns found'
        if len(fields) < n and not self.spec.trailing_nullcols:
            return None, 'Too few columns found'
        vals = []
        null_b = self.null_b
        for i, col in enumerate(cols):
            if i >= len(fields):
                vals.append(None)
                continue
            b = fields[i]
            enc = flags[i] if flags else False
            if not enc and b == null_b:
                vals.append(None)
                continue
            v, err = self._value(col, i, b, enc)
            if err:
                return None, err
            vals.append(v)
        return vals, None

    def _value(self, col, i, b, enc):
        if col.is_bytea:
            return '\\x' + b.hex(), None
        if not enc and not b and not col.is_string:
            return None, None
        if col.maxlen is not None and len(b) > col.maxlen:
            if self.spec.enforcelength:
                return None, 'The %d-byte value is too long for type %s, column %d (%s)' % (
                    len(b), col.vname(), i + 1, col.name)
            b = truncate_utf8(b, col.maxlen)
        try:
            v = b.decode('utf-8')
        except UnicodeDecodeError:
            return None, 'Invalid UTF-8 character in column %d (%s)' % (i + 1, col.name)
        if col.check is not None and not col.check(v):
            return None, "Invalid %s format '%s' for column %d (%s)" % (col.vname(), v, i + 1, col.name)
        return v, None

    def _conv_map(self, rec, from_json):
        vals = []
        if self.t.flex:
            vals.append(json.dumps(rec, ensure_ascii=False))
        lmap = {}
        for k, v in rec.items():
            lmap.setdefault(k.lower(), v)
        for i, col in enumerate(self.t.loadcols):
            v = lmap.get(col.lname)
            if v is None:
                vals.append(None)
                continue
            s = json_text(v) if from_json else v
            if not from_json and s == '' and not col.is_string:
                vals.append(None)
                continue
            b = s.encode('utf-8')
            if col.is_bytea:
                vals.append('\\x' + b.hex())
                continue
            if col.maxlen is not None and len(b) > col.maxlen:
                if self.spec.enforcelength:
                    return None, 'The %d-byte value is too long for type %s, column %d (%s)' % (
                        len(b), col.vname(), i + 1, col.name)
                s = truncate_utf8(b, col.maxlen).decode('utf-8')
            if col.check is not None and not col.check(s):
                return None, "Invalid %s format '%s' for column %d (%s)" % (col.vname(), s, i + 1, col.name)
            vals.append(s)
        return vals, None

    # -- PostgreSQL
    def flush(self):
        rows = self.pending
        self.pending = []
        self.pending_bytes = 0
        if rows and self.error is None:
            self._insert(rows)

    @staticmethod
    def _line(vals):
        return '\t'.join('\\N' if v is None else v.translate(PG_COPY_ESC) for v in vals) + '\n'

    def _attempt(self, part):
        """COPYs part into PostgreSQL under the batch savepoint: None when it went in, or the
        row-level PGError (the savepoint is rolled back). Other errors end the COPY (self.error)."""
        prefix = {'none': 'SAVEPOINT vemu_b; ', 'fresh': '',
                  'dirty': 'RELEASE SAVEPOINT vemu_b; SAVEPOINT vemu_b; '}[self.sp]
        data = ''.join(self._line(r.vals) for r in part).encode('utf-8', 'surrogatepass')
        try:
            self.pg.copy_in(prefix + self.copy_sql, data)
            self.sp = 'dirty'
            self.accepted += len(part)
            return None
        except PGError as e:
            self.pg.query('ROLLBACK TO SAVEPOINT vemu_b')
            self.sp = 'fresh'
            st = e.sqlstate
            if not (st.startswith('22') or st in ROW_LEVEL_STATES):
                self.error = self.sess.map_pg_error(e)
                return None
            return e

    def _insert(self, rows):
        n = len(rows)
        chunk = min(n, self.chunk)
        i = 0
        while i < n and self.error is None:
            part = rows[i:i + chunk]
            e = self._attempt(part)
            if e is None:
                i += len(part)
                self.chunk = chunk = min(self.batch_rows, chunk * 2)
                continue
            m = _COPY_LINE.search(e.fields.get('W', ''))
            line = int(m.group(1)) if m else None
            if line is None or line < 1 or line > len(part):
                if len(part) == 1:
                    self.reject(part[0], self._reason(e, part[0]))
                    i += 1
                else:
                    chunk = max(1, len(part) // 2)
                continue
            if line > 1 and self._attempt(part[:line - 1]) is not None:
                chunk = max(1, (line - 1) // 2)
                continue
            if self.error is not None:
                return
            self.reject(part[line - 1], self._reason(e, part[line - 1]))
            i += line
            # rejects this close together: try smaller pieces for a while
            self.chunk = chunk = max(1, min(chunk, 2 * line))

    def _reason(self, e, row):
        st = e.sqlstate
        f = e.fields
        col = f.get('c')
        if not col:
            m = _COPY_COL.search(f.get('W', ''))
            if m:
                col = m.group(1)
                if col.startswith('"'):
                    col = col[1:-1].replace('""', '"')
        idx = self.colpos.get(col.lower()) if col else None
        if idx is not None and not (self.t.flex and idx == 0):
            value = row.vals[idx]
            c = self.t.loadcols[idx - 1] if self.t.flex else self.t.loadcols[idx]
            pos = idx + (0 if self.t.flex else 1)
            if st == '23502':
                return 'NULL value for NOT NULL column %d (%s)' % (pos, c.name)
            if st in ('22P02', '22007', '22008', '22003', '22023', '22P03', '22025'):
                return "Invalid %s format '%s' for column %d (%s)" % (c.vname(), value, pos, c.name)
            return '%s, column %d (%s)' % (f.get('M', 'rejected'), pos, c.name)
        return f.get('M', 'rejected')

    def reject(self, row, reason):
        self.rejected += 1
        if len(self.rej_sample) < 1000:
            self.rej_sample.append(row.cum)
        entry = (row.cum, row.srcrow, row.file, row.raw, reason, self.batch_no)
        self.batch_rej.append(entry)
        if self.spec.rejected_table is not None:
            self.rej_entries.append(entry)
        if self.spec.abort_on_error:
            self.error = VError('22V04', 'COPY: Input record %d has been rejected (%s)' % (row.cum, reason))
        elif self.spec.rejectmax and self.rejected > self.spec.rejectmax:
            self.error = VError('22V04', 'COPY: Number of rejected records exceeded REJECTMAX (%d)'
                                % self.spec.rejectmax)

    def take_batch(self):
        b = sorted(self.batch_rej)
        self.batch_rej = []
        self.batch_no += 1
        return b

    @property
    def rows_loaded(self):
        return self.sink_rows if self.sink else self.accepted

    def write_rejects_table(self):
        if self.spec.rejected_table is None or self.error is not None:
            return
        s = self.sess
        name = name_text(self.spec.rejected_table)
        self.pg.query(
            'CREATE TABLE IF NOT EXISTS %s (node_name varchar(128), file_name varchar(65000), session_id varchar(128), '
            'transaction_id int8, statement_id int8, batch_number int8, row_number int8, '
            'rejected_data varchar(65000), rejected_data_orig_length int8, rejected_reason varchar(65000))' % name)
        if not self.rej_entries:
            return
        lines = []
        for cum, srcrow, file, raw, reason, batch in self.rej_entries:
            vals = [s.srv.args.node_name, file, s.session_id, str(s.trans_id), str(s.stmt_id), str(batch),
                    str(srcrow), raw.decode('utf-8', 'replace').replace('\0', ''), str(len(raw)), reason]
            lines.append(self._line(vals))
        self.pg.copy_in('COPY %s (node_name, file_name, session_id, transaction_id, statement_id, batch_number, '
                        'row_number, rejected_data, rejected_data_orig_length, rejected_reason) FROM STDIN' % name,
                        ''.join(lines).encode('utf-8'))


# ---------------------------------------------------------------------------------------------
# the client side of a session

class Wire:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.out = []

    def _fill(self):
        try:
            d = self.sock.recv(262144)
        except (ConnectionError, ssl.SSLError, OSError) as e:
            raise EOFError(str(e))
        if not d:
            raise EOFError('client closed the connection')
        self.buf += d

    def read(self, n):
        self.flush()
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def pending(self):
        if self.buf:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        try:
            r, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(r)

    def emit(self, data):
        self.out.append(data)

    def flush(self):
        if self.out:
            data = b''.join(self.out)
            self.out = []
            try:
                self.sock.sendall(data)
            except (OSError, ssl.SSLError) as e:
                raise EOFError(str(e))

    def read_packet(self):
        """An untagged startup-phase packet: (code, body after the code)."""
        n = struct.unpack('!I', self.read(4))[0]
        if n < 8 or n > 65536:
            raise Violation('startup packet with length %d' % n)
        data = self.read(n - 4)
        return struct.unpack('!I', data[:4])[0], data[4:]

    def read_msg(self, known=b'QXpdcfjFePBDESCH'):
        t = self.read(1)
        if t == b'\0':
            self.flush()
            old = self.sock.gettimeout()
            self.sock.settimeout(2)
            try:
                rest = self.read(7)
            except (EOFError, socket.timeout):
                rest = b''
            finally:
                try:
                    self.sock.settimeout(old)
                except OSError:
                    pass
            if len(rest) == 7 and rest[:3] == b'\0\0\x08':
                code = struct.unpack('!I', rest[3:])[0]
                if code == SSL_CODE:
                    raise Violation('SSLRequest after Startup (TLS is negotiated before the Startup message)')
                if code == LB_CODE:
                    raise Violation('LoadBalanceRequest after Startup (it goes on the raw socket before SSLRequest)')
                if code == CANCEL_CODE:
                    raise Violation('CancelRequest on a session connection (open a new connection for it)')
            raise Violation('unknown message type 0x00')
        if t not in known:
            raise Violation('unknown message type %r' % t.decode('latin-1'))
        n = struct.unpack('!I', self.read(4))[0]
        if n < 4:
            raise Violation('message %r with length %d (< 4)' % (t.decode(), n))
        if n - 4 > MAX_MSG:
            raise Violation('message %r with length %d (over %d)' % (t.decode(), n, MAX_MSG))
        return t, self.read(n - 4) if n > 4 else b''


class CopyAborted(Exception):
    def __init__(self, verror):
        super().__init__(verror.message)
        self.verror = verror


VTYPES = {16: (5, 1), 20: (6, 8), 21: (6, 8), 23: (6, 8), 26: (6, 8), 700: (7, 8), 701: (7, 8), 1042: (8, -1),
          1043: (9, -1), 25: (9, -1), 19: (9, -1), 705: (9, -1), 1082: (10, 8), 1083: (11, 8), 1114: (12, 8),
          1184: (13, 8), 1186: (14, 8), 1266: (15, 8), 1700: (16, -1), 17: (17, -1), 2950: (20, 16),
          114: (115, -1), 3802: (115, -1)}


def vfield(name, vtype=6, size=8, typmod=-1, tableoid=0, schema=None, table=None, attnum=0, nullok=1, identity=0):
    b = cstr(name) + struct.pack('!Q', tableoid)
    if tableoid:
        b += cstr(schema or '') + cstr(table or '')
    b += struct.pack('!HBIhHHiH', attnum, 0, vtype, size, nullok, identity, typmod, 0)
    return b


def vrowdesc(fields_bytes):
    body = struct.pack('!H', len(fields_bytes))
    if fields_bytes:
        body += struct.pack('!I', 0) + b''.join(fields_bytes)
    return packet(b'T', body)


def datarow(vals):
    body = struct.pack('!H', len(vals))
    for v in vals:
        if v is None:
            body += struct.pack('!i', -1)
        else:
            b = str(v).encode('utf-8')
            body += struct.pack('!i', len(b)) + b
    return packet(b'D', body)


class Session(threading.Thread):
    def __init__(self, srv, sock, peer, cid):
        super().__init__(daemon=True)
        self.srv = srv
        self.args = srv.args
        self.sock = sock
        self.wire = Wire(sock)
        self.peer = peer
        self.cid = cid
        self.tls = False
        self.pg = None
        self.in_txn = False
        self.pg_txn = False
        self.explicit = False
        self.trans_id = 0
        self.stmt_id = 0
        self.last_accepted = 0
        self.last_rejected = 0
        self.session_params = {}
        self.autocommit = False
        self.protocol = V3_5
        self.user = None
        self.pid = self.key = None
        self.session_id = ''
        self.tinfo = {}
        self.phase = 'startup'
        self.closed_by_admin = False

    def log(self, event, **kw):
        self.srv.log(event, conn=self.cid, **kw)

    # -- errors
    def send_error(self, e):
        self.log('error', severity=e.severity, sqlstate=e.sqlstate, vcode=e.vcode, message=e.message)
        self.wire.emit(packet(b'E', verror_body(e)))

    def violation(self, text):
        self.log('violation', deviation=text, phase=self.phase)
        self.send_error(VError('08P01', 'Protocol violation: %s' % text, severity='FATAL'))

    def map_pg_error(self, e):
        f = e.fields
        st = SQLSTATE_MAP.get(e.sqlstate, e.sqlstate)
        msg = f.get('M', 'error')
        detail = f.get('D')
        if e.sqlstate == '23505':
            m = re.match(r'Key \((.*)\)=\((.*)\) already exists', detail or '')
            cname = f.get('n', '')
            tname = f.get('t', '')
            sname = f.get('s', 'public')
            if m:
                msg = "Duplicate key values: '%s=%s' -- violates constraint '%s.%s.%s'" % (
                    m.group(1), m.group(2), sname, tname, cname)
        elif e.sqlstate == '42P01':
            msg = msg[:1].upper() + msg[1:]
        return VError(st, msg, severity='ERROR', detail=detail, hint=f.get('H'))

    # -- thread body
    def run(self):
        reason = 'closed'
        try:
            self.sock.settimeout(None)
            self.handshake()
            if self.pg is not None:
                self.phase = 'session'
                reason = self.main_loop()
        except Violation as v:
            reason = 'violation'
            try:
                self.violation(str(v))
                self.wire.flush()
            except EOFError:
                pass
        except EOFError as e:
            reason = 'closed by CLOSE_SESSION' if self.closed_by_admin else 'client gone: %s' % e
        except PGLost as e:
            reason = 'postgres lost'
            try:
                self.send_error(VError('08006', 'Lost connection to the database backend: %s' % e, severity='FATAL'))
                self.wire.flush()
            except EOFError:
                pass
        except VError as e:
            reason = 'fatal error'
            try:
                self.send_error(e)
                self.wire.flush()
            except EOFError:
                pass
        except Exception:
            reason = 'internal error'
            self.log('internal', traceback=traceback.format_exc())
            try:
                self.send_error(VError('XX000', 'vemu internal error (see its log)', severity='FATAL'))
                self.wire.flush()
            except Exception:
                pass
        finally:
            self.log('disconnect', reason=reason, in_txn=self.in_txn, rolled_back=self.pg_txn)
            self.srv.forget(self)
            if self.pg is not None:
                self.pg.close()
            try:
                self.sock.close()
            except OSError:
                pass

    # -- startup
    def handshake(self):
        lb_done = ssl_done = False
        while True:
            code, body = self.wire.read_packet()
            if code == LB_CODE:
                if body:
                    raise Violation('LoadBalanceRequest with %d extra bytes' % len(body))
                if ssl_done:
                    raise Violation('LoadBalanceRequest after SSLRequest (it goes on the raw socket first)')
                if lb_done:
                    raise Violation('second LoadBalanceRequest')
                lb_done = True
                if self.args.lb_redirect:
                    host, port = self.args.lb_redirect
                    hb = cstr(host)
                    self.wire.emit(b'Y' + struct.pack('!II', 8 + len(hb), port) + hb)
                    self.log('lb_request', answer='Y', host=host, port=port)
                else:
                    self.wire.emit(b'N')
                    self.log('lb_request', answer='N')
                self.wire.flush()
            elif code == SSL_CODE:
                if body:
                    raise Violation('SSLRequest with %d extra bytes' % len(body))
                if ssl_done:
                    raise Violation('second SSLRequest')
                ssl_done = True
                if self.srv.ssl_ctx is None:
                    self.wire.emit(b'N')
                    self.log('ssl_request', answer='N')
                    self.wire.flush()
                    continue
                if self.wire.buf:
                    raise Violation('data sent after SSLRequest before its answer')
                self.wire.emit(b'S')
                self.log('ssl_request', answer='S')
                self.wire.flush()
                try:
                    self.sock = self.srv.ssl_ctx.wrap_socket(self.sock, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    raise EOFError('TLS handshake failed: %s' % e)
                self.wire.sock = self.sock
                self.tls = True
            elif code == CANCEL_CODE:
                if len(body) != 8:
                    raise Violation('CancelRequest of %d bytes' % (len(body) + 8))
                pid, key = struct.unpack('!II', body)
                target = self.srv.find(pid, key)
                self.log('cancel', pid=pid, found=target is not None)
                if target is not None and target.pg is not None:
                    target.pg.cancel()
                return
            elif (code >> 16) in (1, 2, 3) or code == V3_5:
                if code != V3_5:
                    raise Violation('Startup version must be 3.5 (0x00030005), got %s' % ver_text(code))
                self.startup(body)
                return
            else:
                raise Violation('unknown startup packet code %d' % code)

    def startup(self, data):
        name, pos = read_cstr(data, 0, 'Startup parameter name')
        if name != b'protocol_version':
            raise Violation('the first Startup parameter must be protocol_version (a raw Int32), got %r'
                            % name.decode('utf-8', 'replace'))
        if len(data) < pos + 5 or data[pos + 4] != 0:
            raise Violation('protocol_version must be a raw Int32 followed by NUL, not text (got %r)'
                            % bytes(data[pos:pos + 8]))
        req = struct.unpack_from('!I', data, pos)[0]
        if req >> 16 != 3 or (req & 0xffff) > 255:
            raise Violation('protocol_version must be a raw Int32 3<<16|minor, got 0x%08x (%r: text?)'
                            % (req, bytes(data[pos:pos + 4])))
        if req < V3_5:
            raise Violation('protocol_version %s is below 3.5' % ver_text(req))
        pos += 5
        params = {}
        while True:
            if pos >= len(data):
                raise Violation('Startup parameters not terminated by a NUL byte')
            if data[pos] == 0:
                pos += 1
                break
            k, pos = read_cstr(data, pos, 'Startup parameter name')
            v, pos = read_cstr(data, pos, 'Startup parameter %r' % k)
            try:
                k, v = k.decode('utf-8'), v.decode('utf-8')
            except UnicodeDecodeError:
                raise Violation('Startup parameter that is not UTF-8')
            if k in params or k == 'protocol_version':
                raise Violation('duplicate Startup parameter %s' % k)
            params[k] = v
        if pos != len(data):
            raise Violation('%d bytes after the Startup parameters' % (len(data) - pos))
        if not params.get('user'):
            raise Violation('Startup without user')
        if 'database' not in params:
            raise Violation('Startup without database')
        self.protocol = min(req, self.srv.protocol_max)
        self.params = params
        self.user = params['user']
        self.autocommit = params.get('autocommit', 'off').lower() in ('on', 'true', '1')
        self.log('startup', params=params, requested=req, protocol=self.protocol,
                 protocol_text=ver_text(self.protocol), tls=self.tls)
        if self.args.tls_required and not self.tls:
            self.log('auth', user=self.user, method=None, code=None, outcome='refused_no_tls')
            raise VError('28000', 'Invalid client connection: TLS is required (the client sent no SSLRequest)',
                         severity='FATAL')
        db = params['database']
        if db and db != self.srv.database:
            self.log('auth', user=self.user, method=None, code=None, outcome='unknown_database')
            raise VError('3D000', 'Database "%s" does not exist' % db, severity='FATAL')
        self.authenticate()

    def authenticate(self):
        self.phase = 'auth'
        users = self.srv.users
        if not users:
            spec = (None, 'trust')
        else:
            spec = users.get(self.user.lower())
        if spec is None:
            self.log('auth', user=self.user, method=None, code=None, outcome='unknown_user')
            raise VError('28000', 'Invalid username or password', severity='FATAL')
        password, method = spec
        code = {'sha512': 66048, 'sha512-65536': 65536, 'expired': 66048, 'grace': 66048, 'md5': 5,
                'md5-65541': 65541, 'cleartext': 3, 'trust': 0}[method]
        if code:
            salt = os.urandom(4)
            usersalt = hashlib.sha256(('vemu-usersalt:' + self.user).encode()).digest()[:16]
            if code in (65536, 66048):
                self.wire.emit(packet(b'R', struct.pack('!I', code) + salt + struct.pack('!I', 16) + usersalt))
            elif code in (5, 65541):
                self.wire.emit(packet(b'R', struct.pack('!I', code) + salt))
            else:
                self.wire.emit(packet(b'R', struct.pack('!I', code)))
            t, body = self.wire.read_msg()
            if t != b'p':
                raise Violation("expected a password message 'p' after Authentication %d, got %r" % (code, t.decode()))
            if not body.endswith(b'\0') or b'\0' in body[:-1]:
                raise Violation('password message is not one NUL-terminated string')
            got = body[:-1]
            pw = password.encode('utf-8')
            if code in (65536, 66048):
                if not re.fullmatch(rb'sha512[0-9a-f]{128}', got):
                    raise Violation("password message for SHA-512 authentication (code %d) must be 'sha512' + 128 "
                                    "lowercase hex digits, got %r" % (code, got[:12]))
                ok = got == sha512_response(pw, usersalt, salt)
            elif code in (5, 65541):
                if not re.fullmatch(rb'md5[0-9a-f]{32}', got):
                    raise Violation("password message for MD5 authentication (code %d) must be 'md5' + 32 "
                                    "lowercase hex digits, got %r" % (code, got[:12]))
                ok = got == md5_response(pw, self.user.encode('utf-8'), salt)
            else:
                ok = got == pw
            if not ok:
                self.log('auth', user=self.user, method=method, code=code, outcome='bad_password')
                raise VError('28000', 'Invalid username or password', severity='FATAL')
            if method == 'expired':
                self.log('auth', user=self.user, method=method, code=code, outcome='expired')
                self.wire.emit(packet(b'R', struct.pack('!I', 9)))
                self.wire.flush()
                try:
                    self.wire.read(1)
                except EOFError:
                    raise EOFError('client left after CHANGE_PASSWORD')
                raise VError('28000', 'The password for user %s has expired (the emulator does not change passwords)'
                             % self.user, severity='FATAL')
            if method == 'grace':
                self.wire.emit(packet(b'R', struct.pack('!I', 11)))
        self.log('auth', user=self.user, method=method, code=code,
                 outcome='grace' if method == 'grace' else 'ok')
        self.connect_pg()
        self.wire.emit(packet(b'R', struct.pack('!I', 0)))
        ps = [('server_version', self.args.server_version), ('protocol_version', str(self.protocol)),
              ('client_label', self.params.get('client_label', '')), ('standard_conforming_strings', 'on'),
              ('client_locale', 'en_US@collation=binary'), ('auto_commit', 'on' if self.autocommit else 'off')]
        for k, v in ps:
            self.wire.emit(packet(b'S', cstr(k) + cstr(v)))
        self.pid, self.key = self.srv.register(self)
        self.session_id = '%s-%d:0x%x' % (self.args.node_name, os.getpid(), self.cid)
        self.wire.emit(packet(b'K', struct.pack('!II', self.pid, self.key)))
        self.wire.emit(packet(b'Z', b'I'))
        self.log('ready', pid=self.pid, key=self.key, session=self.session_id)

    def connect_pg(self):
        a = self.args
        try:
            self.pg = PGConn(a.pg_socket, a.pg_port, a.pg_db, a.pg_user, 'vemu-%d' % self.cid)
            self.srv.ensure_setup(self.pg)
            self.pg.query("SET search_path = \"$user\", public, v_catalog, v_monitor; "
                          "SELECT set_config('vemu.node_name', %s, false), set_config('vemu.session_id', %s, false)"
                          % (qlit(a.node_name), qlit('%s-%d:0x%x' % (a.node_name, os.getpid(), self.cid))))
        except (PGLost, PGError) as e:
            self.pg = None
            raise VError('08001', 'Cannot reach the database backend: %s' % e, severity='FATAL')

    # -- main loop
    def main_loop(self):
        while True:
            t, body = self.wire.read_msg()
            if t == b'Q':
                if not body.endswith(b'\0') or b'\0' in body[:-1]:
                    raise Violation('Query message is not one NUL-terminated string')
                try:
                    sql = body[:-1].decode('utf-8')
                except UnicodeDecodeError:
                    raise Violation('Query text is not UTF-8')
                self.handle_query(sql)
            elif t == b'X':
                return 'terminate'
            elif t == b'd':
                raise Violation('CopyData before CopyInResponse')
            elif t == b'c':
                raise Violation('CopyDone outside COPY')
            elif t == b'f':
                raise Violation('CopyFail outside COPY')
            elif t == b'j':
                raise Violation('EndOfBatchRequest outside COPY LOCAL')
            elif t == b'F':
                raise Violation('VerifiedFiles without VerifyFiles')
            elif t == b'e':
                raise Violation('CopyError outside COPY LOCAL')
            elif t == b'p':
                raise Violation('password message after authentication')
            else:
                self.log('unsupported', what='extended query protocol message %r' % t.decode())
                raise VError('0A000', 'The extended query protocol (message %r) is not emulated: use simple Query'
                             % t.decode(), severity='FATAL')

    def ready(self):
        self.wire.emit(packet(b'Z', b'T' if self.in_txn else b'I'))

    def handle_query(self, sql):
        self.log('query', sql=sql)
        try:
            stmts = split_statements(sql)
        except VError as e:
            self.send_error(e)
            self.ready()
            return
        if not stmts:
            self.wire.emit(packet(b'I'))
            self.ready()
            return
        for st in stmts:
            try:
                self.exec_statement(st)
            except CopyAborted as e:
                self.send_error(e.verror)
                break
            except Unsupported as e:
                self.log('unsupported', what=str(e))
                self.send_error(VError('0A000', 'Not supported by the emulator: %s' % e))
                break
            except VError as e:
                if e.fatal:
                    raise
                self.send_error(e)
                break
        self.ready()

    # -- transactions
    # in_txn is Vertica's view (ReadyForQuery 'T'); pg_txn says whether PostgreSQL has a transaction
    # open. A transaction that has only read runs each statement in PostgreSQL's own implicit
    # transaction, so that idle readers hold no PostgreSQL locks (Vertica's SELECTs take none).
    def stmt_begin(self, write=True):
        if not self.in_txn:
            self.in_txn = True
            self.explicit = False
            self.trans_id = self.srv.next_trans_id()
            self.stmt_id = 0
        self.stmt_id += 1
        if self.pg_txn:
            self.pg.query('SAVEPOINT vemu_stmt')
        elif write:
            self.pg.query('BEGIN; SAVEPOINT vemu_stmt')
            self.pg_txn = True

    def stmt_ok(self, commit=False):
        end = commit or (self.autocommit and not self.explicit)
        if self.pg_txn:
            try:
                self.pg.query('RELEASE SAVEPOINT vemu_stmt' + ('; COMMIT' if end else ''))
            except PGError as e:
                if self.pg.status != b'I':
                    self.pg.query('ROLLBACK')
                self.pg_txn = self.in_txn = False
                raise self.map_pg_error(e)
            if end:
                self.pg_txn = False
        if end:
            self.in_txn = False

    def stmt_fail(self, sqlstate=''):
        if self.pg_txn:
            if sqlstate.startswith('40'):
                self.pg.query('ROLLBACK')
                self.pg_txn = self.in_txn = False
                return
            try:
                self.pg.query('ROLLBACK TO SAVEPOINT vemu_stmt; RELEASE SAVEPOINT vemu_stmt')
            except PGError:
                self.pg.query('ROLLBACK')
                self.pg_txn = self.in_txn = False
                return
        if self.autocommit and not self.explicit:
            self.commit()

    def commit(self):
        was = self.pg_txn
        self.pg_txn = self.in_txn = False
        if was:
            try:
                self.pg.query('COMMIT')
            except PGError as e:
                if self.pg.status != b'I':
                    self.pg.query('ROLLBACK')
                raise self.map_pg_error(e)

    def rollback(self):
        was = self.pg_txn
        self.pg_txn = self.in_txn = False
        if was:
            self.pg.query('ROLLBACK')

    def session_vars(self, toks):
        """A prefix setting what the emulated session functions return, or ''."""
        if not any(t.kind == 'id' and t.val in SESSION_FUNCS for t in toks):
            return ''
        return ("SELECT set_config('vemu.accepted', '%d', true), set_config('vemu.rejected', '%d', true), "
                "set_config('vemu.trans_id', '%d', true), set_config('vemu.stmt_id', '%d', true); "
                % (self.last_accepted, self.last_rejected, self.trans_id, self.stmt_id))

    # -- results
    def table_info(self, oids):
        missing = [o for o in oids if o not in self.tinfo]
        if missing:
            r = self.pg.query(
                'SELECT c.oid, vemu.schema_name(n.nspname), c.relname, a.attnum, a.attnotnull, a.attidentity '
                'FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace '
                'JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 WHERE c.oid IN (%s)'
                % ', '.join(str(o) for o in missing))
            for oid, sch, rel, attnum, notnull, ident in r[0].values():
                d = self.tinfo.setdefault(int(oid), [sch, rel, {}])
                d[2][int(attnum)] = (notnull == 't', bool(ident))
            for o in missing:
                self.tinfo.setdefault(o, ['', '', {}])
        return self.tinfo

    def render(self, results, create_tag=None):
        out = []
        for r in results:
            if r.fields is not None:
                oids = {f['tableoid'] for f in r.fields if f['tableoid']}
                info = self.table_info(oids) if oids else {}
                fb = []
                for f in r.fields:
                    vt, size = VTYPES.get(f['typoid'], (9, -1))
                    name = FUNC_COLUMNS.get(f['name'], f['name'])
                    if f['tableoid'] and f['tableoid'] in info:
                        sch, rel, cols = info[f['tableoid']]
                        notnull, ident = cols.get(f['attnum'], (False, False))
                        fb.append(vfield(name, vt, size, f['typmod'], f['tableoid'], sch, rel, f['attnum'],
                                         0 if notnull else 1, 1 if ident else 0))
                    else:
                        fb.append(vfield(name, vt, size, f['typmod']))
                out.append(vrowdesc(fb))
                out.extend(packet(b'D', row) for row in r.rows)
                out.append(packet(b'C', cstr(r.tag)))
                continue
            m = re.match(r'^(INSERT \d+|UPDATE|DELETE|MERGE) (\d+)$', r.tag)
            if m:
                out.append(vrowdesc([vfield('OUTPUT')]))
                out.append(datarow([m.group(2)]))
                out.append(packet(b'C', cstr(r.tag)))
                continue
            tag = r.tag
            if create_tag and tag.startswith('SELECT'):
                tag = create_tag
            out.append(packet(b'C', cstr(tag)))
        return b''.join(out)

    def notices(self):
        out = []
        for f in self.pg.notices:
            st = SQLSTATE_MAP.get(f.get('C', '00000'), f.get('C', '00000'))
            out.append(packet(b'N', err_fields([(b'S', f.get('S', 'NOTICE')), (b'C', st), (b'M', f.get('M', '')),
                                                (b'V', str(vcode_for(st)))])))
        self.pg.notices = []
        return b''.join(out)

    def run_sql(self, pg_sqls, toks, ddl=False, commit_on_fail=False, create_tag=None, post=None, note=None,
                text=None, tag=None):
        self.stmt_begin(write=ddl or is_write(toks))
        if ddl:
            self.tinfo.clear()
        self.log('statement', sql=text, stmt_id=self.stmt_id, trans_id=self.trans_id,
                 pg=pg_sqls if [text] != pg_sqls else None, note=note)
        self.pg.notices = []
        try:
            results = []
            prefix = self.session_vars(toks)
            for q in pg_sqls:
                r = self.pg.query(prefix + q)
                results += r[1:] if prefix else r
                prefix = ''
            for q in post or ():
                self.pg.query(q)
            if tag is not None:
                out = self.notices() + packet(b'C', cstr(tag))
            else:
                out = self.notices() + self.render(results, create_tag)
        except PGError as e:
            self.pg.notices = []
            self.stmt_fail(e.sqlstate)
            if commit_on_fail:
                self.commit()
            raise self.map_pg_error(e)
        self.stmt_ok(commit=ddl)
        self.wire.emit(out)

    # -- statements
    def exec_statement(self, text):
        toks = tokenize(text)
        kw = [t.val if t.kind == 'id' else t.text for t in toks[:4]] + ['', '', '', '']
        k0, k1, k2 = kw[0], kw[1], kw[2]
        if k0 == 'COPY':
            return self.do_copy(text, toks)
        if k0 in ('COMMIT', 'END') and (len(toks) == 1 or k1 in ('WORK', 'TRANSACTION')):
            self.log('statement', sql=text, stmt_id=self.stmt_id, trans_id=self.trans_id)
            self.commit()
            self.explicit = False
            self.wire.emit(packet(b'C', cstr('COMMIT')))
            return
        if k0 in ('ROLLBACK', 'ABORT') and k1 != 'TO':
            self.log('statement', sql=text, stmt_id=self.stmt_id, trans_id=self.trans_id)
            self.rollback()
            self.explicit = False
            self.wire.emit(packet(b'C', cstr('ROLLBACK')))
            return
        if k0 in ('BEGIN', 'START'):
            self.log('statement', sql=text)
            if not self.in_txn:
                self.in_txn = True
                self.trans_id = self.srv.next_trans_id()
                self.stmt_id = 0
            self.explicit = True
            self.wire.emit(packet(b'C', cstr('BEGIN')))
            return
        if k0 in ('SAVEPOINT', 'RELEASE') or (k0 == 'ROLLBACK' and k1 == 'TO'):
            self.log('statement', sql=text)
            if not self.in_txn:
                self.in_txn = True
                self.trans_id = self.srv.next_trans_id()
                self.stmt_id = 0
            if not self.pg_txn:
                self.pg.query('BEGIN')
                self.pg_txn = True
            self.stmt_id += 1
            try:
                self.wire.emit(self.render(self.pg.query(text)))
            except PGError as e:
                raise self.map_pg_error(e)
            return
        if k0 == 'SET' and k1 == 'SESSION' and k2 == 'AUTOCOMMIT':
            s = TokStream(toks[3:])
            if not s.kw('TO'):
                s.expect_op('=')
            v = s.expect_kw('ON', 'OFF')
            self.log('statement', sql=text)
            if v == 'ON' and self.in_txn and not self.explicit:
                self.commit()
            self.autocommit = v == 'ON'
            self.wire.emit(packet(b'C', cstr('SET')))
            return
        if k0 == 'ALTER' and k1 == 'SESSION':
            return self.do_alter_session(text, toks)
        if k0 == 'SELECT' and k1 == 'CLOSE_SESSION':
            return self.do_close_session(text, toks)
        if k0 == 'CREATE':
            if k1 == 'PROJECTION' or (k1 == 'OR' and kw[3] == 'PROJECTION'):
                self.log('statement', sql=text, note='projection ignored')
                self.wire.emit(packet(b'C', cstr('CREATE PROJECTION')))
                return
            res = translate_create_table(toks)
            if res is not None:
                return self.do_create(text, toks, res)
        if k0 == 'ALTER' and k1 == 'TABLE':
            res = translate_alter_table(toks)
            if res is not None:
                return self.run_sql(res.sql, toks, ddl=True, note=res.notes or None, text=text, tag='ALTER TABLE')
        ddl = k0 in ('CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'GRANT', 'REVOKE', 'COMMENT')
        return self.run_sql([text], toks, ddl=ddl, commit_on_fail=(k0 == 'TRUNCATE'), text=text)

    def do_create(self, text, toks, res):
        post = res.post
        if res.if_not_exists and post:
            r = self.pg.query('SELECT to_regclass(%s) IS NOT NULL' % qlit(res.table))
            if r[0].values()[0][0] == 't':
                post = []
        tag = 'CREATE TABLE'
        return self.run_sql(res.sql, toks, ddl=True, create_tag=tag, post=post, note=res.notes or None, text=text)

    def do_alter_session(self, text, toks):
        s = TokStream(toks[2:])
        self.log('statement', sql=text)
        if s.kw('CLEAR'):
            s.kw('PARAMETER')
            if s.kw('ALL'):
                self.session_params.clear()
            else:
                while True:
                    self.session_params.pop(s.ident().val.upper(), None)
                    if not s.op(','):
                        break
            self.wire.emit(packet(b'C', cstr('ALTER SESSION')))
            return
        s.expect_kw('SET')
        if s.kw('UDPARAMETER'):
            if s.kw('FOR'):
                s.ident()
        else:
            s.kw('PARAMETER')
        while True:
            name = s.ident()
            s.expect_op('=')
            v = s.next()
            if v.kind not in ('str', 'num', 'id'):
                raise VError('42601', 'Syntax error at or near "%s"' % v.text)
            value = v.val if v.kind == 'str' else v.text
            pname = (name.val if name.kind == 'qid' else name.text).upper()
            if pname == 'AWSAUTH' and ':' not in value:
                raise VError('22023', "AWSAuth must be 'access_key_id:secret_access_key'")
            self.session_params[pname] = value
            self.log('alter_session', param=name.text, value=value)
            if not s.op(','):
                break
        if not s.at_end():
            s.syntax()
        self.wire.emit(packet(b'C', cstr('ALTER SESSION')))

    def do_close_session(self, text, toks):
        s = TokStream(toks[1:])
        s.ident()
        s.expect_op('(')
        sid = s.string()
        s.expect_op(')')
        if not s.at_end():
            s.syntax()
        self.log('statement', sql=text)
        target = self.srv.find_session(sid)
        if target is None:
            raise VError('22023', 'Invalid session identifier: %s' % sid)
        self.log('close_session', session=sid, target=target.cid)
        target.close_by_admin()
        self.wire.emit(vrowdesc([vfield('CLOSE_SESSION', 9, -1)]) +
                       datarow(['Session close command sent. Check v_monitor.sessions for progress.']) +
                       packet(b'C', cstr('SELECT')))

    def close_by_admin(self):
        """CLOSE_SESSION from another session: the socket is shut down under this session's reader,
        which ends it (and rolls back its PostgreSQL transaction) as a client that went away."""
        self.closed_by_admin = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- COPY
    def copy_target(self, spec):
        lit = qlit(name_text(spec.table))
        r = self.pg.query(
            'SELECT a.attname, a.attnum, a.atttypid::int, a.atttypmod, format_type(a.atttypid, a.atttypmod), '
            'a.attnotnull, a.attidentity, a.attgenerated, n.nspname, c.relname, c.relkind '
            'FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace '
            'JOIN pg_attribute a ON a.attrelid = c.oid '
            'WHERE c.oid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum' % lit)
        rows = r[0].values()
        if not rows:
            raise VError('42V01', 'Relation "%s" does not exist' % name_text(spec.table))
        if rows[0][10] not in ('r', 'p'):
            raise VError('42809', 'Cannot COPY into "%s": it is not a table' % name_text(spec.table))
        cols = [Col(row[:8]) for row in rows]
        schema, table = rows[0][8], rows[0][9]
        flex = any(c.name == '__raw__' for c in cols)
        real = [c for c in cols if c.name not in ('__raw__', '__identity__')]
        flexparser = spec.parser in ('FJSONPARSER', 'FCSVPARSER')
        if spec.cols is not None:
            byname = {c.lname: c for c in cols}
            load = []
            for t in spec.cols:
                c = byname.get(name_key(t).lower())
                if c is None:
                    raise VError('42703', 'Column "%s" does not exist in table %s' % (t.val if t.kind == 'qid' else t.text,
                                                                                     table))
                if c.name in ('__raw__', '__identity__'):
                    raise VError('0A000', 'COPY cannot name the flex column %s' % c.name)
                load.append(c)
        else:
            load = [c for c in real if not c.identity and not c.generated]
        if flex and not flexparser:
            if not load:
                raise VError('0A000', 'COPY into flex table %s needs a flex parser (PARSER FJSONPARSER() or '
                             'FCSVPARSER())' % table)
            raise Unsupported('a non-flex parser into flex table %s (its __raw__ would be empty)' % table)
        if not load and not flex:
            raise VError('42601', 'COPY into %s: no columns to load' % table)
        qtable = '%s.%s' % (qident(schema), qident(table))
        return Target(qtable, schema, table, cols, load, flex and flexparser)

    def do_copy(self, text, toks):
        spec = parse_copy(toks, self.args.node_name)
        if spec.mode == 's3':
            if not self.args.s3_endpoint:
                raise Unsupported('s3:// sources (start the emulator with --s3-endpoint)')
            if 'AWSAUTH' not in self.session_params:
                raise VError('42501', 'Permission denied for storage location [%s]: no AWS credentials '
                             "(set them with ALTER SESSION SET AWSAuth='id:secret')" % spec.sources[0].path)
        self.stmt_begin()
        self.log('statement', sql=text, stmt_id=self.stmt_id, trans_id=self.trans_id)
        t0 = time.time()
        loader = None
        err = None
        try:
            target = self.copy_target(spec)
            loader = CopyLoader(self, spec, target)
            if spec.mode in ('local_stdin', 'local_files'):
                self.copy_local(spec, loader)
            elif spec.mode == 'stdin':
                self.copy_stdin(spec, loader)
            else:
                self.copy_server(spec, loader)
            if loader.error is None:
                loader.write_rejects_table()
            err = loader.error
        except PGError as e:
            err = self.map_pg_error(e)
        except CopyAborted as e:
            err = e.verror
        except VError as e:
            if e.fatal:
                raise
            err = e
        ms = int((time.time() - t0) * 1000)
        summary = dict(table=name_text(spec.table), mode=spec.mode, sources=[s.path for s in spec.sources],
                       parser=spec.parser, compression=[s.compression for s in spec.sources], ms=ms,
                       rejects_table=name_text(spec.rejected_table) if spec.rejected_table else None)
        if loader is not None:
            summary.update(bytes=loader.bytes_in, raw_bytes=loader.raw_bytes, rows=loader.rows_loaded,
                           rejected=loader.rejected, rejected_rows=loader.rej_sample, batches=loader.batch_no,
                           files=loader.sources)
        if err is not None:
            self.stmt_fail(err.sqlstate)
            self.last_accepted = 0
            self.last_rejected = loader.rejected if loader else 0
            self.log('copy', outcome='error', error=err.message, sqlstate=err.sqlstate, commit=False, **summary)
            raise CopyAborted(err)
        commit = not spec.no_commit
        try:
            self.stmt_ok(commit=commit)
        except VError as e:
            self.log('copy', outcome='error', error=e.message, sqlstate=e.sqlstate, commit=False, **summary)
            raise CopyAborted(e)
        self.last_accepted = loader.rows_loaded
        self.last_rejected = loader.rejected
        self.log('copy', outcome='ok', commit=commit, **summary)
        if spec.mode != 'stdin':
            if spec.mode in ('mount', 's3'):
                self.wire.emit(vrowdesc([vfield('Rows Loaded')]))
            self.wire.emit(datarow([loader.rows_loaded]))
        self.wire.emit(packet(b'C', cstr('COPY')))

    def client_abort(self, t, body):
        if t == b'e':
            try:
                src, pos = read_cstr(body, 0, 'CopyError file')
                line = struct.unpack_from('!I', body, pos)[0]
                func, pos = read_cstr(body, pos + 4, 'CopyError function')
                msg, pos = read_cstr(body, pos, 'CopyError message')
            except struct.error:
                raise Violation('malformed CopyError')
            text = msg.decode('utf-8', 'replace')
            where = ' [%s:%d %s]' % (src.decode('utf-8', 'replace'), line, func.decode('utf-8', 'replace')) \
                if src or func else ''
            return CopyAborted(VError('57014', 'COPY: aborted by the client: %s%s' % (text, where)))
        msg = body[:-1].decode('utf-8', 'replace') if body.endswith(b'\0') else body.decode('utf-8', 'replace')
        return CopyAborted(VError('57014', 'COPY from stdin failed: %s' % msg))

    def parse_verified(self, body):
        wide = self.protocol >= V3_15
        w = 4 if wide else 2
        hint = 'the count is Int%d for the negotiated protocol %s' % (w * 8, ver_text(self.protocol))
        if len(body) < w:
            raise Violation('VerifiedFiles of %d bytes: %s' % (len(body), hint))
        n = struct.unpack_from('!I' if wide else '!H', body, 0)[0]
        pos = w
        files = []
        try:
            for _ in range(n):
                name, pos = read_cstr(body, pos, 'VerifiedFiles file name')
                if pos + 8 > len(body):
                    raise Violation('VerifiedFiles truncated: %s' % hint)
                size = struct.unpack_from('!Q', body, pos)[0]
                pos += 8
                files.append((name.decode('utf-8', 'replace'), size))
        except Violation as v:
            raise Violation('%s (%s)' % (v, hint) if hint not in str(v) else str(v))
        if pos != len(body):
            raise Violation('VerifiedFiles has %d bytes after its %d file(s): %s' % (len(body) - pos, n, hint))
        return files

    def copy_local(self, spec, loader):
        stdin = spec.mode == 'local_stdin'
        files = [] if stdin else [s.path for s in spec.sources]
        self.wire.emit(vrowdesc([vfield('Rows Loaded')]))
        self.wire.emit(packet(b'F', struct.pack('!H', len(files)) + b''.join(cstr(f) for f in files)
                              + cstr(spec.rejected_file or '') + cstr(spec.exceptions_file or '')))
        t, body = self.wire.read_msg()
        if t in (b'e', b'f'):
            raise self.client_abort(t, body)
        if t == b'd':
            raise Violation('CopyData before CopyInResponse (VerifiedFiles expected after VerifyFiles)')
        if t != b'F':
            raise Violation("expected VerifiedFiles 'F' after VerifyFiles, got %r" % t.decode())
        verified = self.parse_verified(body)
        if stdin:
            if verified:
                raise Violation('VerifiedFiles for COPY LOCAL STDIN must list 0 files, got %d' % len(verified))
            n = len(loader.t.loadcols) + (1 if loader.t.flex else 0)
            self.wire.emit(packet(b'G', struct.pack('!bH', 0, n) + struct.pack('!%dH' % n, *([0] * n))))
            loader.begin_source('STDIN', spec.sources[0].compression)
            self.read_batch(loader)
            loader.end_source()
            self.batch_end(loader, spec)
            t, body = self.wire.read_msg()
            if t in (b'e', b'f'):
                raise self.client_abort(t, body)
            if t == b'd':
                raise Violation("CopyData after EndOfBatch 'J' (COPY LOCAL STDIN is one batch: send CopyDone)")
            if t != b'c':
                raise Violation("expected CopyDone 'c' after EndOfBatch 'J', got %r" % t.decode())
            return
        if not verified:
            raise Violation('VerifiedFiles lists no files for COPY LOCAL %s' % ', '.join(files))
        plan = []
        for name, size in verified:
            src = None
            for s in spec.sources:
                if name == s.path or fnmatch.fnmatchcase(name, s.path):
                    src = s
                    break
            if src is None:
                raise Violation('VerifiedFiles names %r, which the COPY did not ask for' % name)
            plan.append((name, src.compression))
        for name, comp in plan:
            self.wire.emit(packet(b'H', cstr(name)))
            loader.begin_source(name, comp)
            self.read_batch(loader)
            loader.end_source()
            self.batch_end(loader, spec)
        self.wire.emit(packet(b'c'))

    def read_batch(self, loader):
        while True:
            t, body = self.wire.read_msg()
            if t == b'd':
                loader.feed(body)
            elif t == b'j':
                if body:
                    raise Violation('EndOfBatchRequest with a body')
                return
            elif t == b'c':
                raise Violation("CopyDone before EndOfBatch 'J' (send EndOfBatchRequest 'j' and wait for 'J')")
            elif t in (b'e', b'f'):
                raise self.client_abort(t, body)
            else:
                raise Violation('unexpected message %r during COPY LOCAL data' % t.decode())

    def batch_end(self, loader, spec):
        if self.wire.pending():
            t, body = self.wire.read_msg()
            if t == b'c':
                raise Violation("CopyDone before EndOfBatch 'J' (wait for 'J' after EndOfBatchRequest)")
            if t in (b'e', b'f'):
                raise self.client_abort(t, body)
            raise Violation("message %r sent before EndOfBatch 'J'" % t.decode())
        rej = loader.take_batch()
        if rej and spec.returnrejected:
            data = struct.pack('<%dQ' % len(rej), *[r[0] for r in rej])
            self.wire.emit(packet(b'O', cstr('') + struct.pack('!I', len(data)) + data))
        if rej and spec.rejected_file:
            data = b''.join(r[3] + b'\n' for r in rej)
            self.wire.emit(packet(b'O', cstr(spec.rejected_file) + struct.pack('!I', len(data)) + data))
        if rej and spec.exceptions_file:
            data = ''.join('COPY: Input record %d has been rejected (%s).  Please see %s, record %d for the '
                           'rejected record.\n' % (r[0], r[4], spec.rejected_file or 'the rejected data', r[1])
                           for r in rej).encode('utf-8')
            self.wire.emit(packet(b'O', cstr(spec.exceptions_file) + struct.pack('!I', len(data)) + data))
        self.wire.emit(packet(b'J'))

    def copy_stdin(self, spec, loader):
        n = len(loader.t.loadcols) + (1 if loader.t.flex else 0)
        self.wire.emit(packet(b'G', struct.pack('!bH', 0, n) + struct.pack('!%dH' % n, *([0] * n))))
        loader.begin_source('STDIN', spec.sources[0].compression)
        while True:
            t, body = self.wire.read_msg()
            if t == b'd':
                loader.feed(body)
            elif t == b'c':
                break
            elif t in (b'f', b'e'):
                raise self.client_abort(t, body)
            elif t == b'j':
                raise Violation('EndOfBatchRequest in a plain COPY FROM STDIN (that is COPY LOCAL\'s flow)')
            else:
                raise Violation('unexpected message %r during COPY FROM STDIN' % t.decode())
        loader.end_source()
        self.server_side_files(spec, loader)

    def server_path(self, p):
        root = self.args.mount_root
        return os.path.join(root, p.lstrip('/')) if root else p

    def server_side_files(self, spec, loader):
        rej = loader.take_batch() if (spec.rejected_file or spec.exceptions_file) else []
        if rej and spec.rejected_file:
            with open(self.server_path(spec.rejected_file), 'ab') as f:
                f.write(b''.join(r[3] + b'\n' for r in rej))
        if rej and spec.exceptions_file:
            with open(self.server_path(spec.exceptions_file), 'a', encoding='utf-8') as f:
                for r in rej:
                    f.write('COPY: Input record %d in %s has been rejected (%s)\n' % (r[1], r[2], r[4]))

    def copy_server(self, spec, loader):
        for src in spec.sources:
            if spec.mode == 'mount':
                items = self.mount_files(src)
            else:
                items = self.s3_objects(src)
            for name, opener in items:
                loader.begin_source(name, src.compression)
                f = opener()
                try:
                    while True:
                        chunk = f.read(262144)
                        if not chunk:
                            break
                        loader.feed(chunk)
                except (OSError, urllib.error.URLError) as e:
                    raise VError('58030', 'Error reading [%s]: %s' % (name, e))
                finally:
                    f.close()
                loader.end_source()
                if loader.error is not None:
                    return
        self.server_side_files(spec, loader)

    def mount_files(self, src):
        p = src.path
        real = self.server_path(p)
        root = self.args.mount_root
        if any(c in p for c in '*?['):
            matches = sorted(m for m in glob.glob(real) if os.path.isfile(m))
            if not matches:
                raise VError('58030', 'No files match when expanding glob: [%s]' % p)
            out = []
            for m in matches:
                shown = '/' + os.path.relpath(m, root) if root else m
                out.append((shown, lambda m=m: open(m, 'rb')))
            return out
        if not os.path.isfile(real):
            raise VError('58030', 'Could not open file [%s] for reading; No such file or directory' % p)
        return [(p, lambda: open(real, 'rb'))]

    def s3_get(self, bucket, key=None, query=None):
        """A GET to the S3 endpoint (path style), signed with SigV4 from the session's AWSAuth."""
        ep = urllib.parse.urlsplit(self.args.s3_endpoint)
        path = '/' + bucket + ('/' + urllib.parse.quote(key, safe='/~') if key is not None else '')
        qs = '&'.join('%s=%s' % (urllib.parse.quote(k, safe='~'), urllib.parse.quote(v, safe='~'))
                      for k, v in sorted((query or {}).items()))
        url = '%s://%s%s%s' % (ep.scheme, ep.netloc, path, '?' + qs if qs else '')
        akid, secret = self.session_params['AWSAUTH'].split(':', 1)
        region = self.session_params.get('AWSREGION', 'us-east-1')
        now = time.gmtime()
        amzdate = time.strftime('%Y%m%dT%H%M%SZ', now)
        day = amzdate[:8]
        empty = hashlib.sha256(b'').hexdigest()
        headers = {'host': ep.netloc, 'x-amz-content-sha256': empty, 'x-amz-date': amzdate}
        if self.session_params.get('AWSSESSIONTOKEN'):
            headers['x-amz-security-token'] = self.session_params['AWSSESSIONTOKEN']
        names = sorted(headers)
        creq = '\n'.join(['GET', path, qs, ''.join('%s:%s\n' % (n, headers[n]) for n in names), ';'.join(names),
                          empty])
        scope = '%s/%s/s3/aws4_request' % (day, region)
        sts = '\n'.join(['AWS4-HMAC-SHA256', amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = ('AWS4' + secret).encode()
        for part in (day, region, 's3', 'aws4_request'):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        headers['Authorization'] = 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (
            akid, scope, ';'.join(names), sig)
        del headers['host']
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30)

    def s3_objects(self, src):
        u = urllib.parse.urlsplit(src.path)
        bucket = u.netloc
        key = urllib.parse.unquote(u.path.lstrip('/'))
        if not bucket or not key:
            raise VError('22023', 'Invalid S3 URL [%s]' % src.path)

        def opener(k):
            def op():
                try:
                    return self.s3_get(bucket, k)
                except urllib.error.HTTPError as e:
                    if e.code == 404:
                        raise VError('58030', 'Could not open file [s3://%s/%s] for reading; No such file or directory'
                                     % (bucket, k))
                    if e.code == 403:
                        raise VError('42501', 'Permission denied for storage location [s3://%s/%s]: %s'
                                     % (bucket, k, e.read()[:300].decode('utf-8', 'replace')))
                    raise VError('58030', 'Error reading [s3://%s/%s]: HTTP %d' % (bucket, k, e.code))
                except urllib.error.URLError as e:
                    raise VError('58030', 'Error reading [s3://%s/%s]: %s' % (bucket, k, e.reason))
            return op

        if not any(c in key for c in '*?['):
            return [('s3://%s/%s' % (bucket, key), opener(key))]
        prefix = re.split(r'[*?\[]', key, 1)[0]
        keys = []
        token = None
        while True:
            q = {'list-type': '2', 'prefix': prefix}
            if token:
                q['continuation-token'] = token
            try:
                with self.s3_get(bucket, None, q) as r:
                    doc = ET.fromstring(r.read())
            except (urllib.error.URLError, ET.ParseError) as e:
                raise VError('58030', 'Cannot list [s3://%s/%s]: %s' % (bucket, prefix, e))
            ns = doc.tag.split('}')[0] + '}' if doc.tag.startswith('{') else ''
            for c in doc.findall(ns + 'Contents'):
                keys.append(c.find(ns + 'Key').text)
            trunc = doc.find(ns + 'IsTruncated')
            token_el = doc.find(ns + 'NextContinuationToken')
            if trunc is not None and trunc.text == 'true' and token_el is not None:
                token = token_el.text
            else:
                break
        matches = sorted(k for k in keys if fnmatch.fnmatchcase(k, key))
        if not matches:
            raise VError('58030', 'No files match when expanding glob: [%s]' % src.path)
        return [('s3://%s/%s' % (bucket, k), opener(k)) for k in matches]


def md5_response(pw, user, salt):
    h = hashlib.md5(pw + user).hexdigest().encode()
    return b'md5' + hashlib.md5(h + salt).hexdigest().encode()


def sha512_response(pw, usersalt, salt):
    h = hashlib.sha512(pw + usersalt).hexdigest().encode()
    return b'sha512' + hashlib.sha512(h + salt).hexdigest().encode()


# ---------------------------------------------------------------------------------------------
# server

class Server:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.logf = open(args.log, 'a', encoding='utf-8') if args.log else None
        self.sessions = {}
        self.ncid = 0
        self.trans_base = 45035996273704960 + int(time.time() * 1000) % 1000000 * 1000
        self.ntrans = 0
        self.setup_done = False
        self.database = args.database or args.pg_db
        self.protocol_max = args.protocol_max
        self.users = {}
        for u in args.user or ():
            name, rest = u.split(':', 1)
            password, method = rest.rsplit(':', 1)
            if method not in ('sha512', 'sha512-65536', 'md5', 'md5-65541', 'cleartext', 'expired', 'grace', 'trust'):
                raise SystemExit('vemu: unknown auth method %r in --user %s' % (method, u))
            self.users[name.lower()] = (password, method)
        self.ssl_ctx = None
        if args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            self.ssl_ctx = ctx

    def log(self, event, **kw):
        if self.logf is None:
            return
        rec = {'ts': round(time.time(), 6), 'event': event}
        rec.update((k, v) for k, v in kw.items() if v is not None)
        line = json.dumps(rec, default=str, ensure_ascii=False)
        with self.log_lock:
            self.logf.write(line + '\n')
            self.logf.flush()

    def next_cid(self):
        with self.lock:
            self.ncid += 1
            return self.ncid

    def next_trans_id(self):
        with self.lock:
            self.ntrans += 1
            return self.trans_base + self.ntrans

    def register(self, sess):
        with self.lock:
            while True:
                pid, key = random.randint(1, 2 ** 31 - 1), random.randint(0, 2 ** 32 - 1)
                if (pid, key) not in self.sessions:
                    self.sessions[(pid, key)] = sess
                    return pid, key

    def forget(self, sess):
        with self.lock:
            self.sessions.pop((sess.pid, sess.key), None)

    def find(self, pid, key):
        with self.lock:
            return self.sessions.get((pid, key))

    def find_session(self, session_id):
        with self.lock:
            return next((s for s in self.sessions.values() if s.session_id == session_id), None)

    def ensure_setup(self, pg):
        if self.setup_done:
            return
        with self.lock:
            if self.setup_done:
                return
            pg.query('BEGIN;' + SETUP_SQL + 'COMMIT;')
            pg.notices = []
            self.setup_done = True

    def serve(self):
        host, port = self.args.listen
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, port))
        ls.listen(128)
        port = ls.getsockname()[1]
        if self.args.port_file:
            tmp = self.args.port_file + '.tmp'
            with open(tmp, 'w') as f:
                f.write('%d\n' % port)
            os.replace(tmp, self.args.port_file)
        if self.args.listen[1] == 0:
            print(port, flush=True)
        self.log('listen', host=host, port=port, pid=os.getpid(), protocol_max=ver_text(self.protocol_max),
                 tls=self.ssl_ctx is not None, node=self.args.node_name)
        while True:
            try:
                s, peer = ls.accept()
            except InterruptedError:
                continue
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            cid = self.next_cid()
            self.log('connect', conn=cid, peer='%s:%d' % peer[:2])
            Session(self, s, peer, cid).start()


def hostport(s):
    host, _, port = s.rpartition(':')
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError('expected HOST:PORT, got %r' % s)
    return host.strip('[]'), int(port)


def protover(s):
    m = re.fullmatch(r'3\.(\d+)', s)
    if not m:
        raise argparse.ArgumentTypeError('expected 3.N, got %r' % s)
    return 3 << 16 | int(m.group(1))


def main(argv=None):
    ap = argparse.ArgumentParser(prog='emulator.py', description='strict Vertica emulator over PostgreSQL')
    ap.add_argument('--listen', type=hostport, default=('127.0.0.1', 0))
    ap.add_argument('--port-file')
    ap.add_argument('--pg-socket', required=True)
    ap.add_argument('--pg-port', type=int, default=5432)
    ap.add_argument('--pg-db', default='postgres')
    ap.add_argument('--pg-user', default='postgres')
    ap.add_argument('--database')
    ap.add_argument('--user', action='append')
    ap.add_argument('--tls-cert')
    ap.add_argument('--tls-key')
    ap.add_argument('--tls-required', action='store_true')
    ap.add_argument('--lb-redirect', type=hostport)
    ap.add_argument('--node-name', default='v_vemu_node0001')
    ap.add_argument('--protocol-max', type=protover, default=protover('3.16'))
    ap.add_argument('--server-version', default='v24.1.0')
    ap.add_argument('--mount-root')
    ap.add_argument('--s3-endpoint')
    ap.add_argument('--sink', action='store_true')
    ap.add_argument('--log')
    ap.add_argument('--batch-rows', type=int, default=5000)
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error('--tls-cert and --tls-key go together')
    if args.tls_required and not args.tls_cert:
        ap.error('--tls-required needs --tls-cert/--tls-key')
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    Server(args).serve()


if __name__ == '__main__':
    main()
