/* test_deflate.c — permessage-deflate: offer parsing and our answer, deflate
 * and inflate round trips at every window size, the inflated-size cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "ws/deflate.h"

/* ---- offers ---- */

typedef struct {
    const char *header;
    int result;
    ws_deflate_offer_t want; /* snct, cnct, smwb, cmwb */
} offer_case_t;

static const offer_case_t offers[] = {
    {"permessage-deflate", WS_EXT_FOUND, {0, 0, 0, 0}},
    {"permessage-deflate; client_max_window_bits", WS_EXT_FOUND, {0, 0, 0, 1}},
    {"permessage-deflate; client_max_window_bits=10", WS_EXT_FOUND, {0, 0, 0, 10}},
    {"permessage-deflate; client_max_window_bits=\"10\"", WS_EXT_FOUND, {0, 0, 0, 10}},
    {"permessage-deflate;server_no_context_takeover;client_no_context_takeover",
     WS_EXT_FOUND,
     {1, 1, 0, 0}},
    {"permessage-deflate; server_max_window_bits=8", WS_EXT_FOUND, {0, 0, 8, 0}},
    {"permessage-deflate; server_max_window_bits=15; client_max_window_bits=9",
     WS_EXT_FOUND,
     {0, 0, 15, 9}},
    {"  permessage-deflate \t;  server_max_window_bits = 12  ", WS_EXT_FOUND, {0, 0, 12, 0}},
    {"x-webkit-deflate-frame, permessage-deflate", WS_EXT_FOUND, {0, 0, 0, 0}},
    {"PerMessage-Deflate; Server_No_Context_Takeover", WS_EXT_FOUND, {1, 0, 0, 0}},
    {"foo; bar=\"baz, qux\", permessage-deflate", WS_EXT_FOUND, {0, 0, 0, 0}},
    {"foo; bar=\"a\\\"b\", permessage-deflate; client_no_context_takeover",
     WS_EXT_FOUND,
     {0, 1, 0, 0}},
    {", , permessage-deflate ,", WS_EXT_FOUND, {0, 0, 0, 0}},
    /* the first acceptable offer wins; unacceptable ones are skipped */
    {"permessage-deflate; server_max_window_bits=16, permessage-deflate; "
     "client_no_context_takeover",
     WS_EXT_FOUND,
     {0, 1, 0, 0}},
    {"permessage-deflate; client_max_window_bits=10, permessage-deflate",
     WS_EXT_FOUND,
     {0, 0, 0, 10}},
    {"permessage-deflate; foo, permessage-deflate; server_max_window_bits=9",
     WS_EXT_FOUND,
     {0, 0, 9, 0}},
    /* declined */
    {"", WS_EXT_NONE, {0, 0, 0, 0}},
    {"foo", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate-x", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=7", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=16", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=08", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=010", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=abc", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=\"\"", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=\"1\\0\"", WS_EXT_FOUND, {0, 0, 10, 0}},
    {"permessage-deflate; server_max_window_bits=99999999999999999999", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; client_max_window_bits=7", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; client_max_window_bits=16", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; client_max_window_bits=-9", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_no_context_takeover=1", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; client_no_context_takeover=\"\"", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
     WS_EXT_NONE,
     {0, 0, 0, 0}},
    {"permessage-deflate; client_max_window_bits; client_max_window_bits=10",
     WS_EXT_NONE,
     {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
     WS_EXT_NONE,
     {0, 0, 0, 0}},
    {"permessage-deflate; foo", WS_EXT_NONE, {0, 0, 0, 0}},
    {"permessage-deflate; foo=1", WS_EXT_NONE, {0, 0, 0, 0}},
    /* malformed: everything is declined */
    {"permessage-deflate;", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate; =10", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate; a=", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate; a=\"unterminated", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate; a=\"x\\", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate x", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate; a=b c", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate; server_max_window_bits=1 5", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {";permessage-deflate", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate, @", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate, foo; bar=\"a\x01\"", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"permessage-deflate; a==b", WS_EXT_MALFORMED, {0, 0, 0, 0}},
    {"\"permessage-deflate\"", WS_EXT_MALFORMED, {0, 0, 0, 0}},
};

static void test_offers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof offers / sizeof offers[0]; i++) {
        const offer_case_t *c = &offers[i];
        ws_deflate_offer_t got;
        memset(&got, 0xAA, sizeof got);
        int r = ws_deflate_parse_offers(c->header, strlen(c->header), &got);
        if (r != c->result) {
            fprintf(stderr, "offer '%s': result %d, want %d\n", c->header, r, c->result);
            fail();
        }
        if (r == WS_EXT_FOUND && memcmp(&got, &c->want, sizeof got) != 0) {
            fprintf(stderr, "offer '%s': got %u %u %u %u\n", c->header,
                    got.server_no_context_takeover, got.client_no_context_takeover,
                    got.server_max_window_bits, got.client_max_window_bits);
            fail();
        }
        /* The value is not NUL-terminated in a request: a cut header must not
         * read past its length (ASan watches the heap copy). */
        size_t len = strlen(c->header);
        char *copy = malloc(len ? len : 1);
        memcpy(copy, c->header, len);
        assert_int_equal(ws_deflate_parse_offers(copy, len, &got), c->result);
        free(copy);
    }
}

