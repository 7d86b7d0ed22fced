#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int zl_mkdirs_for(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			int rc = mkdir(path, mode);
			*p = '/';
			if (rc != 0 && errno != EEXIST)
				return -1;
		}
	return 0;
}

/* openat2(2) from dirfd; returns the descriptor or -errno (-ENOSYS without openat2). */
static int openat2_resolve(int dirfd, const char *rel, int flags, uint64_t resolve)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve };
	for (int tries = 0; tries < 16; tries++) {
		long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN) /* EAGAIN: a rename elsewhere raced the ".." check */
			return -errno;
	}
	return -EAGAIN;
}

/* The part of rel's canonical path below root_real ("." for the root), into below. Returns 0,
 * -EXDEV when the canonical path is outside the root, or -errno from realpath(3). */
static int canonical_below(const char *root_real, const char *rel, char *below, size_t n)
{
	char path[PATH_MAX], real[PATH_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", root_real, rel) >= sizeof path)
		return -ENAMETOOLONG;
	if (!realpath(path, real))
		return -errno;
	size_t rn = strcmp(root_real, "/") == 0 ? 0 : strlen(root_real);
	if (strncmp(real, root_real, rn) != 0 || (real[rn] != '/' && real[rn] != '\0'))
		return -EXDEV;
	const char *rest = real[rn] == '/' ? real + rn + 1 : real + rn;
	if ((size_t)snprintf(below, n, "%s", *rest ? rest : ".") >= n)
		return -ENAMETOOLONG;
	return 0;
}

int zl_open_beneath(int root_fd, const char *root_real, const char *rel, int flags, int *out)
{
	char below[PATH_MAX];
	*out = -1;
	int fd = openat2_resolve(root_fd, rel, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (fd == -EXDEV || fd == -ENOSYS) {
		int rc = canonical_below(root_real, rel, below, sizeof below);
		if (rc)
			return rc;
		/* The canonical path has no links left: refuse any that appears there meanwhile. */
		if (fd == -EXDEV)
			fd = openat2_resolve(root_fd, below, flags,
			                     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		else
			fd = openat(root_fd, below, flags | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1)
			fd = -errno;
	}
	if (fd < 0)
		return fd;
	*out = fd;
	return 0;
}

int zl_mkdirs_beneath(int root_fd, const char *root_real, const char *rel_dir, mode_t mode)
{
	char path[PATH_MAX];
	int fd, rc;
	if ((rc = zl_open_beneath(root_fd, root_real, rel_dir, O_PATH | O_DIRECTORY, &fd)) == 0) {
		close(fd);
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	if ((size_t)snprintf(path, sizeof path, "%s", rel_dir) >= sizeof path)
		return -ENAMETOOLONG;
	/* Each component in turn: open its parent beneath the root, then create it there. */
	for (char *end = path;; end++) {
		if (*end != '/' && *end != '\0')
			continue;
		char saved = *end;
		*end = '\0';
		char *slash = strrchr(path, '/');
		int parent = root_fd;
		if (slash) {
			*slash = '\0';
			rc = zl_open_beneath(root_fd, root_real, path, O_PATH | O_DIRECTORY, &parent);
			*slash = '/';
			if (rc)
				return rc;
		}
		rc = mkdirat(parent, slash ? slash + 1 : path, mode) == 0 || errno == EEXIST ? 0 : -errno;
		if (parent != root_fd)
			close(parent);
		*end = saved;
		if (rc || saved == '\0')
			return rc;
	}
}
