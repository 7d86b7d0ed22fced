#include "format/format.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define ROWS_BUFSZ ((size_t)64 << 10)
#define ROWS_MAX_LINE ((size_t)16 << 20)

enum { ST_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE, ST_ESCAPE };

struct zl_rows {
	zl_reader *r;
	zl_format fmt;
	char *name;
	char *in;
	size_t in_len, in_pos;
	int eof;
	int ended;          /* text: the end marker \. was read */
	int in_header;      /* CSV: reading the header line, where no field is NULL */
	char *null_str;     /* the NULL marker: CSV "" unless set, text "\N" unless set */
	size_t null_len;
	int64_t line;       /* physical line of the next unread byte */
	int skip_lf;        /* the last row ended with CR: a following LF belongs to it */
	zl_buf data;        /* the current row's field bytes, each NUL-terminated */
	zl_buf linebuf;     /* JSON lines: a line that straddles reads */
	size_t nf, cap;
	size_t *offs;       /* offset in data, or SIZE_MAX for NULL or a value held elsewhere */
	size_t *lens;
	const char **values;
	const char **names;
	json_t *obj;        /* JSON lines: the current row's object, owner of names and strings */
	char **header;
	size_t nheader;
	const char *line_text; /* JSON lines and text: the current row's line, in in or linebuf */
	size_t line_len;
};

static int grow_fields(zl_rows *rs, zl_err *err)
{
	if (rs->nf < rs->cap)
		return 0;
	size_t cap = rs->cap ? rs->cap * 2 : 16;
	size_t *offs = realloc(rs->offs, cap * sizeof *offs);
	if (offs)
		rs->offs = offs;
	size_t *lens = realloc(rs->lens, cap * sizeof *lens);
	if (lens)
		rs->lens = lens;
	const char **values = realloc(rs->values, cap * sizeof *values);
	if (values)
		rs->values = values;
	const char **names = realloc(rs->names, cap * sizeof *names);
	if (names)
		rs->names = names;
	if (!offs || !lens || !values || !names)
		return zl_err_set(err, ZL_ENOMEM, "%s: out of memory", rs->name);
	rs->cap = cap;
	return 0;
}

/* Reads more input after any unread bytes; returns the count read, 0 at end, or an error. */
static ssize_t fill(zl_rows *rs, zl_err *err)
{
	if (rs->eof)
		return 0;
	if (rs->in_pos == rs->in_len)
		rs->in_pos = rs->in_len = 0;
	ssize_t k = zl_reader_read(rs->r, rs->in + rs->in_len, ROWS_BUFSZ - rs->in_len, err);
	if (k < 0)
		return k;
	if (k == 0)
		rs->eof = 1;
	rs->in_len += (size_t)k;
	return k;
}

static int row_too_long(zl_rows *rs, int64_t line, zl_err *err)
{
	return zl_err_set(err, ZL_EINVAL, "%s line %lld: %s longer than 16 MiB", rs->name,
	                  (long long)line, rs->fmt.type == ZL_FMT_CSV ? "row" : "line");
}

static int add_bytes(zl_rows *rs, const char *p, size_t n, int64_t line, zl_err *err)
{
	if (n && zl_buf_add(&rs->data, p, n) < 0)
		return row_too_long(rs, line, err);
	return 0;
}

/* Starts a field at the end of data; a quoted field is never NULL. */
static int field_begin(zl_rows *rs, int quoted, zl_err *err)
{
	int rc = grow_fields(rs, err);
	if (rc < 0)
		return rc;
	rs->offs[rs->nf] = rs->data.len;
	rs->lens[rs->nf] = quoted;
	return 0;
}

static int field_end(zl_rows *rs, int64_t line, zl_err *err)
{
	size_t off = rs->offs[rs->nf], len = rs->data.len - off;
	int quoted = (int)rs->lens[rs->nf];
	rs->lens[rs->nf] = len;
	if (!quoted && !rs->in_header && len == rs->null_len &&
	    (len == 0 || memcmp(rs->data.data + off, rs->null_str, len) == 0)) {
		rs->offs[rs->nf] = SIZE_MAX;
		rs->lens[rs->nf] = 0;
	}
	rs->nf++;
	if (zl_buf_addc(&rs->data, '\0') < 0)
		return row_too_long(rs, line, err);
	return 0;
}

