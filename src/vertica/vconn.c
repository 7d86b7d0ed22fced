/* Connecting: the node list with failover, load balancing, TLS negotiation, startup and
 * authentication; closing and the connection's accessors. */
#include "vertica/vconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/log.h"
#include "vertica/vauth.h"
#include "vertica/vproto.h"

#define DEFAULT_PORT 5433
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define MAX_BACKUPS 64
#define MAX_NODES (1 + MAX_BACKUPS + 2) /* host, backups, a redirect and the host again */
#define HOST_CAP 256

typedef struct node {
	char host[HOST_CAP];
	int port;
} node;

/* What one attempt on a node asks of the loop over nodes. */
enum { NEXT_NODE = 1, REDIRECTED, RETRY_PLAIN };

static int parse_node(const char *spec, int default_port, node *out)
{
	const char *host = spec, *colon = NULL;
	size_t hlen;
	if (spec[0] == '[') { /* [v6]:port */
		const char *close = strchr(spec, ']');
		if (!close)
			return -1;
		host = spec + 1;
		hlen = (size_t)(close - host);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon)
			return -1;
	} else {
		colon = strrchr(spec, ':');
		if (colon && strchr(spec, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
		hlen = colon ? (size_t)(colon - spec) : strlen(spec);
	}
	if (hlen == 0 || hlen >= HOST_CAP)
		return -1;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = default_port;
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || p <= 0 || p > 65535)
			return -1;
		out->port = (int)p;
	}
	return 0;
}

static void set_peer(zl_vc *c, const node *n)
{
	snprintf(c->peer, sizeof c->peer, strchr(n->host, ':') ? "[%s]:%d" : "%s:%d", n->host, n->port);
}

static zl_vc *vc_new(void)
{
	zl_vc *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->fd = -1;
	c->protocol = ZL_VP_PROTO_FIXED;
	c->tx_status = 'I';
	zl_buf_init(&c->out, ZL_VP_MSG_CAP + 16);
	return c;
}

static void vc_free(zl_vc *c)
{
	if (!c)
		return;
	zl_vnet_close(c);
	zl_buf_release(&c->out);
	free(c->body);
	for (size_t i = 0; i < c->nparams; i++) {
		free(c->params[i].name);
		free(c->params[i].value);
	}
	free(c);
}

/* Reads the one-byte answer to an untagged request (LoadBalanceRequest, SSLRequest). */
static int read_answer_byte(zl_vc *c, char *answer, zl_err *err)
{
	uint8_t b;
	if (zl_vcio_read_exact(c, &b, 1, err))
		return err->code;
	*answer = (char)b;
	return 0;
}

/* LoadBalanceRequest on the raw socket; *to is set when the node names another one. */
static int balance(zl_vc *c, const node *at, node *to, int *redirect, zl_err *err)
{
	char answer = 0;
	*redirect = 0;
	if (zl_vp_lb_request(&c->out, err) || zl_vcio_flush(c, err) || read_answer_byte(c, &answer, err))
		return err->code;
	if (answer == 'N') {
		ZL_LOG(ZL_INFO, "vertica load balancing requested but not enabled on the server", ZL_S("peer", c->peer));
		return 0;
	}
	if (answer != 'Y')
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: load balancing answer 0x%02x", (unsigned char)answer);
	uint8_t len_be[4], body[4 + HOST_CAP];
	if (zl_vcio_read_exact(c, len_be, 4, err))
		return err->code;
	uint32_t len = (uint32_t)len_be[0] << 24 | (uint32_t)len_be[1] << 16 | (uint32_t)len_be[2] << 8 | len_be[3];
	if (len < 4 + 4 + 2 || len - 4 > sizeof body)
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: LoadBalanceResponse of length %u", len);
	if (zl_vcio_read_exact(c, body, len - 4, err))
		return err->code;
	uint32_t port;
	const char *host;
	if (zl_vp_lb_response_decode(body, len - 4, &port, &host, err))
		return zl_vcio_fail_err(c, err);
	if (strlen(host) >= HOST_CAP)
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: LoadBalanceResponse host too long");
	if (strcmp(host, at->host) == 0 && (int)port == at->port)
		return 0;
	snprintf(to->host, sizeof to->host, "%s", host);
	to->port = (int)port;
	*redirect = 1;
	ZL_LOG(ZL_INFO, "vertica load balancing redirect", ZL_S("from", c->peer), ZL_S("host", to->host),
	       ZL_I("port", to->port));
	return 0;
}

