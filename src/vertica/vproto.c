#include "vertica/vproto.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoding ---- */

/* A message being appended to a buffer; the first failure sticks. */
typedef struct wr {
	zl_buf *b;
	size_t start; /* offset of the length field */
	int rc;
} wr;

static void put(wr *w, const void *data, size_t n)
{
	if (!w->rc && n)
		w->rc = zl_buf_add(w->b, data, n);
}

static void put_u8(wr *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put_u16(wr *w, uint16_t v)
{
	uint8_t be[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(w, be, 2);
}

static void put_u32(wr *w, uint32_t v)
{
	uint8_t be[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(w, be, 4);
}

static void put_u64(wr *w, uint64_t v)
{
	put_u32(w, (uint32_t)(v >> 32));
	put_u32(w, (uint32_t)v);
}

static void put_cstr(wr *w, const char *s)
{
	put(w, s, strlen(s) + 1);
}

/* Starts a message: the type byte (0: an untagged packet), then a length to patch. */
static wr begin(zl_buf *b, char type)
{
	wr w = { .b = b, .rc = 0 };
	if (type)
		put_u8(&w, (uint8_t)type);
	w.start = b->len;
	put_u32(&w, 0);
	return w;
}

static int finish(wr *w, zl_err *err)
{
	if (w->rc)
		return zl_err_set(err, w->rc, "out of memory encoding a message");
	size_t len = w->b->len - w->start;
	if (len > ZL_VP_MSG_CAP)
		return zl_err_set(err, ZL_EINVAL, "message of %zu bytes is too long to send", len);
	uint8_t *p = (uint8_t *)w->b->data + w->start;
	p[0] = (uint8_t)(len >> 24), p[1] = (uint8_t)(len >> 16), p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len;
	return 0;
}

int zl_vp_startup(zl_buf *b, uint32_t requested, const char *const *pairs, zl_err *err)
{
	wr w = begin(b, 0);
	put_u32(&w, ZL_VP_PROTO_FIXED);
	put_cstr(&w, "protocol_version");
	put_u32(&w, requested);
	put_u8(&w, 0);
	for (size_t i = 0; pairs && pairs[i]; i += 2) {
		if (!pairs[i + 1])
			continue;
		put_cstr(&w, pairs[i]);
		put_cstr(&w, pairs[i + 1]);
	}
	put_u8(&w, 0);
	return finish(&w, err);
}

static int untagged_code(zl_buf *b, uint32_t code, zl_err *err)
{
	wr w = begin(b, 0);
	put_u32(&w, code);
	return finish(&w, err);
}

int zl_vp_ssl_request(zl_buf *b, zl_err *err)
{
	return untagged_code(b, ZL_VP_SSL_REQUEST, err);
}

int zl_vp_lb_request(zl_buf *b, zl_err *err)
{
	return untagged_code(b, ZL_VP_LB_REQUEST, err);
}

static int one_cstr(zl_buf *b, char type, const char *s, zl_err *err)
{
	wr w = begin(b, type);
	put_cstr(&w, s);
	return finish(&w, err);
}

int zl_vp_query(zl_buf *b, const char *sql, zl_err *err)
{
	return one_cstr(b, 'Q', sql, err);
}

int zl_vp_password(zl_buf *b, const char *text, zl_err *err)
{
	return one_cstr(b, 'p', text, err);
}

int zl_vp_copy_fail(zl_buf *b, const char *message, zl_err *err)
{
	return one_cstr(b, 'f', message, err);
}

int zl_vp_verified_files(zl_buf *b, uint32_t protocol, size_t n, const char *const *names,
                         const uint64_t *sizes, zl_err *err)
{
	int int32_count = protocol >= ZL_VP_PROTO(3, 15);
	if (n > (int32_count ? (size_t)INT32_MAX : (size_t)UINT16_MAX))
		return zl_err_set(err, ZL_EINVAL, "too many files (%zu) for VerifiedFiles", n);
	wr w = begin(b, 'F');
	if (int32_count)
		put_u32(&w, (uint32_t)n);
	else
		put_u16(&w, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		put_cstr(&w, names[i]);
		put_u64(&w, sizes[i]);
	}
	return finish(&w, err);
}

int zl_vp_copy_data(zl_buf *b, const void *data, size_t n, zl_err *err)
{
	if (n > ZL_VP_MSG_CAP - 4)
		return zl_err_set(err, ZL_EINVAL, "CopyData of %zu bytes is too long", n);
	wr w = begin(b, 'd');
	put(&w, data, n);
	return finish(&w, err);
}

void zl_vp_copy_data_header(uint8_t hdr[5], size_t n)
{
	uint32_t len = (uint32_t)(n + 4);
	hdr[0] = 'd';
	hdr[1] = (uint8_t)(len >> 24), hdr[2] = (uint8_t)(len >> 16), hdr[3] = (uint8_t)(len >> 8), hdr[4] = (uint8_t)len;
}

static int empty(zl_buf *b, char type, zl_err *err)
{
	wr w = begin(b, type);
	return finish(&w, err);
}

int zl_vp_end_of_batch(zl_buf *b, zl_err *err)
{
	return empty(b, 'j', err);
}

int zl_vp_copy_done(zl_buf *b, zl_err *err)
{
	return empty(b, 'c', err);
}

int zl_vp_terminate(zl_buf *b, zl_err *err)
{
	return empty(b, 'X', err);
}

int zl_vp_copy_error(zl_buf *b, const char *src_file, int32_t line, const char *func,
                     const char *message, zl_err *err)
{
	wr w = begin(b, 'e');
	put_cstr(&w, src_file);
	put_u32(&w, (uint32_t)line);
	put_cstr(&w, func);
	put_cstr(&w, message);
	return finish(&w, err);
}

/* ---- decoding ---- */

/* A bounded cursor over one message body; the first overrun sticks and names what was read. */
typedef struct rd {
	const uint8_t *p;
	size_t n, pos;
	const char *bad; /* what could not be read, or NULL */
} rd;

static int need(rd *r, size_t k, const char *what)
{
	if (r->bad)
		return 0;
	if (r->n - r->pos < k) {
		r->bad = what;
		return 0;
	}
	return 1;
}

static uint8_t get_u8(rd *r, const char *what)
{
	if (!need(r, 1, what))
		return 0;
	return r->p[r->pos++];
}

static uint16_t get_u16(rd *r, const char *what)
{
	if (!need(r, 2, what))
		return 0;
	const uint8_t *q = r->p + r->pos;
	r->pos += 2;
	return (uint16_t)(q[0] << 8 | q[1]);
}

static uint32_t get_u32(rd *r, const char *what)
{
	if (!need(r, 4, what))
		return 0;
	const uint8_t *q = r->p + r->pos;
	r->pos += 4;
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static uint64_t get_u64(rd *r, const char *what)
{
	uint64_t hi = get_u32(r, what);
	return hi << 32 | get_u32(r, what);
}

static const uint8_t *get_bytes(rd *r, size_t k, const char *what)
{
	if (!need(r, k, what))
		return NULL;
	const uint8_t *q = r->p + r->pos;
	r->pos += k;
	return q;
}

/* A NUL-terminated string inside the body; "" (and r->bad set) when it runs past the end. */
static const char *get_cstr(rd *r, const char *what)
{
	if (r->bad)
		return "";
	const uint8_t *q = r->p + r->pos;
	const uint8_t *nul = memchr(q, 0, r->n - r->pos);
	if (!nul) {
		r->bad = what;
		return "";
	}
	r->pos += (size_t)(nul - q) + 1;
	return (const char *)q;
}

static int bad(zl_err *err, const char *msg, const char *what)
{
	return zl_err_set(err, ZL_ELOAD, "protocol error: %s: truncated at the %s", msg, what);
}

/* The end of a decode: an overrun, or (when exact) bytes left over, is a protocol error. */
static int done(rd *r, const char *msg, int exact, zl_err *err)
{
	if (r->bad)
		return bad(err, msg, r->bad);
	if (exact && r->pos != r->n)
		return zl_err_set(err, ZL_ELOAD, "protocol error: %s: %zu unexpected bytes at the end", msg,
		                  r->n - r->pos);
	return 0;
}

int zl_vp_frame(const uint8_t hdr[5], uint8_t *type, size_t *body_len, size_t cap, zl_err *err)
{
	uint32_t len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
	*type = hdr[0];
	*body_len = 0;
	if (len < 4)
		return zl_err_set(err, ZL_ELOAD, "protocol error: message '%c' has length %u", *type >= 32 && *type < 127 ? *type : '?', len);
	if (len - 4 > cap)
		return zl_err_set(err, ZL_ELOAD, "protocol error: message '%c' of %u bytes exceeds the %zu-byte cap",
		                  *type >= 32 && *type < 127 ? *type : '?', len, cap);
	*body_len = len - 4;
	return 0;
}

int zl_vp_auth_decode(const uint8_t *p, size_t n, zl_vp_auth *out, zl_err *err)
{
	rd r = { .p = p, .n = n };
	memset(out, 0, sizeof *out);
	out->code = get_u32(&r, "code");
	switch (out->code) {
	case ZL_VP_AUTH_MD5:
	case ZL_VP_AUTH_HASH_MD5: {
		const uint8_t *salt = get_bytes(&r, 4, "salt");
		if (salt)
			memcpy(out->salt, salt, 4);
		break;
	}
	case ZL_VP_AUTH_HASH:
	case ZL_VP_AUTH_HASH_SHA512: {
		const uint8_t *salt = get_bytes(&r, 4, "salt");
		uint32_t user_salt_len = get_u32(&r, "user salt length");
		if (!r.bad && user_salt_len != 16)
			return zl_err_set(err, ZL_ELOAD, "protocol error: authentication request: user salt of %u bytes (16 expected)",
			                  user_salt_len);
		const uint8_t *user_salt = get_bytes(&r, 16, "user salt");
		if (salt && user_salt) {
			memcpy(out->salt, salt, 4);
			memcpy(out->user_salt, user_salt, 16);
		}
		break;
	}
	default:
		break; /* other methods' data (GSS tokens) is not ours to read */
	}
	return done(&r, "authentication request", 0, err);
}

int zl_vp_param_status(const uint8_t *p, size_t n, const char **name, const char **value, zl_err *err)
{
	rd r = { .p = p, .n = n };
	*name = get_cstr(&r, "name");
	*value = get_cstr(&r, "value");
	return done(&r, "ParameterStatus", 1, err);
}

int zl_vp_backend_key(const uint8_t *p, size_t n, uint32_t *pid, uint32_t *key, zl_err *err)
{
	rd r = { .p = p, .n = n };
	*pid = get_u32(&r, "process id");
	*key = get_u32(&r, "key");
	return done(&r, "BackendKeyData", 1, err);
}

int zl_vp_ready(const uint8_t *p, size_t n, char *tx_status, zl_err *err)
{
	rd r = { .p = p, .n = n };
	*tx_status = (char)get_u8(&r, "transaction status");
	int rc = done(&r, "ReadyForQuery", 1, err);
	if (!rc && *tx_status != 'I' && *tx_status != 'T' && *tx_status != 'E')
		return zl_err_set(err, ZL_ELOAD, "protocol error: ReadyForQuery: transaction status 0x%02x",
		                  (unsigned char)*tx_status);
	return rc;
}

int zl_vp_command_complete(const uint8_t *p, size_t n, const char **tag, zl_err *err)
{
	rd r = { .p = p, .n = n };
	*tag = get_cstr(&r, "tag");
	return done(&r, "CommandComplete", 1, err);
}

int zl_vp_protocol_parse(const char *s, uint32_t *out, zl_err *err)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *s < '0' || *s > '9' || *end || errno || v > UINT32_MAX || (v >> 16) != 3)
		return zl_err_set(err, ZL_ELOAD, "protocol error: protocol_version \"%.40s\" is not a 3.x version", s);
	*out = (uint32_t)v;
	return 0;
}

/* Smallest encodings, to check counts against the bytes present before allocating. */
#define TYPE_POOL_ENTRY_MIN 5u /* UInt32 oid + "" */
#define FIELD_MIN 28u          /* "" + tableOid 8 + attnum 2 + isUserType 1 + oid 4 + size 2 + nullOk 2 + isIdentity 2 + typmod 4 + format 2 */

int zl_vp_rowdesc_decode(const uint8_t *p, size_t n, zl_vp_rowdesc *out, zl_err *err)
{
	rd r = { .p = p, .n = n };
	int rc = 0;
	uint32_t *pool_oids = NULL;
	const char **pool_names = NULL;
	out->nfields = 0;
	out->fields = NULL;
	size_t nfields = get_u16(&r, "field count");
	if (nfields == 0 || r.bad) {
		rc = done(&r, "RowDescription", 0, err);
		goto out;
	}
	size_t npool = get_u32(&r, "type pool count");
	if (!r.bad && npool > (n - r.pos) / TYPE_POOL_ENTRY_MIN) {
		rc = zl_err_set(err, ZL_ELOAD, "protocol error: RowDescription: type pool of %zu entries in %zu bytes", npool, n);
		goto out;
	}
	if (npool) {
		pool_oids = calloc(npool, sizeof *pool_oids);
		pool_names = calloc(npool, sizeof *pool_names);
		if (!pool_oids || !pool_names) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory decoding RowDescription");
			goto out;
		}
	}
	for (size_t i = 0; i < npool && !r.bad; i++) {
		pool_oids[i] = get_u32(&r, "type pool oid");
		pool_names[i] = get_cstr(&r, "type pool name");
	}
	if (!r.bad && nfields > (n - r.pos) / FIELD_MIN) {
		rc = zl_err_set(err, ZL_ELOAD, "protocol error: RowDescription: %zu fields in %zu bytes", nfields, n);
		goto out;
	}
	out->fields = calloc(nfields, sizeof *out->fields);
	if (!out->fields) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory decoding RowDescription");
		goto out;
	}
	out->nfields = nfields;
	for (size_t i = 0; i < nfields && !r.bad; i++) {
		zl_vp_field *f = &out->fields[i];
		f->name = get_cstr(&r, "field name");
		f->table_oid = get_u64(&r, "table oid");
		if (f->table_oid) {
			f->schema = get_cstr(&r, "schema name");
			f->table = get_cstr(&r, "table name");
		}
		f->attnum = get_u16(&r, "attribute number");
		f->is_user_type = get_u8(&r, "user type flag");
		f->type_oid = get_u32(&r, "type oid");
		f->size = (int16_t)get_u16(&r, "type size");
		f->null_ok = get_u16(&r, "nullable flag");
		f->is_identity = get_u16(&r, "identity flag");
		f->typmod = (int32_t)get_u32(&r, "type modifier");
		f->format = get_u16(&r, "format code");
		if (!r.bad && f->is_user_type == 1) {
			if (f->type_oid >= npool) {
				rc = zl_err_set(err, ZL_ELOAD, "protocol error: RowDescription: field %zu names type pool entry %u of %zu",
				                i + 1, f->type_oid, npool);
				goto out;
			}
			f->user_type = pool_names[f->type_oid];
			f->type_oid = pool_oids[f->type_oid];
		}
	}
	rc = done(&r, "RowDescription", 1, err);
out:
	free(pool_oids);
	free(pool_names);
	if (rc)
		zl_vp_rowdesc_release(out);
	return rc;
}

