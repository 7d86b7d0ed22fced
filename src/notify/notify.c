/* The destination registry: the only place that knows every notification scheme. */
#include "notify/notify.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>

extern const zl_notify_ops zl_notify_sns_ops, zl_notify_https_ops, zl_notify_http_ops, zl_notify_mailto_ops,
	zl_notify_exec_ops;

#define MAX_SCHEMES 12

/* The built-in schemes, then any registered (tests register a fake destination). */
static const zl_notify_ops *schemes[MAX_SCHEMES] = {
	&zl_notify_sns_ops, &zl_notify_https_ops, &zl_notify_http_ops, &zl_notify_mailto_ops, &zl_notify_exec_ops,
};
static size_t nschemes = 5;

int zl_notify_register(const zl_notify_ops *ops)
{
	for (size_t i = 0; i < nschemes; i++)
		if (schemes[i] == ops)
			return 0;
	if (nschemes == MAX_SCHEMES)
		return ZL_ENOMEM;
	schemes[nschemes++] = ops;
	return 0;
}

int zl_notify_find(const char *url, const char *where, const zl_notify_ops **ops, const char **target,
                   zl_err *err)
{
	const char *colon = url ? strchr(url, ':') : NULL;
	size_t len = colon ? (size_t)(colon - url) : 0;
	*ops = NULL;
	*target = NULL;
	for (size_t i = 0; colon && i < nschemes; i++)
		if (strlen(schemes[i]->scheme) == len && strncmp(url, schemes[i]->scheme, len) == 0) {
			*ops = schemes[i];
			*target = colon + 1;
			return 0;
		}
	zl_buf known;
	zl_buf_init(&known, 512);
	for (size_t i = 0; i < nschemes; i++)
		zl_buf_printf(&known, "%s%s", i ? ", " : "", schemes[i]->scheme);
	if (colon && len > 0 && strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") == len)
		zl_err_set(err, ZL_EINVAL, "%s: unknown scheme \"%.*s\" (known: %s)", where, (int)len, url,
		           zl_buf_str(&known));
	else
		zl_err_set(err, ZL_EINVAL, "%s: \"%s\" is not a destination URL (schemes: %s)", where, url ? url : "",
		           zl_buf_str(&known));
	zl_buf_release(&known);
	return ZL_EINVAL;
}

int zl_notify_check(const char *url, const char *where, zl_err *err)
{
	const zl_notify_ops *ops;
	const char *target;
	int rc = zl_notify_find(url, where, &ops, &target, err);
	return rc ? rc : ops->validate(url, target, where, err);
}

int zl_notify_send(const char *url, const zl_notify_msg *m, const zl_notify_cfg *cfg, long timeout_ms,
                   zl_err *err)
{
	const zl_notify_ops *ops;
	const char *target;
	int rc = zl_notify_find(url, "destination", &ops, &target, err);
	return rc ? rc : ops->send(url, target, m, cfg, timeout_ms, err);
}

const char *zl_notify_display(const char *url, char *out, size_t n)
{
	const char *sep = strstr(url, "://");
	if (!sep || (strncmp(url, "http", 4) != 0)) {
		snprintf(out, n, "%s", url);
		return out;
	}
	const char *host = sep + 3;
	size_t auth_len = strcspn(host, "/?#");
	const char *at = memchr(host, '@', auth_len);
	if (at)
		host = at + 1;
	size_t keep = strcspn(host, "?#");
	snprintf(out, n, "%.*s%.*s%s", (int)(sep + 3 - url), url, (int)keep, host, host[keep] ? "?***" : "");
	return out;
}
