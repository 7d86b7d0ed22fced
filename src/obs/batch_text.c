/* The text of `zload batches show`, shared by the command and the status page's batch page. */
#include "obs/batch_text.h"

#include "util/err.h"
#include "util/quote.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

/* What printf("%s") shows for a string the result lacks. */
static const char *str_or_null(const char *s) { return s ? s : "(null)"; }

static const char *get_str(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static long long get_int(const json_t *o, const char *name)
{
	return (long long)json_integer_value(json_object_get(o, name));
}

/* A name quoted as git quotes paths (NULL as ""). */
static void add_q(zl_buf *out, const char *s) { zl_quote_c(out, s ? s : ""); }

/* A message on one line; then a newline. */
static void add_line(zl_buf *out, const char *s)
{
	zl_escape_ctl(out, s ? s : "");
	zl_buf_addc(out, '\n');
}

static void add_time(zl_buf *out, const char *label, int64_t ms)
{
	char t[40];
	zl_buf_printf(out, "%s%s", label, zl_time_format(ms, t, sizeof t));
}

static void add_header(zl_buf *out, const zl_batch *b)
{
	zl_buf_printf(out, "batch     %s\nprefix    ", b->id);
	add_q(out, b->prefix);
	zl_buf_printf(out, "\nstatus    %s\nfiles     %lld (%lld bytes)\nattempts  %d\n", zl_batch_status_name(b->status),
	              (long long)b->file_count, (long long)b->bytes, b->attempts);
	add_time(out, "created   ", b->created_at);
	zl_buf_addc(out, '\n');
	if (b->locked_at) {
		add_time(out, "locked    ", b->locked_at);
		if (b->owner) {
			zl_buf_adds(out, " by ");
			add_q(out, b->owner);
		}
		zl_buf_addc(out, '\n');
	}
	if (b->status == ZL_BATCH_LOCKED) {
		add_time(out, b->owner ? "lease     until " : "retry     at ", b->lease_until);
		zl_buf_addc(out, '\n');
	}
	if (b->finished_at) {
		add_time(out, "finished  ", b->finished_at);
		zl_buf_addc(out, '\n');
	}
	if (b->error) {
		zl_buf_adds(out, "error     ");
		add_line(out, b->error);
	}
}

static void add_files(zl_buf *out, const zl_batch *b)
{
	zl_buf name;
	zl_buf_init(&name, 0);
	zl_buf_adds(out, "\nFILES\n");
	for (size_t i = 0; i < b->nfiles; i++) {
		zl_buf_reset(&name);
		zl_buf_printf(&name, "%s/%s", str_or_null(b->files[i].bucket), str_or_null(b->files[i].key));
		zl_buf_adds(out, "  ");
		add_q(out, zl_buf_str(&name));
		zl_buf_printf(out, "  %lld bytes  ", (long long)b->files[i].size);
		add_time(out, "received ", b->files[i].received_at);
		zl_buf_addc(out, '\n');
	}
	zl_buf_release(&name);
}

/* lead and o's string member key on a line, when o has it. */
static void add_member_line(zl_buf *out, const char *lead, const json_t *o, const char *key)
{
	if (!json_object_get(o, key))
		return;
	zl_buf_adds(out, lead);
	add_line(out, get_str(o, key));
}

static void add_target(zl_buf *out, const json_t *tg)
{
	size_t j;
	json_t *x;
	zl_buf_adds(out, "  ");
	add_q(out, get_str(tg, "name"));
	zl_buf_printf(out, " (%s): %s, %lld rows", str_or_null(get_str(tg, "type")), str_or_null(get_str(tg, "status")),
	              get_int(tg, "rows"));
	if (json_object_get(tg, "rejected"))
		zl_buf_printf(out, " (%lld rejected)", get_int(tg, "rejected"));
	zl_buf_printf(out, ", %lld ms\n", get_int(tg, "ms"));
	add_member_line(out, "    note: ", tg, "note");
	add_member_line(out, "    error: ", tg, "error");
	json_t *parts = json_object_get(tg, "parts");
	json_array_foreach(parts, j, x) {
		zl_buf_printf(out, "    part %lld of %zu: %s, %lld objects, %lld bytes, %lld rows, %lld ms\n", get_int(x, "part"),
		              json_array_size(parts), str_or_null(get_str(x, "status")), get_int(x, "objects"),
		              get_int(x, "bytes"), get_int(x, "rows"), get_int(x, "ms"));
		add_member_line(out, "      note: ", x, "note");
		add_member_line(out, "      error: ", x, "error");
	}
	json_array_foreach(json_object_get(tg, "objects"), j, x) {
		zl_buf_adds(out, "    ");
		add_q(out, get_str(x, "key"));
		zl_buf_printf(out, ": %lld rows", get_int(x, "rows"));
		if (json_object_get(x, "rejected"))
			zl_buf_printf(out, ", %lld rejected", get_int(x, "rejected"));
		if (json_object_get(x, "part"))
			zl_buf_printf(out, " (part %lld)", get_int(x, "part"));
		zl_buf_addc(out, '\n');
	}
	json_array_foreach(json_object_get(tg, "statements"), j, x) {
		zl_buf_adds(out, "    sql> ");
		add_line(out, json_string_value(x));
	}
}

static void add_targets(zl_buf *out, const json_t *result)
{
	size_t i;
	json_t *tg, *targets = json_object_get(result, "targets");
	if (!json_array_size(targets))
		return;
	zl_buf_printf(out, "\nTARGETS (attempt %lld, %lld ms)\n", get_int(result, "attempt"), get_int(result, "ms"));
	json_array_foreach(targets, i, tg)
		add_target(out, tg);
}

int zl_batch_text(zl_buf *out, const zl_batch *b)
{
	/* drawn apart with no cap of its own, then added at once: out gets all of it or nothing */
	zl_buf text;
	zl_buf_init(&text, SIZE_MAX);
	json_t *result = b->result ? json_loads(b->result, JSON_PRESERVE_ORDER, NULL) : NULL;
	add_header(&text, b);
	add_files(&text, b);
	add_targets(&text, result);
	json_decref(result);
	int rc = zl_buf_add(out, zl_buf_str(&text), text.len);
	zl_buf_release(&text);
	return rc;
}