void zl_vp_rowdesc_release(zl_vp_rowdesc *desc)
{
	if (!desc)
		return;
	free(desc->fields);
	desc->fields = NULL;
	desc->nfields = 0;
}

int zl_vp_datarow_decode(const uint8_t *p, size_t n, zl_vp_datarow *out, zl_err *err)
{
	rd r = { .p = p, .n = n };
	int rc = 0;
	memset(out, 0, sizeof *out);
	size_t ncols = get_u16(&r, "column count");
	if (r.bad || ncols == 0)
		goto out;
	if (ncols > (n - r.pos) / 4) {
		rc = zl_err_set(err, ZL_ELOAD, "protocol error: DataRow: %zu columns in %zu bytes", ncols, n);
		goto out;
	}
	out->vals = calloc(ncols, sizeof *out->vals);
	out->lens = calloc(ncols, sizeof *out->lens);
	if (!out->vals || !out->lens) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory decoding DataRow");
		goto out;
	}
	out->ncols = ncols;
	for (size_t i = 0; i < ncols && !r.bad; i++) {
		int32_t len = (int32_t)get_u32(&r, "value length");
		if (r.bad || len == -1)
			continue;
		if (len < 0) {
			rc = zl_err_set(err, ZL_ELOAD, "protocol error: DataRow: column %zu has length %d", i + 1, len);
			goto out;
		}
		out->vals[i] = get_bytes(&r, (size_t)len, "value");
		out->lens[i] = (size_t)len;
	}
