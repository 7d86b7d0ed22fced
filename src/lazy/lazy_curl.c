/* libcurl, loaded on first use (lazy.h). curl_global_init stays where it was, under util/http.c's
 * pthread_once, before the first handle. */
#define CURL_DISABLE_TYPECHECK /* typecheck-gcc.h would turn the definitions below into macro calls */
#include "lazy/lazy.h"

#include <stdarg.h>
#include <curl/curl.h>

#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt

#define CURL_SYMS(X) X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) X(curl_easy_pause) \
	X(curl_easy_perform) X(curl_easy_setopt) X(curl_easy_strerror) X(curl_free) X(curl_getdate) \
	X(curl_global_init) X(curl_multi_add_handle) X(curl_multi_cleanup) X(curl_multi_info_read) X(curl_multi_init) \
	X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_remove_handle) X(curl_multi_strerror) X(curl_share_init) \
	X(curl_share_setopt) X(curl_slist_append) X(curl_slist_free_all) X(curl_url) X(curl_url_cleanup) \
	X(curl_url_get) X(curl_url_set)

#define FIELD(name) __typeof__(name) *name;
static struct { CURL_SYMS(FIELD) } cu;
#define ENTRY(name) ZL_LAZY_SYM(cu, name),
static const zl_lazy_sym syms[] = { CURL_SYMS(ENTRY) };
static zl_lazy_lib lib = ZL_LAZY_LIB("libcurl.so.4", "libcurl4", syms);
#define C (zl_lazy_need(&lib), cu)

typedef void (*any_fn)(void);

void curl_easy_cleanup(CURL *curl) { C.curl_easy_cleanup(curl); }
/* Every CURLINFO takes one pointer. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	va_list ap;
	va_start(ap, info);
	void *p = va_arg(ap, void *);
	va_end(ap);
	return C.curl_easy_getinfo(curl, info, p);
}
CURL *curl_easy_init(void) { return C.curl_easy_init(); }
CURLcode curl_easy_pause(CURL *handle, int bitmask) { return C.curl_easy_pause(handle, bitmask); }
CURLcode curl_easy_perform(CURL *curl) { return C.curl_easy_perform(curl); }
/* One argument whose type the option's number range says (curl.h, CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT) /* LONG, VALUES */
		rc = C.curl_easy_setopt(curl, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_FUNCTIONPOINT) /* OBJECTPOINT, STRINGPOINT, SLISTPOINT, CBPOINT */
		rc = C.curl_easy_setopt(curl, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_OFF_T)
		rc = C.curl_easy_setopt(curl, option, va_arg(ap, any_fn));
	else if (option < CURLOPTTYPE_BLOB)
		rc = C.curl_easy_setopt(curl, option, va_arg(ap, curl_off_t));
	else /* BLOB: a struct curl_blob * */
		rc = C.curl_easy_setopt(curl, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
const char *curl_easy_strerror(CURLcode code) { return C.curl_easy_strerror(code); }
void curl_free(void *p) { C.curl_free(p); }
time_t curl_getdate(const char *p, const time_t *unused) { return C.curl_getdate(p, unused); }
CURLcode curl_global_init(long flags) { return C.curl_global_init(flags); }
CURLMcode curl_multi_add_handle(CURLM *multi_handle, CURL *curl_handle)
{
	return C.curl_multi_add_handle(multi_handle, curl_handle);
}
CURLMcode curl_multi_cleanup(CURLM *multi_handle) { return C.curl_multi_cleanup(multi_handle); }
CURLMsg *curl_multi_info_read(CURLM *multi_handle, int *msgs_in_queue)
{
	return C.curl_multi_info_read(multi_handle, msgs_in_queue);
}
CURLM *curl_multi_init(void) { return C.curl_multi_init(); }
CURLMcode curl_multi_perform(CURLM *multi_handle, int *running_handles)
{
	return C.curl_multi_perform(multi_handle, running_handles);
}
CURLMcode curl_multi_poll(CURLM *multi_handle, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms,
                          int *ret)
{
	return C.curl_multi_poll(multi_handle, extra_fds, extra_nfds, timeout_ms, ret);
}
CURLMcode curl_multi_remove_handle(CURLM *multi_handle, CURL *curl_handle)
{
	return C.curl_multi_remove_handle(multi_handle, curl_handle);
}
const char *curl_multi_strerror(CURLMcode code) { return C.curl_multi_strerror(code); }
CURLSH *curl_share_init(void) { return C.curl_share_init(); }
/* SHARE and UNSHARE take an int (a curl_lock_data), the others a pointer (curl's share.c). */
CURLSHcode curl_share_setopt(CURLSH *share, CURLSHoption option, ...)
{
	va_list ap;
	CURLSHcode rc;
	va_start(ap, option);
	if (option == CURLSHOPT_SHARE || option == CURLSHOPT_UNSHARE)
		rc = C.curl_share_setopt(share, option, va_arg(ap, int));
	else if (option == CURLSHOPT_LOCKFUNC || option == CURLSHOPT_UNLOCKFUNC)
		rc = C.curl_share_setopt(share, option, va_arg(ap, any_fn));
	else
		rc = C.curl_share_setopt(share, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
	return C.curl_slist_append(list, data);
}
void curl_slist_free_all(struct curl_slist *list) { C.curl_slist_free_all(list); }
CURLU *curl_url(void) { return C.curl_url(); }
void curl_url_cleanup(CURLU *handle) { C.curl_url_cleanup(handle); }
CURLUcode curl_url_get(CURLU *handle, CURLUPart what, char **part, unsigned int flags)
{
	return C.curl_url_get(handle, what, part, flags);
}
CURLUcode curl_url_set(CURLU *handle, CURLUPart what, const char *part, unsigned int flags)
{
	return C.curl_url_set(handle, what, part, flags);
}
