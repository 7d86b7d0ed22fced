/* The Vertica client against a scripted fake server on loopback (a thread per test): startup
 * and every authentication path, TLS modes with a generated certificate, load balancing,
 * failover, queries, COPY LOCAL STDIN and plain COPY, server errors, protocol errors, losses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/err.h"
#include "util/log.h"
#include "util/reader.h"
#include "vertica/vauth.h"
#include "vertica/vclient.h"
#include "vertica/vproto.h"

/* ---- the fake server ---- */

typedef struct sconn {
	int fd;
	SSL *ssl;
} sconn;

typedef struct fake fake;
typedef void (*script_fn)(fake *f, sconn *s, int index);

struct fake {
	int lfd, port;
	pthread_t thread;
	script_fn script;
	int nconns;           /* connections to accept, one after another */
	int accept_none;      /* listen but never accept (a server that hangs) */
	SSL_CTX *tls;         /* answer SSLRequest with 'S' and this context, else 'N' */
	uint32_t auth_code;   /* what to ask for: 0 (none), 3, 5, 65541, 66048, 9, 7, ... */
	int grace;            /* send PASSWORD_GRACE after the password */
	const char *protocol; /* ParameterStatus protocol_version, NULL: none (an old server) */
	void *arg;            /* the scenario's data */
	/* what the server saw */
	char failure[512];
	char startup_user[64], startup_db[64], client_type[32], autocommit[8], binary[8];
	uint32_t requested_protocol;
	char password[256];
	int lb_requests, ssl_requests, tls_on, terminated;
	size_t copy_bytes, copy_chunks, max_chunk;
	char last_query[256], copy_error[256];
	uint8_t verified[16];
	size_t verified_len;
};

#define S_CHECK(f, cond) \
	do { \
		if (!(cond)) { \
			if (!(f)->failure[0]) \
				snprintf((f)->failure, sizeof (f)->failure, "line %d: %s", __LINE__, #cond); \
			return; \
		} \
	} while (0)

static int s_read(sconn *s, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r;
		if (s->ssl) {
			size_t got = 0;
			r = SSL_read_ex(s->ssl, p, n, &got) ? (ssize_t)got : -1;
		} else {
			r = recv(s->fd, p, n, 0);
		}
		if (r <= 0)
			return -1;
		p += r, n -= (size_t)r;
	}
	return 0;
}

