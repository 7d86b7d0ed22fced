#include "notify/mail.h"
#include "util/err.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SMTP_LINE 990

static const char *str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static void render_targets(const json_t *targets, zl_buf *out)
{
	size_t i;
	json_t *t;
	if (!json_array_size(targets))
		return;
	zl_buf_adds(out, "\nTargets:\n");
	json_array_foreach(targets, i, t) {
		zl_buf_printf(out, "  %s (%s): %s, %lld rows, %lld rejected", str(t, "name", "?"), str(t, "type", "?"),
		              str(t, "status", "?"), (long long)json_integer_value(json_object_get(t, "rows")),
		              (long long)json_integer_value(json_object_get(t, "rejected")));
		const char *e = str(t, "error", NULL);
		zl_buf_printf(out, "%s%s\n", e ? ": " : "", e ? e : "");
	}
}

static void render_files(const json_t *j, zl_buf *out)
{
	const json_t *files = json_object_get(j, "files");
	json_int_t omitted = json_integer_value(json_object_get(j, "filesOmitted"));
	size_t i;
	json_t *f;
	zl_buf_printf(out, "\nFiles (%lld):\n", (long long)(json_array_size(files) + (size_t)omitted));
	json_array_foreach(files, i, f)
		zl_buf_printf(out, "  %s/%s\n", str(f, "bucket", "?"), str(f, "key", "?"));
	if (omitted)
		zl_buf_printf(out, "  ... and %lld more\n", (long long)omitted);
}

static void render_statements(const json_t *stmts, zl_buf *out)
{
	static const char *const steps[] = { "preLoadStmt", "loadStmt", "postLoadStmt" };
	const char *name;
	json_t *t;
	if (!json_object_size(stmts))
		return;
	zl_buf_adds(out, "\nStatements:\n");
	json_object_foreach((json_t *)stmts, name, t) {
		zl_buf_printf(out, "  %s:\n", name);
		for (int k = 0; k < 3; k++) {
			const char *s = str(t, steps[k], "");
			if (*s)
				zl_buf_printf(out, "    %-13s %s\n", steps[k], s);
		}
	}
}

int zl_mail_text(const char *json, zl_buf *out)
{
	json_t *j = json_loads(json, JSON_PRESERVE_ORDER, NULL);
	int rc = 0;
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "batchId"))) {
		rc = ZL_EINVAL;
		goto out;
	}
	int ok = strcmp(str(j, "status", ""), "ok") == 0;
	zl_buf_printf(out, "zload batch %s of %s: %s\n", str(j, "batchId", "?"), str(j, "s3Prefix", "?"),
	              ok ? "loaded" : "FAILED");
	if (str(j, "error", NULL))
		zl_buf_printf(out, "\nError: %s\n", str(j, "error", ""));
	render_targets(json_object_get(j, "targets"), out);
	render_files(j, out);
	zl_buf_printf(out, "\nAttempts: %lld\nCreated:  %s\nFinished: %s (%lld ms)\n",
	              (long long)json_integer_value(json_object_get(j, "attempts")), str(j, "createdAt", "?"),
	              str(j, "finishedAt", "?"), (long long)json_integer_value(json_object_get(j, "durationMs")));
	render_statements(json_object_get(j, "loadStatements"), out);
	if (out->len && out->data[out->len - 1] != '\n')
		rc = ZL_ENOMEM; /* the buffer's cap cut it */
out:
	json_decref(j);
	return rc;
}

void zl_mail_address(const char *from, char *out, size_t n)
{
	const char *lt = strchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		snprintf(out, n, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, n, "%s", from);
}

/* Appends text with CRLF line ends, cutting lines longer than SMTP allows. */
static int add_crlf_text(zl_buf *out, const char *text)
{
	int rc = 0;
	size_t col = 0;
	for (const char *p = text; *p && !rc; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n' || col == SMTP_LINE) {
			rc = zl_buf_adds(out, "\r\n");
			col = 0;
			if (*p == '\n')
				continue;
		}
		rc = rc ? rc : zl_buf_addc(out, *p);
		col++;
	}
	return rc ? rc : zl_buf_adds(out, col ? "\r\n" : "");
}

int zl_mail_compose(const zl_mail *m, zl_buf *out)
{
	char date[64];
	time_t t = (time_t)(m->date_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	int rc = zl_buf_printf(out,
	                       "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
	                       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                       "Content-Transfer-Encoding: 8bit\r\nX-Zload-Event: %s\r\nX-Zload-Batch: %s\r\n\r\n",
	                       date, m->from, m->to, m->subject, m->message_id, m->event, m->batch_id);
	return rc ? rc : add_crlf_text(out, m->text);
}
