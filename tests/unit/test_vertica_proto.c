/* Vertica wire messages: exact bytes of what we send, decoding of what servers send, the
 * password hashes' test vectors, error text and classification, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "vertica/vauth.h"
#include "vertica/vproto.h"

/* A message body under construction. */
typedef struct bytes {
	uint8_t p[4096];
	size_t n;
} bytes;

static void b_raw(bytes *b, const void *d, size_t n)
{
	assert_true(b->n + n <= sizeof b->p);
	memcpy(b->p + b->n, d, n);
	b->n += n;
}
static void b_u8(bytes *b, uint8_t v) { b_raw(b, &v, 1); }
static void b_u16(bytes *b, uint16_t v) { uint8_t x[2] = { v >> 8, v & 255 }; b_raw(b, x, 2); }
static void b_u32(bytes *b, uint32_t v) { b_u16(b, v >> 16); b_u16(b, v & 0xffff); }
static void b_u64(bytes *b, uint64_t v) { b_u32(b, v >> 32); b_u32(b, (uint32_t)v); }
static void b_str(bytes *b, const char *s) { b_raw(b, s, strlen(s) + 1); }

static void assert_protocol_error(int rc, const zl_err *err)
{
	assert_int_equal(rc, ZL_ELOAD);
	assert_int_equal(strncmp(err->msg, "protocol error: ", 16), 0);
}

static void test_startup_bytes(void **state)
{
	zl_buf b;
	zl_err err;
	zl_buf_init(&b, 0);
	const char *pairs[] = { "user", "dbadmin", "database", NULL, "client_type", "zload", NULL };
	assert_int_equal(zl_vp_startup(&b, ZL_VP_PROTO_REQUEST, pairs, &err), 0);
	static const uint8_t prefix[] = {
		0x00, 0x03, 0x00, 0x05, 'p', 'r', 'o', 't', 'o', 'c', 'o', 'l', '_', 'v', 'e', 'r', 's', 'i', 'o', 'n', 0,
		0x00, 0x03, 0x00, 0x10, 0x00, 'u', 's', 'e', 'r', 0, 'd', 'b', 'a', 'd', 'm', 'i', 'n', 0,
	};
	const uint8_t *p = (const uint8_t *)b.data;
	assert_int_equal(b.len, 4 + sizeof prefix + sizeof "client_type" + sizeof "zload" + 1);
	assert_int_equal(p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3], (int)b.len);
	assert_memory_equal(p + 4, prefix, sizeof prefix);
	/* a NULL value (database) is left out; the list ends with one NUL */
	assert_memory_equal(p + 4 + sizeof prefix, "client_type\0zload\0\0", 19);
	zl_buf_release(&b);
}

static void test_untagged_requests(void **state)
{
	zl_buf b;
	zl_err err;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_vp_ssl_request(&b, &err), 0);
	assert_memory_equal(b.data, "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
	zl_buf_reset(&b);
	assert_int_equal(zl_vp_lb_request(&b, &err), 0);
	assert_memory_equal(b.data, "\x00\x00\x00\x08\x04\xd3\x00\x00", 8);
	assert_int_equal(b.len, 8);
	zl_buf_release(&b);
}

static void test_verified_files(void **state)
{
	zl_buf b;
	zl_err err;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_vp_verified_files(&b, ZL_VP_PROTO(3, 15), 0, NULL, NULL, &err), 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, "F\x00\x00\x00\x08\x00\x00\x00\x00", 9);
	zl_buf_reset(&b);
	assert_int_equal(zl_vp_verified_files(&b, ZL_VP_PROTO(3, 14), 0, NULL, NULL, &err), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "F\x00\x00\x00\x06\x00\x00", 7);
	zl_buf_reset(&b);
	const char *names[] = { "a.csv" };
	const uint64_t sizes[] = { 0x0102030405060708ull };
	assert_int_equal(zl_vp_verified_files(&b, ZL_VP_PROTO(3, 16), 1, names, sizes, &err), 0);
	assert_int_equal(b.len, 1 + 4 + 4 + 6 + 8);
	assert_memory_equal(b.data, "F\x00\x00\x00\x16\x00\x00\x00\x01" "a.csv\0" "\x01\x02\x03\x04\x05\x06\x07\x08", 23);
	zl_buf_release(&b);
}