static int s_write(sconn *s, const void *buf, size_t n)
{
	if (s->ssl) {
		size_t sent = 0;
		return SSL_write_ex(s->ssl, buf, n, &sent) ? 0 : -1;
	}
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An untagged packet (Startup, SSLRequest, LoadBalanceRequest): its body after the length. */
static int s_read_untagged(sconn *s, uint8_t *body, size_t cap, size_t *n)
{
	uint8_t len[4];
	if (s_read(s, len, 4))
		return -1;
	uint32_t l = be32(len);
	if (l < 8 || l - 4 > cap)
		return -1;
	*n = l - 4;
	return s_read(s, body, *n);
}

/* A tagged message from the client; body malloc'd (free it). */
static int s_read_msg(sconn *s, uint8_t *type, uint8_t **body, size_t *n)
{
	uint8_t hdr[5];
	*body = NULL;
	if (s_read(s, hdr, 5))
		return -1;
	uint32_t l = be32(hdr + 1);
	if (l < 4 || l > (1u << 20) + 4)
		return -1;
	*type = hdr[0];
	*n = l - 4;
	*body = malloc(*n + 1);
	if (!*body || s_read(s, *body, *n))
		return -1;
	(*body)[*n] = 0;
	return 0;
}

/* A backend message being built. */
typedef struct msg {
	uint8_t p[8192];
	size_t n;
} msg;

static msg *m_begin(msg *m, char type)
{
	m->n = 5;
	m->p[0] = (uint8_t)type;
	return m;
}
static void m_raw(msg *m, const void *d, size_t n) { memcpy(m->p + m->n, d, n); m->n += n; }
static void m_u8(msg *m, uint8_t v) { m_raw(m, &v, 1); }
static void m_u16(msg *m, uint16_t v) { uint8_t x[2] = { v >> 8, v & 255 }; m_raw(m, x, 2); }
static void m_u32(msg *m, uint32_t v) { m_u16(m, v >> 16); m_u16(m, v & 0xffff); }
static void m_u64(msg *m, uint64_t v) { m_u32(m, v >> 32); m_u32(m, (uint32_t)v); }
static void m_str(msg *m, const char *s) { m_raw(m, s, strlen(s) + 1); }
static int m_send(sconn *s, msg *m)
{
	uint32_t l = (uint32_t)m->n - 1;
	m->p[1] = l >> 24, m->p[2] = l >> 16, m->p[3] = l >> 8, m->p[4] = l;
	return s_write(s, m->p, m->n);
}

static int send_auth(sconn *s, uint32_t code, const uint8_t *salt, const uint8_t *user_salt)
{
	msg m;
	m_begin(&m, 'R');
	m_u32(&m, code);
	if (salt)
		m_raw(&m, salt, 4);
	if (user_salt) {
		m_u32(&m, 16);
		m_raw(&m, user_salt, 16);
	}
	return m_send(s, &m);
}

static int send_param(sconn *s, const char *name, const char *value)
{
	msg m;
	m_begin(&m, 'S');
	m_str(&m, name);
	m_str(&m, value);
	return m_send(s, &m);
}

static int send_ready(sconn *s, char status)
{
	msg m;
	m_begin(&m, 'Z');
	m_u8(&m, (uint8_t)status);
	return m_send(s, &m);
}

static int send_error(sconn *s, const char *severity, const char *state, const char *text, const char *vcode)
{
	msg m;
	m_begin(&m, 'E');
	m_u8(&m, 'S'), m_str(&m, severity);
	m_u8(&m, 'C'), m_str(&m, state);
	m_u8(&m, 'M'), m_str(&m, text);
	if (vcode)
		m_u8(&m, 'V'), m_str(&m, vcode);
	m_u8(&m, 0);
	return m_send(s, &m);
}

static int send_empty(sconn *s, char type)
{
	msg m;
	m_begin(&m, type);
	return m_send(s, &m);
}

static int send_complete(sconn *s, const char *tag)
{
	msg m;
	m_begin(&m, 'C');
	m_str(&m, tag);
	return m_send(s, &m);
}

/* RowDescription of text-ish columns, no table. */
static int send_rowdesc(sconn *s, int ncols, const char *const *names)
{
	msg m;
	m_begin(&m, 'T');
	m_u16(&m, (uint16_t)ncols);
	if (ncols) {
		m_u32(&m, 0);
		for (int i = 0; i < ncols; i++) {
			m_str(&m, names[i]);
			m_u64(&m, 0);
			m_u16(&m, (uint16_t)(i + 1));
			m_u8(&m, 0);
			m_u32(&m, 9);
			m_u16(&m, 0xffff);
			m_u16(&m, 1);
			m_u16(&m, 0);
			m_u32(&m, 0xffffffff);
			m_u16(&m, 0);
		}
	}
	return m_send(s, &m);
}

static int send_row(sconn *s, int ncols, const char *const *vals)
{
	msg m;
	m_begin(&m, 'D');
	m_u16(&m, (uint16_t)ncols);
	for (int i = 0; i < ncols; i++) {
		if (!vals[i]) {
			m_u32(&m, 0xffffffff);
			continue;
		}
		m_u32(&m, (uint32_t)strlen(vals[i]));
		m_raw(&m, vals[i], strlen(vals[i]));
	}
	return m_send(s, &m);
}

static const uint8_t SALT[4] = { 1, 2, 3, 4 };
static const uint8_t USER_SALT[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* Reads Startup's parameters into f. */
static void parse_startup(fake *f, const uint8_t *b, size_t n)
{
	S_CHECK(f, n >= 4 + 17 + 5 && be32(b) == ZL_VP_PROTO_FIXED);
	S_CHECK(f, memcmp(b + 4, "protocol_version\0", 17) == 0 && b[25] == 0);
	f->requested_protocol = be32(b + 21);
	size_t pos = 26;
	while (pos < n && b[pos]) {
		const char *k = (const char *)b + pos;
		size_t kl = strnlen(k, n - pos);
		S_CHECK(f, pos + kl + 1 < n);
		const char *v = k + kl + 1;
		size_t vl = strnlen(v, n - pos - kl - 1);
		S_CHECK(f, pos + kl + 1 + vl < n);
		if (strcmp(k, "user") == 0)
			snprintf(f->startup_user, sizeof f->startup_user, "%s", v);
		else if (strcmp(k, "database") == 0)
			snprintf(f->startup_db, sizeof f->startup_db, "%s", v);
		else if (strcmp(k, "client_type") == 0)
			snprintf(f->client_type, sizeof f->client_type, "%s", v);
		else if (strcmp(k, "autocommit") == 0)
			snprintf(f->autocommit, sizeof f->autocommit, "%s", v);
		else if (strcmp(k, "binary_data_protocol") == 0)
			snprintf(f->binary, sizeof f->binary, "%s", v);
		pos += kl + 1 + vl + 1;
	}
	S_CHECK(f, pos == n - 1);
}

/* TLS answer, Startup, authentication, parameters, ReadyForQuery. 0 when the session is up. */
static int serve_startup(fake *f, sconn *s)
{
	uint8_t b[2048];
	size_t n;
	if (s_read_untagged(s, b, sizeof b, &n))
		return -1;
	if (n == 4 && be32(b) == ZL_VP_SSL_REQUEST) {
		f->ssl_requests++;
		if (s_write(s, f->tls ? "S" : "N", 1))
			return -1;
		if (f->tls) {
			s->ssl = SSL_new(f->tls);
			SSL_set_fd(s->ssl, s->fd);
			if (SSL_accept(s->ssl) != 1) {
				ERR_clear_error();
				return -1;
			}
			f->tls_on = 1;
		}
		if (s_read_untagged(s, b, sizeof b, &n))
			return -1;
	}
	if (n == 4 && be32(b) == ZL_VP_LB_REQUEST) {
		f->lb_requests++;
		return -1;
	}
	parse_startup(f, b, n);
	if (f->failure[0])
		return -1;
	if (f->auth_code == 9 || f->auth_code == 7 || f->auth_code == 14) {
		send_auth(s, f->auth_code, NULL, NULL);
		return -1;
	}
	if (f->auth_code) {
		int sha = f->auth_code == 66048 || f->auth_code == 65536;
		int md5 = f->auth_code == 5 || f->auth_code == 65541;
		if (send_auth(s, f->auth_code, sha || md5 ? SALT : NULL, sha ? USER_SALT : NULL))
			return -1;
		uint8_t type, *body;
		size_t bn;
		if (s_read_msg(s, &type, &body, &bn) || type != 'p' || !bn || body[bn - 1]) {
			free(body);
			return -1;
		}
		snprintf(f->password, sizeof f->password, "%s", (char *)body);
		free(body);
		char want[ZL_VAUTH_MAX];
		zl_err e;
		if (sha)
			zl_vauth_sha512("secret", USER_SALT, SALT, want, &e);
		else if (md5)
			zl_vauth_md5(f->startup_user, "secret", SALT, want, &e);
		else
			snprintf(want, sizeof want, "secret");
		if (strcmp(want, f->password) != 0) {
			send_error(s, "FATAL", "28000", "Invalid username or password", "3781");
			return -1;
		}
	}
	if (f->grace)
		send_auth(s, 11, NULL, NULL);
	send_auth(s, 0, NULL, NULL);
	if (f->protocol)
		send_param(s, "protocol_version", f->protocol);
	send_param(s, "server_version", "v24.1.0-0");
	msg m;
	m_begin(&m, 'K');
	m_u32(&m, 4242);
	m_u32(&m, 99);
	m_send(s, &m);
	return send_ready(s, 'I');
}

/* Reads a Query; its text into f->last_query. */
static int read_query(fake *f, sconn *s)
{
	uint8_t type, *body;
	size_t n;
	int rc = s_read_msg(s, &type, &body, &n);
	if (!rc && type != 'Q')
		rc = -1;
	if (!rc)
		snprintf(f->last_query, sizeof f->last_query, "%s", (char *)body);
	free(body);
	return rc;
}

/* Reads to the client's Terminate or end. */
static void read_to_end(fake *f, sconn *s)
{
	uint8_t type, *body;
	size_t n;
	while (s_read_msg(s, &type, &body, &n) == 0) {
		free(body);
		if (type == 'X') {
			f->terminated = 1;
			return;
		}
	}
	free(body);
}

static void *fake_main(void *arg)
{
	fake *f = arg;
	for (int i = 0; i < f->nconns; i++) {
		struct pollfd pfd = { .fd = f->lfd, .events = POLLIN };
		if (poll(&pfd, 1, 10000) <= 0)
			break;
		sconn s = { .fd = accept(f->lfd, NULL, NULL) };
		if (s.fd < 0)
			break;
		struct timeval tv = { .tv_sec = 10 };
		int on = 1;
		setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
		f->script(f, &s, i);
		if (s.ssl) {
			SSL_shutdown(s.ssl);
			SSL_free(s.ssl);
		}
		close(s.fd);
	}
	return NULL;
}

static void fake_start(fake *f, script_fn script, int nconns)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	f->script = script;
	f->nconns = nconns;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
	f->port = ntohs(a.sin_port);
	if (!f->accept_none)
		assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

/* Joins the server and checks it saw nothing wrong. */
static void fake_stop(fake *f)
{
	if (!f->accept_none)
		pthread_join(f->thread, NULL);
	close(f->lfd);
	if (f->failure[0])
		fail_msg("fake server: %s", f->failure);
}

/* A loopback port with nothing listening. */
static int closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&a, sizeof a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static zl_vc_opts opts_for(const fake *f)
{
	zl_vc_opts o = { .host = "127.0.0.1", .port = f->port, .user = "dbadmin", .password = "secret",
		             .database = "dw", .tls = ZL_VC_TLS_DISABLE, .connect_timeout_ms = 3000,
		             .client_label = "zload-test", .client_version = "0.1.0" };
	return o;
}

/* ---- scenarios ---- */

static void script_session(fake *f, sconn *s, int index)
{
	if (serve_startup(f, s) == 0)
		read_to_end(f, s);
}

static void test_startup_sha512(void **state)
{
	fake f = { .auth_code = 66048, .protocol = "196623" };
	fake_start(&f, script_session, 1);
	zl_vc_opts o = opts_for(&f);
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	assert_int_equal(zl_vc_protocol(c), ZL_VP_PROTO(3, 15));
	assert_string_equal(zl_vc_param(c, "server_version"), "v24.1.0-0");
	assert_null(zl_vc_param(c, "nope"));
	assert_true(zl_vc_ok(c));
	assert_int_equal(zl_vc_tx_status(c), 'I');
	char peer[64];
	snprintf(peer, sizeof peer, "127.0.0.1:%d", f.port);
	assert_string_equal(zl_vc_peer(c), peer);
	zl_vc_close(c);
	fake_stop(&f);
	assert_int_equal(f.requested_protocol, ZL_VP_PROTO(3, 16));
	assert_string_equal(f.startup_user, "dbadmin");
	assert_string_equal(f.startup_db, "dw");
	assert_string_equal(f.client_type, "zload");
	assert_string_equal(f.autocommit, "off");
	assert_string_equal(f.binary, "0");
	assert_string_equal(f.password, "sha512e21582d972edb2e18cd45b99bfaa64240d7e32c8be2acfd0a879e72d5d7dbc9acb2"
	                                "44e83959465455c312fdfb4b2797a05dcd0a3b30cd59263c91cd7123ab2fc");
	assert_true(f.terminated);
	assert_int_equal(f.ssl_requests, 0);
}

static void test_startup_other_auth(void **state)
{
	const uint32_t codes[] = { 5, 65541, 3, 0, 65536 };
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		fake f = { .auth_code = codes[i], .grace = i == 0 }; /* no protocol_version: an old server */
		fake_start(&f, script_session, 1);
		zl_vc_opts o = opts_for(&f);
		zl_vc *c = NULL;
		zl_err err;
		assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
		assert_int_equal(zl_vc_protocol(c), ZL_VP_PROTO(3, 5));
		zl_vc_close(c);
		fake_stop(&f);
		if (codes[i] == 5 || codes[i] == 65541)
			assert_string_equal(f.password, "md5eb4ab686c356bb27c27fd00833d5a193");
		if (codes[i] == 3)
			assert_string_equal(f.password, "secret");
	}
}

static void test_auth_refusals(void **state)
{
	struct { uint32_t code; const char *password; int rc; const char *text; } cases[] = {
		{ 9, "secret", ZL_ELOAD, "password expired for user dbadmin: change it with vsql" },
		{ 7, "secret", ZL_ELOAD, "authentication method 7 (GSS) is not supported" },
		{ 14, "secret", ZL_ELOAD, "authentication method 14 (TOTP) is not supported" },
		{ 66048, "wrong", ZL_ELOAD, "Invalid username or password [SQLSTATE 28000, Vertica 3781]" },
		{ 66048, NULL, ZL_ELOAD, "the server asks for a password for user dbadmin and none is configured" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fake f = { .auth_code = cases[i].code };
		fake_start(&f, script_session, 1);
		zl_vc_opts o = opts_for(&f);
		o.password = cases[i].password;
		zl_vc *c = NULL;
		zl_err err;
		assert_int_equal(zl_vc_connect(&o, &c, &err), cases[i].rc);
		assert_null(c);
		assert_non_null(strstr(err.msg, cases[i].text));
		assert_int_equal(strncmp(err.msg, "cannot connect to Vertica: 127.0.0.1:", 37), 0);
		if (cases[i].code == 66048 && cases[i].password)
			assert_string_equal(err.sqlstate, "28000");
		fake_stop(&f);
	}
}

/* ---- TLS ---- */

typedef struct tls_material {
	SSL_CTX *server;
	char ca_path[64];
} tls_material;

/* A self-signed certificate (CA:TRUE) for san, written as PEM to path, and a server context. */
static void make_cert(tls_material *t, const char *cn, const char *san)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0x7fffffff));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	const char *exts[][2] = { { "basicConstraints", "critical,CA:TRUE" }, { "keyUsage", "digitalSignature,keyCertSign" },
		                      { "subjectAltName", san } };
	for (size_t i = 0; i < 3; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	snprintf(t->ca_path, sizeof t->ca_path, "/tmp/zl_vtest_ca_XXXXXX");
	int fd = mkstemp(t->ca_path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	PEM_write_X509(fp, x);
	fclose(fp);
	t->server = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate(t->server, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(t->server, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void free_cert(tls_material *t)
{
	SSL_CTX_free(t->server);
	unlink(t->ca_path);
}

/* A session that also runs one query ("SELECT 1" → 1), to prove the TLS link carries data. */
static void script_select_one(fake *f, sconn *s, int index)
{
	static const char *const names[] = { "?column?" };
	static const char *const one[] = { "1" };
	if (serve_startup(f, s) != 0)
		return;
	S_CHECK(f, read_query(f, s) == 0);
	send_rowdesc(s, 1, names);
	send_row(s, 1, one);
	send_complete(s, "SELECT");
	send_ready(s, 'T');
	read_to_end(f, s);
}

static void select_one(zl_vc *c)
{
	zl_vc_result r;
	zl_err err;
	assert_int_equal(zl_vc_query(c, "SELECT 1", &r, &err), 0);
	assert_int_equal(r.nrows, 1);
	assert_string_equal(zl_vc_value(&r, 0, 0), "1");
	assert_int_equal(zl_vc_tx_status(c), 'T');
	zl_vc_result_release(&r);
}

static void test_tls_modes(void **state)
{
	tls_material good, other;
	make_cert(&good, "vertica-test", "DNS:localhost,IP:127.0.0.1");
	make_cert(&other, "someone-else", "DNS:example.invalid");
	struct {
		zl_vc_tls mode;
		const char *host, *ca;
		SSL_CTX *server;
		int rc, tls_on;
		const char *text;
	} cases[] = {
		{ ZL_VC_TLS_PREFER, "127.0.0.1", NULL, NULL, 0, 0, NULL },              /* 'N': plain */
		{ ZL_VC_TLS_PREFER, "127.0.0.1", NULL, good.server, 0, 1, NULL },
		{ ZL_VC_TLS_REQUIRE, "127.0.0.1", NULL, other.server, 0, 1, NULL },     /* not checked */
		{ ZL_VC_TLS_REQUIRE, "127.0.0.1", NULL, NULL, ZL_ELOAD, 0, "server does not accept TLS, which tls mode require requires" },
		{ ZL_VC_TLS_VERIFY_CA, "127.0.0.1", good.ca_path, good.server, 0, 1, NULL },
		{ ZL_VC_TLS_VERIFY_CA, "127.0.0.1", good.ca_path, other.server, ZL_ELOAD, 0, "server certificate does not verify (verify-ca)" },
		{ ZL_VC_TLS_VERIFY_FULL, "127.0.0.1", good.ca_path, good.server, 0, 1, NULL },
		{ ZL_VC_TLS_VERIFY_FULL, "localhost", good.ca_path, good.server, 0, 1, NULL },
		{ ZL_VC_TLS_VERIFY_FULL, "127.0.0.1", other.ca_path, other.server, ZL_ELOAD, 0, "server certificate does not verify (verify-full)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fake f = { .auth_code = 66048, .protocol = "196624", .tls = cases[i].server };
		fake_start(&f, cases[i].rc ? script_session : script_select_one, 1);
		zl_vc_opts o = opts_for(&f);
		o.host = cases[i].host;
		o.tls = cases[i].mode;
		o.tls_root_cert = cases[i].ca;
		zl_vc *c = NULL;
		zl_err err;
		int rc = zl_vc_connect(&o, &c, &err);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d: %s", i, rc, err.msg);
		if (rc == 0)
			select_one(c);
		else
			assert_non_null(strstr(err.msg, cases[i].text));
		zl_vc_close(c);
		fake_stop(&f);
		assert_int_equal(f.ssl_requests, 1);
		if (rc == 0)
			assert_int_equal(f.tls_on, cases[i].tls_on);
	}
	free_cert(&good);
	free_cert(&other);
}

/* 'S', then no TLS at all: PREFER tries again unencrypted on a new connection. */
static void script_broken_tls(fake *f, sconn *s, int index)
{
	uint8_t b[64];
	size_t n;
	if (index > 0) {
		script_session(f, s, index);
		return;
	}
	S_CHECK(f, s_read_untagged(s, b, sizeof b, &n) == 0 && n == 4 && be32(b) == ZL_VP_SSL_REQUEST);
	f->ssl_requests++;
	S_CHECK(f, s_write(s, "SHTTP/1.1 400 Bad Request\r\n\r\n", 29) == 0);
}

static void test_tls_prefer_falls_back(void **state)
{
	fake f = { .auth_code = 66048 };
	fake_start(&f, script_broken_tls, 2);
	zl_vc_opts o = opts_for(&f);
	o.tls = ZL_VC_TLS_PREFER;
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	zl_vc_close(c);
	fake_stop(&f);
	assert_int_equal(f.ssl_requests, 1);
	assert_false(f.tls_on);
	assert_true(f.terminated);

	fake g = { .auth_code = 66048 }; /* REQUIRE does not */
	fake_start(&g, script_broken_tls, 1);
	o = opts_for(&g);
	o.tls = ZL_VC_TLS_REQUIRE;
	assert_int_equal(zl_vc_connect(&o, &c, &err), ZL_ETRANSIENT);
	assert_non_null(strstr(err.msg, "TLS handshake failed"));
	fake_stop(&g);
}

/* ---- load balancing and failover ---- */

typedef struct lb_target {
	int port;
} lb_target;

/* Answers the LoadBalanceRequest with 'Y' naming another node, or 'N'. */
static void script_lb(fake *f, sconn *s, int index)
{
	const lb_target *t = f->arg;
	uint8_t b[64];
	size_t n;
	if (index > 0) { /* the fallback after the named node failed: no second request */
		script_session(f, s, index);
		return;
	}
	S_CHECK(f, s_read_untagged(s, b, sizeof b, &n) == 0 && n == 4 && be32(b) == ZL_VP_LB_REQUEST);
	f->lb_requests++;
	if (!t) {
		S_CHECK(f, s_write(s, "N", 1) == 0);
		script_session(f, s, index);
		return;
	}
	msg m;
	m_begin(&m, 'Y');
	m_u32(&m, (uint32_t)t->port);
	m_str(&m, "127.0.0.1");
	S_CHECK(f, m_send(s, &m) == 0);
	uint8_t x;
	S_CHECK(f, s_read(s, &x, 1) != 0); /* the client hangs up */
}

static void test_load_balance(void **state)
{
	fake node2 = { .auth_code = 66048 };
	fake_start(&node2, script_session, 1);
	lb_target t = { .port = node2.port };
	fake node1 = { .arg = &t };
	fake_start(&node1, script_lb, 1);
	zl_vc_opts o = opts_for(&node1);
	o.load_balance = 1;
	o.tls = ZL_VC_TLS_PREFER;
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	char peer[64];
	snprintf(peer, sizeof peer, "127.0.0.1:%d", node2.port);
	assert_string_equal(zl_vc_peer(c), peer);
	zl_vc_close(c);
	fake_stop(&node1);
	fake_stop(&node2);
	assert_int_equal(node1.lb_requests, 1);
	assert_int_equal(node2.lb_requests, 0); /* no second request */
	assert_int_equal(node2.ssl_requests, 1);

	fake solo = { .auth_code = 66048 }; /* 'N': load balancing is off on the server */
	fake_start(&solo, script_lb, 1);
	o = opts_for(&solo);
	o.load_balance = 1;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	zl_vc_close(c);
	fake_stop(&solo);
	assert_int_equal(solo.lb_requests, 1);
}

static void test_load_balance_fallback(void **state)
{
	/* the named node is down: the first node is tried again, without a new request */
	fake node1 = { .auth_code = 66048 };
	lb_target t = { .port = closed_port() };
	node1.arg = &t;
	fake_start(&node1, script_lb, 2);
	zl_vc_opts o = opts_for(&node1);
	o.load_balance = 1;
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	char peer[64];
	snprintf(peer, sizeof peer, "127.0.0.1:%d", node1.port);
	assert_string_equal(zl_vc_peer(c), peer);
	zl_vc_close(c);
	fake_stop(&node1);
	assert_int_equal(node1.lb_requests, 1);

	/* the named node down and the first one gone too: both reasons, transient */
	fake gone = { .auth_code = 66048, .arg = &t };
	fake_start(&gone, script_lb, 1);
	o = opts_for(&gone);
	o.load_balance = 1;
	o.connect_timeout_ms = 500;
	assert_int_equal(zl_vc_connect(&o, &c, &err), ZL_ETRANSIENT);
	char want[300];
	snprintf(want, sizeof want, "cannot connect to Vertica: 127.0.0.1:%d: connect: Connection refused; "
	         "127.0.0.1:%d: timed out waiting for the server", t.port, gone.port);
	assert_string_equal(err.msg, want);
	fake_stop(&gone);
}

static void test_failover(void **state)
{
	fake f = { .auth_code = 66048 };
	fake_start(&f, script_session, 1);
	int dead = closed_port();
	char backup[64], dead_spec[64];
	snprintf(backup, sizeof backup, "127.0.0.1:%d", f.port);
	snprintf(dead_spec, sizeof dead_spec, "127.0.0.1:%d", dead);
	const char *backups[] = { dead_spec, backup };
	zl_vc_opts o = opts_for(&f);
	o.port = closed_port();
	o.backup_hosts = backups;
	o.nbackup = 2;
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	assert_string_equal(zl_vc_peer(c), backup);
	zl_vc_close(c);
	fake_stop(&f);

	/* nobody answers: ZL_ETRANSIENT naming every node */
	o.nbackup = 1;
	assert_int_equal(zl_vc_connect(&o, &c, &err), ZL_ETRANSIENT);
	char want[200];
	snprintf(want, sizeof want, "cannot connect to Vertica: 127.0.0.1:%d: connect: Connection refused; "
	         "127.0.0.1:%d: connect: Connection refused", o.port, dead);
	assert_string_equal(err.msg, want);

	/* bad specs */
	const char *bad[] = { "[::1" };
	o.backup_hosts = bad;
	assert_int_equal(zl_vc_connect(&o, &c, &err), ZL_EINVAL);
	o.host = NULL;
	assert_int_equal(zl_vc_connect(&o, &c, &err), ZL_EINVAL);
}

static void test_connect_timeout(void **state)
{
	fake f = { .accept_none = 1 };
	fake_start(&f, NULL, 0);
	zl_vc_opts o = opts_for(&f);
	o.connect_timeout_ms = 300;
	zl_vc *c = NULL;
	zl_err err;
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	assert_int_equal(zl_vc_connect(&o, &c, &err), ZL_ETRANSIENT);
	gettimeofday(&t1, NULL);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	assert_true(ms >= 250 && ms < 3000);
	assert_non_null(strstr(err.msg, "timed out"));
	fake_stop(&f);
}

/* ---- queries ---- */

static void script_queries(fake *f, sconn *s, int index)
{
	static const char *const ab[] = { "a", "b" };
	static const char *const r1[] = { "1", NULL };
	static const char *const x[] = { "x" };
	static const char *const r2[] = { "10" }, *const r3[] = { "20" };
	if (serve_startup(f, s) != 0)
		return;
	/* two statements: the last result wins */
	S_CHECK(f, read_query(f, s) == 0);
	send_rowdesc(s, 2, ab);
	send_row(s, 2, r1);
	send_complete(s, "SELECT");
	send_rowdesc(s, 1, x);
	send_row(s, 1, r2);
	send_row(s, 1, r3);
	send_complete(s, "SELECT");
	send_ready(s, 'T');
	/* an error stops the statements; the connection stays usable */
	S_CHECK(f, read_query(f, s) == 0);
	send_complete(s, "INSERT 0 1");
	send_error(s, "ERROR", "42V01", "Relation \"nope\" does not exist", "4566");
	send_ready(s, 'T');
	/* a lock timeout is transient */
	S_CHECK(f, read_query(f, s) == 0);
	send_error(s, "ERROR", "55V03", "Locking failure: Timed out X locking Table:public.t", "5157");
	send_ready(s, 'T');
	/* notices, a parameter change and an empty query */
	S_CHECK(f, read_query(f, s) == 0);
	msg m;
	m_begin(&m, 'N');
	m_u8(&m, 'S'), m_str(&m, "NOTICE"), m_u8(&m, 'M'), m_str(&m, "hello"), m_u8(&m, 0);
	m_send(s, &m);
	send_param(s, "client_label", "relabelled");
	send_empty(s, 'I');
	send_ready(s, 'T');
	/* COPY FROM STDIN through the query call: refused with CopyFail */
	S_CHECK(f, read_query(f, s) == 0);
	m_begin(&m, 'G');
	m_u8(&m, 0), m_u16(&m, 0);
	m_send(s, &m);
	uint8_t type, *body;
	size_t n;
	S_CHECK(f, s_read_msg(s, &type, &body, &n) == 0);
	free(body);
	S_CHECK(f, type == 'f');
	send_error(s, "ERROR", "57014", "COPY: aborted by the client", NULL);
	send_ready(s, 'T');
	/* COMMIT */
	S_CHECK(f, read_query(f, s) == 0);
	send_complete(s, "COMMIT");
	send_ready(s, 'I');
	/* a FATAL error ends the session */
	S_CHECK(f, read_query(f, s) == 0);
	send_error(s, "FATAL", "57P01", "terminating connection due to administrator command", "2525");
}

static void test_queries(void **state)
{
	fake f = { .auth_code = 66048, .protocol = "196624" };
	fake_start(&f, script_queries, 1);
	zl_vc_opts o = opts_for(&f);
	zl_vc *c = NULL;
	zl_vc_result r;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);

	assert_int_equal(zl_vc_query(c, "SELECT 1, NULL; SELECT x FROM t", &r, &err), 0);
	assert_int_equal(r.ncols, 1);
	assert_int_equal(r.nrows, 2);
	assert_string_equal(r.names[0], "x");
	assert_string_equal(zl_vc_value(&r, 0, 0), "10");
	assert_string_equal(zl_vc_value(&r, 1, 0), "20");
	assert_string_equal(r.tag, "SELECT");
	zl_vc_result_release(&r);

	assert_int_equal(zl_vc_query(c, "INSERT ...; SELECT * FROM nope", &r, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "Relation \"nope\" does not exist [SQLSTATE 42V01, Vertica 4566]");
	assert_string_equal(err.sqlstate, "42V01");
	assert_true(zl_vc_ok(c));
	zl_vc_result_release(&r);

	assert_int_equal(zl_vc_query(c, "LOCK", NULL, &err), ZL_ETRANSIENT);
	assert_string_equal(err.sqlstate, "55V03");

	assert_int_equal(zl_vc_query(c, "", &r, &err), 0);
	assert_int_equal(r.nrows, 0);
	assert_null(r.tag);
	assert_string_equal(zl_vc_param(c, "client_label"), "relabelled");
	zl_vc_result_release(&r);

	assert_int_equal(zl_vc_query(c, "COPY t FROM STDIN", NULL, &err), ZL_ELOAD);
	assert_non_null(strstr(err.msg, "needs zl_vc_copy_local_stdin"));
	assert_true(zl_vc_ok(c));

	assert_int_equal(zl_vc_query(c, "COMMIT", &r, &err), 0);
	assert_string_equal(r.tag, "COMMIT");
	assert_int_equal(zl_vc_tx_status(c), 'I');
	zl_vc_result_release(&r);

	assert_int_equal(zl_vc_query(c, "SELECT 2", &r, &err), ZL_ETRANSIENT);
	assert_string_equal(err.msg, "terminating connection due to administrator command [SQLSTATE 57P01, Vertica 2525]");
	assert_false(zl_vc_ok(c));
	zl_vc_result_release(&r);
	assert_int_equal(zl_vc_query(c, "SELECT 3", NULL, &err), ZL_ETRANSIENT);
	assert_non_null(strstr(err.msg, "connection unusable"));
	zl_vc_close(c);
	fake_stop(&f);
}

/* ---- malformed servers and losses ---- */

typedef struct bad_reply {
	const uint8_t *bytes;
	size_t n;
	int hold; /* keep the connection open until the client hangs up */
} bad_reply;

static void script_bad_reply(fake *f, sconn *s, int index)
{
	const bad_reply *b = f->arg;
	if (serve_startup(f, s) != 0)
		return;
	S_CHECK(f, read_query(f, s) == 0);
	s_write(s, b->bytes, b->n);
	if (b->hold) {
		uint8_t x;
		s_read(s, &x, 1); /* until the client hangs up */
	}
}

static void test_malformed_replies(void **state)
{
	static const struct { const char *bytes; size_t n; int rc; const char *text; } cases[] = {
		{ "D\x00\x00\x00\x0a\xff\xff\x00\x00\x00\x00", 11, ZL_ELOAD, "protocol error: DataRow without a RowDescription" },
		{ "T\x00\x00\x00\x0a\xff\xff\xff\xff\xff\xff", 11, ZL_ELOAD, "protocol error: RowDescription" },
		{ "D\x7f\xff\xff\xff", 5, ZL_ELOAD, "exceeds the 67108864-byte cap" },
		{ "D\x00\x00\x00\x02", 5, ZL_ELOAD, "protocol error: message 'D' has length 2" },
		{ "Z\x00\x00\x00\x05Q", 6, ZL_ELOAD, "protocol error: ReadyForQuery" },
		{ "H\x00\x00\x00\x06x\0", 7, ZL_ELOAD, "protocol error: unexpected message 'H'" },
		{ "E\x00\x00\x00\x08SERR", 9, ZL_ELOAD, "protocol error: ErrorResponse" },
		{ "S\x00\x00\x00\x1cprotocol_version\0" "banana\0", 29, ZL_ELOAD, "is not a 3.x version" },
		{ "C\x00\x00\x00\x10SEL", 8, ZL_ETRANSIENT, "connection lost: the server closed the connection" },
		{ "", 0, ZL_ETRANSIENT, "connection lost" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bad_reply b = { (const uint8_t *)cases[i].bytes, cases[i].n, cases[i].rc == ZL_ELOAD };
		fake f = { .auth_code = 0, .arg = &b };
		fake_start(&f, script_bad_reply, 1);
		zl_vc_opts o = opts_for(&f);
		zl_vc *c = NULL;
		zl_vc_result r;
		zl_err err;
		assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
		int rc = zl_vc_query(c, "SELECT 1", &r, &err);
		if (rc != cases[i].rc || !strstr(err.msg, cases[i].text))
			fail_msg("case %zu: rc %d: %s", i, rc, err.msg);
		assert_false(zl_vc_ok(c));
		zl_vc_result_release(&r);
		zl_vc_close(c);
		fake_stop(&f);
	}
}

/* ---- COPY ---- */

/* A reader of size bytes of "row\n" lines, failing after fail_after bytes when set. */
typedef struct gen_reader {
	zl_reader r;
	size_t size, pos, fail_after;
} gen_reader;

static ssize_t gen_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	gen_reader *g = (gen_reader *)r;
	if (g->fail_after && g->pos >= g->fail_after)
		return zl_err_set(err, ZL_EIO, "bucket/key: connection reset while reading");
	size_t k = g->size - g->pos < n ? g->size - g->pos : n;
	for (size_t i = 0; i < k; i++)
		((char *)buf)[i] = "row\n"[(g->pos + i) % 4];
	g->pos += k;
	return (ssize_t)k;
}

static void gen_close(zl_reader *r)
{
	(void)r;
}

static gen_reader gen(size_t size, size_t fail_after)
{
	gen_reader g = { .r = { .read = gen_read, .close = gen_close, .name = "bucket/key" }, .size = size,
		             .fail_after = fail_after };
	return g;
}

/* Reads CopyData until the end of the stream (j, c, e or f); returns that type. */
static uint8_t read_copy_data(fake *f, sconn *s)
{
	for (;;) {
		uint8_t type, *body;
		size_t n;
		if (s_read_msg(s, &type, &body, &n))
			return 0;
		if (type == 'd') {
			f->copy_bytes += n;
			f->copy_chunks++;
			if (n > f->max_chunk)
				f->max_chunk = n;
		} else if (type == 'e' || type == 'f') {
			const char *m = (const char *)body;
			if (type == 'e') { /* srcFile, line, func, message */
				if (n < 17 || strcmp(m, "STDIN") != 0 || strcmp(m + 10, "zload") != 0)
					snprintf(f->failure, sizeof f->failure, "bad CopyError");
				m += 6 + 4 + 6;
			}
			snprintf(f->copy_error, sizeof f->copy_error, "%s", m);
		}
		free(body);
		if (type != 'd')
			return type;
	}
}

typedef struct copy_plan {
	int plain;           /* G without T/F, as COPY FROM STDIN */
	int server_error;    /* E after the first CopyData */
	const char *rejected_file;
	int big_named;       /* a named WriteFile past the message cap (its content is skipped) */
	int then;            /* a statement follows the COPY in the query: 1 its result, 2 its error */
} copy_plan;

static void script_copy(fake *f, sconn *s, int index)
{
	const copy_plan *p = f->arg;
	static const char *const rl[] = { "Rows Loaded" };
	static const char *const five[] = { "5" };
	msg m;
	uint8_t type, *body;
	size_t n;
	if (serve_startup(f, s) != 0)
		return;
	S_CHECK(f, read_query(f, s) == 0);
	if (!p->plain) {
		send_rowdesc(s, 1, rl);
		m_begin(&m, 'F');
		m_u16(&m, 0);
		m_str(&m, p->rejected_file ? p->rejected_file : "");
		m_str(&m, "");
		m_send(s, &m);
		S_CHECK(f, s_read_msg(s, &type, &body, &n) == 0);
		S_CHECK(f, type == 'F' && n <= sizeof f->verified);
		memcpy(f->verified, body, n);
		f->verified_len = n;
		free(body);
	}
	m_begin(&m, 'G');
	m_u8(&m, 0), m_u16(&m, 0);
	m_send(s, &m);
	if (p->server_error) {
		S_CHECK(f, s_read_msg(s, &type, &body, &n) == 0 && type == 'd');
		free(body);
		send_error(s, "ERROR", "22V04", "COPY: Input record 1 has been rejected", "6999");
		send_ready(s, 'T');
		read_to_end(f, s);
		return;
	}
	uint8_t end = read_copy_data(f, s);
	if (end == 'e' || end == 'f') {
		send_error(s, "ERROR", "08000", "COPY aborted by the client", NULL);
		send_ready(s, 'T');
		read_to_end(f, s);
		return;
	}
	if (p->plain) {
		S_CHECK(f, end == 'c');
		send_complete(s, "COPY 3");
		send_ready(s, 'T');
		read_to_end(f, s);
		return;
	}
	S_CHECK(f, end == 'j');
	m_begin(&m, 'O'); /* RETURNREJECTED rows 2 and 7 */
	m_str(&m, "");
	m_u32(&m, 16);
	m_raw(&m, "\x02\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0", 16);
	m_send(s, &m);
	if (p->rejected_file) {
		m_begin(&m, 'O');
		m_str(&m, p->rejected_file);
		m_u32(&m, 4);
		m_raw(&m, "bad\n", 4);
		m_send(s, &m);
	}
	if (p->big_named) {
		uint32_t content = (uint32_t)ZL_VP_MSG_CAP + 1;
		m_begin(&m, 'O');
		m_str(&m, "/tmp/big");
		m_u32(&m, content);
		uint32_t l = (uint32_t)(m.n - 1) + content;
		m.p[1] = l >> 24, m.p[2] = l >> 16, m.p[3] = l >> 8, m.p[4] = l;
		S_CHECK(f, s_write(s, m.p, m.n) == 0);
		static uint8_t junk[1 << 16];
		for (uint32_t sent = 0; sent < content;) {
			uint32_t k = content - sent < sizeof junk ? content - sent : (uint32_t)sizeof junk;
			S_CHECK(f, s_write(s, junk, k) == 0);
			sent += k;
		}
	}
	send_empty(s, 'J');
	S_CHECK(f, s_read_msg(s, &type, &body, &n) == 0);
	free(body);
	S_CHECK(f, type == 'c');
	send_row(s, 1, five);
	send_complete(s, "COPY");
	if (p->then == 1) {
		static const char *const cols[] = { "a", "r" }, *const vals[] = { "9", "2" };
		send_rowdesc(s, 2, cols);
		send_row(s, 2, vals);
		send_complete(s, "SELECT");
	} else if (p->then == 2) {
		send_error(s, "ERROR", "42883", "Function GET_NUM_NOPE() does not exist", "3457");
	}
	send_ready(s, 'T');
	read_to_end(f, s);
}

static void test_copy_local(void **state)
{
	copy_plan p = { .rejected_file = "/tmp/rejects.txt" };
	fake f = { .auth_code = 66048, .protocol = "196624", .arg = &p };
	fake_start(&f, script_copy, 1);
	zl_vc_opts o = opts_for(&f);
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	gen_reader g = gen(1000 * 1000 + 7, 0); /* four chunks */
	zl_vc_copy_result res;
	assert_int_equal(zl_vc_copy_local_stdin(c, "COPY t FROM LOCAL STDIN RETURNREJECTED NO COMMIT", &g.r, &res, &err), 0);
	assert_int_equal(res.rows_loaded, 5);
	assert_int_equal(res.nrejected, 2);
	assert_int_equal(res.rows_rejected, 2);
	assert_int_equal(res.rejected_rows[0], 2);
	assert_int_equal(res.rejected_rows[1], 7);
	zl_vc_copy_result_release(&res);
	assert_true(zl_vc_ok(c));
	zl_vc_close(c);
	fake_stop(&f);
	assert_int_equal(f.copy_bytes, 1000 * 1000 + 7);
	assert_int_equal(f.copy_chunks, 4);
	assert_int_equal(f.max_chunk, 256 * 1024);
	assert_int_equal(f.verified_len, 4); /* Int32 count at 3.16 */
	assert_memory_equal(f.verified, "\0\0\0\0", 4);
}

/* A statement after the COPY in the same query: the COPY's rows stay the COPY's, the statement's
 * result comes back beside them; its error is returned. */
static void test_copy_local_then(void **state)
{
	for (int then = 1; then <= 2; then++) {
		copy_plan p = { .then = then };
		fake f = { .auth_code = 66048, .protocol = "196624", .arg = &p };
		fake_start(&f, script_copy, 1);
		zl_vc_opts o = opts_for(&f);
		zl_vc *c = NULL;
		zl_err err;
		assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
		gen_reader g = gen(1000, 0);
		zl_vc_copy_result res;
		zl_vc_result counts;
		int rc = zl_vc_copy_local_stdin_then(c, "COPY t FROM LOCAL STDIN NO COMMIT", "SELECT counts", &g.r, &res,
		                                     &counts, &err);
		if (then == 1) {
			assert_int_equal(rc, 0);
			assert_int_equal(res.rows_loaded, 5);
			assert_int_equal(counts.ncols, 2);
			assert_int_equal(counts.nrows, 1);
			assert_string_equal(zl_vc_value(&counts, 0, 0), "9");
			assert_string_equal(zl_vc_value(&counts, 0, 1), "2");
		} else {
			assert_int_equal(rc, ZL_ELOAD);
			assert_string_equal(err.sqlstate, "42883");
			assert_true(zl_vc_ok(c));
		}
		assert_int_equal(zl_vc_tx_status(c), 'T');
		zl_vc_result_release(&counts);
		zl_vc_copy_result_release(&res);
		zl_vc_close(c);
		fake_stop(&f);
		assert_string_equal(f.last_query, "COPY t FROM LOCAL STDIN NO COMMIT;\nSELECT counts");
		assert_int_equal(f.copy_bytes, 1000);
	}
}

/* The same over TLS (the stream's peeks must not block on TLS records that carry no data), with a
 * rejected-data file too large to hold: skipped, the COPY goes on. */
static void test_copy_local_tls_big_write_file(void **state)
{
	tls_material t;
	make_cert(&t, "vertica-test", "IP:127.0.0.1");
	copy_plan p = { .big_named = 1 };
	fake f = { .auth_code = 66048, .protocol = "196624", .arg = &p, .tls = t.server };
	fake_start(&f, script_copy, 1);
	zl_vc_opts o = opts_for(&f);
	o.tls = ZL_VC_TLS_VERIFY_FULL;
	o.tls_root_cert = t.ca_path;
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	gen_reader g = gen(700 * 1000, 0);
	zl_vc_copy_result res;
	assert_int_equal(zl_vc_copy_local_stdin(c, "COPY t FROM LOCAL STDIN REJECTED DATA '/tmp/big'", &g.r, &res, &err), 0);
	assert_int_equal(res.rows_loaded, 5);
	assert_int_equal(res.nrejected, 2);
	zl_vc_copy_result_release(&res);
	assert_true(zl_vc_ok(c));
	zl_vc_close(c);
	fake_stop(&f);
	assert_true(f.tls_on);
	assert_int_equal(f.copy_bytes, 700 * 1000);
	free_cert(&t);
}

static void test_copy_local_old_protocol(void **state)
{
	copy_plan p = { 0 };
	fake f = { .auth_code = 66048, .protocol = "196622", .arg = &p }; /* 3.14 */
	fake_start(&f, script_copy, 1);
	zl_vc_opts o = opts_for(&f);
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	gen_reader g = gen(0, 0); /* empty data: no CopyData at all */
	assert_int_equal(zl_vc_copy_local_stdin(c, "COPY t FROM LOCAL STDIN", &g.r, NULL, &err), 0);
	zl_vc_close(c);
	fake_stop(&f);
	assert_int_equal(f.verified_len, 2); /* Int16 count before 3.15 */
	assert_int_equal(f.copy_chunks, 0);
}

static void test_copy_plain(void **state)
{
	copy_plan p = { .plain = 1 };
	fake f = { .auth_code = 66048, .protocol = "196624", .arg = &p };
	fake_start(&f, script_copy, 1);
	zl_vc_opts o = opts_for(&f);
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	gen_reader g = gen(12, 0);
	zl_vc_copy_result res;
	assert_int_equal(zl_vc_copy_local_stdin(c, "COPY t FROM STDIN", &g.r, &res, &err), 0);
	assert_int_equal(res.rows_loaded, 3);
	assert_int_equal(res.nrejected, 0);
	zl_vc_copy_result_release(&res);
	zl_vc_close(c);
	fake_stop(&f);
	assert_int_equal(f.copy_bytes, 12);
}

static void test_copy_read_error(void **state)
{
	for (int plain = 0; plain <= 1; plain++) {
		copy_plan p = { .plain = plain };
		fake f = { .auth_code = 66048, .protocol = "196624", .arg = &p };
		fake_start(&f, script_copy, 1);
		zl_vc_opts o = opts_for(&f);
		zl_vc *c = NULL;
		zl_err err;
		assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
		gen_reader g = gen(10 << 20, 300 * 1024);
		zl_vc_copy_result res;
		assert_int_equal(zl_vc_copy_local_stdin(c, "COPY t FROM LOCAL STDIN", &g.r, &res, &err), ZL_EIO);
		assert_string_equal(err.msg, "bucket/key: connection reset while reading");
		assert_true(zl_vc_ok(c)); /* drained to ReadyForQuery */
		zl_vc_copy_result_release(&res);
		zl_vc_close(c);
		fake_stop(&f);
		assert_string_equal(f.copy_error, "bucket/key: connection reset while reading");
		assert_int_equal(f.copy_chunks, 2);
	}
}

static void test_copy_server_error(void **state)
{
	copy_plan p = { .server_error = 1 };
	fake f = { .auth_code = 66048, .protocol = "196624", .arg = &p };
	fake_start(&f, script_copy, 1);
	zl_vc_opts o = opts_for(&f);
	zl_vc *c = NULL;
	zl_err err;
	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	gen_reader g = gen((size_t)64 << 20, 0); /* far more than the server will take */
	assert_int_equal(zl_vc_copy_local_stdin(c, "COPY t FROM LOCAL STDIN ABORT ON ERROR", &g.r, NULL, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "COPY: Input record 1 has been rejected [SQLSTATE 22V04, Vertica 6999]");
	assert_string_equal(err.sqlstate, "22V04");
	assert_true(zl_vc_ok(c));
	assert_true(g.pos < ((size_t)64 << 20)); /* it stopped sending */
	zl_vc_close(c);
	fake_stop(&f);
}

/* ---- an idle connection's check (zl_vc_idle_ok), for the pool ---- */

/* The server's steps, each told to the client through a pipe once its bytes are sent. */
static void said(fake *f)
{
	int *sig = f->arg;
	(void)!write(sig[1], "x", 1);
}

static void script_idle(fake *f, sconn *s, int index)
{
	if (serve_startup(f, s) != 0)
		return;
	if (index == 0) {
		/* a statement that leaves a transaction open, then COMMIT */
		S_CHECK(f, read_query(f, s) == 0 && send_complete(s, "SELECT") == 0 && send_ready(s, 'T') == 0);
		S_CHECK(f, read_query(f, s) == 0 && send_complete(s, "COMMIT") == 0 && send_ready(s, 'I') == 0);
		/* while idle: a parameter change and a notice, which leave it usable */
		S_CHECK(f, send_param(s, "client_label", "renamed") == 0);
		msg m;
		m_begin(&m, 'N');
		m_u8(&m, 'S'), m_str(&m, "NOTICE"), m_u8(&m, 'M'), m_str(&m, "idle notice"), m_u8(&m, 0);
		S_CHECK(f, m_send(s, &m) == 0);
		said(f);
		/* then a FATAL error (an idle-session timeout), which does not */
		S_CHECK(f, read_query(f, s) == 0 && send_complete(s, "SELECT") == 0 && send_ready(s, 'I') == 0);
		S_CHECK(f, send_error(s, "FATAL", "57P01", "Session timed out", "2525") == 0);
		said(f);
		read_to_end(f, s);
	} else if (index == 1) {
		said(f); /* the server closes the idle connection without a word */
	} else {
		S_CHECK(f, s_write(s, "Z\0\0", 3) == 0); /* a message that arrived in part */
		said(f);
		read_to_end(f, s);
	}
}

/* Waits for the server's step, and a little more for its bytes to arrive. */
static void heard(int *sig)
{
	char x;
	assert_int_equal(read(sig[0], &x, 1), 1);
	usleep(50 * 1000);
}

static void test_idle_check(void **state)
{
	int sig[2];
	assert_int_equal(pipe(sig), 0);
	fake f = { .auth_code = 66048, .protocol = "196624", .arg = sig };
	fake_start(&f, script_idle, 3);
	zl_vc_opts o = opts_for(&f);
	zl_vc *c = NULL;
	zl_err err;

	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	assert_true(zl_vc_idle_ok(c));
	assert_true(zl_vc_idle_ok(c)); /* asking again changes nothing */
	assert_int_equal(zl_vc_query(c, "SELECT 1", NULL, &err), 0);
	assert_false(zl_vc_idle_ok(c)); /* in a transaction */
	assert_true(zl_vc_ok(c));
	assert_int_equal(zl_vc_query(c, "COMMIT", NULL, &err), 0);
	heard(sig);
	assert_true(zl_vc_idle_ok(c));
	assert_string_equal(zl_vc_param(c, "client_label"), "renamed");
	assert_int_equal(zl_vc_query(c, "SELECT 2", NULL, &err), 0); /* the messages read were not a reply */
	heard(sig);
	assert_false(zl_vc_idle_ok(c));
	assert_false(zl_vc_ok(c));
	assert_int_equal(zl_vc_query(c, "SELECT 3", NULL, &err), ZL_ETRANSIENT);
	assert_non_null(strstr(err.msg, "Session timed out"));
	zl_vc_close(c);

	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	heard(sig);
	assert_false(zl_vc_idle_ok(c));
	assert_int_equal(zl_vc_query(c, "SELECT 4", NULL, &err), ZL_ETRANSIENT);
	assert_non_null(strstr(err.msg, "the server closed the connection"));
	zl_vc_close(c);

	assert_int_equal(zl_vc_connect(&o, &c, &err), 0);
	heard(sig);
	assert_false(zl_vc_idle_ok(c));
	assert_false(zl_vc_ok(c));
	zl_vc_close(c);
	fake_stop(&f);
	close(sig[0]);
	close(sig[1]);
}

int main(void)
{
	zl_log_setup(ZL_WARN, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_sha512),
		cmocka_unit_test(test_startup_other_auth),
		cmocka_unit_test(test_auth_refusals),
		cmocka_unit_test(test_tls_modes),
		cmocka_unit_test(test_tls_prefer_falls_back),
		cmocka_unit_test(test_load_balance),
		cmocka_unit_test(test_load_balance_fallback),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_copy_local),
		cmocka_unit_test(test_copy_local_tls_big_write_file),
		cmocka_unit_test(test_copy_local_then),
		cmocka_unit_test(test_copy_local_old_protocol),
		cmocka_unit_test(test_copy_plain),
		cmocka_unit_test(test_copy_read_error),
		cmocka_unit_test(test_copy_server_error),
		cmocka_unit_test(test_idle_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