/* SSLRequest and the handshake the mode asks for; *plain set when PREFER meets a server without TLS. */
static int negotiate_tls(zl_vc *c, const zl_vc_opts *o, zl_vc_tls mode, const node *n, zl_err *err)
{
	char answer = 0;
	if (zl_vp_ssl_request(&c->out, err) || zl_vcio_flush(c, err) || read_answer_byte(c, &answer, err))
		return err->code;
	if (answer == 'S')
		return zl_vnet_tls_handshake(c, mode, o->tls_root_cert, n->host, err);
	if (answer != 'N')
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: TLS answer 0x%02x", (unsigned char)answer);
	if (mode == ZL_VC_TLS_PREFER) {
		ZL_LOG(ZL_INFO, "vertica server does not offer TLS: continuing unencrypted", ZL_S("peer", c->peer));
		return 0;
	}
	return zl_vcio_fail(c, ZL_ELOAD, err, "server does not accept TLS, which tls mode %s requires",
	                    mode == ZL_VC_TLS_REQUIRE ? "require" : mode == ZL_VC_TLS_VERIFY_CA ? "verify-ca" : "verify-full");
}

static int send_startup(zl_vc *c, const zl_vc_opts *o, zl_err *err)
{
	struct utsname u;
	char os[200] = "", pid[24];
	if (uname(&u) == 0)
		snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	const char *pairs[] = {
		"user", o->user,
		"database", o->database ? o->database : "", /* empty: the server's default */
		"client_label", o->client_label ? o->client_label : "zload",
		"client_type", "zload",
		"client_version", o->client_version ? o->client_version : "",
		"client_os", os,
		"client_pid", pid,
		"autocommit", "off",
		"binary_data_protocol", "0",
		NULL,
	};
	if (zl_vp_startup(&c->out, ZL_VP_PROTO_REQUEST, pairs, err))
		return err->code;
	return zl_vcio_flush(c, err);
}

static const char *auth_method_name(uint32_t code)
{
	switch (code) {
	case 1: return "Kerberos V4";
	case 2: return "Kerberos V5";
	case 4: return "crypt";
	case 6: return "SCM credentials";
	case 7: return "GSS";
	case 8: return "GSS continue";
	case 12: return "OAuth";
	case 14: return "TOTP";
	default: return "unknown";
	}
}

/* Answers one authentication request; 0 also for the codes that need no answer. */
static int answer_auth(zl_vc *c, const zl_vc_opts *o, const zl_vp_auth *a, zl_err *err)
{
	char reply[ZL_VAUTH_MAX];
	int rc = 0;
	switch (a->code) {
	case ZL_VP_AUTH_OK:
	case ZL_VP_AUTH_PASSWORD_CHANGED:
		return 0;
	case ZL_VP_AUTH_PASSWORD_GRACE:
		ZL_LOG(ZL_WARN, "vertica password is in its grace period: change it soon", ZL_S("peer", c->peer),
		       ZL_S("user", o->user));
		return 0;
	case ZL_VP_AUTH_CHANGE_PASSWORD:
		return zl_vcio_fail(c, ZL_ELOAD, err, "password expired for user %s: change it with vsql", o->user);
	case ZL_VP_AUTH_CLEARTEXT:
	case ZL_VP_AUTH_MD5:
	case ZL_VP_AUTH_HASH_MD5:
	case ZL_VP_AUTH_HASH:
	case ZL_VP_AUTH_HASH_SHA512:
		break;
	default:
		return zl_vcio_fail(c, ZL_ELOAD, err, "authentication method %u (%s) is not supported", a->code,
		                    auth_method_name(a->code));
	}
	if (!o->password)
		return zl_vcio_fail(c, ZL_ELOAD, err, "the server asks for a password for user %s and none is configured", o->user);
	if (a->code == ZL_VP_AUTH_CLEARTEXT)
		rc = zl_vp_password(&c->out, o->password, err);
	else if (a->code == ZL_VP_AUTH_MD5 || a->code == ZL_VP_AUTH_HASH_MD5)
		rc = zl_vauth_md5(o->user, o->password, a->salt, reply, err) || zl_vp_password(&c->out, reply, err) ? err->code : 0;
	else
		rc = zl_vauth_sha512(o->password, a->user_salt, a->salt, reply, err) || zl_vp_password(&c->out, reply, err) ? err->code : 0;
	OPENSSL_cleanse(reply, sizeof reply);
	if (!rc)
		rc = zl_vcio_flush(c, err);
	OPENSSL_cleanse(c->out.data, c->out.alloc); /* the password (or its hash) was in there */
	return rc;
}