static void test_accept(void **state)
{
    (void)state;
    char out[128];
    ws_deflate_agreed_t a;
    ws_deflate_offer_t o = {0, 0, 0, 0};

    memset(&a, 0, sizeof a);
    size_t n = ws_deflate_accept(&o, 0, &a, out, sizeof out);
    assert_string_equal(out, "permessage-deflate; server_no_context_takeover; "
                             "client_no_context_takeover");
    assert_int_equal(n, strlen(out));
    assert_int_equal(a.enabled, 1);
    assert_int_equal(a.server_window_bits, 15);
    assert_int_equal(a.client_takeover, 0);

    o = (ws_deflate_offer_t){0, 0, 10, 1};
    ws_deflate_accept(&o, 0, &a, out, sizeof out);
    assert_string_equal(out, "permessage-deflate; server_no_context_takeover; "
                             "client_no_context_takeover; server_max_window_bits=10");
    assert_int_equal(a.server_window_bits, 10);

    o = (ws_deflate_offer_t){0, 0, 0, 12};
    ws_deflate_accept(&o, 1, &a, out, sizeof out);
    assert_string_equal(out, "permessage-deflate; server_no_context_takeover");
    assert_int_equal(a.client_takeover, 1);

    o = (ws_deflate_offer_t){1, 1, 8, 0};
    ws_deflate_accept(&o, 1, &a, out, sizeof out);
    assert_string_equal(out, "permessage-deflate; server_no_context_takeover; "
                             "client_no_context_takeover; server_max_window_bits=8");
    assert_int_equal(a.client_takeover, 0);
    assert_int_equal(a.server_window_bits, 8);

    /* our answer is itself a valid offer list */
    ws_deflate_offer_t back;
    assert_int_equal(ws_deflate_parse_offers(out, strlen(out), &back), WS_EXT_FOUND);
    assert_int_equal(back.server_max_window_bits, 8);

    memset(&a, 0, sizeof a);
    assert_int_equal(ws_deflate_accept(&o, 0, &a, out, 20), 0);
    assert_int_equal(a.enabled, 0);
}

/* ---- zlib ---- */

static void fill_text(uint8_t *p, size_t n, unsigned seed)
{
    static const char *words[] = {"chat ", "message ", "hello ", "{\"seq\":", "42, ", "room "};
    size_t i = 0;
    while (i < n) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 6];
        for (size_t k = 0; w[k] && i < n; k++)
            p[i++] = (uint8_t)w[k];
        if ((seed >> 8) % 7 == 0 && i < n)
            p[i++] = (uint8_t)(seed >> 3);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 100, 4000, 70000, 300000};
    static uint8_t src[300000];
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        fill_text(src, n, (unsigned)si + 1);
        for (unsigned bits = 9; bits <= 15; bits++) {
            buf_t z, out;
            buf_init(&z, n + 1024);
            assert_int_equal(ws_deflate_message(bits, src, n, &z), 0);
            assert_true(z.len >= 1);
            if (n >= 4000)
                assert_true(z.len < n / 2); /* it really compresses */
            buf_init(&out, n);
            ws_inflater_t *zi = ws_inflater_get();
            /* feed in pieces, tail with the last */
            size_t pos = 0;
            while (pos < z.len) {
                size_t k = z.len - pos < 777 ? z.len - pos : 777;
                int end = pos + k == z.len;
                assert_int_equal(ws_inflate(zi, z.data + pos, k, end, &out), WS_INFLATE_OK);
                pos += k;
            }
            assert_int_equal(out.len, n);
            if (n)
                assert_memory_equal(out.data, src, n);
            ws_inflater_put(zi);
            /* a zlib window of exactly `bits` inflates it too (no distance beyond it) */
            z_stream check;
            memset(&check, 0, sizeof check);
            assert_int_equal(inflateInit2(&check, -(int)bits), Z_OK);
            static uint8_t out2[300001];
            buf_append(&z, "\x00\x00\xff\xff", 4);
            check.next_in = (Bytef *)z.data;
            check.avail_in = (uInt)z.len;
            check.next_out = out2;
            check.avail_out = sizeof out2;
            int rc = inflate(&check, Z_SYNC_FLUSH);
            assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
            assert_int_equal(sizeof out2 - check.avail_out, n);
            inflateEnd(&check);
            buf_free(&z);
            buf_free(&out);
        }
    }
    ws_deflate_thread_cleanup();
}

