/* The simple query protocol: results (last statement's rows), errors (first one), to ReadyForQuery. */
#include "vertica/vconn.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vertica/vproto.h"

char zl_vc_printable(uint8_t type)
{
	return type >= 32 && type < 127 ? (char)type : '?';
}

void zl_vc_result_release(zl_vc_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->names && i < r->ncols; i++)
		free(r->names[i]);
	for (size_t i = 0; r->values && i < r->nrows * r->ncols; i++)
		free(r->values[i]);
	free(r->names);
	free(r->values);
	free(r->tag);
	memset(r, 0, sizeof *r);
}

void zl_vcq_init(zl_vcq *q, zl_vc_result *res)
{
	memset(q, 0, sizeof *q);
	q->res = res ? res : &q->scratch;
	memset(q->res, 0, sizeof *q->res);
}

void zl_vcq_release(zl_vcq *q)
{
	zl_vc_result_release(&q->scratch);
}

void zl_vcq_fail(zl_vcq *q, const zl_err *e)
{
	if (!q->failed) {
		q->failed = 1;
		q->first = *e;
	}
}

/* A new statement's result replaces the previous one. */
static void result_reset(zl_vcq *q)
{
	zl_vc_result_release(q->res);
	q->alloc_rows = 0;
	q->bytes = 0;
}

static int on_rowdesc(zl_vc *c, zl_vcq *q, zl_err *err)
{
	zl_vp_rowdesc rd;
	int rc = zl_vp_rowdesc_decode(c->body, c->body_len, &rd, err);
	if (rc)
		return zl_vcio_fail_err(c, err);
	result_reset(q);
	q->have_desc = 1;
	zl_vc_result *r = q->res;
	if (rd.nfields) {
		r->names = calloc(rd.nfields, sizeof *r->names);
		if (!r->names) {
			rc = zl_vcio_fail(c, ZL_ENOMEM, err, "out of memory for a result of %zu columns", rd.nfields);
			goto out;
		}
		r->ncols = rd.nfields;
	}
	for (size_t i = 0; i < rd.nfields; i++)
		if (!(r->names[i] = strdup(rd.fields[i].name))) {
			rc = zl_vcio_fail(c, ZL_ENOMEM, err, "out of memory for column names");
			goto out;
		}
out:
	zl_vp_rowdesc_release(&rd);
	return rc;
}

static int grow_rows(zl_vc *c, zl_vcq *q, zl_err *err)
{
	zl_vc_result *r = q->res;
	if (r->nrows < q->alloc_rows)
		return 0;
	size_t want = q->alloc_rows ? q->alloc_rows * 2 : 16;
	if (want > SIZE_MAX / sizeof(char *) / r->ncols)
		return zl_vcio_fail(c, ZL_ENOMEM, err, "result too large");
	char **grown = realloc(r->values, want * r->ncols * sizeof *grown);
	if (!grown)
		return zl_vcio_fail(c, ZL_ENOMEM, err, "out of memory for %zu result rows", want);
	r->values = grown;
	q->alloc_rows = want;
	return 0;
}

static int on_datarow(zl_vc *c, zl_vcq *q, zl_err *err)
{
	zl_vp_datarow dr;
	zl_vc_result *r = q->res;
	if (q->failed) /* after an error nothing more is kept */
		return 0;
	if (!q->have_desc)
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: DataRow without a RowDescription");
	int rc = zl_vp_datarow_decode(c->body, c->body_len, &dr, err);
	if (rc)
		return zl_vcio_fail_err(c, err);
	if (dr.ncols != r->ncols) {
		rc = zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: DataRow of %zu columns in a result of %zu",
		                  dr.ncols, r->ncols);
		goto out;
	}
	if (r->ncols == 0)
		goto out;
	q->bytes += c->body_len;
	if (q->bytes > ZL_VC_RESULT_CAP) {
		zl_err e;
		zl_err_set(&e, ZL_ELOAD, "%s: result exceeds %zu MiB: not kept", c->peer, ZL_VC_RESULT_CAP >> 20);
		zl_vcq_fail(q, &e);
		goto out;
	}
	if ((rc = grow_rows(c, q, err)) != 0)
		goto out;
	char **row = r->values + r->nrows * r->ncols;
	for (size_t i = 0; i < r->ncols; i++) {
		row[i] = NULL;
		if (dr.vals[i] && !(row[i] = strndup((const char *)dr.vals[i], dr.lens[i]))) {
			for (size_t j = 0; j < i; j++)
				free(row[j]);
			rc = zl_vcio_fail(c, ZL_ENOMEM, err, "out of memory for a result row");
			goto out;
		}
	}
	r->nrows++;