/* Startup, authentication, then the parameters and key up to ReadyForQuery. */
static int start_session(zl_vc *c, const zl_vc_opts *o, zl_err *err)
{
	if (send_startup(c, o, err))
		return err->code;
	for (;;) {
		if (zl_vcio_next(c, err))
			return err->code;
		switch (c->type) {
		case 'R': {
			zl_vp_auth a;
			if (zl_vp_auth_decode(c->body, c->body_len, &a, err))
				return zl_vcio_fail_err(c, err);
			if (answer_auth(c, o, &a, err))
				return err->code;
			break;
		}
		case 'K':
			if (zl_vp_backend_key(c->body, c->body_len, &c->backend_pid, &c->backend_key, err))
				return zl_vcio_fail_err(c, err);
			break;
		case 'E': {
			zl_vp_notice e;
			if (zl_vp_notice_decode(c->body, c->body_len, &e, err))
				return zl_vcio_fail_err(c, err);
			zl_vp_error_set(err, &e);
			return zl_vcio_fail_err(c, err); /* the server closes a connection it refused */
		}
		case 'Z':
			if (zl_vp_ready(c->body, c->body_len, &c->tx_status, err))
				return zl_vcio_fail_err(c, err);
			return 0;
		default:
			return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: unexpected message '%c' during startup",
			                    c->type >= 32 && c->type < 127 ? c->type : '?');
		}
	}
}

/* One node: connect, balance (once per zl_vc_connect), TLS, startup. */
static int attempt(const zl_vc_opts *o, const node *n, zl_vc_tls mode, int *balanced, node *redirect_to,
                   zl_vc **out, zl_err *err)
{
	int timeout = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	char why[256];
	int rc = 0, redirect = 0;
	zl_vc *c = vc_new();
	if (!c)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	set_peer(c, n);
	c->fd = zl_vnet_connect(n->host, n->port, timeout, why, sizeof why);
	if (c->fd < 0) {
		rc = zl_vcio_fail(c, ZL_ETRANSIENT, err, "%s", why);
		goto out;
	}
	c->deadline_ms = zl_vcio_now_ms() + timeout;
	zl_vnet_set_io_timeout(c->fd, timeout); /* bounds the TLS handshake's blocking reads too */
	if (!*balanced) {
		*balanced = 1;
		if ((rc = balance(c, n, redirect_to, &redirect, err)) != 0)
			goto out;
		if (redirect) {
			rc = REDIRECTED;
			goto out;
		}
	}
	if (mode != ZL_VC_TLS_DISABLE && (rc = negotiate_tls(c, o, mode, n, err)) != 0) {
		if (rc == ZL_ETRANSIENT && mode == ZL_VC_TLS_PREFER && c->ssl)
			rc = RETRY_PLAIN; /* the handshake failed: prefer means "plain will do" */
		goto out;
	}
	if ((rc = start_session(c, o, err)) != 0)
		goto out;
	c->deadline_ms = 0;
	zl_vnet_set_io_timeout(c->fd, 0);
	ZL_LOG(ZL_DEBUG, "vertica connected", ZL_S("peer", c->peer), ZL_I("protocol_minor", c->protocol & 0xffff),
	       ZL_S("tls", c->ssl ? "on" : "off"));
	*out = c;
	c = NULL;
out:
	vc_free(c);
	return rc;
}

