/* libFuzzer target over S3's XML answers (store/store_s3_xml.c): byte 0 'L' gives the rest to the
 * ListObjectsV2 page parser, 'E' to the error body parser, anything else to both. A page is
 * either good (every object has a bucket and a key, a continuation token when truncated) or
 * ZL_ETRANSIENT with a message; a callback's non-zero value comes back unchanged. */
#include <libxml/parser.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_s3_int.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

void zl_log_kv(zl_log_level level, const char *msg, const zl_kv *kvs)
{
	(void)level, (void)msg, (void)kvs;
}

int zl_log_enabled(zl_log_level level)
{
	(void)level;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	xmlInitParser();
	return 0;
}

typedef struct seen {
	size_t n, stop_at;
} seen;

static int on_object(void *ud, const zl_object *obj, const zl_err *refused)
{
	seen *s = ud;
	if (refused || !obj->bucket || strcmp(obj->bucket, "land") != 0 || !obj->key)
		abort();
	size_t sum = strlen(obj->key) + (obj->etag ? strlen(obj->etag) : 0);
	(void)sum;
	return ++s->n == s->stop_at ? 77 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	zl_buf body;
	zl_buf_init(&body, 0);
	if (zl_buf_add(&body, data + 1, size - 1) < 0)
		return 0;
	zl_err err;
	if (data[0] != 'E') {
		for (size_t stop = 0; stop < 2; stop++) {
			seen s = { 0, stop ? 2 : 0 };
			static xmlChar unset[1];
			xmlChar *next = unset;
			int rc = zl_s3_list_page(&body, "land", on_object, &s, &next, &err);
			if (rc == 77 && s.n != 2)
				abort();
			if (rc != 0 && rc != 77 && (rc != ZL_ETRANSIENT || strncmp(err.msg, "land: ", 6) != 0))
				abort();
			if (next == unset || (next && rc))
				abort();
			xmlFree(next);
			if (rc != 77)
				break;
		}
	}
	if (data[0] != 'L') {
		char code[16], msg[32]; /* small: long texts are cut, not overflowed */
		zl_s3_xml_error(&body, code, sizeof code, msg, sizeof msg);
		if (strlen(code) >= sizeof code || strlen(msg) >= sizeof msg)
			abort();
	}
	zl_buf_release(&body);
	return 0;
}
