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

/* IN_DONT_FOLLOW with IN_ONLYDIR: a symbolic link to a directory is never watched. */
#define DIR_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)
#define DEFAULT_SETTLE_MS 1000
#define MIN_MEMO_MS 2000

typedef struct watch {
	int wd;
	char *rel; /* "" for the root, "bucket", "bucket/sub/dir" */
} watch;

/* What decides that a file changed. */
typedef struct fstate {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
} fstate;

/* A file found by a walk that waits to settle, or one a tick just reported (remembered for a
 * while, so that a close event racing the tick does not report it again). */
typedef struct seen {
	struct seen *next; /* hash chain */
	char *rel;
	fstate fs;
	int64_t since_ms;  /* waiting: unchanged since then; reported: when reported */
	int reported;
} seen;

struct zl_watch_dir {
	int fd;
	char *root; /* canonical */
	watch *w;
	size_t n, alloc;
	zl_watch_cb cb;
	void *ud;
	int64_t settle_ms;
	seen **slots;
	size_t nslots, nseen, npending;
	int64_t next_check;  /* no waiting file is due before this */
	int64_t next_expire; /* no reported file is forgotten before this */
};

enum { FS_IGNORE, FS_NOW, FS_FILE };

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static int64_t memo_ms(const zl_watch_dir *w)
{
	return w->settle_ms > MIN_MEMO_MS ? w->settle_ms : MIN_MEMO_MS;
}

/* root/rel into path (the root itself for ""); -1 when it does not fit. */
static int full_path(const zl_watch_dir *w, const char *rel, char *path, size_t n)
{
	return (size_t)snprintf(path, n, "%s%s%s", w->root, *rel ? "/" : "", rel) < n ? 0 : -1;
}

/* ---- watches ---- */

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

static int add_one(zl_watch_dir *w, const char *rel)
{
	char path[PATH_MAX];
	if (full_path(w, rel, path, sizeof path))
		return 0; /* too deep to name */
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
	if (!(w->w[w->n].rel = strdup(rel)))
		return -ENOMEM;
	w->w[w->n++].wd = wd;
	return 0;
}

/* ---- files waiting to settle, and files just reported ---- */

