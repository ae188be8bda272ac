/* test_utf8.c — the incremental UTF-8 validator against the Autobahn 6.x
 * style sequences, split at every position, and against an independent
 * reference (decode, re-encode, compare; valid prefixes from enumerating every
 * code point) on many random inputs, fed in random pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"

/* ---- reference ---- */

static uint8_t *prefix_bits; /* bitmap over (len << 24 | bytes) for proper prefixes, len 1..3 */

static size_t encode(uint32_t cp, uint8_t *o)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t prefix_key(const uint8_t *s, size_t n)
{
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        k = (k << 8) | s[i];
    /* lengths 1..3 land in disjoint ranges */
    return k + (n == 1 ? 0 : n == 2 ? 0x100 : 0x10100);
}

static void build_prefixes(void)
{
    if (prefix_bits)
        return;
    prefix_bits = calloc(1, (0x10100 + 0x1000000) / 8 + 1);
    for (uint32_t cp = 0x80; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        uint8_t e[4];
        size_t n = encode(cp, e);
        for (size_t l = 1; l < n; l++) {
            uint32_t k = prefix_key(e, l);
            prefix_bits[k / 8] |= (uint8_t)(1u << (k % 8));
        }
    }
}

static int is_proper_prefix(const uint8_t *s, size_t n)
{
    if (n == 0 || n > 3)
        return 0;
    uint32_t k = prefix_key(s, n);
    return (prefix_bits[k / 8] >> (k % 8)) & 1;
}

/* A complete encoding of a valid scalar value, in its shortest form. */
static int is_complete(const uint8_t *s, size_t n)
{
    uint32_t cp;
    size_t want;
    if (s[0] < 0x80)
        return n == 1;
    if ((s[0] & 0xE0) == 0xC0) {
        cp = s[0] & 0x1F;
        want = 2;
    } else if ((s[0] & 0xF0) == 0xE0) {
        cp = s[0] & 0x0F;
        want = 3;
    } else if ((s[0] & 0xF8) == 0xF0) {
        cp = s[0] & 0x07;
        want = 4;
    } else {
        return 0;
    }
    if (n != want)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    uint8_t e[4];
    return encode(cp, e) == n && memcmp(e, s, n) == 0;
}

/* Returns the offset of the first byte that makes the input invalid, or len
 * when it is a valid prefix; *complete tells whether it ends on a boundary. */
static size_t ref_check(const uint8_t *s, size_t len, int *complete)
{
    size_t start = 0;
    for (size_t k = 0; k < len; k++) {
        size_t n = k - start + 1;
        if (is_complete(s + start, n)) {
            start = k + 1;
            continue;
        }
        if (is_proper_prefix(s + start, n))
            continue;
        *complete = 0;
        return k;
    }
    *complete = start == len;
    return len;
}

/* ---- checks ---- */

/* Feeds s split at the given cut points and returns the failure offset (len
 * when valid so far) and completeness. */
static size_t dfa_check_split(const uint8_t *s, size_t len, const size_t *cuts, size_t ncuts,
                              int *complete)
{
    utf8_dfa_t d;
    utf8_init(&d);
    size_t pos = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        size_t off = 99999;
        if (utf8_feed(&d, s + pos, end - pos, &off) != UTF8_OK) {
            *complete = 0;
            assert_true(off < end - pos);
            return pos + off;
        }
        pos = end;
    }
    *complete = utf8_complete(&d);
    return len;
}

static void check_all_splits(const uint8_t *s, size_t len, int want_valid)
{
    int ref_complete;
    size_t ref_off = ref_check(s, len, &ref_complete);
    assert_int_equal(want_valid, ref_off == len && ref_complete);
    assert_int_equal(want_valid, utf8_valid(s, len));
    for (size_t k = 0; k <= len; k++) {
        int complete;
        size_t off = dfa_check_split(s, len, &k, 1, &complete);
        if (off != ref_off || complete != ref_complete) {
            fprintf(stderr, "split at %zu: got off %zu complete %d, want %zu %d\n", k, off,
                    complete, ref_off, ref_complete);
            fail();
        }
    }
    /* one byte at a time */
    size_t cuts[64];
    size_t nc = 0;
    for (size_t k = 1; k < len && nc < 64; k++)
        cuts[nc++] = k;
    if (len <= 64) {
        int complete;
        assert_int_equal(dfa_check_split(s, len, cuts, nc, &complete), ref_off);
        assert_int_equal(complete, ref_complete);
    }
}

typedef struct {
    const char *bytes;
    size_t len;
    int valid;
} case_t;

#define C(lit, v)                                                                                  \
    {                                                                                              \
        lit, sizeof(lit) - 1, v                                                                    \
    }