out:
	if (!rc)
		rc = done(&r, "DataRow", 1, err);
	if (rc)
		zl_vp_datarow_release(out);
	return rc;
}

void zl_vp_datarow_release(zl_vp_datarow *dr)
{
	if (!dr)
		return;
	free(dr->vals);
	free(dr->lens);
	memset(dr, 0, sizeof *dr);
}

int zl_vp_notice_decode(const uint8_t *p, size_t n, zl_vp_notice *out, zl_err *err)
{
	rd r = { .p = p, .n = n };
	memset(out, 0, sizeof *out);
	while (r.pos < r.n && !r.bad) {
		uint8_t code = get_u8(&r, "field code");
		if (code == 0)
			break;
		const char *v = get_cstr(&r, "field value");
		switch (code) {
		case 'S': out->severity = v; break;
		case 'C': out->sqlstate = v; break;
		case 'M': out->message = v; break;
		case 'D': out->detail = v; break;
		case 'H': out->hint = v; break;
		case 'V': out->vcode = v; break;
		case 'R': out->routine = v; break;
		default: break; /* position, file, line, ... */
		}
	}
	return done(&r, "ErrorResponse", 0, err);
}

int zl_vp_verify_files_decode(const uint8_t *p, size_t n, zl_vp_verify_files *out, zl_err *err)
{
	rd r = { .p = p, .n = n };
	memset(out, 0, sizeof *out);
	out->nfiles = get_u16(&r, "file count");
	for (size_t i = 0; i < out->nfiles && !r.bad; i++) {
		const char *f = get_cstr(&r, "file name");
		if (i == 0)
			out->first_file = f;
	}
	out->rejected_file = get_cstr(&r, "rejected data file");
	out->exceptions_file = get_cstr(&r, "exceptions file");
	return done(&r, "VerifyFiles", 1, err);
}