static void test_frontend_messages(void **state)
{
	zl_buf b;
	zl_err err;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_vp_query(&b, "SELECT 1", &err), 0);
	assert_memory_equal(b.data, "Q\x00\x00\x00\x0dSELECT 1\0", 14);
	zl_buf_reset(&b);
	assert_int_equal(zl_vp_copy_error(&b, "STDIN", 0, "zload", "disk gone", &err), 0);
	assert_int_equal(b.len, 1 + 4 + 6 + 4 + 6 + 10);
	assert_memory_equal(b.data, "e\x00\x00\x00\x1eSTDIN\0\x00\x00\x00\x00zload\0disk gone\0", 31);
	zl_buf_reset(&b);
	assert_int_equal(zl_vp_end_of_batch(&b, &err), 0);
	assert_int_equal(zl_vp_copy_done(&b, &err), 0);
	assert_int_equal(zl_vp_copy_data(&b, "ab", 2, &err), 0);
	assert_memory_equal(b.data, "j\x00\x00\x00\x04" "c\x00\x00\x00\x04" "d\x00\x00\x00\x06" "ab", 17);
	uint8_t hdr[5];
	zl_vp_copy_data_header(hdr, 256 * 1024);
	assert_memory_equal(hdr, "d\x00\x04\x00\x04", 5);
	zl_buf_release(&b);
}

static const uint8_t SALT[4] = { 1, 2, 3, 4 };
static const uint8_t USER_SALT[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void test_auth_vectors(void **state)
{
	char out[ZL_VAUTH_MAX];
	zl_err err;
	assert_int_equal(zl_vauth_md5("dbadmin", "secret", SALT, out, &err), 0);
	assert_string_equal(out, "md5eb4ab686c356bb27c27fd00833d5a193");
	assert_int_equal(zl_vauth_sha512("secret", USER_SALT, SALT, out, &err), 0);
	assert_string_equal(out, "sha512e21582d972edb2e18cd45b99bfaa64240d7e32c8be2acfd0a879e72d5d7dbc9acb2"
	                         "44e83959465455c312fdfb4b2797a05dcd0a3b30cd59263c91cd7123ab2fc");
	zl_buf b;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_vp_password(&b, out, &err), 0);
	assert_int_equal(b.len, 1 + 0x8b);
	assert_memory_equal(b.data, "p\x00\x00\x00\x8bsha512", 11);
	assert_int_equal(b.data[b.len - 1], '\0');
	zl_buf_release(&b);
}

static void test_auth_decode(void **state)
{
	zl_vp_auth a;
	zl_err err;
	bytes b = { .n = 0 };
	b_u32(&b, 66048);
	b_raw(&b, SALT, 4);
	b_u32(&b, 16);
	b_raw(&b, USER_SALT, 16);
	assert_int_equal(zl_vp_auth_decode(b.p, b.n, &a, &err), 0);
	assert_int_equal(a.code, 66048);
	assert_memory_equal(a.salt, SALT, 4);
	assert_memory_equal(a.user_salt, USER_SALT, 16);
	assert_protocol_error(zl_vp_auth_decode(b.p, b.n - 1, &a, &err), &err);
	b.p[11] = 15; /* userSaltLen 15 */
	assert_protocol_error(zl_vp_auth_decode(b.p, b.n, &a, &err), &err);
	assert_non_null(strstr(err.msg, "user salt of 15 bytes"));

	bytes m = { .n = 0 };
	b_u32(&m, 5);
	b_raw(&m, SALT, 4);
	b_u32(&m, 0xdeadbeef); /* trailing bytes are tolerated */
	assert_int_equal(zl_vp_auth_decode(m.p, m.n, &a, &err), 0);
	assert_int_equal(a.code, 5);
	assert_memory_equal(a.salt, SALT, 4);
	assert_protocol_error(zl_vp_auth_decode(m.p, 6, &a, &err), &err);
	assert_protocol_error(zl_vp_auth_decode(m.p, 2, &a, &err), &err);
	m.n = 0;
	b_u32(&m, 7); /* GSS: the token is not ours to read */
	b_raw(&m, "token", 5);
	assert_int_equal(zl_vp_auth_decode(m.p, m.n, &a, &err), 0);
	assert_int_equal(a.code, 7);
}