/* Points values at data once no more bytes will be added (data may move while it grows). */
static void finish_row(zl_rows *rs, zl_row *row, int64_t line)
{
	for (size_t i = 0; i < rs->nf; i++)
		rs->values[i] = rs->offs[i] == SIZE_MAX ? NULL : rs->data.data + rs->offs[i];
	row->n = rs->nf;
	row->names = NULL;
	row->values = rs->values;
	row->lens = rs->lens;
	row->line = line;
}

static int csv_next(zl_rows *rs, zl_row *row, zl_err *err)
{
	const char delim = rs->fmt.delimiter, quote = rs->fmt.quote, esc = rs->fmt.escape;
	const int esc_own = esc != quote; /* else a quote is escaped by doubling it */
	int st = ST_START, in_row = 0, rc;
	int64_t line = rs->line;
	zl_buf_reset(&rs->data);
	rs->nf = 0;
	for (;;) {
		if (rs->in_pos == rs->in_len) {
			ssize_t k = fill(rs, err);
			if (k < 0)
				return (int)k;
			if (k == 0)
				break;
		}
		const char *p = rs->in + rs->in_pos, *end = rs->in + rs->in_len, *q = p;
		if (rs->skip_lf) {
			rs->skip_lf = 0;
			if (*p == '\n') {
				rs->in_pos++;
				continue;
			}
		}
		if (!in_row) {
			if (*p == '\n' || *p == '\r') {
				rs->line++;
				rs->skip_lf = *p == '\r';
				rs->in_pos++;
				continue;
			}
			in_row = 1;
			line = rs->line;
		}
		switch (st) {
		case ST_START:
			if (*p == quote) {
				if ((rc = field_begin(rs, 1, err)) < 0)
					return rc;
				rs->in_pos++;
				st = ST_QUOTED;
				continue;
			}
			if ((rc = field_begin(rs, 0, err)) < 0)
				return rc;
			st = ST_UNQUOTED;
			/* fall through */
		case ST_UNQUOTED:
			while (q < end && *q != delim && *q != '\n' && *q != '\r')
				q++;
			if ((rc = add_bytes(rs, p, (size_t)(q - p), line, err)) < 0)
				return rc;
			rs->in_pos = (size_t)(q - rs->in);
			if (q == end)
				continue;
			rs->in_pos++;
			if ((rc = field_end(rs, line, err)) < 0)
				return rc;
			if (*q == delim) {
				st = ST_START;
				continue;
			}
			rs->line++;
			rs->skip_lf = *q == '\r';
			goto done;
		case ST_QUOTED:
			while (q < end && *q != quote && !(esc_own && *q == esc)) {
				if (*q == '\n')
					rs->line++;
				q++;
			}
			if ((rc = add_bytes(rs, p, (size_t)(q - p), line, err)) < 0)
				return rc;
			rs->in_pos = (size_t)(q - rs->in);
			if (q < end) {
				rs->in_pos++;
				st = *q == quote ? ST_QUOTE : ST_ESCAPE;
			}
			continue;
		case ST_ESCAPE:
			/* escape + quote or escape is that character; before anything else the escape
			 * stands for itself and the character is read again as quoted text */
			st = ST_QUOTED;
			if (*p != quote && *p != esc) {
				if ((rc = add_bytes(rs, &esc, 1, line, err)) < 0)
					return rc;
				continue;
			}
			if ((rc = add_bytes(rs, p, 1, line, err)) < 0)
				return rc;
			rs->in_pos++;
			continue;
		case ST_QUOTE:
			rs->in_pos++;
			if (*p == quote && !esc_own) {
				if ((rc = add_bytes(rs, p, 1, line, err)) < 0)
					return rc;
				st = ST_QUOTED;
				continue;
			}
			if (*p != delim && *p != '\n' && *p != '\r')
				return zl_err_set(err, ZL_EINVAL, "%s line %lld: unexpected character after closing quote",
				                  rs->name, (long long)line);
			if ((rc = field_end(rs, line, err)) < 0)
				return rc;
			if (*p == delim) {
				st = ST_START;
				continue;
			}
			rs->line++;
			rs->skip_lf = *p == '\r';
			goto done;
		}
	}
	if (!in_row)
		return 0;
	if (st == ST_QUOTED || st == ST_ESCAPE)
		return zl_err_set(err, ZL_EINVAL, "%s line %lld: unterminated quoted field", rs->name,
		                  (long long)line);
	if (st == ST_START && (rc = field_begin(rs, 0, err)) < 0)
		return rc;
	if ((rc = field_end(rs, line, err)) < 0)
		return rc;
done:
	finish_row(rs, row, line);
	return 1;
}

