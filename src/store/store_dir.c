#include "store/store_dir.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/strvec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct dir_store {
	zl_store base;
	char *root;
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

static int dir_open(const char *target, zl_store **out, zl_err *err)
{
	struct stat st;
	if (!target || !*target)
		return zl_err_set(err, ZL_EINVAL, "store URL \"dir:\": missing directory");
	if (stat(target, &st) != 0 || !S_ISDIR(st.st_mode))
		return zl_err_set(err, ZL_ENOTFOUND, "store directory \"%s\": %s", target,
		                  errno ? strerror(errno) : "not a directory");
	dir_store *d = calloc(1, sizeof *d);
	if (!d || !(d->root = strdup(target))) {
		free(d);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	size_t n = strlen(d->root);
	while (n > 1 && d->root[n - 1] == '/')
		d->root[--n] = '\0';
	d->base.ops = &zl_store_dir_ops;
	*out = &d->base;
	return 0;
}

static void dir_close(zl_store *s)
{
	dir_store *d = (dir_store *)s;
	if (!d)
		return;
	free(d->root);
	free(d);
}

/* Builds ROOT/BUCKET/KEY into path after checking both names. */
static int object_path(dir_store *d, const char *bucket, const char *key, char *path, size_t n,
                       zl_err *err)
{
	if (!bucket_ok(bucket) || !zl_store_dir_key_ok(key))
		return zl_err_set(err, ZL_EINVAL, "%s/%s: not a valid object name for a dir: store",
		                  bucket ? bucket : "", key ? key : "");
	if ((size_t)snprintf(path, n, "%s/%s/%s", d->root, bucket, key) >= n)
		return zl_err_set(err, ZL_EINVAL, "%s/%s: path too long", bucket, key);
	return 0;
}

static void fill_etag(const struct stat *st, char *out, size_t n)
{
	snprintf(out, n, "%llx-%llx", (unsigned long long)st->st_size,
	         (unsigned long long)st->st_mtim.tv_sec * 1000000000ull + (unsigned long long)st->st_mtim.tv_nsec);
}

static int dir_head(zl_store *s, const char *bucket, const char *key, zl_object *out, zl_err *err)
{
	char path[4096], etag[64];
	struct stat st;
	int rc = object_path((dir_store *)s, bucket, key, path, sizeof path, err);
	if (rc)
		return rc;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return zl_err_set(err, errno == ENOENT || errno == 0 ? ZL_ENOTFOUND : ZL_EIO, "%s/%s: %s",
		                  bucket, key, errno ? strerror(errno) : "not a regular file");
	fill_etag(&st, etag, sizeof etag);
	out->bucket = strdup(bucket);
	out->key = strdup(key);
	out->etag = strdup(etag);
	out->size = st.st_size;
	out->modified = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	return 0;
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
	char path[4096];
	int rc = object_path((dir_store *)s, bucket, key, path, sizeof path, err);
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return zl_err_set(err, errno == ENOENT ? ZL_ENOTFOUND : ZL_EIO, "%s/%s: %s", bucket, key,
		                  strerror(errno));
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

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists directory path (relative key rel) recursively in name order. */
static int walk(dir_store *d, const char *bucket, const char *rel, const char *prefix,
                zl_store_list_cb cb, void *ud, zl_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s%s%s", d->root, bucket, *rel ? "/" : "", rel);
	DIR *dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : zl_err_set(err, ZL_EIO, "%s: %s", path, strerror(errno));
	char **names = NULL;
	size_t n = 0, alloc = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			char **p = realloc(names, alloc * sizeof *p);
			if (!p) {
				rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
				goto out;
			}
			names = p;
		}
		if (!(names[n] = strdup(e->d_name))) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char key[4096], full[8192];
		struct stat st;
		snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", names[i]);
		snprintf(full, sizeof full, "%s/%s", path, names[i]);
		if (stat(full, &st) != 0)
			continue; /* vanished meanwhile */
		size_t plen = prefix ? strlen(prefix) : 0;
		if (S_ISDIR(st.st_mode)) {
			size_t klen = strlen(key);
			/* descend only where the prefix can still match */
			if (plen == 0 || strncmp(key, prefix, klen < plen ? klen : plen) == 0)
				rc = walk(d, bucket, key, prefix, cb, ud, err);
		} else if (S_ISREG(st.st_mode) && (plen == 0 || strncmp(key, prefix, plen) == 0)) {
			char etag[64];
			fill_etag(&st, etag, sizeof etag);
			zl_object obj = { (char *)bucket, key, st.st_size, etag,
			                  (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 };
			rc = cb(ud, &obj);
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return rc;
}

static int list_buckets_cb(dir_store *d, const char *prefix, zl_store_list_cb cb, void *ud, zl_err *err)
{
	DIR *dir = opendir(d->root);
	if (!dir)
		return zl_err_set(err, ZL_EIO, "%s: %s", d->root, strerror(errno));
	zl_strvec buckets;
	zl_strvec_init(&buckets);
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.' && e->d_type != DT_REG)
			zl_strvec_push(&buckets, e->d_name);
	closedir(dir);
	qsort(buckets.v, buckets.n, sizeof *buckets.v, name_cmp);
	for (size_t i = 0; i < buckets.n && rc == 0; i++)
		rc = walk(d, buckets.v[i], "", prefix, cb, ud, err);
	zl_strvec_release(&buckets);
	return rc;
}

static int dir_list(zl_store *s, const char *bucket, const char *prefix, zl_store_list_cb cb,
                    void *ud, zl_err *err)
{
	dir_store *d = (dir_store *)s;
	if (!bucket)
		return list_buckets_cb(d, prefix, cb, ud, err);
	if (!bucket_ok(bucket))
		return zl_err_set(err, ZL_EINVAL, "\"%s\": not a valid bucket name", bucket);
	return walk(d, bucket, "", prefix, cb, ud, err);
}

/* Writes to a hidden temporary name, then renames, so watchers see only complete objects. */
static int dir_put(zl_store *s, const char *bucket, const char *key, const void *data, size_t len,
                   zl_err *err)
{
	char path[4096], tmp[4200];
	int rc = object_path((dir_store *)s, bucket, key, path, sizeof path, err);
	if (rc)
		return rc;
	if (zl_mkdirs_for(path, 0755) != 0)
		return zl_err_set(err, ZL_EIO, "%s/%s: cannot create directories: %s", bucket, key, strerror(errno));
	const char *base = strrchr(path, '/') + 1;
	snprintf(tmp, sizeof tmp, "%.*s.%s.tmp%d", (int)(base - path), path, base, (int)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return zl_err_set(err, ZL_EIO, "%s/%s: %s", bucket, key, strerror(errno));
	int ok = fwrite(data, 1, len, f) == len;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return zl_err_set(err, ZL_EIO, "%s/%s: write failed: %s", bucket, key, strerror(errno));
	}
	return 0;
}

/* Re-creates the object by renaming a fresh copy over it, so watchers see a complete new file. */
static int dir_copy_in_place(zl_store *s, const char *bucket, const char *key, zl_err *err)
{
	char path[4096], tmp[4200], chunk[65536];
	int rc = object_path((dir_store *)s, bucket, key, path, sizeof path, err);
	if (rc)
		return rc;
	const char *base = strrchr(path, '/') + 1;
	snprintf(tmp, sizeof tmp, "%.*s.%s.copy%d", (int)(base - path), path, base, (int)getpid());
	FILE *in = fopen(path, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
	if (!in || !out) {
		rc = zl_err_set(err, errno == ENOENT ? ZL_ENOTFOUND : ZL_EIO, "%s/%s: %s", bucket, key, strerror(errno));
		goto out;
	}
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
		if (fwrite(chunk, 1, n, out) != n)
			break;
	int ok = !ferror(in) && fclose(out) == 0;
	out = NULL;
	if (!ok || rename(tmp, path) != 0)
		rc = zl_err_set(err, ZL_EIO, "%s/%s: copy failed: %s", bucket, key, strerror(errno));
out:
	if (out)
		fclose(out);
	if (in)
		fclose(in);
	if (rc)
		unlink(tmp);
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
};
