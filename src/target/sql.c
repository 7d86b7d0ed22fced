#include "target/sql.h"

#include <string.h>

static int quoted(zl_buf *out, const char *s, size_t n)
{
	int rc = zl_buf_addc(out, '"');
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = s[i] == '"' ? zl_buf_adds(out, "\"\"") : zl_buf_addc(out, s[i]);
	return rc ? rc : zl_buf_addc(out, '"');
}

int zl_sql_name(zl_buf *out, const char *name) { return quoted(out, name, strlen(name)); }

int zl_sql_ident(zl_buf *out, const char *name)
{
	int rc = 0;
	for (const char *p = name;; p++) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		rc = rc ? rc : quoted(out, p, n);
		if (!dot)
			break;
		rc = rc ? rc : zl_buf_addc(out, '.');
		p = dot;
	}
	return rc;
}
