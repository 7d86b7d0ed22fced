/* The object store interface (dir:, later s3:), chosen by URL scheme. A store handle may be
 * used from several threads at once. Readers and listings returned belong to the caller. */
#ifndef ZL_STORE_H
#define ZL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "util/err.h"
#include "util/reader.h"

typedef struct zl_store_ops zl_store_ops;

typedef struct zl_store {
	const zl_store_ops *ops;
} zl_store;

/* Called once per listed object; obj is valid during the call only. Non-zero stops the listing
 * and is returned by list. refused is NULL for an object; otherwise the entry named by obj's
 * bucket and key (key "" for a whole bucket; other fields unknown) cannot be read, and refused
 * says why (a dir: store's symbolic link leading outside its root): listings report such entries
 * rather than skip them. */
typedef int (*zl_store_list_cb)(void *ud, const zl_object *obj, const zl_err *refused);

struct zl_store_ops {
	const char *scheme; /* "dir" for "dir:PATH" */
	int (*open)(const char *target, zl_store **out, zl_err *err);
	void (*close)(zl_store *s);
	/* Size and etag of an object; ZL_ENOTFOUND names bucket/key. out's strings are the caller's. */
	int (*head)(zl_store *s, const char *bucket, const char *key, zl_object *out, zl_err *err);
	/* A streaming reader of the object's bytes; ZL_ENOTFOUND names bucket/key. */
	int (*open_reader)(zl_store *s, const char *bucket, const char *key, zl_reader **out, zl_err *err);
	/* Every object under bucket/prefix (prefix may be "" or NULL), in key order. bucket NULL lists
	 * every bucket (stores that can). A bucket that does not exist is ZL_ENOTFOUND
	 * "BUCKET: no such bucket"; an empty one lists nothing. */
	int (*list)(zl_store *s, const char *bucket, const char *prefix, zl_store_list_cb cb, void *ud,
	            zl_err *err);
	int (*put)(zl_store *s, const char *bucket, const char *key, const void *data, size_t len,
	           zl_err *err);
	/* Rewrites an object onto itself (S3 CopyObject with metadata REPLACE) so that the store
	 * emits a new object-created event. NULL when the store cannot. */
	int (*copy_in_place)(zl_store *s, const char *bucket, const char *key, zl_err *err);
	/* Optional, cheap, called when an object is claimed: ZL_EINVAL (naming it) when the store
	 * would refuse to serve bucket/key, such as a link out of a dir: store's root. */
	int (*check)(zl_store *s, const char *bucket, const char *key, zl_err *err);
};

int zl_store_open(const char *url, zl_store **out, zl_err *err);
void zl_store_close(zl_store *s);

/* 0 unless the store refuses the object (a store without the check refuses nothing). */
static inline int zl_store_check(zl_store *s, const char *bucket, const char *key, zl_err *err)
{
	return s && s->ops->check ? s->ops->check(s, bucket, key, err) : 0;
}

#endif
