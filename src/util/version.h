/* zload's version, for --version and the client labels it gives database sessions. */
#ifndef ZL_VERSION_H
#define ZL_VERSION_H

#ifndef ZL_VERSION
#define ZL_VERSION "0.2.0"
#endif

#endif
