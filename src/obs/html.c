/* HTML writers shared by the status page, the batch page and the error page. */
#include "obs/html.h"

#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

static const char *entity(unsigned char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	default: return NULL;
	}
}

static void add_ctl(zl_buf *out, unsigned char c, zl_html_mode mode)
{
	char name[8];
	if (c == '\n' || c == '\r' || c == '\t')
		snprintf(name, sizeof name, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
	else
		snprintf(name, sizeof name, "\\%03o", c);
	if (mode == ZL_HTML_ATTR)
		zl_buf_adds(out, name);
	else
		zl_buf_printf(out, "<span class=\"ctl\">%s</span>", name);
}

void zl_html_esc(zl_buf *out, const char *s, zl_html_mode mode)
{
	static const char special[] = "&<>\"'\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
	                              "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f";
	if (!s)
		return;
	while (*s) {
		size_t n = strcspn(s, special);
		zl_buf_add(out, s, n);
		s += n;
		if (!*s)
			break;
		unsigned char c = (unsigned char)*s++;
		if (entity(c))
			zl_buf_adds(out, entity(c));
		else if (c == '\n' && mode == ZL_HTML_PRE)
			zl_buf_addc(out, '\n');
		else
			add_ctl(out, c, mode);
	}
}

char *zl_html_span(int64_t ms, char *n, size_t size)
{
	long long a = ms < 0 ? -(long long)ms : (long long)ms;
	if (a < 60000)
		snprintf(n, size, "%lld s", a / 1000);
	else if (a < 3600000)
		snprintf(n, size, "%lld min", a / 60000);
	else if (a < 48LL * 3600000)
		snprintf(n, size, "%lld h", a / 3600000);
	else
		snprintf(n, size, "%lld d", a / (24LL * 3600000));
	return n;
}

void zl_html_rel(zl_buf *out, int64_t t, int64_t now)
{
	char n[32];
	int64_t d = t - now;
	if (d > -1000 && d < 1000)
		zl_buf_adds(out, "now");
	else
		zl_buf_printf(out, d < 0 ? "%s ago" : "in %s", zl_html_span(d, n, sizeof n));
}

void zl_html_when(zl_buf *out, int64_t t, int64_t now)
{
	char iso[40];
	if (!t) {
		zl_buf_adds(out, "&mdash;");
		return;
	}
	zl_time_format(t, iso, sizeof iso);
	zl_buf_printf(out, "<time datetime=\"%s\">%s</time> <span class=\"rel\">(", iso, iso);
	zl_html_rel(out, t, now);
	zl_buf_adds(out, ")</span>");
}

void zl_html_dur(zl_buf *out, int64_t ms)
{
	if (ms < 0)
		zl_buf_adds(out, "&mdash;");
	else if (ms < 1000)
		zl_buf_printf(out, "%lld ms", (long long)ms);
	else if (ms < 60000)
		zl_buf_printf(out, "%.1f s", (double)ms / 1000);
	else
		zl_buf_printf(out, "%.1f min", (double)ms / 60000);
}

void zl_html_bytes(zl_buf *out, int64_t n)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = -1;
	while ((v >= 1024 || v <= -1024) && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		zl_buf_printf(out, "%lld B", (long long)n);
	else
		zl_buf_printf(out, "%.1f %s", v, unit[u]);
}

static const char style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
	"h1{font-size:1.4em;margin:0}h2{font-size:1.15em;margin:.6em 0 .2em}"
	"h3{font-size:1em;margin:.5em 0 .15em;color:#555}"
	"section{border-top:1px solid #ddd;padding-top:.2em}header{display:flex;flex-wrap:wrap;align-items:baseline;column-gap:1.2em;margin-bottom:.4em}"
	"h3 .none{font-weight:normal;margin-left:.5em}ul{margin:.2em 0;padding-left:1.4em}"
	"ul.config{list-style:none;padding:0;color:#444}ul.config li{display:inline;margin-right:1.4em}"
	"p{margin:.3em 0}table{border-collapse:collapse;margin:.1em 0}td,th{padding:.1em .6em;text-align:left;"
	"vertical-align:top;border-bottom:1px solid #eee}th{font-weight:600;color:#555}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}td{white-space:nowrap}td.err{white-space:normal}"
	"code,pre,.id{font-family:ui-monospace,monospace;font-size:.92em}"
	"pre{background:#f6f6f6;padding:.8em;overflow-x:auto}"
	".ctl{background:#fde2a8;border-radius:2px}.rel,.none{color:#777}"
	".healthy h2{color:#17803d}.unhealthy h2,.stuck,.err{color:#b3261e}"
	".status-complete{color:#17803d}.status-error{color:#b3261e}.status-locked{color:#8a5a00}"
	"svg text{font-size:11px;fill:#555}svg .rows{stroke:#1f6feb}svg .files{stroke:#d9480f}"
	"svg polyline{fill:none;stroke-width:1.5}svg .axis{stroke:#999}svg .grid{stroke:#eee}";

void zl_html_head(zl_buf *out, const char *title, int refresh)
{
	zl_buf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
	if (refresh > 0)
		zl_buf_printf(out, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh);
	zl_buf_adds(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	zl_html_esc(out, title, ZL_HTML_ATTR); /* no markup inside <title> */
	zl_buf_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", style);
}

void zl_html_foot(zl_buf *out) { zl_buf_adds(out, "</body>\n</html>\n"); }
