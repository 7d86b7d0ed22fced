/* The parsers of S3's XML answers, shared by store_s3.c and the fuzz targets. What they return
 * belongs to the caller (xmlFree the continuation token). */
#ifndef ZL_STORE_S3_INT_H
#define ZL_STORE_S3_INT_H

#include <libxml/xmlstring.h>
#include <stddef.h>

#include "store/store.h"
#include "util/buf.h"

/* The Code and Message of an S3 XML error body ("" when absent). */
void zl_s3_xml_error(const zl_buf *body, char *code, size_t cn, char *msg, size_t mn);
/* Removes one pair of surrounding double quotes (an ETag's), in place. */
void zl_s3_strip_quotes(char *s);
/* Calls cb for each Contents of one ListObjectsV2 page; *next is the continuation token (xmlFree)
 * when the listing is truncated. */
int zl_s3_list_page(const zl_buf *body, const char *bucket, zl_store_list_cb cb, void *ud, xmlChar **next,
                    zl_err *err);

#endif
