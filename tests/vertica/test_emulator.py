#!/usr/bin/env python3
"""Self-test of tests/vertica/emulator.py: python3 tests/vertica/test_emulator.py [-k NAME] (KEEP=1 keeps the temp dir)

Starts a throwaway PostgreSQL (scripts/pg.sh) and emulators in a temp directory, and drives them
with a small strict client written here from the protocol notes (not from the emulator's code):
auth methods, TLS, load balancing, protocol 3.14/3.16, COPY LOCAL (CSV, gzip, flex JSON, rejects,
ABORT ON ERROR, NO COMMIT), server-side COPY (mount paths, s3:// through moto_server when it is
installed), each refused deviation, catalogue queries, cancel, disconnects and SIGKILL/restart.
Python standard library only.
"""

import bz2
import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EMU = os.path.join(HERE, 'emulator.py')
PY = sys.executable

V3_5 = 3 << 16 | 5
SSL_CODE = 80877103
LB_CODE = 80936960
CANCEL_CODE = 80877102


def ver(minor):
    return 3 << 16 | minor


# ---------------------------------------------------------------------------------------------
# a strict client

class VErr(Exception):
    def __init__(self, fields):
        self.fields = fields
        super().__init__('%s %s [%s] V%s' % (fields.get('S'), fields.get('M'), fields.get('C'), fields.get('V')))

    @property
    def sqlstate(self):
        return self.fields.get('C')


class ProtoErr(Exception):
    pass


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b'\0'


def pkt(t, body=b''):
    return t + struct.pack('!I', len(body) + 4) + body


def parse_fields(body):
    out = {}
    pos = 0
    while body[pos] != 0:
        k = chr(body[pos])
        end = body.index(b'\0', pos + 1)
        out[k] = body[pos + 1:end].decode()
        pos = end + 1
    if pos != len(body) - 1:
        raise ProtoErr('trailing bytes in error fields')
    return out


def sha512_hash(pw, usersalt, salt):
    h = hashlib.sha512(pw + usersalt).hexdigest().encode()
    return b'sha512' + hashlib.sha512(h + salt).hexdigest().encode()


def md5_hash(pw, user, salt):
    h = hashlib.md5(pw + user).hexdigest().encode()
    return b'md5' + hashlib.md5(h + salt).hexdigest().encode()


def parse_rowdesc(body):
    """Vertica's RowDescription, strictly: every byte must be accounted for."""
    n = struct.unpack_from('!H', body, 0)[0]
    cols = []
    if n == 0:
        if len(body) != 2:
            raise ProtoErr('RowDescription with 0 fields and trailing bytes')
        return cols
    pool = struct.unpack_from('!I', body, 2)[0]
    pos = 6
    types = []
    for _ in range(pool):
        oid = struct.unpack_from('!I', body, pos)[0]
        end = body.index(b'\0', pos + 4)
        types.append((oid, body[pos + 4:end].decode()))
        pos = end + 1
    for _ in range(n):
        end = body.index(b'\0', pos)
        name = body[pos:end].decode()
        pos = end + 1
        toid = struct.unpack_from('!Q', body, pos)[0]
        pos += 8
        schema = table = None
        if toid:
            end = body.index(b'\0', pos)
            schema = body[pos:end].decode()
            pos = end + 1
            end = body.index(b'\0', pos)
            table = body[pos:end].decode()
            pos = end + 1
        attnum, user_type, oid, size, nullok, ident, typmod, fmt = struct.unpack_from('!HBIhHHiH', body, pos)
        pos += 19
        cols.append(dict(name=name, table_oid=toid, schema=schema, table=table, attnum=attnum, user_type=user_type,
                         oid=oid, size=size, null_ok=nullok, identity=ident, typmod=typmod, format=fmt))
    if pos != len(body):
        raise ProtoErr('RowDescription has %d trailing bytes' % (len(body) - pos))
    return cols


def parse_datarow(body):
    n = struct.unpack_from('!H', body, 0)[0]
    pos = 2
    row = []
    for _ in range(n):
        ln = struct.unpack_from('!i', body, pos)[0]
        pos += 4
        if ln < 0:
            row.append(None)
        else:
            row.append(body[pos:pos + ln].decode())
            pos += ln
    if pos != len(body):
        raise ProtoErr('DataRow trailing bytes')
    return row


class Result:
    def __init__(self):
        self.cols = None
        self.rows = []
        self.tag = None

    def __repr__(self):
        return 'Result(%s, %s, %s)' % ([c['name'] for c in self.cols or []], self.rows, self.tag)


