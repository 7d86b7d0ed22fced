/* The live line: a ticker thread that redraws it through the log's live line. */
#include "cli/live_line.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

struct zl_live_ticker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* signalled by zl_live_stop */
	int stop;
	int period_ms;
	void (*draw)(void *ud, zl_buf *text);
	void *ud;
};

int zl_live_wanted(void) { return isatty(STDERR_FILENO) && !zl_log_json(); }

/* Shows text cut to the terminal's width: a line that wraps could not be redrawn in place. */
void zl_live_show(const char *text)
{
	struct winsize ws;
	size_t len = text ? strlen(text) : 0;
	if (len && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && len >= ws.ws_col) {
		char *cut = strndup(text, ws.ws_col - 1u);
		zl_log_live(cut ? cut : "");
		free(cut);
		return;
	}
	zl_log_live(text);
}

static void *tick(void *arg)
{
	zl_live_ticker *t = arg;
	zl_buf text;
	zl_buf_init(&text, 4096);
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += t->period_ms / 1000;
		until.tv_nsec += (long)(t->period_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!t->stop && pthread_cond_timedwait(&t->cond, &t->lock, &until) != ETIMEDOUT)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		zl_buf_reset(&text);
		t->draw(t->ud, &text);
		zl_live_show(zl_buf_str(&text));
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	zl_buf_release(&text);
	return NULL;
}

zl_live_ticker *zl_live_start(int period_ms, void (*draw)(void *ud, zl_buf *text), void *ud)
{
	if (!zl_live_wanted())
		return NULL;
	zl_live_ticker *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->period_ms = period_ms > 0 ? period_ms : 500;
	t->draw = draw;
	t->ud = ud;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (pthread_create(&t->thread, NULL, tick, t) != 0) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return NULL;
	}
	return t;
}

void zl_live_stop(zl_live_ticker *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
	zl_log_live(NULL);
}
