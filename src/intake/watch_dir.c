#include "intake/watch_dir.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_ONLYDIR)

typedef struct watch {
	int wd;
	char *rel; /* "" for the root, "bucket", "bucket/sub/dir" */
} watch;

struct zl_watch_dir {
	int fd;
	char *root;
	watch *w;
	size_t n, alloc;
	zl_watch_cb cb;
	void *ud;
};

static const char *rel_of(zl_watch_dir *w, int wd)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->w[i].wd == wd)
			return w->w[i].rel;
	return NULL;
}

static void forget(zl_watch_dir *w, int wd)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->w[i].wd == wd) {
			free(w->w[i].rel);
			w->w[i] = w->w[--w->n];
			return;
		}
}

/* Reports a file at rel (relative to the root) when it is inside a bucket. */
static void report(zl_watch_dir *w, const char *rel)
{
	const char *slash = strchr(rel, '/');
	if (!slash || !slash[1])
		return; /* a file directly in the root belongs to no bucket */
	char bucket[256];
	snprintf(bucket, sizeof bucket, "%.*s", (int)(slash - rel), rel);
	w->cb(w->ud, bucket, slash + 1);
}

static int add_tree(zl_watch_dir *w, const char *rel, int report_files);

static int add_one(zl_watch_dir *w, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s%s%s", w->root, *rel ? "/" : "", rel);
	int wd = inotify_add_watch(w->fd, path, DIR_MASK);
	if (wd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (rel_of(w, wd))
		return 0;
	if (w->n == w->alloc) {
		size_t n = w->alloc ? w->alloc * 2 : 32;
		watch *p = realloc(w->w, n * sizeof *p);
		if (!p)
			return -ENOMEM;
		w->w = p;
		w->alloc = n;
	}
	w->w[w->n].wd = wd;
	w->w[w->n].rel = strdup(rel);
	w->n++;
	return 0;
}

/* Watches rel and every directory below; with report_files, reports the files found (a new
 * directory may have filled before its watch existed). */
static int add_tree(zl_watch_dir *w, const char *rel, int report_files)
{
	int rc = add_one(w, rel);
	if (rc)
		return rc;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s%s%s", w->root, *rel ? "/" : "", rel);
	struct dirent **names = NULL;
	int n = scandir(path, &names, NULL, alphasort); /* in key order, as a listing */
	for (int i = 0; i < n; i++) {
		struct dirent *e = names[i];
		char child[PATH_MAX], full[PATH_MAX + 256];
		struct stat st;
		if (rc == 0 && e->d_name[0] != '.') {
			snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
			snprintf(full, sizeof full, "%s/%s", w->root, child);
			if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
				rc = add_tree(w, child, report_files);
			else if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && report_files)
				report(w, child);
		}
		free(e);
	}
	free(names);
	return rc;
}

int zl_watch_dir_open(const char *root, const zl_watch_opts *o, zl_watch_cb cb, void *ud, zl_watch_dir **out,
                      zl_err *err)
{
	(void)o;
	*out = NULL;
	zl_watch_dir *w = calloc(1, sizeof *w);
	if (!w)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	w->cb = cb;
	w->ud = ud;
	w->root = strdup(root);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		int e = errno;
		zl_watch_dir_close(w);
		return zl_err_set(err, ZL_EIO, "inotify: %s", strerror(e));
	}
	int rc = add_tree(w, "", 0);
	if (rc) {
		zl_watch_dir_close(w);
		return zl_err_set(err, ZL_EIO, "watching %s: %s", root, strerror(-rc));
	}
	*out = w;
	return 0;
}

int zl_watch_dir_fd(const zl_watch_dir *w) { return w->fd; }

int zl_watch_dir_scan(zl_watch_dir *w, int64_t now_ms, zl_err *err)
{
	(void)now_ms;
	int rc = add_tree(w, "", 1);
	return rc ? zl_err_set(err, ZL_EIO, "watching %s: %s", w->root, strerror(-rc)) : 0;
}

int64_t zl_watch_dir_next_ms(const zl_watch_dir *w, int64_t now_ms) { return -1; }
void zl_watch_dir_tick(zl_watch_dir *w, int64_t now_ms) {}
size_t zl_watch_dir_pending(const zl_watch_dir *w) { return 0; }

int zl_watch_dir_dispatch(zl_watch_dir *w, int64_t now_ms, zl_err *err)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t len = read(w->fd, buf, sizeof buf);
		if (len < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : zl_err_set(err, ZL_EIO, "inotify: %s", strerror(errno));
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				ZL_LOG(ZL_WARN, "inotify queue overflowed: rescanning", ZL_S("root", w->root));
				add_tree(w, "", 1);
				continue;
			}
			if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) {
				forget(w, ev->wd);
				continue;
			}
			const char *dir = rel_of(w, ev->wd);
			if (!dir || !ev->len || ev->name[0] == '.')
				continue;
			char rel[PATH_MAX];
			snprintf(rel, sizeof rel, "%s%s%s", dir, *dir ? "/" : "", ev->name);
			if (ev->mask & IN_ISDIR) {
				if (ev->mask & (IN_CREATE | IN_MOVED_TO))
					add_tree(w, rel, 1);
			} else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
				report(w, rel);
			}
		}
	}
}

void zl_watch_dir_close(zl_watch_dir *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; i < w->n; i++)
		free(w->w[i].rel);
	free(w->w);
	free(w->root);
	free(w);
}
