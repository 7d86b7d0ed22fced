#include "target/pg_ledger.h"

#include <stdlib.h>
#include <string.h>

#include "target/dialect.h"
#include "target/pg_db.h"

typedef struct layout {
	int exists;
	int current;   /* has the target column */
	int parts;     /* has the part column */
	char *pkey;    /* the primary key constraint's name, or NULL */
} layout;

static int read_layout(PGconn *conn, const char *ledger, layout *l, zl_err *err)
{
	zl_buf q;
	zl_buf_init(&q, 0);
	PGresult *res = NULL;
	free(l->pkey);
	memset(l, 0, sizeof *l);
	int rc = zl_sql_ident(&q, ledger) ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 0;
	if (rc)
		goto out;
	const char *params[1] = { zl_buf_str(&q) };
	res = PQexecParams(conn, zl_dialect_pg_ledger_layout, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = zl_pg_fail(conn, res, "ledger", err);
		goto out;
	}
	l->exists = PQgetvalue(res, 0, 0)[0] == 't';
	l->current = PQgetvalue(res, 0, 1)[0] == 't';
	l->parts = PQgetvalue(res, 0, 2)[0] == 't';
	if (!PQgetisnull(res, 0, 3) && !(l->pkey = strdup(PQgetvalue(res, 0, 3))))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
out:
	PQclear(res);
	zl_buf_release(&q);
	return rc;
}

static void rollback_if_open(PGconn *conn)
{
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
}

/* Runs a migration in one transaction; a loader without the rights gets the statements its
 * owner should run. from says what the table lacks. */
static int migrate(PGconn *conn, const char *ledger, const char *pkey,
                   int (*stmts_of)(zl_buf *, const char *, const char *), const char *from, zl_err *err)
{
	zl_buf stmts, sql;
	zl_buf_init(&stmts, 0);
	zl_buf_init(&sql, 0);
	int rc = stmts_of(&stmts, ledger, pkey);
	rc = rc ? rc : zl_buf_printf(&sql, "BEGIN; %s; COMMIT", zl_buf_str(&stmts));
	if (rc) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = zl_pg_run(conn, zl_buf_str(&sql), NULL, err)) == 0)
		goto out;
	rollback_if_open(conn);
	if (strcmp(err->sqlstate, "42501") == 0) {
		char why[sizeof err->msg];
		memcpy(why, err->msg, sizeof why);
		rc = zl_err_set(err, ZL_ELOAD, "ledger table \"%s\" %s%s and this loader may not change it (%s); have its "
		                "owner run: BEGIN; %s; COMMIT;", ledger, from, strchr(from, ',') ? "," : "", why,
		                zl_buf_str(&stmts));
	} else {
		zl_err_prefix(err, "ledger table \"%s\": migrating (it %s)", ledger, from);
	}
out:
	zl_buf_release(&stmts);
	zl_buf_release(&sql);
	return rc;
}

static const char old_layout[] = "has the layout of an older zload (keyed by batch_id alone)";
static const char no_parts[] = "has no part column, which a target with parallelism above 1 needs";

/* Whether the layout l is what this loader needs. */
static int layout_ok(const layout *l, int parts)
{
	return l->exists && l->current && (l->parts || !parts);
}

int zl_pg_ledger_ensure(PGconn *conn, const char *ledger, int parts, zl_err *err)
{
	layout l = { 0 };
	zl_buf q;
	zl_buf_init(&q, 0);
	int rc = read_layout(conn, ledger, &l, err);
	if (rc || layout_ok(&l, parts))
		goto out;
	if (!l.exists) {
		if ((rc = zl_dialect_pg_ledger_create(&q, ledger) ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 0))
			goto out;
		rc = zl_pg_run(conn, zl_buf_str(&q), "ledger", err);
	} else {
		if (!l.current && (rc = migrate(conn, ledger, l.pkey, zl_dialect_pg_ledger_migrate, old_layout, err)) == 0 &&
		    parts)
			rc = read_layout(conn, ledger, &l, err); /* the key was made anew */
		if (rc == 0 && parts && !l.parts)
			rc = migrate(conn, ledger, l.pkey, zl_dialect_pg_ledger_migrate_parts, no_parts, err);
	}
	if (rc == 0)
		goto out;
	/* Another loader may have created or migrated it meanwhile (our statement then failed):
	 * what counts is the layout now. */
	zl_err first = *err;
	if (read_layout(conn, ledger, &l, err) == 0 && layout_ok(&l, parts))
		rc = 0;
	else
		*err = first;
out:
	free(l.pkey);
	zl_buf_release(&q);
	return rc;
}

/* Runs one of the key's statements ($1 batch, $2 target, $3 prefix, $4 part: nparams of them);
 * *res is its result, to check and clear, or NULL when the text could not be built. */
static int exec_key(PGconn *conn, int (*text)(zl_buf *, const char *), const char *ledger, const zl_ledger_key *k,
                    int nparams, PGresult **res, zl_err *err)
{
	zl_buf q;
	zl_buf_init(&q, 0);
	char part[16];
	snprintf(part, sizeof part, "%d", k->part);
	const char *params[4] = { k->batch_id, k->target, k->prefix ? k->prefix : "", part };
	*res = NULL;
	int rc = text(&q, ledger) ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 0;
	if (rc == 0)
		*res = PQexecParams(conn, zl_buf_str(&q), nparams, NULL, params, NULL, NULL, 0);
	zl_buf_release(&q);
	return rc;
}

int zl_pg_ledger_exists(const zl_ledger_key *k, zl_err *err)
{
	if (k->part)
		return zl_err_set(err, ZL_EEXIST, "batch %s is already in the ledger for target %s, part %d", k->batch_id,
		                  k->target, k->part);
	return zl_err_set(err, ZL_EEXIST, "batch %s is already in the ledger for target %s", k->batch_id, k->target);
}

int zl_pg_ledger_insert(PGconn *conn, const char *ledger, const zl_ledger_key *k, zl_err *err)
{
	PGresult *res = NULL;
	int rc = k->part ? exec_key(conn, zl_dialect_pg_ledger_insert_part, ledger, k, 4, &res, err)
	                 : exec_key(conn, zl_dialect_pg_ledger_insert, ledger, k, 3, &res, err);
	if (rc || PQresultStatus(res) == PGRES_COMMAND_OK)
		goto out;
	rc = zl_pg_fail(conn, res, "ledger", err);
	if (strcmp(err->sqlstate, "23505") == 0)
		rc = zl_pg_ledger_exists(k, err);
out:
	PQclear(res);
	return rc;
}
