/* The daemon's loop: polls the intakes' descriptors and the signals, runs their timed work and
 * the sweeper (every second, with the expiry of idle target connections), and decides when the loader is idle. */
#include "runtime/runtime_int.h"
#include "target/pool.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define SWEEP_MS 1000

void zl_rt_block_signals(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
}

/* Exit-when-idle: logs the open batches that would wait for ever, then says whether to stop. */
static int idle_long_enough(zl_rt *rt, const zl_rt_run_opts *o, int64_t now, int64_t *idle_since)
{
	zl_strvec stuck;
	zl_err err;
	zl_strvec_init(&stuck);
	int idle = zl_rt_idle(rt, &stuck, &err);
	int stop = 0;
	if (!idle)
		*idle_since = 0;
	else if (!*idle_since)
		*idle_since = now;
	else if (now - *idle_since >= o->idle_secs * 1000) {
		for (size_t i = 0; i < stuck.n; i++)
			ZL_LOG(ZL_WARN, "open batch cannot load without more files", ZL_S("batch", stuck.v[i]));
		ZL_LOG(ZL_INFO, "idle: exiting", ZL_I("idle_secs", o->idle_secs), ZL_I("waiting_batches", (long long)stuck.n));
		stop = 1;
	}
	zl_strvec_release(&stuck);
	return stop;
}

int zl_rt_run(zl_rt *rt, const zl_rt_run_opts *o, zl_err *err)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return zl_err_set(err, ZL_EIO, "signalfd: %s", strerror(errno));
	int64_t next_sweep = 0, idle_since = 0;
	int rc = 0;
	for (;;) {
		int64_t mono = zl_mono_ms(), now = zl_now_ms();
		if (mono >= next_sweep) {
			zl_err serr;
			if (zl_rt_sweep(rt, &serr))
				ZL_LOG(ZL_WARN, "sweep failed", ZL_S("error", serr.msg));
			zl_pool_expire(mono); /* idle target connections */
			next_sweep = mono + SWEEP_MS;
			if (o->idle_secs >= 0 && idle_long_enough(rt, o, mono, &idle_since))
				break;
		}
		struct pollfd fds[1 + ZL_RT_MAX_INTAKES];
		size_t nfds = 1;
		int64_t timeout = next_sweep - mono;
		fds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (size_t i = 0; i < rt->nintakes; i++) {
			const zl_intake_ops *ops = rt->intakes[i].ops;
			void *ctx = rt->intakes[i].ctx;
			fds[nfds++] = (struct pollfd){ .fd = zl_intake_fd(ops, ctx), .events = POLLIN };
			int64_t next = zl_intake_next_ms(ops, ctx, now);
			if (next >= 0 && next < timeout)
				timeout = next;
		}
		if (poll(fds, nfds, timeout < 0 ? 0 : (int)timeout) < 0 && errno != EINTR) {
			rc = zl_err_set(err, ZL_EIO, "poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents & POLLIN) {
			ZL_LOG(ZL_INFO, "signal received: finishing in-flight batches", ZL_I("pid", getpid()));
			break;
		}
		now = zl_now_ms();
		for (size_t i = 0; i < rt->nintakes; i++) {
			const zl_intake_ops *ops = rt->intakes[i].ops;
			void *ctx = rt->intakes[i].ctx;
			if (fds[1 + i].revents & POLLIN)
				zl_intake_ready(ops, ctx, now);
			if (zl_intake_next_ms(ops, ctx, now) == 0)
				zl_intake_tick(ops, ctx, now);
		}
	}
	close(sfd);
	zl_rt_stop_intakes(rt);
	return rc;
}
