/* The target registry: the only place that knows every target type. */
#include "target/target.h"

#include <pthread.h>
#include <string.h>

extern const zl_target_ops zl_target_sqlite_ops, zl_target_pg_ops, zl_target_vertica_ops;

#define MAX_TARGETS 16

/* The built-in types, then any registered (tests register a fault-injecting one). */
static const zl_target_ops *targets[MAX_TARGETS] = {
	&zl_target_sqlite_ops,
	&zl_target_pg_ops,
	&zl_target_vertica_ops,
};
static size_t ntargets = 3;

int zl_target_register(const zl_target_ops *ops)
{
	if (ntargets == MAX_TARGETS)
		return ZL_ENOMEM;
	targets[ntargets++] = ops;
	return 0;
}

static char type_list[256];
static pthread_once_t type_list_once = PTHREAD_ONCE_INIT;

const zl_target_ops *zl_target_ops_find(const char *type)
{
	for (size_t i = 0; type && i < ntargets; i++)
		if (strcmp(targets[i]->type, type) == 0)
			return targets[i];
	return NULL;
}

static void build_type_list(void)
{
	size_t len = 0;
	for (size_t i = 0; i < ntargets; i++) {
		const char *sep = i ? ", " : "";
		size_t n = strlen(sep) + strlen(targets[i]->type);
		if (len + n >= sizeof type_list)
			break;
		strcpy(type_list + len, sep);
		strcat(type_list + len, targets[i]->type);
		len += n;
	}
}

const char *zl_target_types(void)
{
	pthread_once(&type_list_once, build_type_list);
	return type_list;
}

void zl_ledger_parts_add(zl_ledger_parts *p, long part)
{
	p->rows++;
	if (part == 0)
		p->whole = 1;
	else if (part > 0 && part <= ZL_PARTS_MAX)
		p->done |= UINT64_C(1) << (part - 1);
	else if (part < 0 && p->split == 0)
		p->split = part < -ZL_PARTS_MAX ? -1 : (int)-part;
	else if (part < 0 && p->split != -part)
		p->split = -1;
}

int zl_ledger_parts_has(const zl_ledger_parts *p, int part)
{
	if (p->whole)
		return 1;
	if (part > 0 && part <= ZL_PARTS_MAX && (p->done >> (part - 1) & 1))
		return 1;
	if (part < 0 && p->split == -part)
		return 1;
	return p->rows > 0 ? 2 : 0;
}