/* Appends a non-string JSON value's text to data. */
static int json_text(zl_rows *rs, json_t *v, int64_t line, zl_err *err)
{
	char num[64];
	char *dump = NULL;
	const char *s = num;
	int rc = 0;
	if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(num, sizeof num, "%.*g", prec, d);
			if (strtod(num, NULL) == d)
				break;
		}
	} else if (json_is_boolean(v)) {
		s = json_is_true(v) ? "1" : "0";
	} else {
		s = dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!dump) {
			rc = zl_err_set(err, ZL_ENOMEM, "%s line %lld: out of memory", rs->name, (long long)line);
			goto out;
		}
	}
	if (zl_buf_add(&rs->data, s, strlen(s) + 1) < 0)
		rc = row_too_long(rs, line, err);
out:
	free(dump);
	return rc;
}

static int json_row(zl_rows *rs, const char *text, size_t len, int64_t line, zl_row *row, zl_err *err)
{
	json_error_t jerr;
	json_t *obj = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (!obj)
		return zl_err_set(err, ZL_EINVAL, "%s line %lld: invalid JSON: %s", rs->name, (long long)line,
		                  jerr.text);
	rs->obj = obj;
	if (!json_is_object(obj))
		return zl_err_set(err, ZL_EINVAL, "%s line %lld: expected a JSON object", rs->name,
		                  (long long)line);
	const char *key;
	json_t *v;
	int rc;
	json_object_foreach(obj, key, v) {
		if ((rc = grow_fields(rs, err)) < 0)
			return rc;
		rs->names[rs->nf] = key;
		rs->offs[rs->nf] = SIZE_MAX;
		rs->lens[rs->nf] = 0;
		rs->values[rs->nf] = NULL;
		if (json_is_string(v)) {
			rs->values[rs->nf] = json_string_value(v);
			rs->lens[rs->nf] = json_string_length(v);
		} else if (!json_is_null(v)) {
			rs->offs[rs->nf] = rs->data.len;
			if ((rc = json_text(rs, v, line, err)) < 0)
				return rc;
			rs->lens[rs->nf] = rs->data.len - rs->offs[rs->nf] - 1;
		}
		rs->nf++;
	}
	for (size_t i = 0; i < rs->nf; i++)
		if (rs->offs[i] != SIZE_MAX)
			rs->values[i] = rs->data.data + rs->offs[i];
	row->n = rs->nf;
	row->names = rs->names;
	row->values = rs->values;
	row->lens = rs->lens;
	row->line = line;
	return 1;
}

static int blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

/* Reads the next line without its '\n' into *text and *len (valid until the next read) and its
 * number into *line. Returns 1, 0 at the end of the input, or a negative code. */
static int read_line(zl_rows *rs, const char **text, size_t *len, int64_t *line, zl_err *err)
{
	int found = 0;
	zl_buf_reset(&rs->linebuf);
	*line = rs->line;
	*text = NULL;
	*len = 0;
	while (!found) {
		if (rs->in_pos == rs->in_len) {
			ssize_t k = fill(rs, err);
			if (k < 0)
				return (int)k;
			if (k == 0)
				break;
		}
		const char *p = rs->in + rs->in_pos;
		size_t avail = rs->in_len - rs->in_pos;
		const char *nl = memchr(p, '\n', avail);
		size_t n = nl ? (size_t)(nl - p) : avail;
		rs->in_pos += nl ? n + 1 : n;
		found = nl != NULL;
		if (found && rs->linebuf.len == 0) {
			*text = p;
			*len = n;
		} else if (rs->linebuf.len + n > ROWS_MAX_LINE || zl_buf_add(&rs->linebuf, p, n) < 0) {
			return row_too_long(rs, *line, err);
		}
	}
	if (!*text) {
		*text = zl_buf_str(&rs->linebuf);
		*len = rs->linebuf.len;
	}
	if (found)
		rs->line++;
	else if (*len == 0)
		return 0;
	return 1;
}

