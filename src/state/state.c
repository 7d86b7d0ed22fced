/* The state backend registry: the only place that knows every backend. */
#include "state/state.h"
#include "state/state_sql.h"
#include "util/fsutil.h"
#include "util/url_scheme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const zl_state_ops zl_state_sqlite_ops, zl_state_pg_ops, zl_state_postgres_ops, zl_state_dynamodb_ops;

#define MAX_BACKENDS 8

/* The built-in backends, then any registered (tests register in-memory and fault backends). */
static const zl_state_ops *backends[MAX_BACKENDS] = {
	&zl_state_sqlite_ops,
	&zl_state_pg_ops,
	&zl_state_postgres_ops,
	&zl_state_dynamodb_ops,
};
static size_t nbackends = 4;

int zl_state_register(const zl_state_ops *ops)
{
	if (nbackends == MAX_BACKENDS)
		return ZL_ENOMEM;
	backends[nbackends++] = ops;
	return 0;
}

int zl_state_open(const char *url, zl_state **out, zl_err *err)
{
	const char *schemes[MAX_BACKENDS], *target;
	*out = NULL;
	for (size_t i = 0; i < nbackends; i++)
		schemes[i] = backends[i]->scheme;
	int i = zl_url_pick_scheme(url, schemes, nbackends, "state URL", "sqlite:/var/lib/zload/state.db", &target,
	                           err);
	return i < 0 ? i : backends[i]->open(target, out, err);
}

int zl_state_init(const char *url, int *created, zl_err *err)
{
	const char *schemes[MAX_BACKENDS], *target;
	int made = 0, ret;
	zl_state *st = NULL;
	for (size_t i = 0; i < nbackends; i++)
		schemes[i] = backends[i]->scheme;
	int i = zl_url_pick_scheme(url, schemes, nbackends, "state URL", "sqlite:/var/lib/zload/state.db", &target,
	                           err);
	if (i < 0)
		return i;
	if (backends[i]->init && (ret = backends[i]->init(target, &made, err)))
		return ret;
	if (created)
		*created = made;
	if ((ret = backends[i]->open(target, &st, err)))
		return ret;
	zl_state_close(st);
	return 0;
}

void zl_state_close(zl_state *st)
{
	if (st)
		st->ops->close(st);
}

char *zl_state_default_url(void)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char path[4096];
	if (xdg && *xdg)
		snprintf(path, sizeof path, "%s/zload/state.db", xdg);
	else
		snprintf(path, sizeof path, "%s/.local/state/zload/state.db", home && *home ? home : ".");
	zl_mkdirs_for(path, 0700); /* on failure, opening the database reports the real problem */
	char *url = malloc(strlen(path) + 8);
	if (url)
		sprintf(url, "sqlite:%s", path);
	return url;
}

void zl_state_sql_status_in(zl_buf *sql, unsigned mask, zl_sql_status_kind kind)
{
	int n = kind == ZL_SQL_BATCH_STATUS ? ZL_BATCH_NSTATUS : ZL_NOTICE_NSTATUS;
	const char *sep = " AND status IN (";
	if (!mask)
		return;
	for (int i = 0; i < n; i++)
		if (mask & ZL_STATUS_BIT(i)) {
			zl_buf_printf(sql, "%s'%s'", sep,
			              kind == ZL_SQL_BATCH_STATUS ? zl_batch_status_name((zl_batch_status)i)
			                                          : zl_notice_status_name((zl_notice_status)i));
			sep = ", ";
		}
	zl_buf_adds(sql, *sep == ',' ? ")" : " AND false");
}

int zl_state_check_finish(const char *batch_id, const char *owner, zl_batch_status status, size_t nnotices,
                          zl_err *err)
{
	if (!batch_id || !owner)
		return zl_err_set(err, ZL_EINVAL, "finishing a batch needs a batch id and an owner");
	if (status != ZL_BATCH_COMPLETE && status != ZL_BATCH_ERROR && status != ZL_BATCH_LOCKED)
		return zl_err_set(err, ZL_EINVAL, "batch %s cannot finish as %s", batch_id, zl_batch_status_name(status));
	if (status == ZL_BATCH_LOCKED && nnotices)
		return zl_err_set(err, ZL_EINVAL, "batch %s: a scheduled retry queues no notifications", batch_id);
	return 0;
}

int zl_state_check_id_prefix(const char *id_prefix, char lower[ZL_UUID_LEN], zl_err *err)
{
	size_t n = strlen(id_prefix);
	if (n == 0 || n >= ZL_UUID_LEN || strspn(id_prefix, "0123456789abcdefABCDEF-") != n)
		return zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", id_prefix);
	if (n < 4 && n != ZL_UUID_LEN - 1)
		return zl_err_set(err, ZL_EINVAL, "batch id \"%s\" is too short: give at least 4 characters", id_prefix);
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)(id_prefix[i] >= 'A' && id_prefix[i] <= 'F' ? id_prefix[i] + 32 : id_prefix[i]);
	return 0;
}
