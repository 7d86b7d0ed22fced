/* The directory watcher, driven through now_ms: a file a walk finds while it is still being
 * written is reported only once unchanged for settle_ms; a close event reports at once; linked
 * directories are never watched. File times are real; the tests place now_ms relative to them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "intake/watch_dir.h"
#include "util/strvec.h"
#include "util/timeutil.h"

#define SETTLE 1000

typedef struct fixture {
	char base[64];
	char root[128];
	zl_strvec got; /* "bucket|key" per report */
	zl_watch_dir *w;
} fixture;

static void on_file(void *ud, const char *bucket, const char *key)
{
	char line[1024];
	snprintf(line, sizeof line, "%s|%s", bucket, key);
	zl_strvec_push(ud, line);
}

static void path_at(char *out, size_t n, const fixture *fx, const char *rel)
{
	snprintf(out, n, "%s/%s", fx->root, rel);
}

static void mkdir_at(const fixture *fx, const char *rel)
{
	char p[256];
	path_at(p, sizeof p, fx, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

/* Opens rel for writing (created) and writes text; the caller closes. */
static int open_writing(const fixture *fx, const char *rel, const char *text)
{
	char p[256];
	path_at(p, sizeof p, fx, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void append(int fd, const char *text)
{
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* The file's mtime in Unix ms. */
static int64_t mtime_of(const fixture *fx, const char *rel)
{
	char p[256];
	struct stat st;
	path_at(p, sizeof p, fx, rel);
	assert_int_equal(stat(p, &st), 0);
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static void open_watcher(fixture *fx)
{
	zl_err err;
	zl_watch_opts o = { .settle_ms = SETTLE };
	assert_int_equal(zl_watch_dir_open(fx->root, &o, on_file, &fx->got, &fx->w, &err), 0);
}

/* Reports so far, one "bucket|key" a line; clears them. */
static char *taken(fixture *fx)
{
	static char buf[4096];
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < fx->got.n; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\n", fx->got.v[i]);
	zl_strvec_release(&fx->got);
	zl_strvec_init(&fx->got);
	return buf;
}

static void dispatch(fixture *fx, int64_t now)
{
	zl_err err;
	assert_int_equal(zl_watch_dir_dispatch(fx->w, now, &err), 0);
}

static void scan(fixture *fx, int64_t now)
{
	zl_err err;
	assert_int_equal(zl_watch_dir_scan(fx->w, now, &err), 0);
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	*state = fx;
	strcpy(fx->base, "/tmp/zl_watch_dir_test_XXXXXX");
	if (!mkdtemp(fx->base))
		return -1;
	snprintf(fx->root, sizeof fx->root, "%s/store", fx->base);
	zl_strvec_init(&fx->got);
	if (mkdir(fx->root, 0755))
		return -1;
	mkdir_at(fx, "b");
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	fixture *fx = *state;
	if (!fx)
		return 0;
	zl_watch_dir_close(fx->w);
	zl_strvec_release(&fx->got);
	if (fx->base[0])
		nftw(fx->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void test_scan_waits_until_settled(void **state)
{
	fixture *fx = *state;
	int fd = open_writing(fx, "b/f.csv", "id\n1\n");
	int64_t m = mtime_of(fx, "b/f.csv");
	open_watcher(fx);
	scan(fx, m + 100);
	assert_string_equal(taken(fx), "");
	assert_int_equal(zl_watch_dir_pending(fx->w), 1);
	assert_int_equal(zl_watch_dir_next_ms(fx->w, m + 100), SETTLE - 100);
	zl_watch_dir_tick(fx->w, m + SETTLE - 1);
	assert_string_equal(taken(fx), "");
	/* a second walk meanwhile does not report it either, nor restart the wait */
	scan(fx, m + 500);
	assert_string_equal(taken(fx), "");
	zl_watch_dir_tick(fx->w, m + SETTLE);
	assert_string_equal(taken(fx), "b|f.csv\n");
	assert_int_equal(zl_watch_dir_pending(fx->w), 0);
	assert_int_equal(zl_watch_dir_next_ms(fx->w, m + SETTLE), -1);
	/* closing it unchanged right after is the same completion: not reported again */
	close(fd);
	dispatch(fx, m + SETTLE + 10);
	zl_watch_dir_tick(fx->w, m + 10 * SETTLE);
	assert_string_equal(taken(fx), "");
}

static void test_growing_file_waits_again(void **state)
{
	fixture *fx = *state;
	int fd = open_writing(fx, "b/grow.csv", "id\n1\n");
	int64_t m = mtime_of(fx, "b/grow.csv");
	open_watcher(fx);
	scan(fx, m);
	append(fd, "2\n");
	zl_watch_dir_tick(fx->w, m + SETTLE);
	assert_string_equal(taken(fx), "");
	assert_int_equal(zl_watch_dir_pending(fx->w), 1);
	assert_int_equal(zl_watch_dir_next_ms(fx->w, m + SETTLE), SETTLE);
	zl_watch_dir_tick(fx->w, m + 2 * SETTLE - 1);
	assert_string_equal(taken(fx), "");
	zl_watch_dir_tick(fx->w, m + 2 * SETTLE);
	assert_string_equal(taken(fx), "b|grow.csv\n");
	close(fd);
}

static void test_close_reports_at_once(void **state)
{
	fixture *fx = *state;
	int fd = open_writing(fx, "b/c.csv", "id\n1\n");
	int64_t m = mtime_of(fx, "b/c.csv");
	open_watcher(fx);
	scan(fx, m + 10);
	assert_int_equal(zl_watch_dir_pending(fx->w), 1);
	append(fd, "2\n");
	close(fd);
	dispatch(fx, m + 20);
	assert_string_equal(taken(fx), "b|c.csv\n");
	assert_int_equal(zl_watch_dir_pending(fx->w), 0);
	zl_watch_dir_tick(fx->w, m + 10 * SETTLE);
	assert_string_equal(taken(fx), "");

	/* a file written and closed while watched: at once, no wait */
	fd = open_writing(fx, "b/d.csv", "id\n1\n");
	dispatch(fx, m + 30);
	assert_string_equal(taken(fx), "");
	close(fd);
	dispatch(fx, m + 40);
	assert_string_equal(taken(fx), "b|d.csv\n");
	assert_int_equal(zl_watch_dir_next_ms(fx->w, m + 40), -1);
}

static void test_old_file_at_once_hidden_ignored(void **state)
{
	fixture *fx = *state;
	close(open_writing(fx, "b/old.csv", "id\n1\n"));
	close(open_writing(fx, "b/.part.csv", "id\n1\n"));
	close(open_writing(fx, "top.csv", "id\n1\n")); /* in no bucket */
	int64_t m = mtime_of(fx, "b/old.csv");
	open_watcher(fx);
	scan(fx, m + SETTLE + 1);
	assert_string_equal(taken(fx), "b|old.csv\n");
	assert_int_equal(zl_watch_dir_pending(fx->w), 0);

	/* an mtime in the future (another clock) is not trusted: the file waits from now */
	char p[256];
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { (time_t)((m + 3600 * 1000) / 1000), 0 } };
	path_at(p, sizeof p, fx, "b/old.csv");
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	dispatch(fx, m + SETTLE + 2);
	scan(fx, m + 2 * SETTLE);
	assert_string_equal(taken(fx), "");
	zl_watch_dir_tick(fx->w, m + 3 * SETTLE - 1);
	assert_string_equal(taken(fx), "");
	zl_watch_dir_tick(fx->w, m + 3 * SETTLE);
	assert_string_equal(taken(fx), "b|old.csv\n");
}

static void test_new_directory_with_a_file_being_written(void **state)
{
	fixture *fx = *state;
	int64_t now = zl_now_ms();
	open_watcher(fx);
	scan(fx, now);
	mkdir_at(fx, "b/new");
	mkdir_at(fx, "b/new/deeper");
	int fd = open_writing(fx, "b/new/deeper/f.csv", "id\n1\n");
	int64_t m = mtime_of(fx, "b/new/deeper/f.csv");
	dispatch(fx, m + 5);
	assert_string_equal(taken(fx), "");
	assert_int_equal(zl_watch_dir_pending(fx->w), 1);
	/* the directory is watched now: its close event reports the file, once */
	append(fd, "2\n");
	close(fd);
	dispatch(fx, m + 10);
	assert_string_equal(taken(fx), "b|new/deeper/f.csv\n");
	zl_watch_dir_tick(fx->w, m + 10 * SETTLE);
	assert_string_equal(taken(fx), "");

	/* one left open settles instead */
	mkdir_at(fx, "b/other");
	fd = open_writing(fx, "b/other/g.csv", "id\n1\n");
	m = mtime_of(fx, "b/other/g.csv");
	dispatch(fx, m + 5);
	zl_watch_dir_tick(fx->w, m + SETTLE - 1);
	assert_string_equal(taken(fx), "");
	zl_watch_dir_tick(fx->w, m + SETTLE);
	assert_string_equal(taken(fx), "b|other/g.csv\n");
	close(fd);
}

static void test_linked_directories_not_watched(void **state)
{
	fixture *fx = *state;
	char p[256], t[256];
	snprintf(t, sizeof t, "%s/outside", fx->base);
	assert_int_equal(mkdir(t, 0755), 0);
	mkdir_at(fx, "b/real");
	path_at(p, sizeof p, fx, "b/out");
	assert_int_equal(symlink(t, p), 0); /* a directory outside the root */
	path_at(p, sizeof p, fx, "b/inlink");
	assert_int_equal(symlink("real", p), 0); /* a directory inside */
	int64_t now = zl_now_ms();
	open_watcher(fx);
	scan(fx, now + SETTLE);
	/* the outside one is reported by name, for the store to refuse; the inside one is skipped */
	assert_string_equal(taken(fx), "b|out\n");

	snprintf(p, sizeof p, "%s/outside/x.csv", fx->base);
	close(open(p, O_WRONLY | O_CREAT, 0644));
	path_at(p, sizeof p, fx, "b/inlink/y.csv");
	close(open(p, O_WRONLY | O_CREAT, 0644));
	dispatch(fx, now + SETTLE + 1);
	assert_string_equal(taken(fx), "b|real/y.csv\n");

	/* a link to a file outside, made while watched: reported at once, though just written */
	snprintf(t, sizeof t, "%s/outside/x.csv", fx->base);
	int fd = open(t, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	append(fd, "id\n1\n");
	close(fd);
	path_at(p, sizeof p, fx, "b/real/link.csv");
	assert_int_equal(symlink(t, p), 0);
	dispatch(fx, zl_now_ms());
	assert_string_equal(taken(fx), "b|real/link.csv\n");

	/* a link to a file inside that is being written settles like the file */
	fd = open_writing(fx, "b/real/w.csv", "id\n1\n");
	int64_t m = mtime_of(fx, "b/real/w.csv");
	path_at(p, sizeof p, fx, "b/lnk.csv");
	assert_int_equal(symlink("real/w.csv", p), 0);
	dispatch(fx, m + 5);
	assert_string_equal(taken(fx), "");
	assert_int_equal(zl_watch_dir_pending(fx->w), 1);
	close(fd);
	dispatch(fx, m + 10);
	assert_string_equal(taken(fx), "b|real/w.csv\n");
	zl_watch_dir_tick(fx->w, m + SETTLE);
	assert_string_equal(taken(fx), "b|lnk.csv\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_waits_until_settled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growing_file_waits_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_reports_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_file_at_once_hidden_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_directory_with_a_file_being_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linked_directories_not_watched, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