static int jsonl_next(zl_rows *rs, zl_row *row, zl_err *err)
{
	const char *text;
	size_t len;
	int64_t line;
	int rc;
	json_decref(rs->obj);
	rs->obj = NULL;
	zl_buf_reset(&rs->data);
	rs->nf = 0;
	rs->line_text = NULL;
	rs->line_len = 0;
	while ((rc = read_line(rs, &text, &len, &line, err)) == 1)
		if (!blank(text, len)) {
			rs->line_text = text;
			rs->line_len = len;
			return json_row(rs, text, len, line, row, err);
		}
	return rc;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Text format: adds the raw field p[0, n) (no unescaped delimiter; no lone trailing backslash),
 * NULL when it equals the NULL marker, else with its backslash escapes decoded. */
static int text_field(zl_rows *rs, const char *p, size_t n, int64_t line, zl_err *err)
{
	const char *end = p + n;
	int rc = field_begin(rs, 1, err);
	if (rc < 0)
		return rc;
	if (n == rs->null_len && memcmp(p, rs->null_str, n) == 0) {
		rs->offs[rs->nf] = SIZE_MAX;
		rs->lens[rs->nf++] = 0;
		return 0;
	}
	while (p < end) {
		const char *q = memchr(p, '\\', (size_t)(end - p));
		if (!q)
			q = end;
		if ((rc = add_bytes(rs, p, (size_t)(q - p), line, err)) < 0)
			return rc;
		if (q == end)
			break;
		q++;
		char c = *q++;
		int v;
		switch (c) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'v': c = '\v'; break;
		case 'x':
			if (q < end && isxdigit((unsigned char)*q)) {
				v = hexval(*q++);
				if (q < end && isxdigit((unsigned char)*q))
					v = v * 16 + hexval(*q++);
				c = (char)v;
			}
			break;
		case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
			v = c - '0';
			for (int i = 0; i < 2 && q < end && *q >= '0' && *q <= '7'; i++)
				v = v * 8 + (*q++ - '0');
			c = (char)(v & 0xff);
			break;
		default: /* \\, \ + delimiter and any other character stand for that character */
			break;
		}
		if ((rc = add_bytes(rs, &c, 1, line, err)) < 0)
			return rc;
		p = q;
	}
	return field_end(rs, line, err);
}

/* PostgreSQL's COPY text format: one row per line, no quoting, backslash escapes. */
static int text_next(zl_rows *rs, zl_row *row, zl_err *err)
{
	const char delim = rs->fmt.delimiter;
	const char *text;
	size_t len;
	int64_t line;
	int rc;
	zl_buf_reset(&rs->data);
	rs->nf = 0;
	rs->line_text = NULL;
	rs->line_len = 0;
	if (rs->ended)
		return 0;
	if ((rc = read_line(rs, &text, &len, &line, err)) <= 0)
		return rc;
	rs->line_text = text;
	rs->line_len = len;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len == 2 && text[0] == '\\' && text[1] == '.') {
		rs->ended = 1;
		return 0;
	}
	const char *p = text, *end = text + len;
	for (;;) {
		const char *f = p;
		while (p < end && *p != delim) {
			if (*p == '\\' && ++p == end)
				return zl_err_set(err, ZL_EINVAL, "%s line %lld: backslash at end of line", rs->name,
				                  (long long)line);
			p++;
		}
		if ((rc = text_field(rs, f, (size_t)(p - f), line, err)) < 0)
			return rc;
		if (p == end)
			break;
		p++;
	}
	finish_row(rs, row, line);
	return 1;
}