/* One Vertica RowDescription field. */
static void b_field(bytes *b, const char *name, uint64_t table_oid, const char *schema, const char *table,
                    uint8_t user_type, uint32_t oid)
{
	b_str(b, name);
	b_u64(b, table_oid);
	if (table_oid) {
		b_str(b, schema);
		b_str(b, table);
	}
	b_u16(b, 1);          /* attnum */
	b_u8(b, user_type);
	b_u32(b, oid);
	b_u16(b, 8);          /* size */
	b_u16(b, 1);          /* nullOk */
	b_u16(b, 0);          /* isIdentity */
	b_u32(b, 0xffffffff); /* typmod -1 */
	b_u16(b, 0);          /* format */
}

static void test_rowdesc(void **state)
{
	zl_vp_rowdesc rd;
	zl_err err;
	bytes b = { .n = 0 };
	b_u16(&b, 1);
	b_u32(&b, 0);
	b_field(&b, "Rows Loaded", 0, NULL, NULL, 0, 6);
	assert_int_equal(zl_vp_rowdesc_decode(b.p, b.n, &rd, &err), 0);
	assert_int_equal(rd.nfields, 1);
	assert_string_equal(rd.fields[0].name, "Rows Loaded");
	assert_null(rd.fields[0].schema);
	assert_null(rd.fields[0].table);
	assert_int_equal(rd.fields[0].type_oid, 6);
	assert_int_equal(rd.fields[0].typmod, -1);
	assert_int_equal(rd.fields[0].null_ok, 1);
	zl_vp_rowdesc_release(&rd);

	b.n = 0;
	b_u16(&b, 2);
	b_u32(&b, 1);
	b_u32(&b, 1043);
	b_str(&b, "GEOMETRY");
	b_field(&b, "id", 45035996273704980ull, "public", "events", 0, 6);
	b_field(&b, "shape", 45035996273704980ull, "public", "events", 1, 0);
	assert_int_equal(zl_vp_rowdesc_decode(b.p, b.n, &rd, &err), 0);
	assert_int_equal(rd.nfields, 2);
	assert_string_equal(rd.fields[0].schema, "public");
	assert_string_equal(rd.fields[0].table, "events");
	assert_int_equal(rd.fields[0].table_oid, 45035996273704980ull);
	assert_string_equal(rd.fields[1].name, "shape");
	assert_int_equal(rd.fields[1].type_oid, 1043);
	assert_string_equal(rd.fields[1].user_type, "GEOMETRY");
	zl_vp_rowdesc_release(&rd);

	/* every truncation of it is an error, never a read past the end */
	for (size_t n = 0; n < b.n; n++)
		assert_protocol_error(zl_vp_rowdesc_decode(b.p, n, &rd, &err), &err);
	/* a user type index past the pool */
	b.p[b.n - 13] = 5;
	assert_protocol_error(zl_vp_rowdesc_decode(b.p, b.n, &rd, &err), &err);

	b.n = 0; /* no columns: just the count */
	b_u16(&b, 0);
	assert_int_equal(zl_vp_rowdesc_decode(b.p, b.n, &rd, &err), 0);
	assert_int_equal(rd.nfields, 0);
	b.n = 0; /* 65535 fields in 20 bytes */
	b_u16(&b, 65535);
	b_u32(&b, 0);
	b_field(&b, "a", 0, NULL, NULL, 0, 6);
	assert_protocol_error(zl_vp_rowdesc_decode(b.p, b.n, &rd, &err), &err);
	b.n = 0; /* a huge type pool */
	b_u16(&b, 1);
	b_u32(&b, 0xffffffff);
	assert_protocol_error(zl_vp_rowdesc_decode(b.p, b.n, &rd, &err), &err);
}

