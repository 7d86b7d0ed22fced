/* exec:/ABSOLUTE/PROGRAM: runs the program (no shell, no arguments) with the message JSON on its
 * stdin and ZLOAD_NOTIFY_EVENT, ZLOAD_NOTIFY_ID, ZLOAD_BATCH_ID and ZLOAD_NOTIFY_SUBJECT added to
 * its environment. Exit status 0 is delivered; the tail of its stderr explains any other. */
#include "notify/notify.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define STDERR_TAIL 2048

static int exec_validate(const char *url, const char *target, const char *where, zl_err *err)
{
	struct stat sb;
	errno = 0;
	if (target[0] != '/')
		return zl_err_set(err, ZL_EINVAL, "%s: \"%s\": the program must be an absolute path (exec:/path/to/program)",
		                  where, url);
	if (stat(target, &sb) != 0 || !S_ISREG(sb.st_mode) || access(target, X_OK) != 0)
		return zl_err_set(err, ZL_EINVAL, "%s: %s is not an executable file%s%s", where, target,
		                  errno ? ": " : "", errno ? strerror(errno) : "");
	return 0;
}

/* The process's environment without our variables, then ours. Caller frees the array and the
 * strings from index *own on. */
static char **child_env(const zl_notify_msg *m, size_t *own)
{
	static const char *const names[] = { "ZLOAD_NOTIFY_EVENT=", "ZLOAD_NOTIFY_ID=", "ZLOAD_BATCH_ID=",
	                                     "ZLOAD_NOTIFY_SUBJECT=" };
	size_t n = 0, k = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + 5, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int ours = 0;
		for (size_t j = 0; j < 4 && !ours; j++)
			ours = strncmp(environ[i], names[j], strlen(names[j])) == 0;
		if (!ours)
			env[k++] = environ[i];
	}
	*own = k;
	int failed = asprintf(&env[k++], "ZLOAD_NOTIFY_EVENT=%s", m->event) < 0;
	failed |= asprintf(&env[k++], "ZLOAD_NOTIFY_ID=%lld", (long long)m->id) < 0;
	failed |= asprintf(&env[k++], "ZLOAD_BATCH_ID=%s", m->batch_id) < 0;
	failed |= asprintf(&env[k++], "ZLOAD_NOTIFY_SUBJECT=%s", m->subject) < 0;
	if (failed) {
		for (size_t i = *own; i < k; i++)
			free(env[i]);
		free(env);
		return NULL;
	}
	return env;
}

/* Writing to a program that exited must not raise SIGPIPE in zload: the write gets EPIPE. */
typedef struct pipe_guard {
	sigset_t old;
	int was_pending;
} pipe_guard;

static void pipe_guard_on(pipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

static void pipe_guard_off(pipe_guard *g, int got_epipe)
{
	if (got_epipe && !g->was_pending) {
		sigset_t set;
		struct timespec none = { 0, 0 };
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		while (sigtimedwait(&set, NULL, &none) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int spawn(const char *path, int in_fd, int err_fd, char **env, pid_t *pid, zl_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	posix_spawnattr_setsigmask(&attr, &none); /* the runtime blocks SIGTERM and SIGINT in its threads */
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	char *argv[] = { (char *)path, NULL };
	int e = posix_spawn(pid, path, &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return e ? zl_err_set(err, ZL_EINVAL, "cannot run %s: %s", path, strerror(e)) : 0;
}

/* Keeps the last STDERR_TAIL bytes the program wrote to stderr. */
static void keep_tail(char *tail, size_t *len, const char *p, size_t n)
{
	if (n >= STDERR_TAIL) {
		memcpy(tail, p + n - STDERR_TAIL, STDERR_TAIL);
		*len = STDERR_TAIL;
		return;
	}
	if (*len + n > STDERR_TAIL) {
		size_t drop = *len + n - STDERR_TAIL;
		memmove(tail, tail + drop, *len - drop);
		*len -= drop;
	}
	memcpy(tail + *len, p, n);
	*len += n;
}

/* The last non-empty line of the program's stderr, one line of printable text. */
static void last_line(char *tail, size_t len, char *out, size_t n)
{
	while (len && (tail[len - 1] == '\n' || tail[len - 1] == '\r'))
		len--;
	size_t start = len;
	while (start && tail[start - 1] != '\n')
		start--;
	snprintf(out, n, "%.*s", (int)(len - start), tail + start);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
}

static int exec_send(const char *url, const char *target, const zl_notify_msg *m, const zl_notify_cfg *cfg,
                     long timeout_ms, zl_err *err)
{
	int in[2] = { -1, -1 }, errp[2] = { -1, -1 }, status = 0, got_epipe = 0, reaped = 0;
	char **env = NULL, tail[STDERR_TAIL], line[320];
	size_t own = 0, tail_len = 0, off = 0;
	pid_t pid = -1;
	pipe_guard g;
	int rc = 0;
	pipe_guard_on(&g);
	if (pipe2(in, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		rc = zl_err_set(err, ZL_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	if (!(env = child_env(m, &own))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = spawn(target, in[0], errp[1], env, &pid, err)))
		goto out;
	close(in[0]);
	close(errp[1]);
	in[0] = errp[1] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK); /* a child of the program may keep stderr open */
	int64_t deadline = zl_mono_ms() + timeout_ms;
	while (!reaped) {
		struct pollfd fds[2] = { { .fd = errp[0], .events = POLLIN }, { .fd = in[1], .events = POLLOUT } };
		int64_t left = deadline - zl_mono_ms();
		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			rc = zl_err_set(err, ZL_ETRANSIENT, "%s: killed after %ld ms without exiting", target, timeout_ms);
			goto out;
		}
		if (poll(fds, in[1] >= 0 ? 2 : 1, left < 50 ? (int)left : 50) < 0 && errno != EINTR) {
			rc = zl_err_set(err, ZL_EIO, "poll: %s", strerror(errno));
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			goto out;
		}
		if (in[1] >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in[1], m->body + off, m->body_len - off);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno == EPIPE)
				got_epipe = 1;
			if (got_epipe || off == m->body_len || (w < 0 && errno != EAGAIN && errno != EINTR)) {
				close(in[1]); /* end of the message: the program reads EOF */
				in[1] = -1;
			}
		}
		if (errp[0] >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			char buf[4096];
			ssize_t r = read(errp[0], buf, sizeof buf);
			if (r > 0)
				keep_tail(tail, &tail_len, buf, (size_t)r);
		}
		reaped = waitpid(pid, &status, WNOHANG) == pid;
	}
	for (ssize_t r; (r = read(errp[0], line, sizeof line)) > 0;) /* what it wrote just before exiting */
		keep_tail(tail, &tail_len, line, (size_t)r);
	last_line(tail, tail_len, line, sizeof line);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		goto out;
	if (WIFEXITED(status))
		rc = zl_err_set(err, ZL_ETRANSIENT, "%s: exit status %d%s%s", target, WEXITSTATUS(status), *line ? ": " : "",
		                line);
	else
		rc = zl_err_set(err, ZL_ETRANSIENT, "%s: killed by signal %d%s%s", target,
		                WIFSIGNALED(status) ? WTERMSIG(status) : 0, *line ? ": " : "", line);
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	pipe_guard_off(&g, got_epipe);
	if (env) {
		for (size_t i = own; env[i]; i++)
			free(env[i]);
		free(env);
	}
	return rc;
}

const zl_notify_ops zl_notify_exec_ops = {
	.scheme = "exec",
	.example = "exec:/usr/local/bin/on-load",
	.validate = exec_validate,
	.send = exec_send,
};
