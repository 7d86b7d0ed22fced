/* Vertica wire messages on byte buffers: encoders append to a caller's zl_buf, decoders read one
 * received message body (bounded, never past its end) and return pointers into that body, which
 * stays owned by the caller; arrays a decoder allocates are freed by its _release. No I/O here. */
#ifndef ZL_VPROTO_H
#define ZL_VPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define ZL_VP_MSG_CAP ((size_t)64 << 20)      /* largest message body accepted from a server */
#define ZL_VP_PROTO(major, minor) ((uint32_t)(major) << 16 | (uint32_t)(minor))
#define ZL_VP_PROTO_FIXED ZL_VP_PROTO(3, 5)    /* the Startup version field */
#define ZL_VP_PROTO_REQUEST ZL_VP_PROTO(3, 16) /* what we ask for in protocol_version */
#define ZL_VP_SSL_REQUEST 80877103u
#define ZL_VP_LB_REQUEST 80936960u             /* 1235 << 16 */

/* Authentication request codes ('R'). */
enum {
	ZL_VP_AUTH_OK = 0, ZL_VP_AUTH_CLEARTEXT = 3, ZL_VP_AUTH_MD5 = 5, ZL_VP_AUTH_CHANGE_PASSWORD = 9,
	ZL_VP_AUTH_PASSWORD_CHANGED = 10, ZL_VP_AUTH_PASSWORD_GRACE = 11, ZL_VP_AUTH_HASH = 65536,
	ZL_VP_AUTH_HASH_MD5 = 65541, ZL_VP_AUTH_HASH_SHA512 = 66048,
};

/* ---- encoders: each returns 0 or a negative ZL_E* with err set ---- */

/* Startup: version 3.5, protocol_version as a raw Int32 + NUL, then name/value pairs
 * (pairs[0], pairs[1], ... up to a NULL name; a NULL value skips its pair), then the final NUL. */
int zl_vp_startup(zl_buf *b, uint32_t requested, const char *const *pairs, zl_err *err);
int zl_vp_ssl_request(zl_buf *b, zl_err *err);
int zl_vp_lb_request(zl_buf *b, zl_err *err);
int zl_vp_query(zl_buf *b, const char *sql, zl_err *err);
int zl_vp_password(zl_buf *b, const char *text, zl_err *err);
/* VerifiedFiles: count as Int32 from protocol 3.15, else Int16; then {cstring name, UInt64 size}. */
int zl_vp_verified_files(zl_buf *b, uint32_t protocol, size_t n, const char *const *names,
                         const uint64_t *sizes, zl_err *err);
int zl_vp_copy_data(zl_buf *b, const void *data, size_t n, zl_err *err);
/* The 5-byte header of a CopyData of n bytes (n <= ZL_VP_MSG_CAP), for data sent separately. */
void zl_vp_copy_data_header(uint8_t hdr[5], size_t n);
int zl_vp_end_of_batch(zl_buf *b, zl_err *err);
int zl_vp_copy_done(zl_buf *b, zl_err *err);
int zl_vp_copy_fail(zl_buf *b, const char *message, zl_err *err);
int zl_vp_copy_error(zl_buf *b, const char *src_file, int32_t line, const char *func,
                     const char *message, zl_err *err);
int zl_vp_terminate(zl_buf *b, zl_err *err);

/* ---- decoders: 0, or ZL_ELOAD "protocol error: ..." for a malformed body ---- */

/* A frame header (type byte + Int32 length counting itself): the body length, at most cap. */
int zl_vp_frame(const uint8_t hdr[5], uint8_t *type, size_t *body_len, size_t cap, zl_err *err);

typedef struct zl_vp_auth {
	uint32_t code;
	uint8_t salt[4];       /* MD5 and SHA-512 */
	uint8_t user_salt[16]; /* SHA-512 */
} zl_vp_auth;
int zl_vp_auth_decode(const uint8_t *p, size_t n, zl_vp_auth *out, zl_err *err);