static void test_datarow(void **state)
{
	zl_vp_datarow dr;
	zl_err err;
	bytes b = { .n = 0 };
	b_u16(&b, 3);
	b_u32(&b, 2);
	b_raw(&b, "42", 2);
	b_u32(&b, 0xffffffff);
	b_u32(&b, 0);
	assert_int_equal(zl_vp_datarow_decode(b.p, b.n, &dr, &err), 0);
	assert_int_equal(dr.ncols, 3);
	assert_int_equal(dr.lens[0], 2);
	assert_memory_equal(dr.vals[0], "42", 2);
	assert_null(dr.vals[1]);
	assert_non_null(dr.vals[2]);
	assert_int_equal(dr.lens[2], 0);
	zl_vp_datarow_release(&dr);
	for (size_t n = 0; n < b.n; n++)
		assert_protocol_error(zl_vp_datarow_decode(b.p, n, &dr, &err), &err);
	b.p[5] = 0x7f; /* a length past the end */
	assert_protocol_error(zl_vp_datarow_decode(b.p, b.n, &dr, &err), &err);
	b.n = 0;
	b_u16(&b, 1);
	b_u32(&b, 0xfffffffe); /* -2 */
	assert_protocol_error(zl_vp_datarow_decode(b.p, b.n, &dr, &err), &err);
	b.n = 0;
	b_u16(&b, 65535); /* a huge count in 6 bytes */
	b_u32(&b, 0);
	assert_protocol_error(zl_vp_datarow_decode(b.p, b.n, &dr, &err), &err);
	assert_non_null(strstr(err.msg, "65535 columns"));
}

static void test_error_response(void **state)
{
	zl_vp_notice n;
	zl_err err;
	bytes b = { .n = 0 };
	b_u8(&b, 'S'); b_str(&b, "ERROR");
	b_u8(&b, 'C'); b_str(&b, "42V01");
	b_u8(&b, 'M'); b_str(&b, "Relation \"nope\" does not exist");
	b_u8(&b, 'V'); b_str(&b, "4566");
	b_u8(&b, 'F'); b_str(&b, "catalog.cpp");
	b_u8(&b, 0);
	assert_int_equal(zl_vp_notice_decode(b.p, b.n, &n, &err), 0);
	assert_string_equal(n.severity, "ERROR");
	assert_string_equal(n.vcode, "4566");
	assert_int_equal(zl_vp_error_set(&err, &n), ZL_ELOAD);
	assert_string_equal(err.msg, "Relation \"nope\" does not exist [SQLSTATE 42V01, Vertica 4566]");
	assert_string_equal(err.sqlstate, "42V01");
	assert_protocol_error(zl_vp_notice_decode(b.p, 10, &n, &err), &err);

	zl_vp_notice lock = { .sqlstate = "55V03", .message = "Locking failure: Timed out X locking Table:public.t" };
	assert_int_equal(zl_vp_error_set(&err, &lock), ZL_ETRANSIENT);
	assert_string_equal(err.msg, "Locking failure: Timed out X locking Table:public.t [SQLSTATE 55V03]");
	const char *transient[] = { "08006", "40001", "53200", "57014", "57P01", "55P03", "V1001", NULL };
	for (int i = 0; transient[i]; i++)
		assert_true(zl_vp_transient(transient[i], "x"));
	const char *permanent[] = { "42601", "22V04", "23505", "55000", "XX000", NULL };
	for (int i = 0; permanent[i]; i++)
		assert_false(zl_vp_transient(permanent[i], "x"));
	assert_true(zl_vp_transient("XX000", "Node failure during execution"));
	zl_vp_notice bare = { 0 };
	assert_int_equal(zl_vp_error_set(&err, &bare), ZL_ELOAD);
	assert_string_equal(err.msg, "server error without a message");
	assert_string_equal(err.sqlstate, "");
}

