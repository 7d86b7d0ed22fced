#include "util/quote.h"

static int is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

int zl_quote_needed(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (is_ctl(*p) || *p == '"' || *p == '\\')
			return 1;
	return 0;
}

/* Appends the escape of one control character. */
static int escape_one(zl_buf *out, unsigned char c)
{
	switch (c) {
	case '\n': return zl_buf_adds(out, "\\n");
	case '\r': return zl_buf_adds(out, "\\r");
	case '\t': return zl_buf_adds(out, "\\t");
	default: return zl_buf_printf(out, "\\%03o", c);
	}
}

int zl_quote_c(zl_buf *out, const char *s)
{
	if (!zl_quote_needed(s))
		return zl_buf_adds(out, s);
	int rc = zl_buf_addc(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
		if (*p == '"' || *p == '\\')
			rc = zl_buf_addc(out, '\\') || zl_buf_addc(out, (char)*p);
		else if (is_ctl(*p))
			rc = escape_one(out, *p);
		else
			rc = zl_buf_addc(out, (char)*p);
	}
	return rc ? rc : zl_buf_addc(out, '"');
}

int zl_escape_ctl(zl_buf *out, const char *s)
{
	int rc = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++)
		rc = is_ctl(*p) ? escape_one(out, *p) : zl_buf_addc(out, (char)*p);
	return rc;
}
