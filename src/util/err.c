#include "util/err.h"

#include <stdio.h>
#include <string.h>

int zl_err_set(zl_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
		err->sqlstate[0] = '\0';
	}
	return code;
}

int zl_err_prefix(zl_err *err, const char *fmt, ...)
{
	if (!err)
		return ZL_EINVAL;
	char pre[512], old[sizeof err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	size_t n = strnlen(pre, sizeof pre);
	if (n + 2 < sizeof err->msg) { /* "pre: old", cut to fit */
		memcpy(err->msg, pre, n);
		memcpy(err->msg + n, ": ", 2);
		size_t room = sizeof err->msg - n - 3, olen = strnlen(old, room);
		memcpy(err->msg + n + 2, old, olen);
		err->msg[n + 2 + olen] = '\0';
	}
	return err->code;
}

void zl_err_set_sqlstate(zl_err *err, const char *sqlstate)
{
	if (!err)
		return;
	err->sqlstate[0] = '\0';
	if (sqlstate && strlen(sqlstate) == sizeof err->sqlstate - 1)
		memcpy(err->sqlstate, sqlstate, sizeof err->sqlstate);
}

void zl_err_clear(zl_err *err)
{
	if (err) {
		err->code = ZL_OK;
		err->msg[0] = '\0';
		err->sqlstate[0] = '\0';
	}
}

const char *zl_err_name(int code)
{
	static const char *const names[] = {
		"ok", "invalid", "not found", "exists", "busy", "i/o error", "transient",
		"load failed", "out of memory", "lease lost", "state store error",
	};
	int i = -code;
	return (i >= 0 && i < (int)(sizeof names / sizeof names[0])) ? names[i] : "error";
}
