#include "util/hmac.h"
#include "util/err.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

int zl_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	out[0] = '\0';
	if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, mac, &n) || n != 32)
		return ZL_ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
	return 0;
}
