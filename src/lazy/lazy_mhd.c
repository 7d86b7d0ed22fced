/* libmicrohttpd, loaded on first use (lazy.h). */
#include "lazy/lazy.h"

#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>

#define MHD_SYMS(X) X(MHD_add_response_header) X(MHD_create_response_from_buffer) X(MHD_destroy_response) \
	X(MHD_get_daemon_info) X(MHD_lookup_connection_value) X(MHD_queue_response) X(MHD_quiesce_daemon) \
	X(MHD_resume_connection) X(MHD_start_daemon_va) X(MHD_stop_daemon) X(MHD_suspend_connection)

#define FIELD(name) __typeof__(name) *name;
static struct { MHD_SYMS(FIELD) } mhd;
#define ENTRY(name) ZL_LAZY_SYM(mhd, name),
static const zl_lazy_sym syms[] = { MHD_SYMS(ENTRY) };
static zl_lazy_lib lib = ZL_LAZY_LIB("libmicrohttpd.so.12", "libmicrohttpd12", syms);
#define M (zl_lazy_need(&lib), mhd)

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header, const char *content)
{
	return M.MHD_add_response_header(response, header, content);
}
struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode)
{
	return M.MHD_create_response_from_buffer(size, buffer, mode);
}
void MHD_destroy_response(struct MHD_Response *response) { M.MHD_destroy_response(response); }
/* The info types zload asks for (BIND_PORT, CURRENT_CONNECTIONS, FLAGS) take no further argument. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon, enum MHD_DaemonInfoType info_type, ...)
{
	return M.MHD_get_daemon_info(daemon, info_type);
}
const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind, const char *key)
{
	return M.MHD_lookup_connection_value(connection, kind, key);
}
enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
	return M.MHD_queue_response(connection, status_code, response);
}
MHD_socket MHD_quiesce_daemon(struct MHD_Daemon *daemon) { return M.MHD_quiesce_daemon(daemon); }
void MHD_resume_connection(struct MHD_Connection *connection) { M.MHD_resume_connection(connection); }
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	va_list ap;
	va_start(ap, dh_cls);
	struct MHD_Daemon *d = M.MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}
void MHD_stop_daemon(struct MHD_Daemon *daemon) { M.MHD_stop_daemon(daemon); }
void MHD_suspend_connection(struct MHD_Connection *connection) { M.MHD_suspend_connection(connection); }