class VClient:
    def __init__(self, port, user='dbadmin', password='', database='dw', host='127.0.0.1', protocol=ver(16),
                 tls=False, cafile=None, lb=False, autocommit=False, label='vemu-test', connect=True):
        self.host, self.port = host, port
        self.user, self.password, self.database = user, password, database
        self.protocol_req = protocol
        self.tls, self.cafile, self.lb = tls, cafile, lb
        self.autocommit = autocommit
        self.label = label
        self.params = {}
        self.auth_codes = []
        self.redirected = None
        self.status = None
        self.buf = b''
        self.sock = None
        if connect:
            self.connect()

    # raw I/O
    def sendraw(self, b):
        self.sock.sendall(b)

    def recvn(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError('server closed the connection')
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self):
        t = self.recvn(1)
        n = struct.unpack('!I', self.recvn(4))[0]
        return t, self.recvn(n - 4)

    def closed(self, timeout=2):
        """True when the server closes the connection (after anything it still sends)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
        except (socket.timeout, ConnectionError, ssl.SSLError):
            return False

    def open_socket(self, host, port):
        s = socket.create_connection((host, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def connect(self):
        self.sock = self.open_socket(self.host, self.port)
        if self.lb:
            self.sendraw(struct.pack('!II', 8, LB_CODE))
            a = self.recvn(1)
            if a == b'Y':
                n = struct.unpack('!I', self.recvn(4))[0]
                body = self.recvn(n - 4)
                port = struct.unpack_from('!I', body, 0)[0]
                if not body.endswith(b'\0'):
                    raise ProtoErr('LoadBalanceResponse host not NUL-terminated')
                host = body[4:-1].decode()
                self.redirected = (host, port)
                self.sock.close()
                self.buf = b''
                self.sock = self.open_socket(host, port)
            elif a != b'N':
                raise ProtoErr('LoadBalanceRequest answered %r' % a)
        if self.tls:
            self.sendraw(struct.pack('!II', 8, SSL_CODE))
            a = self.recvn(1)
            if a == b'S':
                ctx = ssl.create_default_context(cafile=self.cafile)
                self.sock = ctx.wrap_socket(self.sock, server_hostname='localhost')
                self.tls_used = True
            elif a == b'N':
                if self.tls == 'require':
                    raise ProtoErr('server does not do TLS')
                self.tls_used = False
            else:
                raise ProtoErr('SSLRequest answered %r' % a)
        self.startup()

    def startup_bytes(self):
        params = [('user', self.user), ('database', self.database), ('client_label', self.label),
                  ('client_type', 'vemu-test'), ('client_version', '1'), ('client_os', 'linux'),
                  ('client_os_user_name', 'test'), ('client_os_hostname', 'localhost'), ('client_pid', str(os.getpid())),
                  ('autocommit', 'on' if self.autocommit else 'off'), ('binary_data_protocol', '0'),
                  ('protocol_features', '{"request_complex_types":false}'), ('workload', ''), ('auth_category', 'User')]
        body = struct.pack('!I', V3_5) + b'protocol_version\0' + struct.pack('!I', self.protocol_req) + b'\0'
        body += b''.join(cstr(k) + cstr(v) for k, v in params) + b'\0'
        return struct.pack('!I', len(body) + 4) + body

    def startup(self):
        self.sendraw(self.startup_bytes())
        pw = self.password.encode()
        while True:
            t, b = self.read()
            if t == b'R':
                code = struct.unpack_from('!I', b, 0)[0]
                self.auth_codes.append(code)
                if code == 0:
                    continue
                if code in (65536, 66048):
                    salt = b[4:8]
                    if struct.unpack_from('!I', b, 8)[0] != 16 or len(b) != 28:
                        raise ProtoErr('bad SHA-512 challenge')
                    self.sendraw(pkt(b'p', cstr(sha512_hash(pw, b[12:28], salt))))
                elif code in (5, 65541):
                    self.sendraw(pkt(b'p', cstr(md5_hash(pw, self.user.encode(), b[4:8]))))
                elif code == 3:
                    self.sendraw(pkt(b'p', cstr(pw)))
                elif code == 9:
                    raise ProtoErr('password expired')
                elif code == 11:
                    continue
                else:
                    raise ProtoErr('auth code %d' % code)
            elif t == b'S':
                k, v = b[:-1].split(b'\0')
                self.params[k.decode()] = v.decode()
            elif t == b'K':
                self.backend = struct.unpack('!II', b)
            elif t == b'E':
                raise VErr(parse_fields(b))
            elif t == b'Z':
                self.status = b
                return
            else:
                raise ProtoErr('unexpected %r during startup' % t)

    @property
    def protocol(self):
        return int(self.params.get('protocol_version', V3_5))

    def close(self):
        try:
            self.sendraw(pkt(b'X'))
        except OSError:
            pass
        self.sock.close()

    # queries
    def _results(self, on_copy=None):
        results = []
        cur = None
        err = None
        while True:
            t, b = self.read()
            if t == b'T':
                cur = Result()
                cur.cols = parse_rowdesc(b)
            elif t == b'D':
                if cur is None:
                    cur = Result()
                cur.rows.append(parse_datarow(b))
            elif t == b'C':
                if cur is None:
                    cur = Result()
                cur.tag = b[:-1].decode()
                results.append(cur)
                cur = None
            elif t == b'I':
                results.append(Result())
            elif t == b'E':
                err = VErr(parse_fields(b))
                if err.fields.get('S') == 'FATAL':
                    raise err
            elif t == b'N':
                pass
            elif t == b'Z':
                self.status = b
                break
            elif on_copy is not None:
                cur = on_copy(t, b, cur)
            else:
                raise ProtoErr('unexpected message %r' % t)
        if err is not None:
            raise err
        return results

    def query(self, sql):
        self.sendraw(pkt(b'Q', cstr(sql)))
        return self._results()

    def q1(self, sql):
        """Rows of the last result."""
        return self.query(sql)[-1].rows

    def val(self, sql):
        return self.q1(sql)[0][0]

    def verified_files(self, files, width=None):
        w = width or (4 if self.protocol >= ver(15) else 2)
        b = struct.pack('!I' if w == 4 else '!H', len(files))
        for name, size in files:
            b += cstr(name) + struct.pack('!Q', size)
        return pkt(b'F', b)

    def copy_local_stdin(self, sql, chunks, width=None, send_done=True):
        """COPY ... FROM LOCAL STDIN: returns dict(rows, rejected (row numbers), files {name: bytes})."""
        out = {'rejected': [], 'files': {}, 'rows': None}
        self.sendraw(pkt(b'Q', cstr(sql)))
        state = {'step': 'verify'}

        def on_copy(t, b, cur):
            if t == b'F':
                n = struct.unpack_from('!H', b, 0)[0]
                pos = 2
                names = []
                for _ in range(n + 2):
                    end = b.index(b'\0', pos)
                    names.append(b[pos:end].decode())
                    pos = end + 1
                if pos != len(b):
                    raise ProtoErr('VerifyFiles trailing bytes')
                out['verify'] = names
                self.sendraw(self.verified_files([], width))
            elif t == b'G':
                for c in chunks:
                    self.sendraw(pkt(b'd', c))
                self.sendraw(pkt(b'j'))
                state['step'] = 'batch'
            elif t == b'O':
                end = b.index(b'\0')
                name = b[:end].decode()
                ln = struct.unpack_from('!I', b, end + 1)[0]
                data = b[end + 5:]
                if len(data) != ln:
                    raise ProtoErr('WriteFile length')
                if name == '':
                    out['rejected'] += list(struct.unpack('<%dQ' % (ln // 8), data))
                else:
                    out['files'][name] = out['files'].get(name, b'') + data
            elif t == b'J':
                if send_done:
                    self.sendraw(pkt(b'c'))
            else:
                raise ProtoErr('unexpected %r in COPY LOCAL' % t)
            return cur

        res = self._results(on_copy)
        out['rows'] = int(res[-1].rows[0][0])
        out['cols'] = res[-1].cols
        return out

    def copy_local_files(self, sql, files):
        """COPY ... FROM LOCAL 'f1', ...: files is {name: bytes}."""
        out = {'rejected': [], 'asked': []}
        self.sendraw(pkt(b'Q', cstr(sql)))

        def on_copy(t, b, cur):
            if t == b'F':
                self.sendraw(self.verified_files([(n, len(d)) for n, d in files.items()]))
            elif t == b'H':
                name = b[:-1].decode()
                out['asked'].append(name)
                self.sendraw(pkt(b'd', files[name]) + pkt(b'j'))
            elif t == b'O':
                end = b.index(b'\0')
                ln = struct.unpack_from('!I', b, end + 1)[0]
                out['rejected'] += list(struct.unpack('<%dQ' % (ln // 8), b[end + 5:]))
            elif t in (b'J', b'c'):
                pass
            else:
                raise ProtoErr('unexpected %r' % t)
            return cur

        res = self._results(on_copy)
        out['rows'] = int(res[-1].rows[0][0])
        return out

    def copy_stdin(self, sql, data):
        self.sendraw(pkt(b'Q', cstr(sql)))

        def on_copy(t, b, cur):
            if t != b'G':
                raise ProtoErr('unexpected %r' % t)
            self.sendraw(pkt(b'd', data) + pkt(b'c'))
            return cur
        return self._results(on_copy)


# ---------------------------------------------------------------------------------------------
# harness

class Env:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix='vemu-test.')
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.pgdir = os.path.join(self.tmp, 'pg')
        self.pgport = self.free_port()
        r = subprocess.run([os.path.join(REPO, 'scripts', 'pg.sh'), 'start', self.pgdir, str(self.pgport)],
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit('cannot start PostgreSQL: %s%s' % (r.stdout, r.stderr))
        self.mount = os.path.join(self.tmp, 'mount')
        os.makedirs(os.path.join(self.mount, 'data'))
        self.cert = os.path.join(self.tmp, 'cert.pem')
        self.key = os.path.join(self.tmp, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
                        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', self.key, '-out', self.cert],
                       check=True, capture_output=True)
        self.users = ['dbadmin:secret:sha512', 'sha65536:pw65536:sha512-65536', 'md5user:md5pw:md5',
                      'md5b:md5bpw:md5-65541', 'clear:clearpw:cleartext', 'old:oldpw:expired',
                      'soon:soonpw:grace']

    @staticmethod
    def free_port():
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        p = s.getsockname()[1]
        s.close()
        return p

    def emulator(self, *extra, port=0, name='emu', users=None):
        log = os.path.join(self.tmp, name + '.log')
        pf = os.path.join(self.tmp, name + '.port')
        if os.path.exists(pf):
            os.unlink(pf)
        cmd = [PY, EMU, '--listen', '127.0.0.1:%d' % port, '--port-file', pf, '--pg-socket', self.pgdir,
               '--pg-port', str(self.pgport), '--pg-db', 'dw', '--log', log]
        for u in (self.users if users is None else users):
            cmd += ['--user', u]
        cmd += list(extra)
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, name + '.err'), 'a'))
        self.procs.append(p)
        for _ in range(200):
            if os.path.exists(pf):
                break
            if p.poll() is not None:
                raise SystemExit('emulator %s exited: %s' % (name, open(os.path.join(self.tmp, name + '.err')).read()))
            time.sleep(0.02)
        p.port = int(open(pf).read())
        p.logpath = log
        return p

    def events(self, proc, event=None):
        out = []
        with open(proc.logpath) as f:
            for line in f:
                e = json.loads(line)
                if event is None or e['event'] == event:
                    out.append(e)
        return out

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run([os.path.join(REPO, 'scripts', 'pg.sh'), 'stop', self.pgdir], capture_output=True)
        if os.environ.get('KEEP') != '1':
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print('kept', self.tmp)


def eq(a, b, what=''):
    if a != b:
        raise AssertionError('%s: expected %r, got %r' % (what, b, a))


def raises(fn, sqlstate, contains=None):
    try:
        fn()
    except VErr as e:
        eq(e.sqlstate, sqlstate, 'SQLSTATE of %s' % e)
        if 'V' not in e.fields:
            raise AssertionError('error without field V: %s' % e)
        if contains and contains not in e.fields.get('M', ''):
            raise AssertionError('error %r does not contain %r' % (e.fields.get('M'), contains))
        return e
    raise AssertionError('expected SQLSTATE %s, got no error' % sqlstate)


# ---------------------------------------------------------------------------------------------
# tests

def t_hash_vectors(env, emu):
    sys.path.insert(0, HERE)
    import emulator
    salt = bytes([1, 2, 3, 4])
    usersalt = bytes(range(1, 17))
    eq(md5_hash(b'secret', b'dbadmin', salt), b'md5eb4ab686c356bb27c27fd00833d5a193', 'client MD5 vector')
    eq(emulator.md5_response(b'secret', b'dbadmin', salt), b'md5eb4ab686c356bb27c27fd00833d5a193', 'emulator MD5')
    v = (b'sha512e21582d972edb2e18cd45b99bfaa64240d7e32c8be2acfd0a879e72d5d7dbc9acb244e83959465455c312fdfb4b2797a05dc'
         b'd0a3b30cd59263c91cd7123ab2fc')
    eq(sha512_hash(b'secret', usersalt, salt), v, 'client SHA-512 vector')
    eq(emulator.sha512_response(b'secret', usersalt, salt), v, 'emulator SHA-512')
    eq(len(pkt(b'p', cstr(v))) - 1, 0x8b, 'SHA-512 password message length')


def t_auth(env, emu):
    for user, pw, codes in (('dbadmin', 'secret', [66048, 0]), ('sha65536', 'pw65536', [65536, 0]),
                            ('md5user', 'md5pw', [5, 0]), ('md5b', 'md5bpw', [65541, 0]),
                            ('clear', 'clearpw', [3, 0]), ('soon', 'soonpw', [66048, 11, 0])):
        c = VClient(emu.port, user, pw)
        eq(c.auth_codes, codes, 'auth codes for %s' % user)
        eq(c.val('SELECT 1'), '1', 'query as %s' % user)
        c.close()
    for user, pw in (('dbadmin', 'wrong'), ('md5user', 'x'), ('clear', 'nope'), ('nobody', 'secret')):
        e = raises(lambda: VClient(emu.port, user, pw), '28000', 'Invalid username or password')
        eq(e.fields['S'], 'FATAL', 'severity')
        eq(e.fields['V'], '3781', 'Vertica code')
    try:
        VClient(emu.port, 'old', 'oldpw')
        raise AssertionError('expired password accepted')
    except ProtoErr as e:
        eq(str(e), 'password expired', 'expired')
    outcomes = [(e['user'], e['outcome']) for e in env.events(emu, 'auth')]
    for want in (('dbadmin', 'ok'), ('soon', 'grace'), ('old', 'expired'), ('dbadmin', 'bad_password'),
                 ('nobody', 'unknown_user')):
        if want not in outcomes:
            raise AssertionError('auth log lacks %s: %s' % (want, outcomes))
    raises(lambda: VClient(emu.port, 'dbadmin', 'secret', database='otherdb'), '3D000')
    VClient(emu.port, 'dbadmin', 'secret', database='').close()


def t_startup_params(env, emu):
    c = VClient(emu.port, 'dbadmin', 'secret', label='zload-test-label')
    eq(c.params.get('server_version'), 'v24.1.0', 'server_version')
    eq(c.params.get('protocol_version'), str(ver(16)), 'protocol_version')
    eq(c.params.get('client_label'), 'zload-test-label', 'client_label')
    eq(c.params.get('standard_conforming_strings'), 'on', 'standard_conforming_strings')
    eq(c.status, b'I', 'ReadyForQuery status')
    c.close()
    c = VClient(emu.port, 'dbadmin', 'secret', protocol=ver(14))
    eq(c.protocol, ver(14), 'negotiated down to the client')
    c.close()
    st = [e for e in env.events(emu, 'startup') if e['params'].get('client_label') == 'zload-test-label'][0]
    eq(st['protocol_text'], '3.16', 'logged protocol')
    eq(st['params']['user'], 'dbadmin', 'logged user')


def t_results(env, emu):
    c = VClient(emu.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS r1')
    c.query('CREATE TABLE r1 (id INT NOT NULL, name VARCHAR(20), amount NUMERIC(10,2), ts TIMESTAMP, ok BOOLEAN)')
    r = c.query("INSERT INTO r1 VALUES (1, 'a', 1.50, '2024-01-02 03:04:05', true)")
    eq(r[0].cols[0]['name'], 'OUTPUT', 'DML result column')
    eq(r[0].rows, [['1']], 'rows inserted')
    eq(c.status, b'T', 'in a transaction (autocommit off)')
    r = c.query('SELECT id, name, amount, ts, ok, 1.5::float AS f FROM r1')[0]
    cols = {x['name']: x for x in r.cols}
    eq([cols[n]['oid'] for n in ('id', 'name', 'amount', 'ts', 'ok', 'f')], [6, 9, 16, 12, 5, 7], 'Vertica type oids')
    eq((cols['id']['schema'], cols['id']['table'], cols['id']['attnum']), ('public', 'r1', 1), 'table of column')
    eq(cols['id']['null_ok'], 0, 'NOT NULL column')
    eq(cols['name']['null_ok'], 1, 'nullable column')
    eq(cols['name']['typmod'], 24, 'varchar typmod')
    eq(cols['f']['table_oid'], 0, 'computed column has no table')
    eq(r.rows, [['1', 'a', '1.50', '2024-01-02 03:04:05', 't', '1.5']], 'values')
    other = VClient(emu.port, 'dbadmin', 'secret')
    eq(other.val('SELECT count(*) FROM r1'), '0', 'uncommitted INSERT invisible')
    c.query('COMMIT')
    eq(c.status, b'I', 'after COMMIT')
    eq(other.val('SELECT count(*) FROM r1'), '1', 'committed INSERT visible')
    # a failing statement rolls back itself only, as in Vertica
    c.query("INSERT INTO r1 VALUES (2, 'b', 2, NULL, NULL)")
    raises(lambda: c.query('SELECT * FROM no_such_table'), '42V01', 'does not exist')
    raises(lambda: c.query('SELEC 1'), '42601')
    c.query('COMMIT')
    eq(other.val('SELECT count(*) FROM r1'), '2', 'earlier statement survives a failed one')
    r = c.query("SELECT 1; SELECT 'x'")
    eq([x.rows for x in r], [[['1']], [['x']]], 'two statements in one Query')
    r = c.query('-- nothing')
    eq(r[0].tag, None, 'EmptyQueryResponse')
    # TRUNCATE commits, as in Vertica
    c.query("INSERT INTO r1 VALUES (3, 'c', 3, NULL, NULL)")
    c.query('TRUNCATE TABLE r1')
    c.query('ROLLBACK')
    eq(other.val('SELECT count(*) FROM r1'), '0', 'TRUNCATE committed')
    # autocommit on
    a = VClient(emu.port, 'dbadmin', 'secret', autocommit=True)
    a.query("INSERT INTO r1 VALUES (4, 'd', 4, NULL, NULL)")
    eq(a.status, b'I', 'autocommit status')
    eq(other.val('SELECT count(*) FROM r1'), '1', 'autocommit INSERT visible')
    for x in (a, c, other):
        x.close()


def t_ddl_catalog(env, emu):
    c = VClient(emu.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS ledger; DROP TABLE IF EXISTS loose')
    c.query('CREATE TABLE IF NOT EXISTS ledger (batch_id VARCHAR(64) NOT NULL, target VARCHAR(64) NOT NULL, '
            'rows_loaded INTEGER, loaded_at TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (batch_id, target) ENABLED) '
            'ORDER BY batch_id SEGMENTED BY HASH(batch_id) ALL NODES')
    c.query('CREATE TABLE IF NOT EXISTS ledger (batch_id VARCHAR(64))')
    c.query("INSERT INTO ledger (batch_id, target, rows_loaded) VALUES ('b1', 't', 5)")
    e = raises(lambda: c.query("INSERT INTO ledger (batch_id, target, rows_loaded) VALUES ('b1', 't', 6)"), '23505')
    if 'Duplicate key values' not in e.fields['M']:
        raise AssertionError(e.fields['M'])
    c.query('COMMIT')
    c.query('CREATE TABLE loose (a INT, b VARCHAR, PRIMARY KEY (a))')
    c.query('INSERT INTO loose VALUES (1, NULL); INSERT INTO loose VALUES (1, NULL)')
    eq(c.val('SELECT count(*) FROM loose'), '2', 'a PRIMARY KEY without ENABLED is not enforced')
    raises(lambda: c.query('INSERT INTO loose VALUES (NULL, NULL)'), '23502')
    eq(c.q1("SELECT table_schema, table_name, is_flextable FROM v_catalog.tables WHERE table_name = 'ledger'"),
       [['public', 'ledger', 'f']], 'v_catalog.tables')
    eq(c.q1("SELECT column_name, data_type, is_nullable FROM v_catalog.columns WHERE table_schema = 'public' "
            "AND table_name = 'ledger' ORDER BY ordinal_position"),
       [['batch_id', 'varchar(64)', 'f'], ['target', 'varchar(64)', 'f'], ['rows_loaded', 'int', 't'],
        ['loaded_at', 'timestamptz', 't']], 'v_catalog.columns')
    eq(c.q1("SELECT column_name, constraint_type, is_enabled FROM v_catalog.constraint_columns "
            "WHERE table_name = 'ledger' AND constraint_type = 'p' ORDER BY ordinal_position"),
       [['batch_id', 'p', 't'], ['target', 'p', 't']], 'enabled primary key')
    eq(c.q1("SELECT column_name, constraint_type, is_enabled FROM v_catalog.constraint_columns "
            "WHERE table_name = 'loose' AND constraint_type = 'p'"), [['a', 'p', 'f']], 'disabled primary key')
    eq(c.val("SELECT count(*) FROM tables WHERE table_name = 'loose'"), '1', 'v_catalog on the search path')
    c.query('CREATE LOCAL TEMPORARY TABLE tmp1 (a INT)')
    c.query('INSERT INTO tmp1 VALUES (1)')
    eq(c.val('SELECT count(*) FROM tmp1'), '1', 'temp rows within the transaction')
    c.query('COMMIT')
    eq(c.val('SELECT count(*) FROM tmp1'), '0', 'temp table is ON COMMIT DELETE ROWS by default')
    eq(c.val("SELECT SET_LOAD_BALANCE_POLICY('ROUNDROBIN')").startswith('Successfully'), True, 'LB policy')
    c.close()


def t_tls(env, emu):
    t = env.emulator('--tls-cert', env.cert, '--tls-key', env.key, name='tls')
    c = VClient(t.port, 'dbadmin', 'secret', tls='require', cafile=env.cert)
    eq(c.tls_used, True, 'TLS used')
    eq(c.val('SELECT 41 + 1'), '42', 'query over TLS')
    c.close()
    c = VClient(t.port, 'dbadmin', 'secret')
    eq(c.val('SELECT 1'), '1', 'plain to a TLS-capable server')
    c.close()
    r = env.emulator('--tls-cert', env.cert, '--tls-key', env.key, '--tls-required', name='tlsreq')
    raises(lambda: VClient(r.port, 'dbadmin', 'secret'), '28000', 'TLS is required')
    VClient(r.port, 'dbadmin', 'secret', tls='require', cafile=env.cert).close()
    c = VClient(emu.port, 'dbadmin', 'secret', tls=True)
    eq(c.tls_used, False, 'no TLS without a certificate (N)')
    c.close()
    eq([e['tls'] for e in env.events(r, 'startup')], [False, True], 'startup tls flags')


def t_load_balance(env, emu):
    b = env.emulator('--node-name', 'v_vemu_node0002', name='nodeb')
    a = env.emulator('--lb-redirect', '127.0.0.1:%d' % b.port, name='nodea')
    c = VClient(a.port, 'dbadmin', 'secret', lb=True)
    eq(c.redirected, ('127.0.0.1', b.port), 'redirected')
    eq(c.val('SELECT node_name FROM v_catalog.nodes'), 'v_vemu_node0002', 'on node B')
    c.close()
    eq([e['answer'] for e in env.events(a, 'lb_request')], ['Y'], 'A answered Y')
    c = VClient(emu.port, 'dbadmin', 'secret', lb=True)
    eq(c.redirected, None, 'no redirect without --lb-redirect')
    c.close()
    eq(env.events(emu, 'lb_request')[-1]['answer'], 'N', 'N logged')


def t_copy_csv(env, emu):
    c = VClient(emu.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS ev; CREATE TABLE ev (id INT, name VARCHAR(40), note VARCHAR(100))')
    data = b'id,name,note\n1,alice,"hello, world"\n2,"bob ""b""","multi\nline"\n3,,\n4,dave,plain\n'
    r = c.copy_local_stdin("COPY ev FROM LOCAL STDIN DELIMITER ',' ENCLOSED BY '\"' SKIP 1 DIRECT",
                           [data[:17], data[17:40], data[40:]])
    eq(r['rows'], 4, 'rows loaded')
    eq(r['cols'][0]['name'], 'Rows Loaded', 'result column')
    eq(r['verify'], ['', ''], 'VerifyFiles: 0 files, no rejected/exceptions paths')
    other = VClient(emu.port, 'dbadmin', 'secret')
    eq(other.q1('SELECT id, name, note FROM ev ORDER BY id'),
       [['1', 'alice', 'hello, world'], ['2', 'bob "b"', 'multi\nline'], ['3', None, None], ['4', 'dave', 'plain']],
       'COPY committed what it loaded')
    eq(c.status, b'I', 'COPY committed the transaction')
    # a COPY LOCAL STDIN followed by a statement in the same query (vertica-python's
    # test_copy_local_stdin_multistat): the COPY's exchange, its result, then the statement's
    r = c.copy_local_stdin("COPY ev FROM LOCAL STDIN DELIMITER ',' NO COMMIT;\n"
                           "SELECT GET_NUM_ACCEPTED_ROWS(), GET_NUM_REJECTED_ROWS()", [b'5,e,f\n6,g,h\nx,y,z\n'])
    eq((r['rows'], r['cols'][0]['name']), (2, 'GET_NUM_ACCEPTED_ROWS'), 'the statement after the COPY')
    eq(c.status, b'T', 'NO COMMIT: the transaction stays open')
    c.query('ROLLBACK')
    # Vertica's defaults: '|' delimiter, backslash escape, empty = NULL
    c.query('DROP TABLE IF EXISTS ev2; CREATE TABLE ev2 (a INT, b VARCHAR(10))')
    r = c.copy_local_stdin('COPY ev2 FROM LOCAL STDIN', [b'1|x\\|y\n2|\n|z\n'])
    eq(r['rows'], 3, 'default format rows')
    eq(c.q1('SELECT a, b FROM ev2 ORDER BY a NULLS LAST'), [['1', 'x|y'], ['2', None], [None, 'z']],
       'default format values')
    # E'' strings, NULL AS, a multi-byte delimiter
    c.query('TRUNCATE TABLE ev2')
    r = c.copy_local_stdin("COPY ev2 (b, a) FROM LOCAL STDIN DELIMITER E'\\t' NULL AS 'NULL' NO ESCAPE",
                           [b'x\\y\t1\nNULL\t2\n\t3\n'])
    eq(c.q1('SELECT a, b FROM ev2 ORDER BY a'), [['1', 'x\\y'], ['2', None], ['3', '']], 'E-string delimiter, NULL AS')
    c.query('TRUNCATE TABLE ev2')
    c.copy_local_stdin("COPY ev2 FROM LOCAL STDIN DELIMITER '\u00fe'", ['5\u00fe\u00e9t\u00e9\n'.encode()])
    eq(c.q1('SELECT a, b FROM ev2'), [['5', '\u00e9t\u00e9']], 'multi-byte delimiter')
    # gzip in small pieces, and bzip2
    payload = b''.join(b'%d,name%d,n\n' % (i, i) for i in range(1000))
    gz = gzip.compress(payload)
    r = c.copy_local_stdin("COPY ev FROM LOCAL STDIN GZIP DELIMITER ','", [gz[i:i + 700] for i in range(0, len(gz), 700)])
    eq(r['rows'], 1000, 'gzip rows')
    r = c.copy_local_stdin("COPY ev FROM LOCAL STDIN BZIP DELIMITER ',' NO COMMIT", [bz2.compress(payload)])
    eq(r['rows'], 1000, 'bzip rows')
    c.query('COMMIT')
    eq(other.val('SELECT count(*) FROM ev'), '2004', 'all rows')
    raises(lambda: c.copy_local_stdin("COPY ev FROM LOCAL STDIN DELIMITER ',' GZIP", [b'']), '42601')
    raises(lambda: c.copy_local_stdin("COPY ev FROM LOCAL STDIN DELIMITER ',' FROBNICATE", [b'']), '42601')
    raises(lambda: c.copy_local_stdin('COPY nosuch FROM LOCAL STDIN', [b'']), '42V01')
    cp = [e for e in env.events(emu, 'copy') if e['outcome'] == 'ok' and e['compression'] == ['GZIP']][-1]
    eq((cp['mode'], cp['rows'], cp['rejected'], cp['bytes'], cp['raw_bytes'], cp['commit']),
       ('local_stdin', 1000, 0, len(gz), len(payload), True), 'copy log')
    # COPY LOCAL 'file': the client sends each file after LoadFile
    r = c.copy_local_files("COPY ev FROM LOCAL '/tmp/f1.csv', '/tmp/f2.csv' DELIMITER ','",
                           {'/tmp/f1.csv': b'10,a,b\n11,c,d\n', '/tmp/f2.csv': b'12,e,f\n'})
    eq((r['rows'], r['asked']), (3, ['/tmp/f1.csv', '/tmp/f2.csv']), 'LOCAL files')
    # plain COPY FROM STDIN (no LOCAL): no row count comes back
    c.query('TRUNCATE TABLE ev2')
    res = c.copy_stdin("COPY ev2 FROM STDIN DELIMITER ','", b'7,q\n8,r\n')
    eq(res[-1].rows, [], 'no row count for COPY FROM STDIN')
    eq(c.val('SELECT GET_NUM_ACCEPTED_ROWS()'), '2', 'GET_NUM_ACCEPTED_ROWS after COPY FROM STDIN')
    c.close()
    other.close()


