/* Libraries loaded on first use (dlopen of their soname) rather than at process start, so that a
 * command that never talks to PostgreSQL or HTTP, parses XML or uses OpenSSL does not map them. lazy_*.c define the
 * functions zload calls, with the library header's names and prototypes, forwarding to what
 * dlsym found. The handles and symbols live until the process exits. */
#ifndef ZL_LAZY_H
#define ZL_LAZY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "util/err.h"

typedef struct zl_lazy_sym {
	const char *name;
	void **addr;          /* where dlsym's answer goes */
} zl_lazy_sym;

typedef struct zl_lazy_lib {
	const char *soname;   /* what dlopen is given: "libpq.so.5" */
	const char *package;  /* the Debian package that ships it: "libpq5" */
	const zl_lazy_sym *syms;
	size_t nsyms;
	/* filled by the first zl_lazy_open */
	atomic_int state;     /* 0 not tried, 1 loaded, -1 failed */
	char error[512];
} zl_lazy_lib;

/* Opens lib and resolves every one of its symbols, once per process (thread-safe; later calls
 * return the first answer). Fails with ZL_EINVAL and "this command needs SONAME (Debian package
 * PACKAGE): DLERROR" when the library or one of its symbols cannot be found. */
int zl_lazy_open(zl_lazy_lib *lib, zl_err *err);

/* zl_lazy_open for a stub: on failure writes "zload: <that message>" through zl_log_cli and
 * ends the process with status 1 (a missing library is an installation problem that no caller
 * can work around, and the APIs have no error value to carry it). */
void zl_lazy_need(zl_lazy_lib *lib);

/* The lazily loaded libraries, for tools and tests: their sonames, NULL-terminated. */
extern const char *const zl_lazy_sonames[];

#define ZL_LAZY_SYM(tab, name) { #name, (void **)&(tab).name }
#define ZL_LAZY_LIB(so, pkg, syms) { so, pkg, syms, sizeof syms / sizeof *syms, 0, "" }

#endif
