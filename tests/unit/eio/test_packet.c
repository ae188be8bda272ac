/* test_packet.c — Engine.IO v4 packet and polling payload codec: every
 * type, base64 binaries, the payload iterator on the payloads of the spec and
 * the compliance suite, the errors Node treats as parse errors, and the
 * encoders (including their buffer cap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eio/packet.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_decode_every_type(void **state)
{
    (void)state;
    for (int t = 0; t <= 6; t++) {
        char s[2] = {(char)('0' + t), 0};
        eio_packet_t p;
        assert_int_equal(eio_packet_decode_text(s, 1, &p), EIO_OK);
        assert_int_equal(p.type, t);
        assert_int_equal(p.kind, EIO_DATA_TEXT);
        assert_int_equal(p.len, 0);
    }
}

static void test_decode_with_data(void **state)
{
    (void)state;
    eio_packet_t p;
    assert_int_equal(eio_packet_decode_text(S("4hello"), &p), EIO_OK);
    assert_int_equal(p.type, EIO_MESSAGE);
    assert_int_equal(p.len, 5);
    assert_memory_equal(p.data, "hello", 5);

    assert_int_equal(eio_packet_decode_text(S("2probe"), &p), EIO_OK);
    assert_int_equal(p.type, EIO_PING);
    assert_memory_equal(p.data, "probe", 5);

    assert_int_equal(eio_packet_decode_text(S("3probe"), &p), EIO_OK);
    assert_int_equal(p.type, EIO_PONG);

    /* UTF-8 passes through untouched (v4 counts no characters). */
    assert_int_equal(eio_packet_decode_text(S("4\xe2\x82\xac"), &p), EIO_OK);
    assert_int_equal(p.len, 3);
}

static void test_decode_errors(void **state)
{
    (void)state;
    eio_packet_t p;
    assert_int_equal(eio_packet_decode_text("", 0, &p), EIO_ERR_EMPTY);
    assert_int_equal(eio_packet_decode_text(S("abc"), &p), EIO_ERR_BAD_TYPE);
    assert_int_equal(eio_packet_decode_text(S("7"), &p), EIO_ERR_BAD_TYPE);
    assert_int_equal(eio_packet_decode_text(S("/"), &p), EIO_ERR_BAD_TYPE);
    assert_int_equal(eio_packet_decode_text(S("\x1e"), &p), EIO_ERR_BAD_TYPE);
    assert_int_equal(eio_packet_decode_text(S("bA"), &p), EIO_ERR_BAD_BASE64);
    assert_int_equal(eio_packet_decode_text(S("b!!!!"), &p), EIO_ERR_BAD_BASE64);
    assert_string_equal(eio_strerror(EIO_ERR_EMPTY), "empty packet");
    assert_string_equal(eio_strerror((eio_err_t)-99), "unknown error");
}

static void test_decode_base64_binary(void **state)
{
    (void)state;
    eio_packet_t p;
    assert_int_equal(eio_packet_decode_text(S("bAQIDBA=="), &p), EIO_OK);
    assert_int_equal(p.type, EIO_MESSAGE);
    assert_int_equal(p.kind, EIO_DATA_BASE64);
    assert_int_equal(p.binary_len, 4);
    unsigned char buf[4];
    const unsigned char *bytes = NULL;
    assert_int_equal(eio_packet_binary(&p, buf, 3, &bytes), EIO_ERR_TOO_BIG);
    assert_int_equal(eio_packet_binary(&p, buf, sizeof buf, &bytes), EIO_OK);
    assert_ptr_equal(bytes, buf);
    assert_memory_equal(bytes, "\x01\x02\x03\x04", 4);

    /* "b" alone is an empty binary message. */
    assert_int_equal(eio_packet_decode_text(S("b"), &p), EIO_OK);
    assert_int_equal(p.binary_len, 0);
}

static void test_decode_binary_frame(void **state)
{
    (void)state;
    static const unsigned char frame[] = {1, 2, 3, 4};
    eio_packet_t p;
    assert_int_equal(eio_packet_decode_binary(frame, sizeof frame, &p), EIO_OK);
    assert_int_equal(p.type, EIO_MESSAGE);
    assert_int_equal(p.kind, EIO_DATA_BINARY);
    const unsigned char *bytes = NULL;
    assert_int_equal(eio_packet_binary(&p, NULL, 0, &bytes), EIO_OK);
    assert_ptr_equal(bytes, frame); /* zero copy */
    assert_int_equal(p.binary_len, 4);

    /* A text packet has no binary form. */
    assert_int_equal(eio_packet_decode_text(S("4x"), &p), EIO_OK);
    assert_int_equal(eio_packet_binary(&p, NULL, 0, &bytes), EIO_ERR_BAD_TYPE);
}

