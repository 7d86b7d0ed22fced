#include "util/fsutil.h"

#include <errno.h>
#include <sys/stat.h>

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
