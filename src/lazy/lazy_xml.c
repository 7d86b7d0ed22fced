/* libxml2, loaded on first use (lazy.h). */
#include "lazy/lazy.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlmemory.h>

#define XML_SYMS(X) X(xmlDocGetRootElement) X(xmlFreeDoc) X(xmlInitParser) X(xmlNodeGetContent) X(xmlReadMemory)

#define FIELD(name) __typeof__(name) *name;
static struct {
	XML_SYMS(FIELD)
	xmlFreeFunc *xmlFree; /* a variable in libxml2 (the deallocator it was set up with), not a function */
} xml;
#define ENTRY(name) ZL_LAZY_SYM(xml, name),
static const zl_lazy_sym syms[] = { XML_SYMS(ENTRY) ZL_LAZY_SYM(xml, xmlFree) };
static zl_lazy_lib lib = ZL_LAZY_LIB("libxml2.so.2", "libxml2", syms);
#define X_ (zl_lazy_need(&lib), xml)

xmlNodePtr xmlDocGetRootElement(const xmlDoc *doc) { return X_.xmlDocGetRootElement(doc); }
void xmlFreeDoc(xmlDocPtr cur) { X_.xmlFreeDoc(cur); }
void xmlInitParser(void) { X_.xmlInitParser(); }
xmlChar *xmlNodeGetContent(const xmlNode *cur) { return X_.xmlNodeGetContent(cur); }
xmlDocPtr xmlReadMemory(const char *buffer, int size, const char *URL, const char *encoding, int options)
{
	return X_.xmlReadMemory(buffer, size, URL, encoding, options);
}

/* zload's xmlFree frees with libxml2's: what libxml2 returned was allocated by it. */
static void lazy_xml_free(void *mem) { (*X_.xmlFree)(mem); }
xmlFreeFunc xmlFree = lazy_xml_free;
