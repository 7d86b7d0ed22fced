/* Wall-clock time in Unix milliseconds, ISO-8601 parsing and formatting. */
#ifndef ZL_TIMEUTIL_H
#define ZL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t zl_now_ms(void);
/* Monotonic milliseconds, for measuring durations. */
int64_t zl_mono_ms(void);
/* Formats ms as "2026-11-25T21:43:38.123Z" into out (at least 25 bytes). Returns out. */
char *zl_time_format(int64_t ms, char *out, size_t n);
/* Parses Unix seconds ("1764107018", may have a fraction) or ISO-8601
 * ("2026-11-25", "2026-11-25T21:43", "2026-11-25T21:43:38Z", "...+01:00", "....123Z").
 * Times without a zone are UTC. Returns 0 and sets *ms, or ZL_EINVAL. */
int zl_time_parse(const char *s, int64_t *ms);
void zl_sleep_ms(int64_t ms);

#endif
