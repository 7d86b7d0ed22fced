#include "util/listen_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLES "PORT, ADDR:PORT or [IPv6]:PORT, e.g. 8080, 127.0.0.1:8080, [::1]:8080"

/* A decimal port 0-65535, digits only. */
static int parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;
	if (!*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

int zl_listen_addr_parse(const char *s, const char *what, struct sockaddr_storage *sa, zl_err *err)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s;
	unsigned port;
	memset(sa, 0, sizeof *sa);
	if (!s || !*s)
		return zl_err_set(err, ZL_EINVAL, "%s: empty address: expected " EXAMPLES, what);
	if (s[0] == '[') { /* [IPv6]:PORT */
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
			return zl_err_set(err, ZL_EINVAL, "%s \"%s\": expected [IPv6]:PORT, e.g. [::1]:8080", what, s);
		snprintf(host, sizeof host, "%.*s", (int)(close - s - 1), s + 1);
		port_s = close + 2;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return zl_err_set(err, ZL_EINVAL, "%s \"%s\": \"%s\" is not an IPv6 address", what, s, host);
		if (parse_port(port_s, &port))
			return zl_err_set(err, ZL_EINVAL, "%s \"%s\": \"%s\" is not a port (0-65535)", what, s, port_s);
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	const char *colon = strrchr(s, ':');
	if (colon && strchr(s, ':') != colon)
		return zl_err_set(err, ZL_EINVAL, "%s \"%s\": write an IPv6 address in brackets, e.g. [::1]:8080", what, s);
	if (!colon) { /* a bare port: loopback, so nothing is exposed by accident */
		snprintf(host, sizeof host, "127.0.0.1");
		port_s = s;
	} else if ((size_t)(colon - s) >= sizeof host) {
		return zl_err_set(err, ZL_EINVAL, "%s \"%s\": expected " EXAMPLES, what, s);
	} else {
		snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
		port_s = colon + 1;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)sa;
	in->sin_family = AF_INET;
	if (parse_port(port_s, &port))
		return zl_err_set(err, ZL_EINVAL, "%s \"%s\": \"%s\" is not a port (0-65535); expected " EXAMPLES, what, s,
		                  port_s);
	if (inet_pton(AF_INET, *host ? host : "0.0.0.0", &in->sin_addr) != 1)
		return zl_err_set(err, ZL_EINVAL, "%s \"%s\": \"%s\" is not an IPv4 address; expected " EXAMPLES, what, s,
		                  host);
	in->sin_port = htons((uint16_t)port);
	return 0;
}

char *zl_listen_addr_format(const struct sockaddr_storage *sa, int port, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN];
	if (sa->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
		snprintf(out, n, "[%s]:%d", host, port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
		snprintf(out, n, "%s:%d", host, port);
	}
	return out;
}