static void test_write_file(void **state)
{
	zl_err err;
	const char *name;
	const uint8_t *data;
	size_t len;
	bytes b = { .n = 0 };
	b_str(&b, "");
	b_u32(&b, 16);
	b_raw(&b, "\x03\x00\x00\x00\x00\x00\x00\x00" "\x01\x02\x00\x00\x00\x00\x00\x01", 16);
	assert_int_equal(zl_vp_write_file_decode(b.p, b.n, &name, &data, &len, &err), 0);
	assert_string_equal(name, "");
	assert_int_equal(len, 16);
	uint64_t *rows = NULL, total = 0;
	size_t nrows = 0;
	assert_int_equal(zl_vp_rejected_rows(data, len, &rows, &nrows, 100, &total, &err), 0);
	assert_int_equal(nrows, 2);
	assert_int_equal(rows[0], 3);
	assert_int_equal(rows[1], 0x0100000000000201ull);
	/* a cap keeps the first ones and counts the rest */
	assert_int_equal(zl_vp_rejected_rows(data, len, &rows, &nrows, 3, &total, &err), 0);
	assert_int_equal(nrows, 3);
	assert_int_equal(total, 4);
	free(rows);

	assert_protocol_error(zl_vp_write_file_decode(b.p, b.n - 1, &name, &data, &len, &err), &err);
	b.p[4] = 12; /* declared length disagrees with the bytes present */
	assert_protocol_error(zl_vp_write_file_decode(b.p, b.n, &name, &data, &len, &err), &err);
	b.n = 0; /* RETURNREJECTED not a multiple of 8 */
	b_str(&b, "");
	b_u32(&b, 3);
	b_raw(&b, "abc", 3);
	assert_protocol_error(zl_vp_write_file_decode(b.p, b.n, &name, &data, &len, &err), &err);
	b.n = 0; /* a named file: any length */
	b_str(&b, "/tmp/rej.txt");
	b_u32(&b, 3);
	b_raw(&b, "abc", 3);
	assert_int_equal(zl_vp_write_file_decode(b.p, b.n, &name, &data, &len, &err), 0);
	assert_string_equal(name, "/tmp/rej.txt");
	assert_int_equal(len, 3);
	b.n = 0; /* a length far past the end */
	b_str(&b, "");
	b_u32(&b, 0xfffffff8);
	assert_protocol_error(zl_vp_write_file_decode(b.p, b.n, &name, &data, &len, &err), &err);
}

