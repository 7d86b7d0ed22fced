#include "util/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET_MAX 4096

int zl_secret_file_read(const char *path, char **out, zl_err *err)
{
	char buf[SECRET_MAX + 2]; /* the line, its ending, and one byte to see that it is too long */
	size_t len = 0;
	int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	*out = NULL;
	if (fd < 0)
		return zl_err_set(err, ZL_EIO, "%s: %s", path, strerror(errno));
	while (len < sizeof buf && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof buf - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = zl_err_set(err, ZL_EIO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	char *nl = memchr(buf, '\n', len);
	size_t line = nl ? (size_t)(nl - buf) : len;
	if (line && buf[line - 1] == '\r')
		line--;
	if (line > SECRET_MAX) {
		rc = zl_err_set(err, ZL_EINVAL, "%s: the first line is longer than %d bytes", path, SECRET_MAX);
	} else if (line == 0) {
		rc = zl_err_set(err, ZL_EINVAL, "%s: empty token (the first line is empty)", path);
	} else if (memchr(buf, '\0', line)) {
		rc = zl_err_set(err, ZL_EINVAL, "%s: the first line holds a NUL byte", path);
	} else if (!(*out = strndup(buf, line))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
out:
	explicit_bzero(buf, sizeof buf);
	close(fd);
	return rc;
}
