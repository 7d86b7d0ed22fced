/* The check of an idle connection before a pool hands it out again, without a round trip: what
 * the server sent meanwhile is read without waiting. ParameterStatus and notices leave it usable;
 * an error, the end of the connection (a session the server ended while idle: an idle-session
 * timeout, an administrator's CLOSE_SESSION, a restart), a message that arrived in part or
 * anything else does not. */
#include "vertica/vconn.h"

#include <stdio.h>

#include "util/log.h"
#include "vertica/vproto.h"

#define IDLE_MESSAGES 8 /* messages looked at before giving up on a chatty server */

static int unusable(zl_vc *c, const char *why)
{
	zl_err err;
	zl_vcio_fail(c, ZL_ETRANSIENT, &err, "idle connection: %s", why);
	ZL_LOG(ZL_DEBUG, "vertica idle connection not usable", ZL_S("peer", c->peer), ZL_S("reason", err.msg));
	return 0;
}

int zl_vc_idle_ok(zl_vc *c)
{
	zl_err err;
	for (int i = 0; i < IDLE_MESSAGES; i++) {
		if (c->broken || c->tx_status != 'I')
			return 0;
		if (c->rpos == c->rlen) {
			if (!zl_vcio_readable(c))
				return 1;
			if (c->rpos == c->rlen)
				return unusable(c, "the server closed the connection");
		}
		int got = zl_vcio_next_buffered(c, &err);
		if (got < 0)
			return 0;
		if (got == 0)
			return unusable(c, "a message arrived in part");
		if (c->type == 'E') {
			zl_vp_notice n;
			int ok = zl_vp_notice_decode(c->body, c->body_len, &n, &err) == 0 && n.message;
			return unusable(c, ok ? n.message : "the server sent an error");
		}
		if (c->type != 'S' && c->type != 'N') {
			char why[64];
			snprintf(why, sizeof why, "unexpected message '%c'", zl_vc_printable(c->type));
			return unusable(c, why);
		}
	}
	return unusable(c, "the server keeps sending messages");
}