/* Collects the packets of a payload as "<type>|<data>" strings (binary
 * decoded to hex) separated by ';', or "ERR<code>". */
static void split(const char *body, size_t len, char *out, size_t outsz)
{
    eio_payload_iter_t it;
    eio_packet_t p;
    eio_err_t err;
    size_t o = 0;
    out[0] = 0;
    eio_payload_iter_init(&it, body, len);
    while ((err = eio_payload_next(&it, &p)) == EIO_OK) {
        if (p.kind == EIO_DATA_TEXT) {
            o += (size_t)snprintf(out + o, outsz - o, "%d|%.*s;", p.type, (int)p.len, p.data);
        } else {
            unsigned char b[64];
            const unsigned char *bytes;
            assert_int_equal(eio_packet_binary(&p, b, sizeof b, &bytes), EIO_OK);
            o += (size_t)snprintf(out + o, outsz - o, "bin|");
            for (size_t i = 0; i < p.binary_len; i++)
                o += (size_t)snprintf(out + o, outsz - o, "%02x", bytes[i]);
            o += (size_t)snprintf(out + o, outsz - o, ";");
        }
    }
    if (err != EIO_END)
        snprintf(out + o, outsz - o, "ERR%d", err);
    /* Once finished, the iterator stays finished. */
    assert_int_equal(eio_payload_next(&it, &p), EIO_END);
}

static void test_payload_split(void **state)
{
    (void)state;
    char r[256];
    split(S("4hello"), r, sizeof r);
    assert_string_equal(r, "4|hello;");
    split(S("4test1\x1e" "4test2\x1e" "4test3"), r, sizeof r);
    assert_string_equal(r, "4|test1;4|test2;4|test3;");
    split(S("4hello\x1e" "bAQIDBA=="), r, sizeof r);
    assert_string_equal(r, "4|hello;bin|01020304;");
    split(S("4hello\x1e" "2\x1e" "4world"), r, sizeof r);
    assert_string_equal(r, "4|hello;2|;4|world;");
    split(S("3"), r, sizeof r);
    assert_string_equal(r, "3|;");
    split(S("1"), r, sizeof r);
    assert_string_equal(r, "1|;");
    /* Socket.IO sample session: two events in one POST. */
    split(S("42[\"hello\"]\x1e" "42[\"world\"]"), r, sizeof r);
    assert_string_equal(r, "4|2[\"hello\"];4|2[\"world\"];");
}

static void test_payload_errors(void **state)
{
    (void)state;
    char r[256];
    split("", 0, r, sizeof r); /* empty body = one empty packet */
    assert_string_equal(r, "ERR-1");
    split(S("abc"), r, sizeof r);
    assert_string_equal(r, "ERR-2");
    split(S("4a\x1e"), r, sizeof r); /* trailing separator */
    assert_string_equal(r, "4|a;ERR-1");
    split(S("4a\x1e\x1e" "4b"), r, sizeof r); /* empty packet in the middle */
    assert_string_equal(r, "4|a;ERR-1");
    split(S("\x1e" "4a"), r, sizeof r);
    assert_string_equal(r, "ERR-1");
    split(S("4a\x1e" "bA"), r, sizeof r);
    assert_string_equal(r, "4|a;ERR-3");
    split(S("4a\x1e" "9x\x1e" "4b"), r, sizeof r); /* stops at the error */
    assert_string_equal(r, "4|a;ERR-2");
}

/* Packets point into the body: nothing is copied. */
static void test_payload_zero_copy(void **state)
{
    (void)state;
    const char body[] = "4ab\x1e" "4cd";
    eio_payload_iter_t it;
    eio_packet_t p;
    eio_payload_iter_init(&it, body, sizeof body - 1);
    assert_int_equal(eio_payload_next(&it, &p), EIO_OK);
    assert_ptr_equal(p.data, body + 1);
    assert_int_equal(eio_payload_next(&it, &p), EIO_OK);
    assert_ptr_equal(p.data, body + 5);
    assert_int_equal(eio_payload_next(&it, &p), EIO_END);
}