/* Appends "peer: reason" to the list of reasons. */
static void add_reason(zl_buf *why, const zl_err *e)
{
	zl_buf_printf(why, "%s%s", why->len ? "; " : "", e->msg);
}

int zl_vc_connect(const zl_vc_opts *o, zl_vc **out, zl_err *err)
{
	node nodes[MAX_NODES];
	size_t nnodes = 0;
	int rc = 0, balanced = !o->load_balance;
	zl_buf why;
	zl_buf_init(&why, sizeof err->msg - 64);
	*out = NULL;
	if (!o->host || !*o->host || !o->user || !*o->user) {
		rc = zl_err_set(err, ZL_EINVAL, "vertica connection needs a host and a user");
		goto out;
	}
	int port = o->port > 0 ? o->port : DEFAULT_PORT;
	if (o->port < 0 || o->port > 65535 || parse_node(o->host, port, &nodes[nnodes++]) != 0) {
		rc = zl_err_set(err, ZL_EINVAL, "bad vertica host \"%.200s\" or port %d", o->host, o->port);
		goto out;
	}
	if (o->nbackup > MAX_BACKUPS) {
		rc = zl_err_set(err, ZL_EINVAL, "too many vertica backup hosts (%zu, at most %d)", o->nbackup, MAX_BACKUPS);
		goto out;
	}
	for (size_t i = 0; i < o->nbackup; i++)
		if (parse_node(o->backup_hosts[i], port, &nodes[nnodes++]) != 0) {
			rc = zl_err_set(err, ZL_EINVAL, "bad vertica backup host \"%.200s\"", o->backup_hosts[i]);
			goto out;
		}
	int final = ZL_ETRANSIENT;
	char state[sizeof err->sqlstate] = "";
	for (size_t i = 0; i < nnodes; i++) {
		zl_err e;
		node to;
		rc = attempt(o, &nodes[i], o->tls, &balanced, &to, out, &e);
		if (rc == RETRY_PLAIN) {
			add_reason(&why, &e);
			rc = attempt(o, &nodes[i], ZL_VC_TLS_DISABLE, &balanced, &to, out, &e);
		}
		if (rc == 0)
			goto out;
		if (rc == REDIRECTED) { /* the named node next, then this one again as the first fallback */
			memmove(&nodes[i + 3], &nodes[i + 1], (nnodes - i - 1) * sizeof *nodes);
			nodes[i + 1] = to;
			nodes[i + 2] = nodes[i];
			nnodes += 2;
			continue;
		}
		add_reason(&why, &e);
		memcpy(state, e.sqlstate, sizeof state);
		if (rc != ZL_ETRANSIENT) {
			final = rc;
			break;
		}
	}
	rc = zl_err_set(err, final, "cannot connect to Vertica: %s", zl_buf_str(&why));
	zl_err_set_sqlstate(err, state);
out:
	zl_buf_release(&why);
	return rc;
}

int zl_vc_start_on_fd(int fd, const zl_vc_opts *o, zl_vc **out, zl_err *err)
{
	zl_vc *c = vc_new();
	int rc = 0;
	*out = NULL;
	if (!c) {
		close(fd);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	c->fd = fd;
	snprintf(c->peer, sizeof c->peer, "fd %d", fd);
	if ((rc = start_session(c, o, err)) != 0) {
		vc_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void zl_vc_close(zl_vc *c)
{
	if (!c)
		return;
	if (!c->broken) {
		zl_err ignored;
		if (zl_vp_terminate(&c->out, &ignored) == 0)
			zl_vcio_flush(c, &ignored);
	}
	vc_free(c);
}

uint32_t zl_vc_protocol(const zl_vc *c)
{
	return c->protocol;
}

const char *zl_vc_param(const zl_vc *c, const char *name)
{
	for (size_t i = 0; i < c->nparams; i++)
		if (strcmp(c->params[i].name, name) == 0)
			return c->params[i].value;
	return NULL;
}

const char *zl_vc_peer(const zl_vc *c)
{
	return c->peer;
}

char zl_vc_tx_status(const zl_vc *c)
{
	return c->tx_status;
}

int zl_vc_ok(const zl_vc *c)
{
	return c && !c->broken;
}
