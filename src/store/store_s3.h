/* The s3: store: Amazon S3 or an S3-compatible endpoint (MinIO, moto, ...) over libcurl with SigV4.
 *
 * URL forms:
 *   s3:  or  s3://          everything from the environment, as the AWS SDKs find it
 *   s3://?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=1&profile=NAME
 *                           any of these query parameters overrides the environment
 *
 *   endpoint    default AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url,
 *               else https://s3.REGION.amazonaws.com
 *   region      default AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1
 *   path_style  1: ENDPOINT/BUCKET/KEY (moto, MinIO); 0: virtual-hosted BUCKET.HOST/KEY. Default
 *               virtual-hosted, but path-style when the endpoint's host is an IP address or
 *               localhost, when the bucket name is no DNS label (capitals, '_'), or (over
 *               https) when it has a dot
 *   profile     the AWS profile for region, endpoint and credentials (default AWS_PROFILE, "default")
 *
 * Credentials come from the chain of util/aws.h (environment, shared files, container, EC2
 * instance metadata), refreshed before they expire. One store may be used by several threads.
 * URLs written by zl_store_s3_url belong to the caller's buffer. */
#ifndef ZL_STORE_S3_H
#define ZL_STORE_S3_H

#include "store/store.h"
#include "util/buf.h"

/* Appends to out the request URL of bucket/key (key NULL: the bucket itself) with the already
 * sorted and encoded query (NULL for none). ZL_EINVAL when s is not an s3: store. */
int zl_store_s3_url(const zl_store *s, const char *bucket, const char *key, const char *query, zl_buf *out);
/* The region an s3: store signs for, or NULL for another kind of store. Borrowed. */
const char *zl_store_s3_region(const zl_store *s);

#endif
