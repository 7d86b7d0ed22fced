#include "format/format.h"

void zl_format_defaults(zl_format *f)
{
	f->type = ZL_FMT_CSV;
	f->delimiter = ',';
	f->quote = '"';
	f->header = 0;
	f->compression = ZL_COMP_AUTO;
}