out:
	zl_vp_datarow_release(&dr);
	return rc;
}

static int on_complete(zl_vc *c, zl_vcq *q, const char *tag, zl_err *err)
{
	if (!q->have_desc)
		result_reset(q);
	q->have_desc = 0;
	free(q->res->tag);
	q->res->tag = tag ? strdup(tag) : NULL;
	if (tag && !q->res->tag)
		return zl_vcio_fail(c, ZL_ENOMEM, err, "out of memory");
	return 0;
}

/* An ErrorResponse: the first one is the statement's error; a FATAL one ends the session. */
static int on_error(zl_vc *c, zl_vcq *q, zl_err *err)
{
	zl_vp_notice n;
	zl_err e;
	if (zl_vp_notice_decode(c->body, c->body_len, &n, err))
		return zl_vcio_fail_err(c, err);
	zl_vp_error_set(&e, &n);
	zl_vcq_fail(q, &e);
	if (n.severity && (strcasecmp(n.severity, "FATAL") == 0 || strcasecmp(n.severity, "PANIC") == 0)) {
		*err = q->first;
		zl_vcio_fail(c, ZL_ETRANSIENT, &e, "the server ended the session: %.200s", n.message ? n.message : "");
		return err->code;
	}
	return 0;
}

int zl_vcq_take(zl_vc *c, zl_vcq *q, zl_err *err)
{
	int rc = 0;
	switch (c->type) {
	case 'T':
		rc = q->failed ? 0 : on_rowdesc(c, q, err);
		break;
	case 'D':
		rc = on_datarow(c, q, err);
		break;
	case 'C': {
		const char *tag;
		if (zl_vp_command_complete(c->body, c->body_len, &tag, err))
			return zl_vcio_fail_err(c, err);
		rc = q->failed ? 0 : on_complete(c, q, tag, err);
		break;
	}
	case 'I':
		rc = q->failed ? 0 : on_complete(c, q, NULL, err);
		break;
	case 'E':
		rc = on_error(c, q, err);
		break;
	case 'K':
	case 'c': /* CopyDoneResponse after a COPY LOCAL: nothing to do */
		break;
	default:
		return 0;
	}
	return rc ? rc : 1;
}

int zl_vcq_finish(zl_vc *c, zl_vcq *q, zl_err *err)
{
	for (;;) {
		if (zl_vcio_next(c, err))
			return err->code;
		int taken = zl_vcq_take(c, q, err);
		if (taken < 0)
			return taken;
		if (taken)
			continue;
		if (c->type == 'Z')
			break;
		if (c->type == 'G' || c->type == 'F') {
			zl_err e;
			zl_err_set(&e, ZL_ELOAD, "%s: a COPY FROM STDIN or FROM LOCAL needs zl_vc_copy_local_stdin", c->peer);
			zl_vcq_fail(q, &e);
			if (zl_vcio_refuse_copy(c, "no data: zload runs COPY only through its COPY call", err))
				return err->code;
			continue;
		}
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: unexpected message '%c' in a query result",
		                    zl_vc_printable(c->type));
	}
	if (zl_vp_ready(c->body, c->body_len, &c->tx_status, err))
		return zl_vcio_fail_err(c, err);
	if (q->failed) {
		*err = q->first;
		return err->code;
	}
	return 0;
}

int zl_vc_query(zl_vc *c, const char *sql, zl_vc_result *res, zl_err *err)
{
	zl_vcq q;
	zl_vcq_init(&q, res);
	int rc = zl_vp_query(&c->out, sql, err);
	if (!rc)
		rc = zl_vcio_flush(c, err);
	if (!rc)
		rc = zl_vcq_finish(c, &q, err);
	zl_vcq_release(&q);
	zl_vcio_shrink(c);
	return rc;
}
