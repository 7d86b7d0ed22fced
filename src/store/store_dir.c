#include "store/store_dir.h"
#include "util/fsutil.h"
#include "util/strvec.h"
#include "util/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REFUSED "refused: a symbolic link leads outside the store root"
#define CHECK_DIR_MS 1000 /* how long check trusts a directory it opened beneath the root */

typedef struct dir_store {
	zl_store base;
	char *root;      /* as given */
	char *root_real; /* canonical */
	int root_fd;     /* every object is opened beneath this descriptor of the root */
	/* check's last directory, opened beneath the root: its files are looked at with one fstatat */
	pthread_mutex_t check_mu;
	char check_rel[PATH_MAX];
	int check_fd;
	int64_t check_until;
} dir_store;

const zl_store_ops zl_store_dir_ops;

const char *zl_store_dir_root(const zl_store *s)
{
	return s && s->ops == &zl_store_dir_ops ? ((const dir_store *)s)->root : NULL;
}

int zl_store_dir_key_ok(const char *key)
{
	if (!key || !*key || key[0] == '/')
		return 0;
	for (const char *seg = key; seg;) {
		const char *slash = strchr(seg, '/');
		size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
		if (n == 0 || seg[0] == '.')
			return 0;
		seg = slash ? slash + 1 : NULL;
	}
	return 1;
}

static int bucket_ok(const char *bucket)
{
	return bucket && *bucket && bucket[0] != '.' && !strchr(bucket, '/');
}

/* The error for -errno e about bucket/key (key NULL: the bucket itself). */
static int fs_error(int e, const char *bucket, const char *key, zl_err *err)
{
	const char *sep = key ? "/" : "", *k = key ? key : "";
	if (e == -EXDEV)
		return zl_err_set(err, ZL_EINVAL, "%s%s%s: " REFUSED, bucket, sep, k);
	int code = e == -ENOENT || e == -ENOTDIR ? ZL_ENOTFOUND : e == -ENOMEM ? ZL_ENOMEM
	         : e == -ELOOP ? ZL_EINVAL : ZL_EIO;
	return zl_err_set(err, code, "%s%s%s: %s", bucket, sep, k, strerror(-e));
}

static void dir_close(zl_store *s)
{
	dir_store *d = (dir_store *)s;
	if (!d)
		return;
	if (d->root_fd >= 0)
		close(d->root_fd);
	if (d->check_fd >= 0)
		close(d->check_fd);
	pthread_mutex_destroy(&d->check_mu);
	free(d->root_real);
	free(d->root);
	free(d);
}

