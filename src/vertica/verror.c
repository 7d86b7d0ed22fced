/* Server errors to zl_err: the text callers log and the retry decision. */
#include "vertica/vproto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int zl_vp_transient(const char *sqlstate, const char *message)
{
	static const char *const prefixes[] = { "08", "40", "53", "57", "V1", "55P03", "55V03", NULL };
	/* Vertica's wording when a node drops out or a lock wait times out [unconfirmed codes]. */
	static const char *const phrases[] = { "node failure", "node down", "nodes down", "locking failure",
		                                   "lock timeout", NULL };
	for (int i = 0; sqlstate && prefixes[i]; i++)
		if (strncmp(sqlstate, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	for (int i = 0; message && phrases[i]; i++)
		if (strcasestr(message, phrases[i]))
			return 1;
	return 0;
}

int zl_vp_error_set(zl_err *err, const zl_vp_notice *e)
{
	const char *msg = e->message && *e->message ? e->message : "server error without a message";
	int code = zl_vp_transient(e->sqlstate, e->message) ? ZL_ETRANSIENT : ZL_ELOAD;
	const char *state = e->sqlstate && *e->sqlstate ? e->sqlstate : NULL;
	const char *vcode = e->vcode && *e->vcode ? e->vcode : NULL;
	if (state && vcode)
		zl_err_set(err, code, "%s [SQLSTATE %s, Vertica %s]", msg, state, vcode);
	else if (state)
		zl_err_set(err, code, "%s [SQLSTATE %s]", msg, state);
	else if (vcode)
		zl_err_set(err, code, "%s [Vertica %s]", msg, vcode);
	else
		zl_err_set(err, code, "%s", msg);
	zl_err_set_sqlstate(err, state);
	return code;
}
