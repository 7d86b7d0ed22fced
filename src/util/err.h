/* Error codes and the caller-supplied error record every fallible zload function fills. */
#ifndef ZL_ERR_H
#define ZL_ERR_H

#include <stdarg.h>

enum {
	ZL_OK = 0,
	ZL_EINVAL = -1,     /* bad input: configuration, event, file content, arguments */
	ZL_ENOTFOUND = -2,  /* no such configuration, batch, file, object, table */
	ZL_EEXIST = -3,     /* already present (duplicate claim) */
	ZL_EBUSY = -4,      /* not in a state that allows the operation (e.g. not lockable) */
	ZL_EIO = -5,        /* local I/O error */
	ZL_ETRANSIENT = -6, /* worth retrying: connection refused, timeout, 5xx, database busy */
	ZL_ELOAD = -7,      /* permanent load failure: bad row, missing table, SQL error */
	ZL_ENOMEM = -8,
	ZL_ELOST = -9,      /* our lease on a batch was lost to another loader */
	ZL_ESTATE = -10,    /* the state store failed */
};

typedef struct zl_err {
	int code;
	char msg[1024];
	char sqlstate[6];   /* the database's SQLSTATE ("23505") when it gave one, else "" */
} zl_err;

/* Sets err (if not NULL) to code and a printf-formatted message, with no SQLSTATE; returns code. */
int zl_err_set(zl_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to err's message, keeping its code and SQLSTATE; returns the code. */
int zl_err_prefix(zl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the SQLSTATE of the error err already holds (NULL or anything but 5 characters: none). */
void zl_err_set_sqlstate(zl_err *err, const char *sqlstate);
void zl_err_clear(zl_err *err);
/* Short name of a code ("invalid", "not found", ...). Static storage. */
const char *zl_err_name(int code);

#endif
