/* test_base64.c — base64 encode/decode: RFC 4648 vectors, padding rules,
 * invalid input, output space, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"

static const struct {
    const char *plain;
    const char *enc;
} rfc4648[] = {
    {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_rfc_vectors_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        char out[16];
        size_t n = base64_encode(rfc4648[i].plain, strlen(rfc4648[i].plain), out);
        assert_int_equal(n, strlen(rfc4648[i].enc));
        assert_int_equal(n, base64_encoded_len(strlen(rfc4648[i].plain)));
        assert_memory_equal(out, rfc4648[i].enc, n);
    }
}

static void test_rfc_vectors_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        char out[16];
        ssize_t n = base64_decode(rfc4648[i].enc, strlen(rfc4648[i].enc), out, sizeof out);
        assert_int_equal(n, (ssize_t)strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, (size_t)n);
    }
}

/* The WebSocket handshake example of RFC 6455 §1.3: the SHA-1 digest bytes. */
static void test_websocket_accept(void **state)
{
    (void)state;
    static const unsigned char sha1[20] = {0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f,
                                           0x16, 0x90, 0xf6, 0x46, 0x06, 0xcf, 0x38,
                                           0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea};
    char out[28];
    assert_int_equal(base64_encode(sha1, sizeof sha1, out), 28);
    assert_memory_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28);
}

/* Engine.IO's example: buffer 01 02 03 04 is "AQIDBA==". */
static void test_engineio_example(void **state)
{
    (void)state;
    static const unsigned char bytes[] = {1, 2, 3, 4};
    char enc[8];
    assert_int_equal(base64_encode(bytes, 4, enc), 8);
    assert_memory_equal(enc, "AQIDBA==", 8);
    unsigned char dec[4];
    assert_int_equal(base64_decode("AQIDBA==", 8, dec, sizeof dec), 4);
    assert_memory_equal(dec, bytes, 4);
}

static void test_unpadded_accepted(void **state)
{
    (void)state;
    unsigned char out[8];
    assert_int_equal(base64_decode("AQIDBA", 6, out, sizeof out), 4);
    assert_int_equal(base64_decode("Zm8", 3, out, sizeof out), 2);
    assert_memory_equal(out, "fo", 2);
    size_t n = 0;
    assert_int_equal(base64_check("Zm9vYmE", 7, &n), 0);
    assert_int_equal(n, 5);
}

static void test_all_alphabet(void **state)
{
    (void)state;
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char bytes[48];
    assert_int_equal(base64_decode(alpha, 64, bytes, sizeof bytes), 48);
    char back[64];
    assert_int_equal(base64_encode(bytes, 48, back), 64);
    assert_memory_equal(back, alpha, 64);
}

static void test_invalid_input(void **state)
{
    (void)state;
    unsigned char out[16];
    static const char *bad[] = {
        "A",        /* one leftover character */
        "AAAAA",    /* 4k+1 */
        "AQ=",      /* padding not completing a quad */
        "A===",     /* too much padding */
        "====",     /* only padding */
        "AQ==AQ==", /* padding in the middle */
        "AB=C",     /* '=' before data */
        "AQ-_",     /* URL-safe alphabet is not this one */
        "AQ I",     /* whitespace */
        "AQ\nI",    /* line break */
        "AQI\x80",  /* high byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out, sizeof out),
                         BASE64_ERR_INVALID);
        assert_int_equal(base64_check(bad[i], strlen(bad[i]), NULL), BASE64_ERR_INVALID);
    }
    /* A NUL inside the input is a character like any other: invalid. */
    assert_int_equal(base64_decode("AQ\0D", 4, out, sizeof out), BASE64_ERR_INVALID);
}

static void test_output_space(void **state)
{
    (void)state;
    unsigned char out[4];
    assert_int_equal(base64_decode("AQIDBA==", 8, out, 3), BASE64_ERR_SPACE);
    assert_int_equal(base64_decode("AQIDBA==", 8, out, 4), 4);
    assert_int_equal(base64_decode("", 0, out, 0), 0);
}

/* Non-zero bits below the last byte are ignored, as Node and browsers do. */
static void test_lenient_trailing_bits(void **state)
{
    (void)state;
    unsigned char out[2];
    assert_int_equal(base64_decode("AR==", 4, out, sizeof out), 1);
    assert_int_equal(out[0], 1);
}

static void test_round_trip_lengths(void **state)
{
    (void)state;
    unsigned char in[300], back[300];
    char enc[400];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof in; i++) {
        x = x * 1103515245u + 12345u;
        in[i] = (unsigned char)(x >> 16);
    }
    for (size_t len = 0; len <= sizeof in; len++) {
        size_t n = base64_encode(in, len, enc);
        assert_int_equal(n, base64_encoded_len(len));
        assert_true(base64_decoded_max(n) >= len);
        ssize_t m = base64_decode(enc, n, back, sizeof back);
        assert_int_equal(m, (ssize_t)len);
        assert_memory_equal(back, in, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_vectors_encode), cmocka_unit_test(test_rfc_vectors_decode),
        cmocka_unit_test(test_websocket_accept),   cmocka_unit_test(test_engineio_example),
        cmocka_unit_test(test_unpadded_accepted),  cmocka_unit_test(test_all_alphabet),
        cmocka_unit_test(test_invalid_input),      cmocka_unit_test(test_output_space),
        cmocka_unit_test(test_lenient_trailing_bits), cmocka_unit_test(test_round_trip_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
