#include "format/format.h"

#include <string.h>

void zl_format_defaults(zl_format *f)
{
	memset(f, 0, sizeof *f);
	f->type = ZL_FMT_CSV;
	f->delimiter = ',';
	f->quote = '"';
	f->escape = 0; /* same as quote */
	f->null_string = NULL;
	f->header = 0;
	f->compression = ZL_COMP_AUTO;
}