int zl_vp_copy_in_decode(const uint8_t *p, size_t n, uint8_t *format, size_t *ncols, zl_err *err)
{
	rd r = { .p = p, .n = n };
	*format = get_u8(&r, "format");
	*ncols = get_u16(&r, "column count");
	get_bytes(&r, *ncols * 2, "column formats");
	return done(&r, "CopyInResponse", 1, err);
}

int zl_vp_load_file_decode(const uint8_t *p, size_t n, const char **name, zl_err *err)
{
	rd r = { .p = p, .n = n };
	*name = get_cstr(&r, "file name");
	return done(&r, "LoadFile", 1, err);
}

int zl_vp_write_file_decode(const uint8_t *p, size_t n, const char **name, const uint8_t **data,
                            size_t *len, zl_err *err)
{
	rd r = { .p = p, .n = n };
	*name = get_cstr(&r, "file name");
	uint32_t declared = get_u32(&r, "file length");
	*data = get_bytes(&r, declared, "file content");
	*len = *data ? declared : 0;
	int rc = done(&r, "WriteFile", 1, err);
	if (!rc && !**name && *len % 8)
		return zl_err_set(err, ZL_ELOAD, "protocol error: WriteFile: %zu bytes of rejected row numbers (not a multiple of 8)", *len);
	return rc;
}

