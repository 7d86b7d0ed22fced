#include "core/parts.h"

#include <stdint.h>
#include <stdlib.h>

#include "target/target.h"
#include "util/err.h"

typedef struct sized {
	int64_t size;
	size_t index;
} sized;

static int larger_first(const void *a, const void *b)
{
	const sized *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

int zl_parts_split(const zl_file_rec *files, size_t n, int k, int *part_of)
{
	int64_t load[ZL_PARTS_MAX] = { 0 };
	size_t count[ZL_PARTS_MAX] = { 0 };
	if (k < 1 || k > ZL_PARTS_MAX || (size_t)k > n)
		return ZL_EINVAL;
	sized *v = malloc(n * sizeof *v);
	if (!v)
		return ZL_ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = (sized){ files[i].size > 0 ? files[i].size : 0, i };
	qsort(v, n, sizeof *v, larger_first);
	for (size_t i = 0; i < n; i++) {
		int least = 0;
		for (int p = 1; p < k; p++)
			if (load[p] < load[least] || (load[p] == load[least] && count[p] < count[least]))
				least = p;
		/* the first k objects each open a part, even when some are empty */
		if (i < (size_t)k)
			least = (int)i;
		load[least] += v[i].size;
		count[least]++;
		part_of[v[i].index] = least + 1;
	}
	free(v);
	return 0;
}
