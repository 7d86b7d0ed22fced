/* One line of input per answer, with echo off for secrets on a terminal. */
#include "cli/term_input.h"
#include "util/log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* While echo is off: the terminal's settings to restore, for the signal handlers too. */
static struct termios saved_tio;
static volatile sig_atomic_t echo_is_off;
static int echo_fd = -1, prompt_fd = -1;

/* The signals that end or stop the process while a secret is typed. */
static const int watched[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGCONT };
#define NWATCHED (sizeof watched / sizeof watched[0])
static struct sigaction previous[NWATCHED];

static void set_echo(int on)
{
	struct termios t = saved_tio;
	if (!on)
		t.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(echo_fd, TCSANOW, &t);
}

/* Restores the terminal, then lets the signal do what it would have done; after a stop (Ctrl-Z),
 * SIGCONT turns echo off again for the rest of the secret. */
static void on_signal(int sig)
{
	int saved_errno = errno;
	if (!echo_is_off)
		goto out;
	if (sig == SIGCONT) {
		set_echo(0);
		struct sigaction sa = { .sa_handler = on_signal };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTSTP, &sa, NULL);
		goto out;
	}
	set_echo(1);
	ssize_t n = write(prompt_fd, "\n", 1); /* what comes next starts on a line of its own */
	(void)n;
	signal(sig, SIG_DFL);
	raise(sig); /* delivered when the handler returns (the signal is blocked in it) */
out:
	errno = saved_errno;
}

static int echo_off(int fd, int out_fd)
{
	if (tcgetattr(fd, &saved_tio) != 0)
		return -1;
	echo_fd = fd;
	prompt_fd = out_fd;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NWATCHED; i++)
		sigaction(watched[i], &sa, &previous[i]);
	echo_is_off = 1;
	set_echo(0);
	return 0;
}

static void echo_on(void)
{
	if (!echo_is_off)
		return;
	set_echo(1);
	echo_is_off = 0;
	for (size_t i = 0; i < NWATCHED; i++)
		sigaction(watched[i], &previous[i], NULL);
}

void zl_term_init(zl_term *t)
{
	t->in = stdin;
	t->out = stderr;
	t->tty = isatty(fileno(stdin));
	t->own_out = 0;
	if (zl_log_json() && !isatty(STDERR_FILENO)) {
		t->out = t->tty ? fopen("/dev/tty", "w") : NULL;
		t->own_out = t->out != NULL;
	}
}

void zl_term_release(zl_term *t)
{
	if (t->own_out)
		fclose(t->out);
	t->out = NULL;
	t->own_out = 0;
}

void zl_term_say(zl_term *t, const char *fmt, ...)
{
	if (!t->out)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(t->out, fmt, ap);
	va_end(ap);
	fflush(t->out);
}

void zl_term_free(char *line)
{
	if (!line)
		return;
	explicit_bzero(line, strlen(line));
	free(line);
}

int zl_term_read_line(zl_term *t, const char *prompt, int secret, char **line, zl_err *err)
{
	char *buf = malloc(ZL_TERM_LINE_MAX + 1);
	size_t len = 0;
	int c = EOF, rc = 0, too_long = 0, hidden = 0;
	*line = NULL;
	if (!buf)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	zl_term_say(t, "%s", prompt);
	hidden = secret && t->tty && echo_off(fileno(t->in), t->out ? fileno(t->out) : -1) == 0;
	while ((c = getc(t->in)) != EOF && c != '\n') {
		if (len < ZL_TERM_LINE_MAX)
			buf[len++] = (char)c;
		else
			too_long = 1;
	}
	int read_error = c == EOF && ferror(t->in);
	echo_on();
	/* What is typed ends the prompt's line; nothing does when it is not echoed or not a terminal. */
	if (hidden || !t->tty)
		zl_term_say(t, "\n");
	if (len && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (read_error)
		rc = zl_err_set(err, ZL_EIO, "cannot read the answer: %s", strerror(errno));
	else if (c == EOF && len == 0)
		rc = zl_err_set(err, ZL_ENOTFOUND, "the input ended");
	else if (too_long)
		rc = zl_err_set(err, ZL_EINVAL, "an answer is at most %d bytes", ZL_TERM_LINE_MAX);
	else if (!(*line = strdup(buf)))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}
