/* base64.c — standard base64 with optional padding on input. */
#include "core/base64.h"

#include <stdint.h>

static const char enc_table[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value + 1 for alphabet characters, 0 for everything else (so the table
 * needs no initialiser for the invalid bytes). */
static const uint8_t dec_table[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
    ['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
    ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
    ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
    ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
    ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
    ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
    ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
    ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

#define D(c) ((uint32_t)dec_table[(c)] - 1u)

size_t base64_encoded_len(size_t n)
{
    return (n / 3 + (n % 3 != 0)) * 4;
}

size_t base64_decoded_max(size_t n)
{
    return n / 4 * 3 + (n % 4 ? 2 : 0);
}

size_t base64_encode(const void *in, size_t len, char *out)
{
    const unsigned char *p = in;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = enc_table[v >> 18];
        *o++ = enc_table[(v >> 12) & 63];
        *o++ = enc_table[(v >> 6) & 63];
        *o++ = enc_table[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = enc_table[v >> 18];
        *o++ = enc_table[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = enc_table[v >> 18];
        *o++ = enc_table[(v >> 12) & 63];
        *o++ = enc_table[(v >> 6) & 63];
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* Splits input into the data characters and validates padding. Returns the
 * number of data characters, or -1. */
static ssize_t data_chars(const char *in, size_t len)
{
    size_t n = len;
    if (n > 0 && in[n - 1] == '=') {
        /* Padded input is whole quads with one or two '=' at the end. */
        if (len % 4 != 0)
            return -1;
        n--;
        if (in[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return -1; /* one leftover character carries less than a byte */
    for (size_t i = 0; i < n; i++)
        if (dec_table[(unsigned char)in[i]] == 0)
            return -1;
    return (ssize_t)n;
}

int base64_check(const char *in, size_t len, size_t *decoded_len)
{
    ssize_t n = data_chars(in, len);
    if (n < 0)
        return BASE64_ERR_INVALID;
    if (decoded_len)
        *decoded_len = (size_t)n / 4 * 3 + ((size_t)n % 4 ? (size_t)n % 4 - 1 : 0);
    return 0;
}

ssize_t base64_decode(const char *in, size_t len, void *out, size_t outsz)
{
    size_t need;
    if (base64_check(in, len, &need) != 0)
        return BASE64_ERR_INVALID;
    if (need > outsz)
        return BASE64_ERR_SPACE;
    const unsigned char *p = (const unsigned char *)in;
    unsigned char *o = out;
    size_t n = (size_t)data_chars(in, len);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = (uint32_t)D(p[i]) << 18 | (uint32_t)D(p[i + 1]) << 12 |
                     (uint32_t)D(p[i + 2]) << 6 | D(p[i + 3]);
        *o++ = (unsigned char)(v >> 16);
        *o++ = (unsigned char)(v >> 8);
        *o++ = (unsigned char)v;
    }
    if (n - i == 2) {
        uint32_t v = (uint32_t)D(p[i]) << 18 | (uint32_t)D(p[i + 1]) << 12;
        *o++ = (unsigned char)(v >> 16);
    } else if (n - i == 3) {
        uint32_t v = (uint32_t)D(p[i]) << 18 | (uint32_t)D(p[i + 1]) << 12 |
                     (uint32_t)D(p[i + 2]) << 6;
        *o++ = (unsigned char)(v >> 16);
        *o++ = (unsigned char)(v >> 8);
    }
    return (ssize_t)need;
}
