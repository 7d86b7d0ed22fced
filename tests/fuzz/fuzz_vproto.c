/* libFuzzer target over the Vertica message decoders: the input is a stream of backend frames
 * (type, Int32 length, body); each body goes to its type's decoder, an unknown type's to all of
 * them. Decoders must return 0 or a clean "protocol error", never read outside the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "vertica/vproto.h"

#define FUZZ_CAP ((size_t)1 << 20)

static void check_error(int rc, const zl_err *err)
{
	if (rc == 0)
		return;
	if (rc != ZL_ELOAD && rc != ZL_ENOMEM)
		abort();
	if (rc == ZL_ELOAD && strncmp(err->msg, "protocol error: ", 16) != 0)
		abort();
}

/* Copies the body so that ASan sees exactly its bytes: no slack past the end. */
static void decode(uint8_t type, const uint8_t *p, size_t n, int all)
{
	zl_err err;
	int rc;
	if (all || type == 'R') {
		zl_vp_auth a;
		check_error(zl_vp_auth_decode(p, n, &a, &err), &err);
	}
	if (all || type == 'S') {
		const char *name, *value;
		rc = zl_vp_param_status(p, n, &name, &value, &err);
		check_error(rc, &err);
		if (!rc) {
			uint32_t v;
			check_error(zl_vp_protocol_parse(value, &v, &err), &err);
		}
	}
	if (all || type == 'K') {
		uint32_t pid, key;
		check_error(zl_vp_backend_key(p, n, &pid, &key, &err), &err);
	}
	if (all || type == 'Z') {
		char tx;
		check_error(zl_vp_ready(p, n, &tx, &err), &err);
	}
	if (all || type == 'C') {
		const char *tag;
		check_error(zl_vp_command_complete(p, n, &tag, &err), &err);
	}
	if (all || type == 'T') {
		zl_vp_rowdesc rd;
		rc = zl_vp_rowdesc_decode(p, n, &rd, &err);
		check_error(rc, &err);
		for (size_t i = 0; !rc && i < rd.nfields; i++) /* every string must be inside the body */
			if (strlen(rd.fields[i].name) >= n || (rd.fields[i].table && strlen(rd.fields[i].table) >= n))
				abort();
		zl_vp_rowdesc_release(&rd);
	}
	if (all || type == 'D') {
		zl_vp_datarow dr;
		rc = zl_vp_datarow_decode(p, n, &dr, &err);
		check_error(rc, &err);
		size_t sum = 0;
		for (size_t i = 0; !rc && i < dr.ncols; i++)
			if (dr.vals[i]) {
				if (dr.vals[i] < p || dr.vals[i] + dr.lens[i] > p + n)
					abort();
				for (size_t j = 0; j < dr.lens[i]; j++)
					sum += dr.vals[i][j];
			}
		(void)sum;
		zl_vp_datarow_release(&dr);
	}
	if (all || type == 'E' || type == 'N') {
		zl_vp_notice nt;
		rc = zl_vp_notice_decode(p, n, &nt, &err);
		check_error(rc, &err);
		if (!rc) {
			zl_err e;
			zl_vp_error_set(&e, &nt);
			if (e.code != ZL_ELOAD && e.code != ZL_ETRANSIENT)
				abort();
		}
	}
	if (all || type == 'F') {
		zl_vp_verify_files vf;
		check_error(zl_vp_verify_files_decode(p, n, &vf, &err), &err);
	}
	if (all || type == 'G') {
		uint8_t fmt;
		size_t ncols;
		check_error(zl_vp_copy_in_decode(p, n, &fmt, &ncols, &err), &err);
	}
	if (all || type == 'H') {
		const char *name;
		check_error(zl_vp_load_file_decode(p, n, &name, &err), &err);
	}
	if (all || type == 'O') {
		const char *name;
		const uint8_t *data;
		size_t len;
		rc = zl_vp_write_file_decode(p, n, &name, &data, &len, &err);
		check_error(rc, &err);
		if (!rc && !*name) {
			uint64_t *rows = NULL, total = 0;
			size_t nrows = 0;
			check_error(zl_vp_rejected_rows(data, len, &rows, &nrows, 64, &total, &err), &err);
			check_error(zl_vp_rejected_rows(data, len, &rows, &nrows, 64, &total, &err), &err);
			if (nrows > 64 || total != 2 * (len / 8))
				abort();
			free(rows);
		}
	}
	if (all || type == 'Y') {
		uint32_t port;
		const char *host;
		check_error(zl_vp_lb_response_decode(p, n, &port, &host, &err), &err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char known[] = "RSKZCTDENFGHOY";
	size_t pos = 0;
	while (size - pos >= 5) {
		uint8_t type;
		size_t n;
		zl_err err;
		int rc = zl_vp_frame(data + pos, &type, &n, FUZZ_CAP, &err);
		check_error(rc, &err);
		if (rc)
			break;
		pos += 5;
		if (n > size - pos)
			n = size - pos; /* a short last frame: decode what is there */
		uint8_t *body = malloc(n ? n : 1);
		if (!body)
			return 0;
		memcpy(body, data + pos, n);
		decode(type, body, n, type == 0 || !memchr(known, type, sizeof known - 1));
		free(body);
		pos += n;
	}
	return 0;
}