static int read_header(zl_rows *rs, zl_err *err)
{
	zl_row row;
	int rc = csv_next(rs, &row, err);
	if (rc <= 0)
		return rc;
	rs->header = calloc(row.n ? row.n : 1, sizeof *rs->header);
	if (!rs->header)
		return zl_err_set(err, ZL_ENOMEM, "%s: out of memory", rs->name);
	for (size_t i = 0; i < row.n; i++) {
		rs->header[i] = strdup(row.values[i] ? row.values[i] : "");
		if (!rs->header[i])
			return zl_err_set(err, ZL_ENOMEM, "%s: out of memory", rs->name);
		rs->nheader++;
	}
	return 0;
}

int zl_rows_open(zl_reader *r, const zl_format *fmt, const char *name, zl_rows **out, zl_err *err)
{
	int rc = 0;
	zl_rows *rs = NULL;
	*out = NULL;
	if (!name)
		name = r->name ? r->name : "object";
	rs = calloc(1, sizeof *rs);
	if (!rs || !(rs->in = malloc(ROWS_BUFSZ)) || !(rs->name = strdup(name))) {
		rc = zl_err_set(err, ZL_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	rs->r = r;
	rs->fmt = *fmt;
	rs->line = 1;
	zl_buf_init(&rs->data, ROWS_MAX_LINE);
	zl_buf_init(&rs->linebuf, ROWS_MAX_LINE);
	if (fmt->type == ZL_FMT_TEXT && !rs->fmt.delimiter)
		rs->fmt.delimiter = '\t';
	if (!rs->fmt.escape)
		rs->fmt.escape = rs->fmt.quote;
	if (fmt->type == ZL_FMT_TEXT && (rs->fmt.delimiter == '\n' || rs->fmt.delimiter == '\r' ||
	                                 strchr("\\.abcdefghijklmnopqrstuvwxyz0123456789", rs->fmt.delimiter))) {
		rc = zl_err_set(err, ZL_EINVAL, "%s: invalid delimiter for text format", name);
		goto out;
	}
	rs->null_str = strdup(fmt->null_string ? fmt->null_string : fmt->type == ZL_FMT_TEXT ? "\\N" : "");
	if (!rs->null_str) {
		rc = zl_err_set(err, ZL_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	rs->null_len = strlen(rs->null_str);
	rs->fmt.null_string = rs->null_str;
	while (rs->in_len < 3) {
		ssize_t k = fill(rs, err);
		if (k < 0) {
			rc = (int)k;
			goto out;
		}
		if (k == 0)
			break;
	}
	if (rs->in_len >= 3 && memcmp(rs->in, "\xEF\xBB\xBF", 3) == 0)
		rs->in_pos = 3;
	if (fmt->type == ZL_FMT_CSV && fmt->header) {
		rs->in_header = 1;
		rc = read_header(rs, err);
		rs->in_header = 0;
	}
out:
	if (rc < 0) {
		zl_rows_free(rs);
		return rc;
	}
	*out = rs;
	return 0;
}

void zl_rows_header(const zl_rows *rows, const char *const **names, size_t *n)
{
	*names = (const char *const *)rows->header;
	*n = rows->nheader;
}

int zl_rows_next(zl_rows *rows, zl_row *row, zl_err *err)
{
	if (rows->fmt.type == ZL_FMT_JSONL)
		return jsonl_next(rows, row, err);
	if (rows->fmt.type == ZL_FMT_TEXT)
		return text_next(rows, row, err);
	return csv_next(rows, row, err);
}

void zl_rows_line(const zl_rows *rows, const char **text, size_t *len)
{
	*text = rows->line_text ? rows->line_text : "";
	*len = rows->line_len;
}

void zl_rows_free(zl_rows *rows)
{
	if (!rows)
		return;
	for (size_t i = 0; i < rows->nheader; i++)
		free(rows->header[i]);
	free(rows->header);
	json_decref(rows->obj);
	zl_buf_release(&rows->data);
	zl_buf_release(&rows->linebuf);
	free(rows->offs);
	free(rows->lens);
	free(rows->values);
	free(rows->names);
	free(rows->in);
	free(rows->null_str);
	free(rows->name);
	free(rows);
}
