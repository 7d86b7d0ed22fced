#include "lazy/lazy.h"
#include "util/log.h"

#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

const char *const zl_lazy_sonames[] = { "libpq.so.5", "libcurl.so.4", "libmicrohttpd.so.12", "libxml2.so.2", "libssl.so.3",
                                        "libcrypto.so.3", NULL };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void load(zl_lazy_lib *lib)
{
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	const char *why = NULL;
	if (!h)
		why = dlerror();
	for (size_t i = 0; h && i < lib->nsyms; i++) {
		dlerror();
		*lib->syms[i].addr = dlsym(h, lib->syms[i].name);
		if (!*lib->syms[i].addr) {
			why = dlerror();
			break;
		}
	}
	if (why)
		snprintf(lib->error, sizeof lib->error, "this command needs %s (Debian package %s): %s", lib->soname,
		         lib->package, why);
	atomic_store_explicit(&lib->state, why ? -1 : 1, memory_order_release);
}

int zl_lazy_open(zl_lazy_lib *lib, zl_err *err)
{
	int st = atomic_load_explicit(&lib->state, memory_order_acquire);
	if (!st) {
		pthread_mutex_lock(&lock);
		if (!(st = atomic_load_explicit(&lib->state, memory_order_relaxed))) {
			load(lib);
			st = atomic_load_explicit(&lib->state, memory_order_relaxed);
		}
		pthread_mutex_unlock(&lock);
	}
	return st > 0 ? 0 : zl_err_set(err, ZL_EINVAL, "%s", lib->error);
}

void zl_lazy_need(zl_lazy_lib *lib)
{
	if (atomic_load_explicit(&lib->state, memory_order_acquire) > 0 || zl_lazy_open(lib, NULL) == 0)
		return;
	zl_log_cli(ZL_ERROR, "zload", "%s", lib->error);
	fflush(stdout);
	_exit(1); /* not exit(): other threads may be inside OpenSSL, whose atexit cleanup would pull it away */
}