static int dir_open(const char *target, zl_store **out, zl_err *err)
{
	*out = NULL;
	if (!target || !*target)
		return zl_err_set(err, ZL_EINVAL, "store URL \"dir:\": missing directory");
	dir_store *d = calloc(1, sizeof *d);
	if (!d || !(d->root = strdup(target))) {
		free(d);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	d->base.ops = &zl_store_dir_ops;
	d->root_fd = d->check_fd = -1;
	pthread_mutex_init(&d->check_mu, NULL);
	size_t n = strlen(d->root);
	while (n > 1 && d->root[n - 1] == '/')
		d->root[--n] = '\0';
	d->root_fd = open(d->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->root_fd < 0 || !(d->root_real = realpath(d->root, NULL))) {
		int e = errno;
		dir_close(&d->base);
		return zl_err_set(err, e == ENOMEM ? ZL_ENOMEM : ZL_ENOTFOUND, "store directory \"%s\": %s", target,
		                  strerror(e));
	}
	*out = &d->base;
	return 0;
}

/* Builds BUCKET/KEY (relative to the root) into rel after checking both names. */
static int object_rel(const char *bucket, const char *key, char *rel, size_t n, zl_err *err)
{
	if (!bucket_ok(bucket) || !zl_store_dir_key_ok(key))
		return zl_err_set(err, ZL_EINVAL, "%s/%s: not a valid object name for a dir: store",
		                  bucket ? bucket : "", key ? key : "");
	size_t b = strlen(bucket), k = strlen(key);
	if (b + 1 + k >= n)
		return zl_err_set(err, ZL_EINVAL, "%s/%s: path too long", bucket, key);
	memcpy(rel, bucket, b);
	rel[b] = '/';
	memcpy(rel + b + 1, key, k + 1);
	return 0;
}

static int64_t mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static void fill_etag(const struct stat *st, char *out, size_t n)
{
	snprintf(out, n, "%llx-%llx", (unsigned long long)st->st_size,
	         (unsigned long long)st->st_mtim.tv_sec * 1000000000ull + (unsigned long long)st->st_mtim.tv_nsec);
}

/* Opens the regular file bucket/key beneath the root with flags; *fd and *st on success. */
static int open_object(dir_store *d, const char *bucket, const char *key, int flags, int *fd,
                       struct stat *st, zl_err *err)
{
	char rel[PATH_MAX];
	int rc = object_rel(bucket, key, rel, sizeof rel, err);
	if (rc)
		return rc;
	if ((rc = zl_open_beneath(d->root_fd, d->root_real, rel, flags, fd)))
		return fs_error(rc, bucket, key, err);
	if (fstat(*fd, st) != 0)
		rc = fs_error(-errno, bucket, key, err);
	else if (!S_ISREG(st->st_mode))
		rc = zl_err_set(err, ZL_ENOTFOUND, "%s/%s: not a regular file", bucket, key);
	if (rc) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

static int dir_head(zl_store *s, const char *bucket, const char *key, zl_object *out, zl_err *err)
{
	char etag[64];
	struct stat st;
	int fd, rc = open_object((dir_store *)s, bucket, key, O_PATH, &fd, &st, err);
	if (rc)
		return rc;
	close(fd);
	fill_etag(&st, etag, sizeof etag);
	out->bucket = strdup(bucket);
	out->key = strdup(key);
	out->etag = strdup(etag);
	out->size = st.st_size;
	out->modified = mtime_ms(&st);
	if (!out->bucket || !out->key || !out->etag) {
		zl_object_release(out);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	return 0;
}

/* Looks at rel's last component in its directory, opened beneath the root (and kept for
 * CHECK_DIR_MS, so a run of keys in one directory costs one fstatat each): 1 when what is there
 * cannot lead outside the root (no entry, or anything but a symbolic link), 0 when only the whole
 * walk can tell. */
static int check_fast(dir_store *d, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	size_t dn = (size_t)(slash - rel);
	int fast = 0;
	pthread_mutex_lock(&d->check_mu);
	int64_t now = zl_mono_ms();
	if (d->check_fd < 0 || now >= d->check_until || strncmp(d->check_rel, rel, dn) != 0 || d->check_rel[dn]) {
		if (d->check_fd >= 0)
			close(d->check_fd);
		d->check_fd = -1;
		memcpy(d->check_rel, rel, dn);
		d->check_rel[dn] = '\0';
		if (zl_open_beneath(d->root_fd, d->root_real, d->check_rel, O_PATH | O_DIRECTORY, &d->check_fd) != 0)
			d->check_fd = -1;
		d->check_until = now + CHECK_DIR_MS;
	}
	if (d->check_fd >= 0) {
		/* readlinkat rather than fstatat: the same lookup without filling a struct stat. EINVAL:
		 * there, and not a symbolic link; ENOENT: nothing there; a link (or any other error) is
		 * for the whole walk to judge. */
		char one;
		fast = readlinkat(d->check_fd, slash + 1, &one, 1) < 0 && (errno == EINVAL || errno == ENOENT);
	}
	pthread_mutex_unlock(&d->check_mu);
	return fast;
}

/* A missing object is not refused here: the load says it is missing. */
static int dir_check(zl_store *s, const char *bucket, const char *key, zl_err *err)
{
	dir_store *d = (dir_store *)s;
	struct stat st;
	char rel[PATH_MAX];
	int fd, rc = object_rel(bucket, key, rel, sizeof rel, err);
	if (rc)
		return rc;
	if (check_fast(d, rel))
		return 0;
	if ((rc = open_object(d, bucket, key, O_PATH, &fd, &st, err)) == 0)
		close(fd);
	return rc == ZL_EINVAL ? rc : 0;
}

typedef struct fd_reader {
	zl_reader base;
	int fd;
	char *name;
} fd_reader;

static ssize_t fd_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	fd_reader *f = (fd_reader *)r;
	ssize_t got;
	do
		got = read(f->fd, buf, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return zl_err_set(err, ZL_EIO, "%s: read failed: %s", f->name, strerror(errno));
	return got;
}

static void fd_close(zl_reader *r)
{
	fd_reader *f = (fd_reader *)r;
	close(f->fd);
	free(f->name);
	free(f);
}

static int dir_open_reader(zl_store *s, const char *bucket, const char *key, zl_reader **out,
                           zl_err *err)
{
	struct stat st;
	int fd;
	/* O_NONBLOCK: a FIFO under a key's name must not block the open; it is refused below. */
	int rc = open_object((dir_store *)s, bucket, key, O_RDONLY | O_NONBLOCK | O_NOCTTY, &fd, &st, err);
	if (rc)
		return rc;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	fd_reader *f = calloc(1, sizeof *f);
	if (!f || asprintf(&f->name, "%s/%s", bucket, key) < 0) {
		free(f);
		close(fd);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	f->fd = fd;
	f->base.read = fd_read;
	f->base.close = fd_close;
	f->base.name = f->name;
	*out = &f->base;
	return 0;
}

typedef struct lister {
	dir_store *d;
	const char *bucket;
	const char *prefix;
	size_t plen;
	zl_store_list_cb cb;
	void *ud;
	zl_err *err;
} lister;

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether key, an object, is under the prefix. */
static int key_matches(const lister *l, const char *key)
{
	return strncmp(key, l->prefix, l->plen) == 0;
}

/* Whether key, or a key below the directory key, can be under the prefix. */
static int key_may_hold(const lister *l, const char *key)
{
	size_t klen = strlen(key);
	if (klen >= l->plen)
		return key_matches(l, key);
	return strncmp(l->prefix, key, klen) == 0 && l->prefix[klen] == '/';
}

static int emit(lister *l, const char *key, const struct stat *st)
{
	char etag[64];
	fill_etag(st, etag, sizeof etag);
	zl_object obj = { (char *)l->bucket, (char *)key, st->st_size, etag, mtime_ms(st) };
	return l->cb(l->ud, &obj, NULL);
}

/* Reports a refused entry (key "" for a bucket) with the reason, -errno e. */
static int emit_refused(lister *l, const char *bucket, const char *key, int e)
{
	zl_err refused;
	fs_error(e, bucket, *key ? key : NULL, &refused);
	zl_object obj = { (char *)bucket, (char *)key, -1, NULL, 0 };
	return l->cb(l->ud, &obj, &refused);
}

/* A symbolic link in a listing: a file it leads to inside the root is listed under the link's
 * key. A directory it leads to is never descended into: no loops, and no way out of the root. */
static int list_link(lister *l, const char *key)
{
	char rel[PATH_MAX];
	struct stat st;
	int fd, rc;
	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", l->bucket, key) >= sizeof rel)
		return zl_err_set(l->err, ZL_EINVAL, "%s/%s: path too long", l->bucket, key);
	if ((rc = zl_open_beneath(l->d->root_fd, l->d->root_real, rel, O_PATH, &fd)) == 0) {
		int ok = fstat(fd, &st) == 0;
		close(fd);
		return ok && S_ISREG(st.st_mode) && key_matches(l, key) ? emit(l, key, &st) : 0;
	}
	return rc == -ENOENT ? 0 : emit_refused(l, l->bucket, key, rc); /* ENOENT: dangling */
}

/* The visible names of dir, sorted. */
static int read_names(DIR *dir, zl_strvec *names)
{
	struct dirent *e;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.' && zl_strvec_push(names, e->d_name))
			return -ENOMEM;
	if (names->n)
		qsort(names->v, names->n, sizeof *names->v, name_cmp);
	return 0;
}

/* Lists the directory dfd (key rel, "" for the bucket) recursively in name order; takes dfd.
 * Directories are opened with O_NOFOLLOW, so a link swapped in meanwhile is not followed. */
static int walk(lister *l, int dfd, const char *rel)
{
	zl_strvec names;
	zl_strvec_init(&names);
	int rc = 0;
	DIR *dir = fdopendir(dfd);
	if (!dir) {
		rc = fs_error(-errno, l->bucket, *rel ? rel : NULL, l->err);
		close(dfd);
		goto out;
	}
	if (read_names(dir, &names)) {
		rc = zl_err_set(l->err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		char key[PATH_MAX];
		struct stat st;
		if ((size_t)snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", names.v[i]) >= sizeof key)
			continue; /* no path to it would fit either */
		if (fstatat(dirfd(dir), names.v[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* vanished meanwhile */
		if (S_ISDIR(st.st_mode) && key_may_hold(l, key)) {
			int cfd = openat(dirfd(dir), names.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0)
				rc = walk(l, cfd, key);
		} else if (S_ISREG(st.st_mode) && key_matches(l, key)) {
			rc = emit(l, key, &st);
		} else if (S_ISLNK(st.st_mode) && key_may_hold(l, key)) {
			rc = list_link(l, key);
		}
	}
out:
	if (dir)
		closedir(dir);
	zl_strvec_release(&names);
	return rc;
}

/* Every bucket: sub-directories of the root. A linked bucket is not descended into either. */
static int list_all(lister *l)
{
	zl_strvec names;
	zl_strvec_init(&names);
	int rc = 0, rfd = openat(l->d->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = rfd >= 0 ? fdopendir(rfd) : NULL;
	if (!dir) {
		rc = zl_err_set(l->err, ZL_EIO, "%s: %s", l->d->root, strerror(errno));
		if (rfd >= 0)
			close(rfd);
		goto out;
	}
	if (read_names(dir, &names)) {
		rc = zl_err_set(l->err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		struct stat st;
		int fd;
		if (fstatat(dirfd(dir), names.v[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		l->bucket = names.v[i];
		if (S_ISDIR(st.st_mode)) {
			if ((fd = openat(dirfd(dir), names.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
				rc = walk(l, fd, "");
		} else if (S_ISLNK(st.st_mode)) {
			int e = zl_open_beneath(l->d->root_fd, l->d->root_real, names.v[i], O_PATH, &fd);
			if (e == 0)
				close(fd);
			else if (e != -ENOENT)
				rc = emit_refused(l, names.v[i], "", e);
		}
	}
out:
	if (dir)
		closedir(dir);
	zl_strvec_release(&names);
	return rc;
}

static int dir_list(zl_store *s, const char *bucket, const char *prefix, zl_store_list_cb cb,
                    void *ud, zl_err *err)
{
	dir_store *d = (dir_store *)s;
	lister l = { d, bucket, prefix ? prefix : "", prefix ? strlen(prefix) : 0, cb, ud, err };
	if (!bucket)
		return list_all(&l);
	if (!bucket_ok(bucket))
		return zl_err_set(err, ZL_EINVAL, "\"%s\": not a valid bucket name", bucket);
	/* The bucket named is opened even through a link, as long as it stays inside the root. */
	int fd, rc = zl_open_beneath(d->root_fd, d->root_real, bucket, O_RDONLY | O_DIRECTORY, &fd);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return zl_err_set(err, ZL_ENOTFOUND, "%s: no such bucket", bucket); /* as store_s3.c says it */
	if (rc)
		return fs_error(rc, bucket, NULL, err);
	return walk(&l, fd, "");
}

/* The directory holding bucket/key, opened beneath the root (created first when mkdirs), and the
 * key's last component. */
static int open_parent(dir_store *d, const char *bucket, const char *key, int mkdirs, int *pfd,
                       const char **base, zl_err *err)
{
	char rel[PATH_MAX];
	int rc = object_rel(bucket, key, rel, sizeof rel, err);
	if (rc)
		return rc;
	char *slash = strrchr(rel, '/');
	*slash = '\0';
	*base = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
	if (mkdirs && (rc = zl_mkdirs_beneath(d->root_fd, d->root_real, rel, 0755)))
		return rc == -EXDEV ? fs_error(rc, bucket, key, err)
		                    : zl_err_set(err, ZL_EIO, "%s/%s: cannot create directories: %s", bucket, key, strerror(-rc));
	if ((rc = zl_open_beneath(d->root_fd, d->root_real, rel, O_PATH | O_DIRECTORY, pfd)))
		return fs_error(rc, bucket, key, err);
	return 0;
}

/* An existing link at bucket/key is only replaced when it stays inside the root. */
static int check_existing(dir_store *d, int pfd, const char *base, const char *bucket, const char *key,
                          zl_err *err)
{
	char rel[PATH_MAX];
	struct stat st;
	int fd;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
		return 0;
	snprintf(rel, sizeof rel, "%s/%s", bucket, key);
	int rc = zl_open_beneath(d->root_fd, d->root_real, rel, O_PATH, &fd);
	if (rc == 0)
		close(fd);
	return rc == -EXDEV ? fs_error(rc, bucket, key, err) : 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes to a hidden temporary name, then renames, so watchers see only complete objects. */
static int dir_put(zl_store *s, const char *bucket, const char *key, const void *data, size_t len,
                   zl_err *err)
{
	dir_store *d = (dir_store *)s;
	char tmp[NAME_MAX + 32];
	const char *base;
	int pfd = -1, fd = -1;
	int rc = open_parent(d, bucket, key, 1, &pfd, &base, err);
	if (rc || (rc = check_existing(d, pfd, base, bucket, key, err)))
		goto out;
	snprintf(tmp, sizeof tmp, ".%.*s.tmp%d", NAME_MAX - 24, base, (int)getpid());
	if ((fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666)) < 0) {
		rc = zl_err_set(err, ZL_EIO, "%s/%s: %s", bucket, key, strerror(errno));
		goto out;
	}
	int ok = write_all(fd, data, len) == 0;
	ok = close(fd) == 0 && ok;
	fd = -1;
	if (!ok || renameat(pfd, tmp, pfd, base) != 0) {
		rc = zl_err_set(err, ZL_EIO, "%s/%s: write failed: %s", bucket, key, strerror(errno));
		unlinkat(pfd, tmp, 0);
	}
out:
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	return rc;
}

/* Re-creates the object by renaming a fresh copy over it, so watchers see a complete new file. */
static int dir_copy_in_place(zl_store *s, const char *bucket, const char *key, zl_err *err)
{
	dir_store *d = (dir_store *)s;
	char tmp[NAME_MAX + 32], chunk[65536];
	const char *base;
	struct stat st;
	int in = -1, pfd = -1, out = -1;
	int rc = open_object(d, bucket, key, O_RDONLY | O_NONBLOCK | O_NOCTTY, &in, &st, err);
	if (rc || (rc = open_parent(d, bucket, key, 0, &pfd, &base, err)))
		goto out;
	snprintf(tmp, sizeof tmp, ".%.*s.copy%d", NAME_MAX - 24, base, (int)getpid());
	if ((out = openat(pfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666)) < 0) {
		rc = zl_err_set(err, ZL_EIO, "%s/%s: %s", bucket, key, strerror(errno));
		goto out;
	}
	ssize_t n;
	int ok = 1;
	while (ok && (n = read(in, chunk, sizeof chunk)) != 0)
		ok = n > 0 ? write_all(out, chunk, (size_t)n) == 0 : errno == EINTR;
	ok = close(out) == 0 && ok;
	out = -1;
	if (!ok || renameat(pfd, tmp, pfd, base) != 0) {
		rc = zl_err_set(err, ZL_EIO, "%s/%s: copy failed: %s", bucket, key, strerror(errno));
		unlinkat(pfd, tmp, 0);
	}
out:
	if (out >= 0)
		close(out);
	if (pfd >= 0)
		close(pfd);
	if (in >= 0)
		close(in);
	return rc;
}

const zl_store_ops zl_store_dir_ops = {
	.scheme = "dir",
	.open = dir_open,
	.close = dir_close,
	.head = dir_head,
	.open_reader = dir_open_reader,
	.list = dir_list,
	.put = dir_put,
	.copy_in_place = dir_copy_in_place,
	.check = dir_check,
};
