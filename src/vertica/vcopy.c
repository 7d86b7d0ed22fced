/* COPY ... FROM LOCAL STDIN (VerifyFiles, CopyInResponse, CopyData, EndOfBatch, WriteFile,
 * CopyDone) and the plain COPY ... FROM STDIN (CopyInResponse, CopyData, CopyDone). */
#include "vertica/vconn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vertica/vproto.h"

#define COPY_CHUNK ((size_t)256 << 10)

typedef struct copy {
	zl_vc *c;
	zl_vcq q;                /* T, D [rows loaded], C, errors */
	zl_vc_result rows;
	zl_vc_copy_result *res;
	int local;               /* VerifyFiles seen: the COPY LOCAL exchange */
	int streamed;            /* CopyInResponse seen and answered */
	int read_failed;
	int counted;             /* rows_loaded was taken at the COPY's CommandComplete */
	zl_err read_err;         /* the reader's error, returned as is */
} copy;

void zl_vc_copy_result_release(zl_vc_copy_result *r)
{
	if (!r)
		return;
	free(r->rejected_rows);
	memset(r, 0, sizeof *r);
	r->rows_loaded = -1;
}

static int on_verify_files(copy *cp, zl_err *err)
{
	zl_vc *c = cp->c;
	zl_vp_verify_files vf;
	if (cp->local || cp->streamed)
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: VerifyFiles after the COPY began");
	if (zl_vp_verify_files_decode(c->body, c->body_len, &vf, err))
		return zl_vcio_fail_err(c, err);
	cp->local = 1;
	if (vf.nfiles) {
		zl_err e;
		zl_err_set(&e, ZL_ELOAD, "%s: COPY FROM LOCAL '%.200s': zload sends data only from STDIN", c->peer,
		           vf.first_file);
		zl_vcq_fail(&cp->q, &e);
		return zl_vcio_refuse_copy(c, "zload sends COPY LOCAL data only from STDIN", err);
	}
	if (zl_vp_verified_files(&c->out, c->protocol, 0, NULL, NULL, err))
		return err->code;
	return zl_vcio_flush(c, err);
}

/* A WriteFile: RETURNREJECTED row numbers are kept; a named file's content is ignored. */
static int on_write_file(copy *cp, zl_err *err)
{
	zl_vc *c = cp->c;
	const char *name;
	const uint8_t *data;
	size_t len;
	if (zl_vp_write_file_decode(c->body, c->body_len, &name, &data, &len, err))
		return zl_vcio_fail_err(c, err);
	if (*name) {
		ZL_LOG(ZL_DEBUG, "vertica rejected-data file content ignored", ZL_S("peer", c->peer), ZL_S("file", name),
		       ZL_I("bytes", len));
		return 0;
	}
	if (zl_vp_rejected_rows(data, len, &cp->res->rejected_rows, &cp->res->nrejected, ZL_VC_REJECTED_CAP,
	                        &cp->res->rows_rejected, err))
		return zl_vcio_fail_err(c, err);
	return 0;
}

/* Reads what the server says after our EndOfBatchRequest: WriteFile... then EndOfBatchResponse.
 * An error ends the wait (the server goes on to ReadyForQuery). 1 when the batch ended. */
static int read_end_of_batch(copy *cp, zl_err *err)
{
	zl_vc *c = cp->c;
	for (;;) {
		if (zl_vcio_next(c, err))
			return err->code;
		if (c->type == 'O') {
			if (on_write_file(cp, err))
				return err->code;
		} else if (c->type == 'J') {
			return 1;
		} else if (c->type == 'E') {
			return zl_vcq_take(c, &cp->q, err) < 0 ? err->code : 0;
		} else {
			return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: unexpected message '%c' waiting for EndOfBatchResponse",
			                    zl_vc_printable(c->type));
		}
	}
}

/* A message the server sent while we stream: an error stops the stream (1), notices pass (0). */
static int peek_during_stream(copy *cp, zl_err *err)
{
	zl_vc *c = cp->c;
	if (!zl_vcio_readable(c))
		return 0;
	if (zl_vcio_next(c, err))
		return err->code;
	if (c->type == 'E')
		return zl_vcq_take(c, &cp->q, err) < 0 ? err->code : 1;
	if (c->type == 'O' && cp->local)
		return on_write_file(cp, err);
	return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: unexpected message '%c' during COPY data",
	                    zl_vc_printable(c->type));
}

/* Ends the COPY with the reader's error: CopyError (LOCAL) or CopyFail (plain). */
static int abort_with_read_error(copy *cp, zl_err *err)
{
	zl_vc *c = cp->c;
	int rc = cp->local ? zl_vp_copy_error(&c->out, "STDIN", 0, "zload", cp->read_err.msg, err)
	                   : zl_vp_copy_fail(&c->out, cp->read_err.msg, err);
	return rc ? rc : zl_vcio_flush(c, err);
}

