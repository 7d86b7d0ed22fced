/* AWS configuration and credentials found the way the AWS SDKs find them: environment, shared
 * config and credentials files, container credentials, EC2 instance metadata (IMDSv2).
 * Strings written to caller buffers and zl_aws_creds filled by these functions belong to the caller. */
#ifndef ZL_AWS_H
#define ZL_AWS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Temporary credentials are refreshed when fewer than this many ms remain. */
#define ZL_AWS_REFRESH_MS (5 * 60 * 1000)

typedef struct zl_aws_creds {
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL when none */
	int64_t expires_ms;  /* Unix ms; 0 for credentials that do not expire */
	const char *source;  /* static text: "environment", "shared files", "container", "instance metadata" */
} zl_aws_creds;

void zl_aws_creds_release(zl_aws_creds *c);
/* Deep copy; returns 0 or ZL_ENOMEM (dst is then empty). */
int zl_aws_creds_copy(zl_aws_creds *dst, const zl_aws_creds *src);
/* Whether credentials must be fetched again at now_ms: never for those without an expiry, else
 * when fewer than ZL_AWS_REFRESH_MS remain. */
int zl_aws_creds_need_refresh(const zl_aws_creds *c, int64_t now_ms);
/* Parses the JSON of container credentials or EC2 instance metadata (AccessKeyId,
 * SecretAccessKey, Token, Expiration, optional Code). */
int zl_aws_parse_json_creds(const char *json, size_t len, zl_aws_creds *out, zl_err *err);

/* The value of key (case-insensitive) in [section] of INI text, whitespace-trimmed, into out.
 * Returns 1 when found, 0 when not (or when it does not fit). Indented sub-keys are skipped. */
int zl_ini_get(const char *text, const char *section, const char *key, char *out, size_t n);

/* The selected profile: AWS_PROFILE, else "default". Static or environment storage. */
const char *zl_aws_profile(void);
/* key of profile in the shared config file (AWS_CONFIG_FILE or ~/.aws/config; section
 * "[default]" or "[profile NAME]"). profile NULL means zl_aws_profile(). Returns 1 found, 0 not. */
int zl_aws_config_get(const char *profile, const char *key, char *out, size_t n);
/* The region: AWS_REGION, AWS_DEFAULT_REGION, the profile's "region", else "us-east-1". */
void zl_aws_region(const char *profile, char *out, size_t n);
/* The endpoint URL of a service ("s3", "sqs", "dynamodb", ...), without a trailing slash:
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's "endpoint_url", else
 * https://SERVICE.REGION.amazonaws.com. Returns 0, or ZL_EINVAL when it does not fit in n. */
int zl_aws_endpoint(const char *service, const char *region, const char *profile, char *out, size_t n,
                    zl_err *err);
/* Credentials of profile from the shared files: the credentials file (AWS_SHARED_CREDENTIALS_FILE
 * or ~/.aws/credentials, section "[NAME]") first, then the config file. Returns 1 found, 0 none,
 * or a negative ZL_E* code (a section with a key id but no secret). */
int zl_aws_creds_from_files(const char *profile, zl_aws_creds *out, zl_err *err);

/* A thread-safe cache of the credentials chain (environment, shared files, container, instance
 * metadata), resolved on first use and refreshed before temporary credentials expire. */
typedef struct zl_aws_provider zl_aws_provider;

/* profile NULL means zl_aws_profile() at the time of each resolution. */
int zl_aws_provider_new(const char *profile, zl_aws_provider **out, zl_err *err);
/* Copies the current credentials into out (release it). */
int zl_aws_provider_get(zl_aws_provider *p, zl_aws_creds *out, zl_err *err);
void zl_aws_provider_free(zl_aws_provider *p);

#endif
