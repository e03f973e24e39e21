#ifndef PYRPC_SCAN_H
#define PYRPC_SCAN_H

#include <stddef.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// The offset of the first byte at or after `start` that is `[`, `]`, `{`, `}` or `"`, or
// `count` if none (PyRPCWire's ByteScan.firstStructural). Megabyte argument lists are mostly
// digits and commas, which the network thread steps over to find where the list ends: with
// SSE2 (every x86-64) 32 bytes are tested a round with a few vector instructions, where the
// word-at-a-time Swift scan spent a dozen per eight bytes. `[`/`{` and `]`/`}` differ only in
// bit 5, so each pair is one comparison after setting it: exact, no byte is reported wrongly.
static inline long pyrpc_first_structural(const unsigned char *bytes, long start, long count) {
    long index = start;
#if defined(__SSE2__)
    const __m128i bit5 = _mm_set1_epi8(0x20);
    const __m128i open = _mm_set1_epi8('{');
    const __m128i close = _mm_set1_epi8('}');
    const __m128i quote = _mm_set1_epi8('"');
    while (index + 32 <= count) {
        __m128i first = _mm_loadu_si128((const __m128i *)(bytes + index));
        __m128i second = _mm_loadu_si128((const __m128i *)(bytes + index + 16));
        __m128i firstFolded = _mm_or_si128(first, bit5);
        __m128i secondFolded = _mm_or_si128(second, bit5);
        __m128i firstHits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(firstFolded, open), _mm_cmpeq_epi8(firstFolded, close)),
                                         _mm_cmpeq_epi8(first, quote));
        __m128i secondHits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(secondFolded, open), _mm_cmpeq_epi8(secondFolded, close)),
                                          _mm_cmpeq_epi8(second, quote));
        unsigned mask = (unsigned)_mm_movemask_epi8(firstHits) | (unsigned)_mm_movemask_epi8(secondHits) << 16;
        if (mask != 0) return index + __builtin_ctz(mask);
        index += 32;
    }
#endif
    for (; index < count; index++) {
        unsigned char byte = bytes[index];
        if ((byte | 0x20) == '{' || (byte | 0x20) == '}' || byte == '"') return index;
    }
    return count;
}

#endif
