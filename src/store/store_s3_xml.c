/* The XML bodies of S3's answers: ListObjectsV2 pages and error bodies (store/store_s3_int.h). */
#include "store/store_s3_int.h"
#include "util/http.h"
#include "util/timeutil.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text content of the first child element of node named name, or NULL. xmlFree the result. */
static xmlChar *child_text(xmlNode *node, const char *name)
{
	for (xmlNode *c = node ? node->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return xmlNodeGetContent(c);
	return NULL;
}

void zl_s3_xml_error(const zl_buf *body, char *code, size_t cn, char *msg, size_t mn)
{
	code[0] = msg[0] = '\0';
	if (body->len == 0 || body->len > (size_t)1 << 30)
		return;
	xmlDoc *doc = xmlReadMemory(body->data, (int)body->len, "error.xml", NULL,
	                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (root && strcmp((const char *)root->name, "Error") == 0) {
		xmlChar *c = child_text(root, "Code"), *m = child_text(root, "Message");
		snprintf(code, cn, "%s", c ? (const char *)c : "");
		snprintf(msg, mn, "%s", m ? (const char *)m : "");
		xmlFree(c);
		xmlFree(m);
	}
	xmlFreeDoc(doc);
}

void zl_s3_strip_quotes(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

int zl_s3_list_page(const zl_buf *body, const char *bucket, zl_store_list_cb cb, void *ud, xmlChar **next,
                    zl_err *err)
{
	*next = NULL;
	int rc = 0;
	xmlDoc *doc = body->len < (size_t)1 << 30 ? xmlReadMemory(body->data, (int)body->len, "list.xml", NULL,
	                                                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
	                                          : NULL;
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root || strcmp((const char *)root->name, "ListBucketResult") != 0) {
		rc = zl_err_set(err, ZL_ETRANSIENT, "%s: malformed ListObjectsV2 response", bucket);
		goto out;
	}
	xmlChar *enc = child_text(root, "EncodingType"), *trunc = child_text(root, "IsTruncated");
	int url_encoded = enc && strcmp((const char *)enc, "url") == 0;
	int truncated = trunc && strcmp((const char *)trunc, "true") == 0;
	xmlFree(enc);
	xmlFree(trunc);
	for (xmlNode *c = root->children; c && rc == 0; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Contents") != 0)
			continue;
		xmlChar *key = child_text(c, "Key"), *size = child_text(c, "Size"), *etag = child_text(c, "ETag");
		xmlChar *mod = child_text(c, "LastModified");
		int64_t modified = 0;
		if (mod && zl_time_parse((const char *)mod, &modified))
			modified = 0;
		if (!key || (url_encoded && zl_http_decode((char *)key, 1))) {
			rc = zl_err_set(err, ZL_ETRANSIENT, "%s: malformed key in a ListObjectsV2 response", bucket);
		} else {
			if (etag)
				zl_s3_strip_quotes((char *)etag);
			zl_object obj = { (char *)bucket, (char *)key, size ? strtoll((const char *)size, NULL, 10) : -1,
				              etag && *etag ? (char *)etag : NULL, modified };
			rc = cb(ud, &obj, NULL);
		}
		xmlFree(key);
		xmlFree(size);
		xmlFree(etag);
		xmlFree(mod);
	}
	if (rc == 0 && truncated && !(*next = child_text(root, "NextContinuationToken")))
		rc = zl_err_set(err, ZL_ETRANSIENT, "%s: truncated ListObjectsV2 response without a continuation token", bucket);
out:
	xmlFreeDoc(doc);
	return rc;
}
