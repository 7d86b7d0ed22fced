/* DynamoDB's attribute-value JSON ({"S": "x"}, {"N": "5"}, {"L": [...]}, {"M": {...}}, {"SS": [...]},
 * {"BOOL": true}, {"NULL": true}, {"B": "base64"}) to and from plain JSON, for the DynamoDB state's
 * items (the original loader's tables hold configurations as such maps). */
#ifndef ZL_DYNAMO_JSON_H
#define ZL_DYNAMO_JSON_H

#include <jansson.h>

#include "util/err.h"

/* One attribute value as plain JSON: S and B as strings, N as an integer when it is one that
 * fits in 64 bits, else a real; SS, NS and BS as arrays; L and M recursively. NULL and ZL_EINVAL
 * naming the path ("loadClusters[0].clusterPort") on a malformed value. Caller decrefs. */
json_t *zl_ddb_to_json(const json_t *av, const char *path, zl_err *err);
/* An item (a map of attribute values) as a plain JSON object. */
json_t *zl_ddb_item_to_json(const json_t *item, zl_err *err);

/* Plain JSON as an attribute value: strings S, numbers N (shortest text that reads back the
 * same), true/false BOOL, null NULL, arrays L, objects M. */
json_t *zl_ddb_from_json(const json_t *v);
/* A plain JSON object as an item. */
json_t *zl_ddb_item_from_json(const json_t *obj);

#endif