static const case_t cases[] = {
    /* 6.1 empty, 6.2 valid text */
    C("", 1),
    C("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!", 1),
    /* 6.3 kosme, and with a surrogate inside */
    C("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1),
    C("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 0),
    /* 6.4 fail fast */
    C("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64", 0),
    C("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80", 0),
    C("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xc0\xaf", 0),
    /* 6.5/6.6 single characters and prefixes */
    C("\xce\xba", 1),
    C("\xce", 0),
    C("\xe1\xbd\xb9", 1),
    C("\xe1\xbd", 0),
    C("\xe1", 0),
    /* 6.7 first of each length */
    C("\x00", 1),
    C("\xc2\x80", 1),
    C("\xe0\xa0\x80", 1),
    C("\xf0\x90\x80\x80", 1),
    /* 6.8 five and six byte forms */
    C("\xf8\x88\x80\x80\x80", 0),
    C("\xfc\x84\x80\x80\x80\x80", 0),
    /* 6.9 last of each length */
    C("\x7f", 1),
    C("\xdf\xbf", 1),
    C("\xef\xbf\xbf", 1),
    C("\xf4\x8f\xbf\xbf", 1),
    /* 6.10 beyond */
    C("\xf7\xbf\xbf\xbf", 0),
    C("\xfb\xbf\xbf\xbf\xbf", 0),
    C("\xfd\xbf\xbf\xbf\xbf\xbf", 0),
    /* 6.11 other boundaries */
    C("\xed\x9f\xbf", 1),
    C("\xee\x80\x80", 1),
    C("\xef\xbf\xbd", 1),
    C("\xf4\x90\x80\x80", 0),
    /* 6.12 unexpected continuation bytes */
    C("\x80", 0),
    C("\xbf", 0),
    C("\x80\xbf", 0),
    C("\x80\xbf\x80", 0),
    C("\x80\xbf\x80\xbf", 0),
    C("\x80\xbf\x80\xbf\x80", 0),
    C("\x80\xbf\x80\xbf\x80\xbf", 0),
    /* 6.13 lonely start bytes */
    C("\xc0\x20", 0),
    C("\xc2\x20", 0),
    C("\xdf\x20", 0),
    C("\xe0\x20", 0),
    C("\xef\x20", 0),
    C("\xf0\x20", 0),
    C("\xf7\x20", 0),
    C("\xf8\x20", 0),
    C("\xfb\x20", 0),
    C("\xfc\x20", 0),
    C("\xfd\x20", 0),
    /* 6.14 last byte missing */
    C("\xc0", 0),
    C("\xe0\x80", 0),
    C("\xf0\x80\x80", 0),
    C("\xf8\x80\x80\x80", 0),
    C("\xfc\x80\x80\x80\x80", 0),
    C("\xdf", 0),
    C("\xef\xbf", 0),
    C("\xf7\xbf\xbf", 0),
    C("\xfb\xbf\xbf\xbf", 0),
    C("\xfd\xbf\xbf\xbf\xbf", 0),
    C("\xc2", 0),
    C("\xe0\xa0", 0),
    C("\xf0\x90\x80", 0),
    C("\xf4\x8f\xbf", 0),
    /* 6.15 concatenated incomplete sequences */
    C("\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf"
      "\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf",
      0),
    /* 6.16 impossible bytes */
    C("\xfe", 0),
    C("\xff", 0),
    C("\xfe\xfe\xff\xff", 0),
    /* 6.17 overlong slash */
    C("\xc0\xaf", 0),
    C("\xe0\x80\xaf", 0),
    C("\xf0\x80\x80\xaf", 0),
    C("\xf8\x80\x80\x80\xaf", 0),
    C("\xfc\x80\x80\x80\x80\xaf", 0),
    /* 6.18 maximum overlongs */
    C("\xc1\xbf", 0),
    C("\xe0\x9f\xbf", 0),
    C("\xf0\x8f\xbf\xbf", 0),
    C("\xf8\x87\xbf\xbf\xbf", 0),
    C("\xfc\x83\xbf\xbf\xbf\xbf", 0),
    /* 6.19 overlong NUL */
    C("\xc0\x80", 0),
    C("\xe0\x80\x80", 0),
    C("\xf0\x80\x80\x80", 0),
    C("\xf8\x80\x80\x80\x80", 0),
    C("\xfc\x80\x80\x80\x80\x80", 0),
    /* 6.20 single surrogates */
    C("\xed\xa0\x80", 0),
    C("\xed\xad\xbf", 0),
    C("\xed\xae\x80", 0),
    C("\xed\xaf\xbf", 0),
    C("\xed\xb0\x80", 0),
    C("\xed\xbe\x80", 0),
    C("\xed\xbf\xbf", 0),
    /* 6.21 paired surrogates */
    C("\xed\xa0\x80\xed\xb0\x80", 0),
    C("\xed\xa0\x80\xed\xbf\xbf", 0),
    C("\xed\xad\xbf\xed\xb0\x80", 0),
    C("\xed\xad\xbf\xed\xbf\xbf", 0),
    C("\xed\xae\x80\xed\xb0\x80", 0),
    C("\xed\xae\x80\xed\xbf\xbf", 0),
    C("\xed\xaf\xbf\xed\xb0\x80", 0),
    C("\xed\xaf\xbf\xed\xbf\xbf", 0),
    /* 6.22 noncharacters are valid UTF-8 */
    C("\xef\xbf\xbe", 1),
    C("\xef\xbf\xbf", 1),
    C("\xf0\x9f\xbf\xbe", 1),
    C("\xf0\x9f\xbf\xbf", 1),
    C("\xf0\xaf\xbf\xbe", 1),
    C("\xf3\xbf\xbf\xbf", 1),
    C("\xf4\x8f\xbf\xbe", 1),
    C("\xef\xb7\x90", 1),
    C("\xef\xb7\xaf", 1),
    /* 6.23 replacement character; long mixed text crossing the word fast path */
    C("\xef\xbf\xbd", 1),
    C("abcdefghijklmnopqrstuvwxyz\xc3\xa9"
      "abcdefgh\xf0\x9f\x98\x80"
      "12345678901234567890",
      1),
    C("abcdefghijklmnopqrstuvwxyz\xc3\xa9"
      "abcdefgh\xf0\x9f\x98"
      "12345678901234567890",
      0),
    C("abcdefghijklmnop\xed\xa0\x80qrstuvwxyz", 0),
};

static void test_cases_every_split(void **state)
{
    (void)state;
    build_prefixes();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_all_splits((const uint8_t *)cases[i].bytes, cases[i].len, cases[i].valid);
}

static void test_fail_offsets(void **state)
{
    (void)state;
    utf8_dfa_t d;
    size_t off;
    /* kosme + ED A0 80: fails at A0, offset 12 */
    const char *s = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80";
    utf8_init(&d);
    assert_int_equal(utf8_feed(&d, s, 14, &off), UTF8_INVALID);
    assert_int_equal(off, 12);
    /* sticky: a later call fails at 0 */
    assert_int_equal(utf8_feed(&d, "a", 1, &off), UTF8_INVALID);
    assert_int_equal(off, 0);
    /* F4 90: fails at the 90 */
    utf8_init(&d);
    assert_int_equal(utf8_feed(&d, "ab\xf4", 3, &off), UTF8_OK);
    assert_false(utf8_complete(&d));
    assert_int_equal(utf8_feed(&d, "\x90", 1, &off), UTF8_INVALID);
    assert_int_equal(off, 0);
    /* a lone continuation after 20 ASCII bytes (word fast path) */
    utf8_init(&d);
    assert_int_equal(utf8_feed(&d, "01234567890123456789\x80zz", 23, &off), UTF8_INVALID);
    assert_int_equal(off, 20);
}

static void test_every_code_point(void **state)
{
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        uint8_t e[4];
        size_t n = encode(cp, e);
        int want = !(cp >= 0xD800 && cp <= 0xDFFF);
        if (utf8_valid(e, n) != want) {
            fprintf(stderr, "U+%04X\n", cp);
            fail();
        }
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static uint8_t rand_byte(void)
{
    /* Mostly bytes that matter to UTF-8 (leads and continuations). */
    static const uint8_t interesting[] = {0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                          0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                                          0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    uint32_t r = next_rand();
    if (r % 4 == 0)
        return (uint8_t)(r >> 8);
    return interesting[(r >> 8) % sizeof interesting];
}

static void test_random_against_reference(void **state)
{
    (void)state;
    build_prefixes();
    uint8_t s[48];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = next_rand() % sizeof s;
        /* Build mostly valid text with some damage, so failures come late too. */
        size_t i = 0;
        while (i < len) {
            if (next_rand() % 8 == 0) {
                s[i++] = rand_byte();
                continue;
            }
            uint32_t cp = next_rand() % 0x110000;
            if (next_rand() % 2)
                cp %= 0x80;
            uint8_t e[4];
            size_t n = encode(cp, e);
            for (size_t k = 0; k < n && i < len; k++)
                s[i++] = e[k];
        }
        int rc;
        size_t ref = ref_check(s, len, &rc);
        size_t cuts[3];
        size_t nc = next_rand() % 4;
        for (size_t k = 0; k < nc; k++)
            cuts[k] = len ? next_rand() % (len + 1) : 0;
        /* sort the cuts */
        for (size_t a = 0; a < nc; a++)
            for (size_t b = a + 1; b < nc; b++)
                if (cuts[b] < cuts[a]) {
                    size_t t = cuts[a];
                    cuts[a] = cuts[b];
                    cuts[b] = t;
                }
        int dc;
        size_t got = dfa_check_split(s, len, cuts, nc, &dc);
        if (got != ref || dc != rc) {
            fprintf(stderr, "iter %d len %zu: got %zu/%d want %zu/%d\n", iter, len, got, dc, ref,
                    rc);
            fail();
        }
    }
}

static void test_boundary(void **state)
{
    (void)state;
    assert_int_equal(utf8_boundary("abc", 3), 3);
    assert_int_equal(utf8_boundary("ab\xc3", 3), 2);
    assert_int_equal(utf8_boundary("ab\xe2\x82", 4), 2);
    assert_int_equal(utf8_boundary("ab\xe2\x82\xac", 5), 5);
    assert_int_equal(utf8_boundary("a\xff"
                                   "bc",
                                   4),
                     1);
    assert_int_equal(utf8_boundary("", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_every_split), cmocka_unit_test(test_fail_offsets),
        cmocka_unit_test(test_every_code_point),  cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_boundary),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    free(prefix_bits);
    return r;
}