def t_copy_rejects(env, emu):
    c = VClient(emu.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS rj; DROP TABLE IF EXISTS rj_rejects; CREATE TABLE rj (a INT, b VARCHAR(5))')
    data = b'1,ok\nx,bad\n3,too,many\n4,toolong\n5,fine\n6\n7,\xff\xfe\n'
    sql = ("COPY rj FROM LOCAL STDIN DELIMITER ',' ENFORCELENGTH REJECTED DATA AS TABLE rj_rejects "
           "RETURNREJECTED NO COMMIT")
    r = c.copy_local_stdin(sql, [data])
    eq(r['rows'], 2, 'accepted rows')
    eq(r['rejected'], [2, 3, 4, 6, 7], 'RETURNREJECTED row numbers')
    eq(c.q1('SELECT GET_NUM_ACCEPTED_ROWS(), GET_NUM_REJECTED_ROWS()'), [['2', '5']], 'GET_NUM_*')
    rows = c.q1('SELECT row_number, rejected_data, rejected_reason, file_name, rejected_data_orig_length '
                'FROM rj_rejects WHERE transaction_id = CURRENT_TRANS_ID() AND statement_id = CURRENT_STATEMENT() - 2 '
                'ORDER BY row_number')
    eq([x[0] for x in rows], ['2', '3', '4', '6', '7'], 'rejects table rows of this COPY')
    eq(rows[0][1:4], ['x,bad', "Invalid integer format 'x' for column 1 (a)", 'STDIN'], 'bad int reason')
    eq(rows[1][2], 'Too many columns found', 'too many')
    eq(rows[2][2], 'The 7-byte value is too long for type Varchar(5), column 2 (b)', 'too long')
    eq(rows[3][2], 'Too few columns found', 'too few')
    eq(rows[4][4], '4', 'orig length of invalid UTF-8 row')
    eq(c.status, b'T', 'NO COMMIT keeps the transaction open')
    other = VClient(emu.port, 'dbadmin', 'secret')
    eq(other.val('SELECT count(*) FROM rj'), '0', 'NO COMMIT: not visible elsewhere')
    c.query('ROLLBACK')
    eq(c.val('SELECT count(*) FROM rj'), '0', 'rolled back')
    # rejected data and exceptions written back to client files (WriteFile with a name)
    r = c.copy_local_stdin("COPY rj FROM LOCAL STDIN DELIMITER ',' REJECTED DATA '/tmp/rj.rej' "
                           "EXCEPTIONS '/tmp/rj.exc'", [b'1,a\nq,b\n'])
    eq(r['verify'], ['/tmp/rj.rej', '/tmp/rj.exc'], 'VerifyFiles names the output files')
    eq(r['files']['/tmp/rj.rej'], b'q,b\n', 'rejected data file')
    if b'Input record 2 has been rejected' not in r['files']['/tmp/rj.exc']:
        raise AssertionError(r['files'])
    raises(lambda: c.copy_local_stdin("COPY rj FROM LOCAL STDIN RETURNREJECTED REJECTED DATA '/tmp/x'", [b'']),
           '0A000', 'does not support rejected row numbers')
    c.query('TRUNCATE TABLE rj')
    # without ENFORCELENGTH Vertica truncates
    r = c.copy_local_stdin("COPY rj FROM LOCAL STDIN DELIMITER ','", [b'1,abcdefgh\n'])
    eq(c.q1('SELECT b FROM rj'), [['abcde']], 'truncated to the column length')
    # ABORT ON ERROR: 22V04 and nothing of it stays
    e = raises(lambda: c.copy_local_stdin("COPY rj FROM LOCAL STDIN DELIMITER ',' ABORT ON ERROR",
                                          [b'2,a\n3,b\nzz,c\n4,d\n']), '22V04',
               "Input record 3 has been rejected (Invalid integer format 'zz' for column 1 (a))")
    eq(e.fields['V'], '2035', 'Vertica code of a COPY rejection')
    eq(c.val('SELECT count(*) FROM rj'), '1', 'nothing of the aborted COPY stays')
    eq(c.q1('SELECT GET_NUM_ACCEPTED_ROWS(), GET_NUM_REJECTED_ROWS()'), [['0', '1']], 'GET_NUM_* after abort')
    # REJECTMAX
    raises(lambda: c.copy_local_stdin("COPY rj FROM LOCAL STDIN DELIMITER ',' REJECTMAX 1", [b'a\nb\n1,c\n']),
           '22V04', 'REJECTMAX')
    # a primary key violation fails the whole COPY (not a rejection)
    c.query('DROP TABLE IF EXISTS pk; CREATE TABLE pk (a INT PRIMARY KEY ENABLED)')
    raises(lambda: c.copy_local_stdin('COPY pk FROM LOCAL STDIN', [b'1\n2\n1\n']), '23505', 'Duplicate key values')
    eq(c.val('SELECT count(*) FROM pk'), '0', 'nothing loaded')
    # the client aborts with CopyError
    c.sendraw(pkt(b'Q', cstr("COPY rj FROM LOCAL STDIN DELIMITER ','")))
    t, b = c.read()
    eq(t, b'T', 'RowDescription first')
    t, b = c.read()
    eq(t, b'F', 'VerifyFiles')
    c.sendraw(pkt(b'e', cstr('client.c') + struct.pack('!I', 42) + cstr('send') + cstr('disk on fire')))
    e = raises(lambda: c._results(), '57014', 'disk on fire')
    eq(c.val('SELECT 1'), '1', 'usable after a CopyError')
    c.close()
    other.close()


def t_flex_json(env, emu):
    c = VClient(emu.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS fx CASCADE; DROP TABLE IF EXISTS fx_keys; DROP VIEW IF EXISTS fx_view')
    c.query('CREATE FLEX TABLE fx()')
    data = (b'{"id": 1, "user": {"name": "ann", "age": 30}, "tags": ["a", "b"]}\n'
            b'{"id": 2, "user": {"name": "bob"}, "ok": true}\n'
            b'{"id": 3, broken\n'
            b'\n'
            b'{"id": 4, "note": "x"}')
    r = c.copy_local_stdin('COPY fx FROM LOCAL STDIN PARSER FJSONPARSER() RETURNREJECTED', [data[:30], data[30:]])
    eq((r['rows'], r['rejected']), (3, [3]), 'flex rows and the invalid JSON record')
    eq(c.val("SELECT __raw__->>'user.name' FROM fx WHERE (__raw__->>'id')::int = 1"), 'ann', 'flattened map')
    out = c.val("SELECT COMPUTE_FLEXTABLE_KEYS_AND_BUILD_VIEW('fx')")
    if 'fx_keys' not in out or 'fx_view' not in out:
        raise AssertionError(out)
    eq(c.q1('SELECT key_name, frequency, data_type_guess FROM fx_keys ORDER BY key_name'),
       [['id', '3', 'Integer'], ['note', '1', 'Varchar(20)'], ['ok', '1', 'Boolean'], ['tags', '1', 'long varbinary(20)'],
        ['user.age', '1', 'Integer'], ['user.name', '2', 'Varchar(20)']], 'keys')
    eq(c.q1('SELECT id, "user.name", ok FROM fx_view ORDER BY id'),
       [['1', 'ann', None], ['2', 'bob', 'true'], ['4', None, None]], 'view')
    eq(c.val("SELECT is_flextable FROM v_catalog.tables WHERE table_name = 'fx'"), 't', 'is_flextable')
    # JSON into a regular table maps keys to columns; FCSVPARSER with a header into a flex table
    c.query('DROP TABLE IF EXISTS js; CREATE TABLE js (id INT, note VARCHAR(10))')
    r = c.copy_local_stdin('COPY js FROM LOCAL STDIN PARSER FJSONPARSER()', [b'{"ID": 5, "note": "n", "x": 1}\n{"id": 6}\n'])
    eq(c.q1('SELECT id, note FROM js ORDER BY id'), [['5', 'n'], ['6', None]], 'JSON into columns')
    c.query('DROP TABLE IF EXISTS fc CASCADE; CREATE FLEX TABLE fc()')
    r = c.copy_local_stdin("COPY fc FROM LOCAL STDIN PARSER FCSVPARSER(type='rfc4180', header='true')",
                           [b'a,b\r\n1,"x,y"\r\n2,z\r\n3\r\n'])
    eq(r['rows'], 2, 'FCSV rows')
    eq(c.q1("SELECT __raw__->>'a', __raw__->>'b' FROM fc ORDER BY 1"), [['1', 'x,y'], ['2', 'z']], 'FCSV values')
    c.close()


def t_mount(env, emu):
    m = env.emulator('--mount-root', env.mount, '--node-name', 'v_dw_node0001', name='mount')
    d = os.path.join(env.mount, 'data')
    open(os.path.join(d, 'a.csv'), 'wb').write(b'1,a\n2,b\n')
    open(os.path.join(d, 'b.csv.gz'), 'wb').write(gzip.compress(b'3,c\n'))
    open(os.path.join(d, 'p1.csv'), 'wb').write(b'4,d\n')
    open(os.path.join(d, 'p2.csv'), 'wb').write(b'5,e\nbad,f\n')
    c = VClient(m.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS mt; DROP TABLE IF EXISTS mt_rej; CREATE TABLE mt (a INT, b VARCHAR(5))')
    r = c.query("COPY mt FROM '/data/a.csv' ON ANY NODE, '/data/b.csv.gz' ON v_dw_node0001 GZIP DELIMITER ','")
    eq((r[-1].cols[0]['name'], r[-1].rows), ('Rows Loaded', [['3']]), 'mount COPY')
    r = c.query("COPY mt FROM '/data/p*.csv' ON ANY NODE DELIMITER ',' REJECTED DATA AS TABLE mt_rej")
    eq(r[-1].rows, [['2']], 'glob')
    eq(c.q1('SELECT file_name, row_number, rejected_data FROM mt_rej'), [['/data/p2.csv', '2', 'bad,f']], 'rejects of a file')
    eq(c.val('SELECT count(*) FROM mt'), '5', 'all mounted rows')
    raises(lambda: c.query("COPY mt FROM '/data/none.csv' DELIMITER ','"), '58030', 'No such file')
    raises(lambda: c.query("COPY mt FROM '/data/a.csv' ON v_other_node DELIMITER ','"), '42704')
    eq(env.events(m, 'copy')[0]['mode'], 'mount', 'logged mode')
    c.close()


def t_s3(env, emu):
    if shutil.which('moto_server') is None:
        print('    (moto_server not installed: s3:// skipped)')
        return
    port = env.free_port()
    moto = subprocess.Popen(['moto_server', '-H', '127.0.0.1', '-p', str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    env.procs.append(moto)
    ep = 'http://127.0.0.1:%d' % port
    for _ in range(300):
        try:
            urllib.request.urlopen(ep + '/', timeout=1).read()
            break
        except Exception:
            time.sleep(0.05)

    def put(path, data):
        req = urllib.request.Request(ep + path, data=data, method='PUT',
                                     headers={'Content-Type': 'application/octet-stream'})
        urllib.request.urlopen(req, timeout=10).read()
    put('/landing', b'')
    put('/landing/in/x1.csv', b'1,a\n2,b\n')
    put('/landing/in/x2.csv.gz', gzip.compress(b'3,c\n'))
    put('/landing/in/y1.csv', b'4,d\n')
    s = env.emulator('--s3-endpoint', ep, name='s3')
    c = VClient(s.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS s3t; CREATE TABLE s3t (a INT, b VARCHAR(5))')
    raises(lambda: c.query("COPY s3t FROM 's3://landing/in/x1.csv' DELIMITER ','"), '42501', 'AWSAuth')
    c.query("ALTER SESSION SET AWSRegion='us-east-1'")
    c.query("ALTER SESSION SET AWSAuth='AKIDEXAMPLE:secretkey'")
    r = c.query("COPY s3t FROM 's3://landing/in/x1.csv', 's3://landing/in/x2.csv.gz' GZIP DELIMITER ','")
    eq(r[-1].rows, [['3']], 's3 COPY')
    r = c.query("COPY s3t FROM 's3://landing/in/y*' DELIMITER ','")
    eq(r[-1].rows, [['1']], 's3 glob')
    raises(lambda: c.query("COPY s3t FROM 's3://landing/in/nope.csv' DELIMITER ','"), '58030')
    eq(c.val('SELECT count(*) FROM s3t'), '4', 's3 rows')
    params = [(e['param'], e['value']) for e in env.events(s, 'alter_session')]
    eq(params, [('AWSRegion', 'us-east-1'), ('AWSAuth', 'AKIDEXAMPLE:secretkey')], 'logged session parameters')
    c.close()


def t_protocol_versions(env, emu):
    old = env.emulator('--protocol-max', '3.14', name='v314')
    c = VClient(old.port, 'dbadmin', 'secret')
    eq(c.protocol, ver(14), 'server caps at 3.14')
    c.query('DROP TABLE IF EXISTS pv; CREATE TABLE pv (a INT)')
    eq(c.copy_local_stdin('COPY pv FROM LOCAL STDIN', [b'1\n'])['rows'], 1, 'Int16 VerifiedFiles on 3.14')
    try:
        c.copy_local_stdin('COPY pv FROM LOCAL STDIN', [b'1\n'], width=4)
        raise AssertionError('Int32 count accepted on 3.14')
    except VErr as e:
        eq(e.sqlstate, '08P01', 'Int32 on 3.14')
        if 'Int16' not in e.fields['M']:
            raise AssertionError(e.fields['M'])
    c = VClient(emu.port, 'dbadmin', 'secret')
    eq(c.copy_local_stdin('COPY pv FROM LOCAL STDIN', [b'2\n'])['rows'], 1, 'Int32 VerifiedFiles on 3.16')
    try:
        c.copy_local_stdin('COPY pv FROM LOCAL STDIN', [b'1\n'], width=2)
        raise AssertionError('Int16 count accepted on 3.16')
    except VErr as e:
        eq(e.sqlstate, '08P01', 'Int16 on 3.16')
    eq(c.closed(), True, 'closed after the violation')


def violation(env, emu, send, contains, fresh=True, user='dbadmin', password='secret', tls=False):
    """Runs send(client) and expects FATAL 08P01 naming the deviation, then a close, and a log entry."""
    c = VClient(emu.port, user, password, connect=False, tls=tls)
    c.sock = c.open_socket('127.0.0.1', emu.port)
    before = len(env.events(emu, 'violation'))
    try:
        send(c)
        while True:
            t, b = c.read()
            if t == b'E':
                f = parse_fields(b)
                break
    except EOFError:
        raise AssertionError('connection closed without an ErrorResponse (%s)' % contains)
    eq((f['S'], f['C']), ('FATAL', '08P01'), 'violation error for %s' % contains)
    if 'V' not in f or contains not in f['M']:
        raise AssertionError('error %r does not name %r' % (f, contains))
    if not c.closed():
        raise AssertionError('connection not closed after %s' % contains)
    for _ in range(50):
        v = env.events(emu, 'violation')
        if len(v) > before:
            break
        time.sleep(0.02)
    if contains not in v[-1]['deviation']:
        raise AssertionError('log: %s' % v[-1])


def t_deviations(env, emu):
    def startup_with(protocol_param, version=V3_5, user='dbadmin', database=True):
        body = struct.pack('!I', version) + protocol_param
        if user:
            body += cstr('user') + cstr(user)
        if database:
            body += cstr('database') + cstr('dw')
        body += b'\0'
        return struct.pack('!I', len(body) + 4) + body
    binver = b'protocol_version\0' + struct.pack('!I', ver(16)) + b'\0'
    textver = b'protocol_version\0' + b'196624\0'

    def logged_in(c):
        c.sendraw(startup_with(binver))
        while True:
            t, b = c.read()
            if t == b'R' and struct.unpack_from('!I', b)[0] == 66048:
                c.sendraw(pkt(b'p', cstr(sha512_hash(b'secret', b[12:28], b[4:8]))))
            if t == b'Z':
                return
    violation(env, emu, lambda c: c.sendraw(startup_with(textver)), 'protocol_version must be a raw Int32')
    violation(env, emu, lambda c: c.sendraw(startup_with(binver, version=3 << 16)), 'Startup version must be 3.5')
    violation(env, emu, lambda c: c.sendraw(startup_with(binver, user=None)), 'Startup without user')
    violation(env, emu, lambda c: c.sendraw(startup_with(binver, database=False)), 'Startup without database')
    violation(env, emu, lambda c: c.sendraw(startup_with(cstr('user') + cstr('dbadmin') + binver, user=None)),
              'first Startup parameter must be protocol_version')

    def ssl_after_startup(c):
        c.sendraw(startup_with(binver))
        c.read()  # the SHA-512 challenge
        c.sendraw(struct.pack('!II', 8, SSL_CODE))
    violation(env, emu, ssl_after_startup, 'SSLRequest after Startup')

    def lb_after_ssl(c):
        c.sendraw(struct.pack('!II', 8, SSL_CODE))
        eq(c.recvn(1), b'N', 'no TLS')
        c.sendraw(struct.pack('!II', 8, LB_CODE))
    violation(env, emu, lb_after_ssl, 'LoadBalanceRequest after SSLRequest')

    def two_lb(c):
        c.sendraw(struct.pack('!II', 8, LB_CODE))
        eq(c.recvn(1), b'N', 'no LB')
        c.sendraw(struct.pack('!II', 8, LB_CODE))
    violation(env, emu, two_lb, 'second LoadBalanceRequest')

    def wrong_hash(c):
        c.sendraw(startup_with(binver))
        t, b = c.read()
        c.sendraw(pkt(b'p', cstr(md5_hash(b'secret', b'dbadmin', b[4:8]))))
    violation(env, emu, wrong_hash, "must be 'sha512' + 128")

    def data_before_g(c):
        logged_in(c)
        c.sendraw(pkt(b'd', b'1\n'))
    violation(env, emu, data_before_g, 'CopyData before CopyInResponse')

    def data_before_g_in_copy(c):
        logged_in(c)
        c.sendraw(pkt(b'Q', cstr('COPY pv FROM LOCAL STDIN')))
        c.read()
        c.read()
        c.sendraw(pkt(b'd', b'1\n'))
    violation(env, emu, data_before_g_in_copy, 'CopyData before CopyInResponse')

    def done_before_j(c):
        logged_in(c)
        c.sendraw(pkt(b'Q', cstr('COPY pv FROM LOCAL STDIN')))
        c.read()
        c.read()
        c.sendraw(c.verified_files([], 4))
        eq(c.read()[0], b'G', 'CopyInResponse')
        c.sendraw(pkt(b'd', b'1\n') + pkt(b'c'))
    violation(env, emu, done_before_j, "CopyDone before EndOfBatch 'J'")

    def done_without_waiting(c):
        logged_in(c)
        c.sendraw(pkt(b'Q', cstr('COPY pv FROM LOCAL STDIN')))
        c.read()
        c.read()
        c.sendraw(c.verified_files([], 4))
        c.read()
        c.sendraw(pkt(b'd', b'1\n') + pkt(b'j') + pkt(b'c'))
    violation(env, emu, done_without_waiting, "CopyDone before EndOfBatch 'J'")

    def unknown_type(c):
        logged_in(c)
        c.sendraw(pkt(b'@', b'x'))
    violation(env, emu, unknown_type, 'unknown message type')

    def lb_after_startup(c):
        logged_in(c)
        c.sendraw(struct.pack('!II', 8, LB_CODE))
    violation(env, emu, lb_after_startup, 'LoadBalanceRequest after Startup')
    # the table survives only because pv was created by t_protocol_versions
    c = VClient(emu.port, 'dbadmin', 'secret')
    eq(c.val('SELECT 1'), '1', 'server still serves')
    c.close()


def t_disconnect_cancel(env, emu):
    c = VClient(emu.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS dc; CREATE TABLE dc (a INT PRIMARY KEY ENABLED)')
    c.query('INSERT INTO dc VALUES (1)')
    c.sock.close()  # mid-transaction
    o = VClient(emu.port, 'dbadmin', 'secret')
    o.query('SET SESSION AUTOCOMMIT TO ON')
    o.query('INSERT INTO dc VALUES (1)')  # would wait on the lock if the dropped session had kept it
    eq(o.val('SELECT count(*) FROM dc'), '1', 'dropped transaction rolled back')
    # cancel a running statement from another connection
    errs = []

    def sleeper():
        try:
            o.query('SELECT pg_sleep(10)')
        except VErr as e:
            errs.append(e)
    th = threading.Thread(target=sleeper)
    th.start()
    time.sleep(0.3)
    s = socket.create_connection(('127.0.0.1', emu.port))
    s.sendall(struct.pack('!IIII', 16, CANCEL_CODE, *o.backend))
    s.close()
    th.join(5)
    eq(len(errs), 1, 'cancelled')
    eq(errs[0].sqlstate, '57014', 'cancel SQLSTATE')
    eq(o.val('SELECT 2'), '2', 'usable after cancel')
    o.close()


def t_close_session(env, emu):
    """CLOSE_SESSION: the named session's transaction is rolled back and its socket closed, no message."""
    c = VClient(emu.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS cs; CREATE TABLE cs (a INT PRIMARY KEY ENABLED)')
    c.query('INSERT INTO cs VALUES (1)')
    sid = c.val('SELECT CURRENT_SESSION()')
    o = VClient(emu.port, 'dbadmin', 'secret')
    eq(o.q1("SELECT CLOSE_SESSION('%s')" % sid),
       [['Session close command sent. Check v_monitor.sessions for progress.']], 'the answer')
    c.sock.settimeout(5)
    eq(c.sock.recv(100), b'', 'the closed session gets the end of the connection, no message')
    o.query('SET SESSION AUTOCOMMIT TO ON')
    o.query('INSERT INTO cs VALUES (1)')  # would wait on the lock if the closed session had kept it
    eq(o.val('SELECT count(*) FROM cs'), '1', 'its transaction rolled back')
    raises(lambda: o.query("SELECT CLOSE_SESSION('nope')"), '22023')
    ev = [e for e in env.events(emu, 'disconnect') if e.get('reason') == 'closed by CLOSE_SESSION']
    eq(len(ev), 1, 'logged')
    o.close()


def t_sigkill_restart(env, emu):
    k = env.emulator(name='kill')
    port = k.port
    c = VClient(port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS kt; CREATE TABLE kt (a INT PRIMARY KEY ENABLED)')
    c.query('INSERT INTO kt VALUES (1)')
    k.send_signal(signal.SIGKILL)
    k.wait()
    k2 = env.emulator(port=port, name='kill')
    eq(k2.port, port, 'same port after restart')
    c2 = VClient(port, 'dbadmin', 'secret', autocommit=True)
    c2.query('INSERT INTO kt VALUES (1)')
    eq(c2.val('SELECT count(*) FROM kt'), '1', 'killed transaction rolled back')
    c2.close()


def t_sink(env, emu):
    s = env.emulator('--sink', name='sink')
    c = VClient(s.port, 'dbadmin', 'secret')
    c.query('DROP TABLE IF EXISTS sk; CREATE TABLE sk (a INT)')
    payload = b''.join(b'%d\n' % i for i in range(50000))
    r = c.copy_local_stdin('COPY sk FROM LOCAL STDIN GZIP', [gzip.compress(payload)])
    eq(r['rows'], 50000, 'sink counts')
    eq(c.val('SELECT count(*) FROM sk'), '0', 'sink discards')
    c.close()


TESTS = [t_hash_vectors, t_auth, t_startup_params, t_results, t_ddl_catalog, t_tls, t_load_balance, t_copy_csv,
         t_copy_rejects, t_flex_json, t_mount, t_s3, t_protocol_versions, t_deviations, t_disconnect_cancel,
         t_close_session, t_sigkill_restart, t_sink]


def main():
    only = None
    if '-k' in sys.argv:
        only = sys.argv[sys.argv.index('-k') + 1]
    t0 = time.time()
    env = Env()
    failed = 0
    try:
        emu = env.emulator()
        for t in TESTS:
            if only and only not in t.__name__:
                continue
            t1 = time.time()
            try:
                t(env, emu)
                print('ok   %-22s %.2fs' % (t.__name__, time.time() - t1))
            except Exception:
                failed += 1
                print('FAIL %s' % t.__name__)
                traceback.print_exc()
    finally:
        env.close()
    print('%s (%.1fs)' % ('FAILED: %d' % failed if failed else 'all passed', time.time() - t0))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