static void test_small_messages(void **state)
{
	zl_err err;
	const char *s1, *s2;
	assert_int_equal(zl_vp_param_status((const uint8_t *)"protocol_version\0" "196623\0", 24, &s1, &s2, &err), 0);
	assert_string_equal(s1, "protocol_version");
	uint32_t v;
	assert_int_equal(zl_vp_protocol_parse(s2, &v, &err), 0);
	assert_int_equal(v, ZL_VP_PROTO(3, 15));
	assert_protocol_error(zl_vp_protocol_parse("3.15", &v, &err), &err);
	assert_protocol_error(zl_vp_protocol_parse("", &v, &err), &err);
	assert_protocol_error(zl_vp_protocol_parse("-196623", &v, &err), &err);
	assert_protocol_error(zl_vp_protocol_parse("99999999999999999999", &v, &err), &err);
	assert_protocol_error(zl_vp_param_status((const uint8_t *)"name\0value", 10, &s1, &s2, &err), &err);

	char tx;
	assert_int_equal(zl_vp_ready((const uint8_t *)"T", 1, &tx, &err), 0);
	assert_int_equal(tx, 'T');
	assert_protocol_error(zl_vp_ready((const uint8_t *)"Q", 1, &tx, &err), &err);
	assert_protocol_error(zl_vp_ready((const uint8_t *)"II", 2, &tx, &err), &err);

	uint32_t port;
	assert_int_equal(zl_vp_lb_response_decode((const uint8_t *)"\x00\x00\x15\x39" "10.0.0.2\0", 13, &port, &s1, &err), 0);
	assert_int_equal(port, 5433);
	assert_string_equal(s1, "10.0.0.2");
	assert_protocol_error(zl_vp_lb_response_decode((const uint8_t *)"\x00\x00\x15\x39" "10.0", 8, &port, &s1, &err), &err);
	assert_protocol_error(zl_vp_lb_response_decode((const uint8_t *)"\x00\x01\x00\x00" "h\0", 6, &port, &s1, &err), &err);

	uint8_t fmt;
	size_t ncols;
	assert_int_equal(zl_vp_copy_in_decode((const uint8_t *)"\x00\x00\x02\x00\x00\x00\x00", 7, &fmt, &ncols, &err), 0);
	assert_int_equal(ncols, 2);
	assert_protocol_error(zl_vp_copy_in_decode((const uint8_t *)"\x00\xff\xff\x00\x00", 5, &fmt, &ncols, &err), &err);

	zl_vp_verify_files vf;
	assert_int_equal(zl_vp_verify_files_decode((const uint8_t *)"\x00\x00\0\0", 4, &vf, &err), 0);
	assert_int_equal(vf.nfiles, 0);
	assert_string_equal(vf.rejected_file, "");
	assert_int_equal(zl_vp_verify_files_decode((const uint8_t *)"\x00\x01" "a.csv\0/r\0\0", 12, &vf, &err), 0);
	assert_string_equal(vf.first_file, "a.csv");
	assert_string_equal(vf.rejected_file, "/r");
	assert_protocol_error(zl_vp_verify_files_decode((const uint8_t *)"\xff\xff" "a\0", 4, &vf, &err), &err);

	uint32_t pid, key;
	assert_int_equal(zl_vp_backend_key((const uint8_t *)"\x00\x00\x00\x07\x00\x00\x00\x09", 8, &pid, &key, &err), 0);
	assert_int_equal(pid, 7);
	assert_protocol_error(zl_vp_backend_key((const uint8_t *)"\x00\x00\x00\x07", 4, &pid, &key, &err), &err);
	assert_protocol_error(zl_vp_command_complete((const uint8_t *)"COMMIT", 6, &s1, &err), &err);
}

static void test_frame(void **state)
{
	uint8_t type;
	size_t n;
	zl_err err;
	assert_int_equal(zl_vp_frame((const uint8_t *)"Z\x00\x00\x00\x05", &type, &n, ZL_VP_MSG_CAP, &err), 0);
	assert_int_equal(type, 'Z');
	assert_int_equal(n, 1);
	assert_protocol_error(zl_vp_frame((const uint8_t *)"Z\x00\x00\x00\x03", &type, &n, ZL_VP_MSG_CAP, &err), &err);
	assert_protocol_error(zl_vp_frame((const uint8_t *)"D\x7f\xff\xff\xff", &type, &n, ZL_VP_MSG_CAP, &err), &err);
	assert_non_null(strstr(err.msg, "exceeds"));
	assert_int_equal(zl_vp_frame((const uint8_t *)"D\x04\x00\x00\x04", &type, &n, ZL_VP_MSG_CAP, &err), 0);
	assert_int_equal(n, ZL_VP_MSG_CAP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_bytes),
		cmocka_unit_test(test_untagged_requests),
		cmocka_unit_test(test_verified_files),
		cmocka_unit_test(test_frontend_messages),
		cmocka_unit_test(test_auth_vectors),
		cmocka_unit_test(test_auth_decode),
		cmocka_unit_test(test_rowdesc),
		cmocka_unit_test(test_datarow),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_small_messages),
		cmocka_unit_test(test_frame),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