static size_t hash_rel(const char *s)
{
	size_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The link that points at rel's entry, or the NULL link ending its chain. */
static seen **slot_of(zl_watch_dir *w, const char *rel)
{
	seen **p = &w->slots[hash_rel(rel) & (w->nslots - 1)];
	while (*p && strcmp((*p)->rel, rel) != 0)
		p = &(*p)->next;
	return p;
}

static void drop(zl_watch_dir *w, seen **p)
{
	seen *s = *p;
	*p = s->next;
	if (!s->reported)
		w->npending--;
	w->nseen--;
	free(s->rel);
	free(s);
}

static int grow(zl_watch_dir *w)
{
	size_t n = w->nslots ? w->nslots * 2 : 64;
	seen **slots = calloc(n, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < w->nslots; i++)
		for (seen *s = w->slots[i], *next; s; s = next) {
			next = s->next;
			size_t h = hash_rel(s->rel) & (n - 1);
			s->next = slots[h];
			slots[h] = s;
		}
	free(w->slots);
	w->slots = slots;
	w->nslots = n;
	return 0;
}

static int add_waiting(zl_watch_dir *w, const char *rel, const fstate *fs, int64_t since)
{
	if (w->nseen >= w->nslots && grow(w))
		return -ENOMEM;
	seen *s = calloc(1, sizeof *s);
	if (!s || !(s->rel = strdup(rel))) {
		free(s);
		return -ENOMEM;
	}
	s->fs = *fs;
	s->since_ms = since;
	seen **head = &w->slots[hash_rel(rel) & (w->nslots - 1)];
	s->next = *head;
	*head = s;
	w->nseen++;
	w->npending++;
	w->next_check = min64(w->next_check, since + w->settle_ms);
	return 0;
}

static seen **find(zl_watch_dir *w, const char *rel)
{
	return w->nslots ? slot_of(w, rel) : NULL;
}

static int same_state(const fstate *a, const fstate *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* ---- files ---- */

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

/* Whether path, a link, leads inside the root. */
static int leads_inside(const zl_watch_dir *w, const char *path)
{
	char real[PATH_MAX];
	size_t n = strcmp(w->root, "/") == 0 ? 0 : strlen(w->root);
	return realpath(path, real) && strncmp(real, w->root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* What to do with the entry rel whose lstat is lst: a regular file, or a link to one inside the
 * root (judged by the file it leads to), settles (FS_FILE, *fs filled); a link leading outside the
 * root is reported at once, for the store to refuse (FS_NOW); anything else is ignored, a link to
 * a directory inside the root included. */
static int classify(const zl_watch_dir *w, const char *rel, const struct stat *lst, fstate *fs)
{
	struct stat st = *lst;
	if (S_ISLNK(st.st_mode)) {
		char path[PATH_MAX];
		if (full_path(w, rel, path, sizeof path) || stat(path, &st) != 0)
			return FS_IGNORE; /* dangling */
		if (!leads_inside(w, path))
			return FS_NOW;
	}
	if (!S_ISREG(st.st_mode))
		return FS_IGNORE;
	*fs = (fstate){ st.st_dev, st.st_ino, st.st_size, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec };
	return FS_FILE;
}

static int lstat_rel(const zl_watch_dir *w, const char *rel, struct stat *st)
{
	char path[PATH_MAX];
	return full_path(w, rel, path, sizeof path) ? -1 : lstat(path, st);
}

/* A file a walk found: reported when last modified settle_ms ago, otherwise it waits. The mtime
 * says since when the file has not changed, unless it lies in the future (another clock). */
static void found(zl_watch_dir *w, const char *rel, const struct stat *lst, int64_t now)
{
	fstate fs;
	int kind = classify(w, rel, lst, &fs);
	if (kind != FS_FILE) {
		if (kind == FS_NOW)
			report(w, rel);
		return;
	}
	seen **p = find(w, rel), *s = p ? *p : NULL;
	if (s && s->reported && same_state(&s->fs, &fs))
		return; /* a tick reported it just now */
	if (s && !s->reported) {
		if (!same_state(&s->fs, &fs)) {
			s->fs = fs;
			s->since_ms = now;
		}
		return;
	}
	if (s)
		drop(w, p);
	int64_t mtime = fs.mtime_ns / 1000000;
	if (now - mtime >= w->settle_ms)
		report(w, rel);
	else if (add_waiting(w, rel, &fs, min64(mtime, now)))
		report(w, rel); /* out of memory: better early than never */
}

/* A file closed after writing, or moved in: complete now. */
static void completed(zl_watch_dir *w, const char *rel)
{
	seen **p = find(w, rel), *s = p ? *p : NULL;
	if (s && s->reported) {
		struct stat lst;
		fstate fs;
		if (lstat_rel(w, rel, &lst) == 0 && classify(w, rel, &lst, &fs) == FS_FILE && same_state(&s->fs, &fs))
			return; /* the tick that reported it raced this event */
	}
	if (s)
		drop(w, p);
	report(w, rel);
}

/* Watches rel and every directory below (never through a link); with report_files, the files
 * found settle and are reported (a new directory may have filled before its watch existed). */
static int walk(zl_watch_dir *w, const char *rel, int64_t now, int report_files)
{
	int rc = add_one(w, rel);
	if (rc)
		return rc;
	char path[PATH_MAX];
	int fd = full_path(w, rel, path, sizeof path) ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0; /* gone, or replaced by something not to walk */
	}
	struct dirent *e;
	while ((e = readdir(d)) && rc == 0) {
		char child[PATH_MAX];
		struct stat st;
		if (e->d_name[0] == '.' ||
		    (size_t)snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= sizeof child ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = walk(w, child, now, report_files);
		else if (report_files && *rel)
			found(w, child, &st, now);
	}
	closedir(d);
	return rc;
}

static void walk_or_warn(zl_watch_dir *w, const char *rel, int64_t now)
{
	int rc = walk(w, rel, now, 1);
	if (rc)
		ZL_LOG(ZL_WARN, "cannot watch directory", ZL_S("root", w->root), ZL_S("dir", rel), ZL_S("error", strerror(-rc)));
}

/* ---- the interface ---- */

int zl_watch_dir_open(const char *root, const zl_watch_opts *o, zl_watch_cb cb, void *ud,
                      zl_watch_dir **out, zl_err *err)
{
	*out = NULL;
	zl_watch_dir *w = calloc(1, sizeof *w);
	if (!w)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	w->cb = cb;
	w->ud = ud;
	w->settle_ms = o && o->settle_ms > 0 ? o->settle_ms : DEFAULT_SETTLE_MS;
	w->next_check = w->next_expire = INT64_MAX;
	w->fd = -1;
	if (!(w->root = realpath(root, NULL))) {
		int e = errno;
		zl_watch_dir_close(w);
		return zl_err_set(err, ZL_EIO, "watching %s: %s", root, strerror(e));
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		int e = errno;
		zl_watch_dir_close(w);
		return zl_err_set(err, ZL_EIO, "inotify: %s", strerror(e));
	}
	int rc = walk(w, "", 0, 0);
	if (rc) {
		zl_watch_dir_close(w);
		return zl_err_set(err, ZL_EIO, "watching %s: %s", root, strerror(-rc));
	}
	*out = w;
	return 0;
}

int zl_watch_dir_fd(const zl_watch_dir *w) { return w->fd; }

static void on_event(zl_watch_dir *w, const struct inotify_event *ev, int64_t now)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		ZL_LOG(ZL_WARN, "inotify queue overflowed: rescanning", ZL_S("root", w->root));
		walk_or_warn(w, "", now);
		return;
	}
	if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) {
		forget(w, ev->wd);
		return;
	}
	const char *dir = rel_of(w, ev->wd);
	char rel[PATH_MAX];
	if (!dir || !ev->len || ev->name[0] == '.' ||
	    (size_t)snprintf(rel, sizeof rel, "%s%s%s", dir, *dir ? "/" : "", ev->name) >= sizeof rel)
		return;
	if (ev->mask & IN_ISDIR) {
		if (ev->mask & (IN_CREATE | IN_MOVED_TO))
			walk_or_warn(w, rel, now);
		return;
	}
	if (!*dir)
		return; /* a file directly in the root belongs to no bucket */
	struct stat lst;
	if (ev->mask & IN_CLOSE_WRITE)
		completed(w, rel);
	else if ((ev->mask & (IN_MOVED_TO | IN_CREATE)) && lstat_rel(w, rel, &lst) == 0) {
		if (S_ISLNK(lst.st_mode))
			found(w, rel, &lst, now); /* the link is complete; the file it leads to may not be */
		else if (S_ISREG(lst.st_mode) && (ev->mask & IN_MOVED_TO))
			completed(w, rel);
	}
}

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
			on_event(w, ev, now_ms);
		}
	}
}

