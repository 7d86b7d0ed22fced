/* libFuzzer target over configuration validation (core/config.c): zl_config_parse of any text,
 * then, for a valid configuration, its filter on a few names and its masked dump, which must
 * parse back to a valid configuration. Errors are ZL_EINVAL (or ZL_ENOMEM) with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	zl_config *c = NULL;
	zl_err err;
	int rc = zl_config_parse(text, &c, &err);
	if (rc) {
		if ((rc != ZL_EINVAL && rc != ZL_ENOMEM) || !err.msg[0] || c)
			abort();
	} else {
		if (!c)
			abort();
		static const char *const names[] = { "a.csv", "a.csv.gz", "", "dt=2026-11-25/x.json" };
		for (size_t i = 0; i < sizeof names / sizeof *names; i++)
			(void)zl_config_accepts(c, names[i]);
		char *dump = zl_config_dump_masked(c);
		if (dump) { /* masking keeps a configuration valid */
			zl_config *again = NULL;
			if (zl_config_parse(dump, &again, &err) != 0)
				abort();
			zl_config_free(again);
			free(dump);
		}
		zl_config_free(c);
	}
	free(text);
	return 0;
}
