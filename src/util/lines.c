/* memchr per line costs a call per short CSV row, and a byte loop is not vectorised at -O2: SSE2
 * (every x86-64 has it) compares 16 bytes at once, elsewhere eight bytes go through a word. */
#include "util/lines.h"

#include <string.h>
#if defined(__SSE2__) && !defined(ZL_NO_SSE2)
#include <emmintrin.h>
#endif

#if defined(__SSE2__) && !defined(ZL_NO_SSE2)
/* Each matching byte adds one to its lane (cmpeq gives -1; subtracting adds 1), in four
 * accumulators so that the additions do not wait on each other; the lanes are summed by
 * _mm_sad_epu8 before any can pass 255. */
static int64_t count_wide(const unsigned char *p, size_t n, size_t *done)
{
	const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
	int64_t count = 0;
	size_t i = 0;
	while (i + 64 <= n) {
		__m128i a = zero, b = zero, c = zero, d = zero;
		for (int k = 0; k < 255 && i + 64 <= n; k++, i += 64) {
			const __m128i *q = (const __m128i *)(p + i);
			a = _mm_sub_epi8(a, _mm_cmpeq_epi8(_mm_loadu_si128(q), nl));
			b = _mm_sub_epi8(b, _mm_cmpeq_epi8(_mm_loadu_si128(q + 1), nl));
			c = _mm_sub_epi8(c, _mm_cmpeq_epi8(_mm_loadu_si128(q + 2), nl));
			d = _mm_sub_epi8(d, _mm_cmpeq_epi8(_mm_loadu_si128(q + 3), nl));
		}
		__m128i sums = _mm_add_epi64(_mm_add_epi64(_mm_sad_epu8(a, zero), _mm_sad_epu8(b, zero)),
		                             _mm_add_epi64(_mm_sad_epu8(c, zero), _mm_sad_epu8(d, zero)));
		count += _mm_cvtsi128_si32(sums) + _mm_cvtsi128_si32(_mm_srli_si128(sums, 8));
	}
	*done = i;
	return count;
}
#else
/* A byte lane's bit 7 of t is set when the byte is '\n'; lanes are summed before they pass 255. */
static int64_t count_wide(const unsigned char *p, size_t n, size_t *done)
{
	const uint64_t ones = 0x0101010101010101ull, low7 = ones * 0x7f, nl = ones * '\n', m16 = 0x00ff00ff00ff00ffull;
	int64_t count = 0;
	size_t i = 0;
	while (i + 8 <= n) {
		uint64_t lanes = 0;
		for (int k = 0; k < 255 && i + 8 <= n; k++, i += 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			uint64_t x = w ^ nl, t = ~(((x & low7) + low7) | x) & ~low7;
			lanes += t >> 7;
		}
		uint64_t s = (lanes & m16) + ((lanes >> 8) & m16);
		s += s >> 16;
		s += s >> 32;
		count += (int64_t)(s & 0xffff);
	}
	*done = i;
	return count;
}
#endif

int64_t zl_count_newlines(const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i;
	int64_t count = count_wide(p, n, &i);
	for (; i < n; i++)
		count += p[i] == '\n';
	return count;
}
