/* Parsing and printing the address a server listens on: "PORT" (loopback), "ADDR:PORT" (IPv4)
 * or "[IPv6]:PORT". Numeric addresses only: no name lookup. */
#ifndef ZL_LISTEN_ADDR_H
#define ZL_LISTEN_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "util/err.h"

/* Fills *sa: a bare PORT is 127.0.0.1:PORT, an empty ADDR (":PORT") every IPv4 interface.
 * what names the option in messages ("--webhook"). ZL_EINVAL with an example on bad input. */
int zl_listen_addr_parse(const char *s, const char *what, struct sockaddr_storage *sa, zl_err *err);
/* "127.0.0.1:8080" or "[::1]:8080" into out (64 bytes is enough); returns out. */
char *zl_listen_addr_format(const struct sockaddr_storage *sa, int port, char *out, size_t n);

#endif