int zl_vp_rejected_rows(const uint8_t *data, size_t len, uint64_t **rows, size_t *nrows,
                        size_t max_rows, uint64_t *total, zl_err *err)
{
	if (len % 8)
		return zl_err_set(err, ZL_ELOAD, "protocol error: %zu bytes of rejected row numbers (not a multiple of 8)", len);
	size_t count = len / 8, room = *nrows < max_rows ? max_rows - *nrows : 0;
	size_t keep = count < room ? count : room;
	*total += count;
	if (!keep)
		return 0;
	uint64_t *grown = realloc(*rows, (*nrows + keep) * sizeof *grown);
	if (!grown)
		return zl_err_set(err, ZL_ENOMEM, "out of memory keeping %zu rejected row numbers", *nrows + keep);
	*rows = grown;
	for (size_t i = 0; i < keep; i++) {
		uint64_t v = 0;
		for (int b = 7; b >= 0; b--)
			v = v << 8 | data[i * 8 + (size_t)b];
		grown[(*nrows)++] = v;
	}
	return 0;
}

int zl_vp_lb_response_decode(const uint8_t *p, size_t n, uint32_t *port, const char **host, zl_err *err)
{
	rd r = { .p = p, .n = n };
	*port = get_u32(&r, "port");
	*host = get_cstr(&r, "host");
	int rc = done(&r, "LoadBalanceResponse", 1, err);
	if (!rc && (!**host || *port == 0 || *port > 65535))
		return zl_err_set(err, ZL_ELOAD, "protocol error: LoadBalanceResponse names \"%.200s\" port %u", *host, *port);
	return rc;
}
