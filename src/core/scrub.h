/* Scrubbing secrets out of text that leaves the loader (errors, batch records, notifications):
 * every occurrence of a known secret becomes "********". Secrets shorter than ZL_SCRUB_MIN bytes
 * are not looked for (they would mask ordinary words). */
#ifndef ZL_SCRUB_H
#define ZL_SCRUB_H

#include <jansson.h>
#include <stddef.h>

#include "util/strvec.h"

#define ZL_SCRUB_MIN 4
#define ZL_SCRUB_MASK "********"

/* Adds s and, when it is a connection string ("... password=PW ...") or a URI
 * ("scheme://user:PW@host"), the password inside it. 0 or ZL_ENOMEM. */
int zl_scrub_add(zl_strvec *secrets, const char *s);
/* s with every secret replaced, or NULL when it holds none. Caller frees. */
char *zl_scrubbed(const char *s, const zl_strvec *secrets);
/* The same in place, in a buffer of n bytes (the result cut to fit). */
void zl_scrub_buf(char *s, size_t n, const zl_strvec *secrets);
/* Replaces every occurrence of a secret in the string values of j, at any depth. */
void zl_json_scrub(json_t *j, const zl_strvec *secrets);
/* url with the password inside it (a URI's user:PW@, a conninfo's password=PW) masked, for
 * logs and summaries. Caller frees; NULL only when out of memory. */
char *zl_url_redacted(const char *url);
/* Wipes the secrets' bytes and releases the vector. */
void zl_scrub_release(zl_strvec *secrets);

#endif