/* Answers a CopyInResponse: the reader's bytes as CopyData, then the end of the exchange. */
static int stream(copy *cp, zl_reader *data, zl_err *err)
{
	zl_vc *c = cp->c;
	int rc = 0;
	uint8_t *chunk = NULL;
	if (cp->streamed) {
		rc = zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: a second CopyInResponse");
		goto out;
	}
	cp->streamed = 1;
	if (cp->q.failed) {
		rc = zl_vcio_refuse_copy(c, "aborted by the client", err);
		goto out;
	}
	/* page-aligned: the kernel copies a file into it fastest */
	if (posix_memalign((void **)&chunk, 4096, COPY_CHUNK)) {
		chunk = NULL;
		rc = zl_vcio_fail(c, ZL_ENOMEM, err, "out of memory for a COPY buffer");
		goto out;
	}
	for (;;) {
		const void *bytes = chunk;
		uint8_t hdr[5];
		ssize_t n = data ? zl_reader_next(data, chunk, COPY_CHUNK, &bytes, &cp->read_err) : 0;
		if (n > (ssize_t)COPY_CHUNK)
			n = zl_err_set(&cp->read_err, ZL_EIO, "%s: reader returned more than asked", data->name ? data->name : "COPY data");
		if (n < 0) {
			cp->read_failed = 1;
			if (cp->read_err.code >= 0)
				zl_err_set(&cp->read_err, ZL_EIO, "%s: read failed", data && data->name ? data->name : "COPY data");
			rc = abort_with_read_error(cp, err);
			goto out;
		}
		if (n == 0)
			break;
		zl_vp_copy_data_header(hdr, (size_t)n);
		if ((rc = zl_vcio_write2(c, hdr, sizeof hdr, bytes, (size_t)n, err)) != 0)
			goto out;
		if ((rc = peek_during_stream(cp, err)) != 0)
			goto out;
	}
	if (!cp->local) {
		if (!(rc = zl_vp_copy_done(&c->out, err)))
			rc = zl_vcio_flush(c, err);
		goto out;
	}
	if ((rc = zl_vp_end_of_batch(&c->out, err)) || (rc = zl_vcio_flush(c, err)))
		goto out;
	rc = read_end_of_batch(cp, err);
	if (rc == 1 && !(rc = zl_vp_copy_done(&c->out, err)))
		rc = zl_vcio_flush(c, err);
out:
	free(chunk);
	return rc < 0 ? rc : 0;
}

/* rows_loaded from the DataRow after a COPY LOCAL, else from a "COPY n" tag. */
static void count_rows(copy *cp)
{
	const zl_vc_result *r = &cp->rows;
	const char *v = r->ncols >= 1 && r->nrows >= 1 ? zl_vc_value(r, 0, 0) : NULL;
	char *end;
	if (!v && r->tag && strncmp(r->tag, "COPY ", 5) == 0)
		v = r->tag + 5;
	if (!v || !*v)
		return;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (!*end && !errno && n >= 0)
		cp->res->rows_loaded = n;
}

int zl_vc_copy_local_stdin(zl_vc *c, const char *sql, zl_reader *data, zl_vc_copy_result *res, zl_err *err)
{
	return zl_vc_copy_local_stdin_then(c, sql, NULL, data, res, NULL, err);
}

int zl_vc_copy_local_stdin_then(zl_vc *c, const char *sql, const char *then, zl_reader *data, zl_vc_copy_result *res,
                                zl_vc_result *then_res, zl_err *err)
{
	zl_vc_copy_result scratch;
	copy cp = { .c = c, .res = res ? res : &scratch };
	memset(cp.res, 0, sizeof *cp.res);
	cp.res->rows_loaded = -1;
	if (then_res)
		memset(then_res, 0, sizeof *then_res);
	zl_vcq_init(&cp.q, &cp.rows);
	zl_buf q;
	zl_buf_init(&q, 0);
	int rc = then && zl_buf_printf(&q, "%s;\n%s", sql, then) ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 0;
	rc = rc ? rc : zl_vp_query(&c->out, then ? zl_buf_str(&q) : sql, err);
	zl_buf_release(&q);
	if (!rc)
		rc = zl_vcio_flush(c, err);
	while (!rc) {
		if ((rc = zl_vcio_next(c, err)) != 0)
			break;
		int taken = zl_vcq_take(c, &cp.q, err);
		if (taken) {
			rc = taken < 0 ? taken : 0;
			if (c->type == 'C' && cp.streamed && !cp.counted && !cp.q.failed) { /* the COPY's own end */
				count_rows(&cp);
				cp.counted = 1;
			}
			continue;
		}
		if (c->type == 'Z') {
			if (zl_vp_ready(c->body, c->body_len, &c->tx_status, err))
				rc = zl_vcio_fail_err(c, err);
			break;
		}
		if (c->type == 'F')
			rc = on_verify_files(&cp, err);
		else if (c->type == 'G')
			rc = stream(&cp, data, err);
		else
			rc = zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: unexpected message '%c' in a COPY",
			                  zl_vc_printable(c->type));
	}
	if (cp.read_failed) { /* the cause, whatever the server answered to our abort */
		*err = cp.read_err;
		rc = err->code;
	} else if (!rc && cp.q.failed) {
		*err = cp.q.first;
		rc = err->code;
	} else if (!rc && !cp.streamed) {
		rc = zl_err_set(err, ZL_ELOAD, "%s: the statement did not ask for COPY data: %.200s", c->peer, sql);
	}
	if (!rc && !cp.counted)
		count_rows(&cp);
	if (rc || !res)
		zl_vc_copy_result_release(cp.res);
	if (!rc && then && then_res) { /* the last statement's result */
		*then_res = cp.rows;
		memset(&cp.rows, 0, sizeof cp.rows);
	}
	zl_vc_result_release(&cp.rows);
	zl_vcq_release(&cp.q);
	zl_vcio_shrink(c);
	return rc;
}
