/* One batch as `zload batches show` prints it: its fields, files, and per-target results (read
 * from b->result), as plain text with names quoted and messages on one line. The caller owns the
 * buffer it writes into. */
#ifndef ZL_BATCH_TEXT_H
#define ZL_BATCH_TEXT_H

#include "core/model.h"
#include "util/buf.h"

/* Appends the text of b (with its files) to out: all of it, or nothing and ZL_ENOMEM when out's
 * cap would be exceeded. Returns 0 on success. */
int zl_batch_text(zl_buf *out, const zl_batch *b);

#endif