static void test_encode_text(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 64);
    assert_int_equal(eio_encode_text(&b, EIO_MESSAGE, S("hello")), EIO_OK);
    assert_string_equal(b.data, "4hello");
    buf_reset(&b);
    assert_int_equal(eio_encode_text(&b, EIO_PING, NULL, 0), EIO_OK);
    assert_string_equal(b.data, "2");
    buf_reset(&b);
    assert_int_equal(eio_encode_text(&b, EIO_PONG, S("probe")), EIO_OK);
    assert_string_equal(b.data, "3probe");
    buf_reset(&b);
    assert_int_equal(eio_encode_text(&b, EIO_NOOP, NULL, 0), EIO_OK);
    assert_string_equal(b.data, "6");
    buf_reset(&b);
    assert_int_equal(eio_encode_text(&b, EIO_MESSAGE, S("a\x1e" "b")), EIO_ERR_SEPARATOR);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_encode_payload(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 256);
    static const unsigned char bin[] = {1, 2, 3, 4};
    assert_int_equal(eio_payload_append_text(&b, EIO_MESSAGE, S("hello")), EIO_OK);
    assert_int_equal(eio_payload_append_binary(&b, bin, sizeof bin), EIO_OK);
    assert_int_equal(eio_payload_append_text(&b, EIO_PING, NULL, 0), EIO_OK);
    assert_int_equal(b.len, strlen("4hello\x1e" "bAQIDBA==\x1e" "2"));
    assert_memory_equal(b.data, "4hello\x1e" "bAQIDBA==\x1e" "2", b.len);
    /* Round trip through the iterator. */
    char r[128];
    split(b.data, b.len, r, sizeof r);
    assert_string_equal(r, "4|hello;bin|01020304;2|;");
    buf_free(&b);

    /* A payload starting with a binary packet has no leading separator. */
    buf_init(&b, 64);
    assert_int_equal(eio_payload_append_binary(&b, bin, 1), EIO_OK);
    assert_string_equal(b.data, "bAQ==");
    assert_int_equal(eio_payload_append_text(&b, EIO_MESSAGE, S("x\x1e")), EIO_ERR_SEPARATOR);
    assert_string_equal(b.data, "bAQ==");
    buf_free(&b);
}

static void test_encode_cap(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 8);
    assert_int_equal(eio_payload_append_text(&b, EIO_MESSAGE, S("abcd")), EIO_OK);
    /* Separator + "4xyz" would make 10 bytes: refused, buffer unchanged. */
    assert_int_equal(eio_payload_append_text(&b, EIO_MESSAGE, S("xyz")), EIO_ERR_TOO_BIG);
    assert_string_equal(b.data, "4abcd");
    static const unsigned char bin[] = {1, 2, 3};
    assert_int_equal(eio_payload_append_binary(&b, bin, sizeof bin), EIO_ERR_TOO_BIG);
    assert_string_equal(b.data, "4abcd");
    assert_int_equal(eio_encode_text(&b, EIO_MESSAGE, S("1234")), EIO_ERR_TOO_BIG);
    assert_string_equal(b.data, "4abcd");
    buf_free(&b);
}

static void test_encode_open(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 512);
    assert_int_equal(eio_encode_open(&b, "lv_VI97HAXpY6yYWAAAC", true, 25000, 20000, 1000000),
                     EIO_OK);
    assert_string_equal(b.data, "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
                                "\"pingInterval\":25000,\"pingTimeout\":20000,"
                                "\"maxPayload\":1000000}");
    buf_reset(&b);
    assert_int_equal(eio_encode_open(&b, "a\"b", false, 300, 200, 1000000), EIO_OK);
    assert_string_equal(b.data, "0{\"sid\":\"a\\\"b\",\"upgrades\":[],\"pingInterval\":300,"
                                "\"pingTimeout\":200,\"maxPayload\":1000000}");
    /* The result is itself a valid open packet. */
    eio_packet_t p;
    assert_int_equal(eio_packet_decode_text(b.data, b.len, &p), EIO_OK);
    assert_int_equal(p.type, EIO_OPEN);
    buf_free(&b);

    buf_init(&b, 10);
    assert_int_equal(eio_encode_open(&b, "x", true, 1, 1, 1), EIO_ERR_TOO_BIG);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(eio_type_name(EIO_OPEN), "open");
    assert_string_equal(eio_type_name(EIO_NOOP), "noop");
    assert_string_equal(eio_type_name((eio_type_t)7), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_every_type),  cmocka_unit_test(test_decode_with_data),
        cmocka_unit_test(test_decode_errors),      cmocka_unit_test(test_decode_base64_binary),
        cmocka_unit_test(test_decode_binary_frame), cmocka_unit_test(test_payload_split),
        cmocka_unit_test(test_payload_errors),     cmocka_unit_test(test_payload_zero_copy),
        cmocka_unit_test(test_encode_text),        cmocka_unit_test(test_encode_payload),
        cmocka_unit_test(test_encode_cap),         cmocka_unit_test(test_encode_open),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