static void test_deflate_refusals(void **state)
{
    (void)state;
    buf_t z;
    buf_init(&z, 1000);
    assert_int_equal(ws_deflate_message(8, "abc", 3, &z), -1);
    assert_int_equal(ws_deflate_message(16, "abc", 3, &z), -1);
    /* incompressible data over the caller's cap */
    static uint8_t noise[5000];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (uint8_t)(x >> 24);
    }
    buf_free(&z);
    buf_init(&z, sizeof noise + 3);
    assert_int_equal(ws_deflate_message(15, noise, sizeof noise, &z), -1);
    buf_free(&z);
    /* the shared stream is reset after a refusal: the next message is fine */
    buf_init(&z, 100);
    assert_int_equal(ws_deflate_message(15, "aaaaaaaaaaaaaaaaaaaaaaaa", 24, &z), 0);
    buf_t out;
    buf_init(&out, 100);
    ws_inflater_t *zi = ws_inflater_get();
    assert_int_equal(ws_inflate(zi, z.data, z.len, 1, &out), WS_INFLATE_OK);
    assert_int_equal(out.len, 24);
    ws_inflater_put(zi);
    buf_free(&z);
    buf_free(&out);
    ws_deflate_thread_cleanup();
}

static void test_bomb_cap(void **state)
{
    (void)state;
    static uint8_t zeros[100000];
    memset(zeros, 0, sizeof zeros);
    buf_t z;
    buf_init(&z, sizeof zeros);
    assert_int_equal(ws_deflate_message(15, zeros, sizeof zeros, &z), 0);
    assert_true(z.len < 1000);

    /* cap exactly the size: fine */
    buf_t out;
    buf_init(&out, sizeof zeros);
    ws_inflater_t *zi = ws_inflater_get();
    assert_int_equal(ws_inflate(zi, z.data, z.len, 1, &out), WS_INFLATE_OK);
    assert_int_equal(out.len, sizeof zeros);
    ws_inflater_put(zi);
    buf_free(&out);

    /* one byte less: refused, having kept no more than the cap */
    static const size_t caps[] = {sizeof zeros - 1, 50000, 16384, 16383, 1, 0};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        buf_init(&out, caps[i]);
        zi = ws_inflater_get();
        assert_int_equal(ws_inflate(zi, z.data, z.len, 1, &out), WS_INFLATE_TOO_BIG);
        assert_true(out.len <= caps[i]);
        ws_inflater_put(zi);
        buf_free(&out);
    }
    buf_free(&z);

    /* garbage */
    buf_init(&out, 1000);
    zi = ws_inflater_get();
    assert_int_equal(ws_inflate(zi, "\xff\xff\xff", 3, 1, &out), WS_INFLATE_BAD_DATA);
    ws_inflater_put(zi);
    buf_free(&out);
    ws_deflate_thread_cleanup();
}

static void test_pool_reuse(void **state)
{
    (void)state;
    ws_inflater_t *a = ws_inflater_get();
    ws_inflater_put(a);
    ws_inflater_t *b = ws_inflater_get();
    assert_ptr_equal(a, b); /* from the pool */
    /* a stream that failed comes back clean */
    buf_t out;
    buf_init(&out, 100);
    assert_int_equal(ws_inflate(b, "\xff", 1, 0, &out), WS_INFLATE_BAD_DATA);
    ws_inflater_put(b);
    b = ws_inflater_get();
    buf_t z;
    buf_init(&z, 100);
    assert_int_equal(ws_deflate_message(15, "pool", 4, &z), 0);
    assert_int_equal(ws_inflate(b, z.data, z.len, 1, &out), WS_INFLATE_OK);
    assert_int_equal(out.len, 4);
    ws_inflater_put(b);
    /* more than the pool holds: the extras are freed (ASan checks leaks) */
    ws_inflater_t *many[10];
    for (int i = 0; i < 10; i++)
        many[i] = ws_inflater_get();
    for (int i = 0; i < 10; i++)
        ws_inflater_put(many[i]);
    buf_free(&z);
    buf_free(&out);
    ws_deflate_thread_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offers),     cmocka_unit_test(test_accept),
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_deflate_refusals),
        cmocka_unit_test(test_bomb_cap),   cmocka_unit_test(test_pool_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