int zl_watch_dir_scan(zl_watch_dir *w, int64_t now_ms, zl_err *err)
{
	int rc = walk(w, "", now_ms, 1);
	return rc ? zl_err_set(err, rc == -ENOMEM ? ZL_ENOMEM : ZL_EIO, "scanning %s: %s", w->root, strerror(-rc)) : 0;
}

int64_t zl_watch_dir_next_ms(const zl_watch_dir *w, int64_t now_ms)
{
	if (!w->npending)
		return -1;
	return w->next_check <= now_ms ? 0 : w->next_check - now_ms;
}

/* Checks one waiting file that is due: reported when unchanged, otherwise it waits again.
 * Returns 0 to keep the entry, 1 to drop it. */
static int check_due(zl_watch_dir *w, seen *s, int64_t now)
{
	struct stat lst;
	fstate fs;
	int kind = lstat_rel(w, s->rel, &lst) == 0 ? classify(w, s->rel, &lst, &fs) : FS_IGNORE;
	if (kind != FS_FILE) {
		if (kind == FS_NOW)
			report(w, s->rel);
		return 1; /* gone, or no longer a file */
	}
	if (!same_state(&s->fs, &fs)) {
		s->fs = fs;
		s->since_ms = now; /* a growing file waits again, whatever its mtime says */
		return 0;
	}
	report(w, s->rel);
	s->reported = 1;
	s->since_ms = now;
	w->npending--;
	return 0;
}

void zl_watch_dir_tick(zl_watch_dir *w, int64_t now_ms)
{
	if (now_ms < w->next_check && now_ms < w->next_expire)
		return;
	int64_t next_check = INT64_MAX, next_expire = INT64_MAX;
	for (size_t i = 0; i < w->nslots; i++)
		for (seen **p = &w->slots[i]; *p;) {
			seen *s = *p;
			if (!s->reported && now_ms - s->since_ms >= w->settle_ms && check_due(w, s, now_ms)) {
				drop(w, p);
				continue;
			}
			if (s->reported && now_ms - s->since_ms >= memo_ms(w)) {
				drop(w, p);
				continue;
			}
			if (s->reported)
				next_expire = min64(next_expire, s->since_ms + memo_ms(w));
			else
				next_check = min64(next_check, s->since_ms + w->settle_ms);
			p = &s->next;
		}
	w->next_check = next_check;
	w->next_expire = next_expire;
}

size_t zl_watch_dir_pending(const zl_watch_dir *w) { return w->npending; }

void zl_watch_dir_close(zl_watch_dir *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; i < w->n; i++)
		free(w->w[i].rel);
	for (size_t i = 0; i < w->nslots; i++)
		for (seen *s = w->slots[i], *next; s; s = next) {
			next = s->next;
			free(s->rel);
			free(s);
		}
	free(w->slots);
	free(w->w);
	free(w->root);
	free(w);
}