int zl_vp_param_status(const uint8_t *p, size_t n, const char **name, const char **value, zl_err *err);
int zl_vp_backend_key(const uint8_t *p, size_t n, uint32_t *pid, uint32_t *key, zl_err *err);
int zl_vp_ready(const uint8_t *p, size_t n, char *tx_status, zl_err *err);
int zl_vp_command_complete(const uint8_t *p, size_t n, const char **tag, zl_err *err);
/* A decimal protocol_version ("196624"): 0, or ZL_ELOAD when it is not one. */
int zl_vp_protocol_parse(const char *s, uint32_t *out, zl_err *err);

typedef struct zl_vp_field {
	const char *name;
	uint64_t table_oid;
	const char *schema, *table;  /* NULL when table_oid is 0 */
	uint16_t attnum;
	uint8_t is_user_type;
	uint32_t type_oid;           /* the base type's oid, resolved through the type pool */
	const char *user_type;       /* the pool's type name for a user type, else NULL */
	int16_t size;
	uint16_t null_ok, is_identity;
	int32_t typmod;
	uint16_t format;
} zl_vp_field;

typedef struct zl_vp_rowdesc {
	size_t nfields;
	zl_vp_field *fields;
} zl_vp_rowdesc;
/* Vertica's RowDescription (no parentAttrNum: we never ask for complex types). */
int zl_vp_rowdesc_decode(const uint8_t *p, size_t n, zl_vp_rowdesc *out, zl_err *err);
void zl_vp_rowdesc_release(zl_vp_rowdesc *rd);

typedef struct zl_vp_datarow {
	size_t ncols;
	const uint8_t **vals; /* NULL for SQL NULL; not NUL-terminated */
	size_t *lens;
} zl_vp_datarow;
int zl_vp_datarow_decode(const uint8_t *p, size_t n, zl_vp_datarow *out, zl_err *err);
void zl_vp_datarow_release(zl_vp_datarow *dr);

/* ErrorResponse and NoticeResponse fields (NULL when absent). */
typedef struct zl_vp_notice {
	const char *severity, *sqlstate, *message, *detail, *hint, *vcode, *routine;
} zl_vp_notice;
int zl_vp_notice_decode(const uint8_t *p, size_t n, zl_vp_notice *out, zl_err *err);

typedef struct zl_vp_verify_files {
	size_t nfiles;
	const char *first_file;      /* NULL when nfiles is 0 */
	const char *rejected_file, *exceptions_file;  /* "" when none */
} zl_vp_verify_files;
int zl_vp_verify_files_decode(const uint8_t *p, size_t n, zl_vp_verify_files *out, zl_err *err);

int zl_vp_copy_in_decode(const uint8_t *p, size_t n, uint8_t *format, size_t *ncols, zl_err *err);
int zl_vp_load_file_decode(const uint8_t *p, size_t n, const char **name, zl_err *err);
/* WriteFile: the file name ("" for RETURNREJECTED row numbers) and its content. */
int zl_vp_write_file_decode(const uint8_t *p, size_t n, const char **name, const uint8_t **data,
                            size_t *len, zl_err *err);
/* RETURNREJECTED content: len/8 little-endian UInt64 row numbers appended to *rows (grown with
 * realloc, at most max_rows in all; the count beyond that is only added to *total). */
int zl_vp_rejected_rows(const uint8_t *data, size_t len, uint64_t **rows, size_t *nrows,
                        size_t max_rows, uint64_t *total, zl_err *err);
/* LoadBalanceResponse body (after the 'Y' and its length): port and host. */
int zl_vp_lb_response_decode(const uint8_t *p, size_t n, uint32_t *port, const char **host, zl_err *err);

/* ---- errors ---- */

/* Fills err from an ErrorResponse: "MESSAGE [SQLSTATE 42V01, Vertica 4566]", with err->sqlstate,
 * ZL_ETRANSIENT or ZL_ELOAD as zl_vp_transient says. Returns the code. */
int zl_vp_error_set(zl_err *err, const zl_vp_notice *e);
/* Whether a server error is worth retrying: SQLSTATE classes 08, 40, 53, 57, V1 (lost
 * connectivity), 55P03 and 55V03 (lock timeouts), or a message naming a node or lock failure. */
int zl_vp_transient(const char *sqlstate, const char *message);

#endif
