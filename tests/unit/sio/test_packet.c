/* test_packet.c — Socket.IO v5 packet codec: the spec's examples, every
 * packet type in both directions, the compliance suite's packets, binary
 * attachments, and every decoding error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sio/packet.h"

/* Decodes s, expecting success. */
static sio_packet_t dec(const char *s)
{
    sio_packet_t p;
    sio_decode_error_t d;
    sio_err_t err = sio_packet_decode(s, strlen(s), &p, &d);
    if (err != SIO_OK)
        fail_msg("decode(%s) = %d (%s at %zu)", s, err, d.text, d.offset);
    return p;
}

static sio_err_t dec_err(const char *s)
{
    sio_packet_t p;
    sio_err_t err = sio_packet_decode(s, strlen(s), &p, NULL);
    if (err == SIO_OK)
        sio_packet_free(&p);
    return err;
}

static bool nsp_is(const sio_packet_t *p, const char *nsp)
{
    return p->nsp_len == strlen(nsp) && memcmp(p->nsp, nsp, p->nsp_len) == 0;
}

/* Compact JSON of the payload ("-" when absent), for comparisons. */
static char *payload_str(const sio_packet_t *p)
{
    if (!p->data)
        return strdup("-");
    return json_dumps(p->data, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void assert_payload(const sio_packet_t *p, const char *want)
{
    char *got = payload_str(p);
    assert_string_equal(got, want);
    free(got);
}

/* decode(s) then encode must give back exactly s (for canonical inputs). */
static void assert_round_trip(const char *s)
{
    sio_packet_t p = dec(s);
    buf_t b;
    buf_init(&b, 4096);
    sio_err_t err = sio_packet_encode(&b, &p);
    if (err != SIO_OK)
        fail_msg("encode(decode(%s)) = %d", s, err);
    assert_int_equal(b.len, strlen(s));
    assert_memory_equal(b.data, s, b.len);
    buf_free(&b);
    sio_packet_free(&p);
}

/* --- The examples of the protocol document --- */

static void test_spec_connect(void **state)
{
    (void)state;
    sio_packet_t p = dec("0");
    assert_int_equal(p.type, SIO_CONNECT);
    assert_true(nsp_is(&p, "/"));
    assert_null(p.data);
    assert_false(p.has_id);
    sio_packet_free(&p);

    p = dec("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");
    assert_int_equal(p.type, SIO_CONNECT);
    assert_true(nsp_is(&p, "/admin"));
    assert_payload(&p, "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");
    sio_packet_free(&p);

    p = dec("4{\"message\":\"Not authorized\"}");
    assert_int_equal(p.type, SIO_CONNECT_ERROR);
    assert_payload(&p, "{\"message\":\"Not authorized\"}");
    sio_packet_free(&p);

    assert_round_trip("0");
    assert_round_trip("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");
    assert_round_trip("4{\"message\":\"Not authorized\"}");
}

static void test_spec_event(void **state)
{
    (void)state;
    sio_packet_t p = dec("2[\"foo\"]");
    assert_int_equal(p.type, SIO_EVENT);
    assert_true(nsp_is(&p, "/"));
    assert_payload(&p, "[\"foo\"]");
    sio_packet_free(&p);

    p = dec("2/admin,[\"bar\"]");
    assert_true(nsp_is(&p, "/admin"));
    assert_payload(&p, "[\"bar\"]");
    sio_packet_free(&p);

    p = dec("212[\"foo\"]");
    assert_true(p.has_id);
    assert_int_equal(p.id, 12);
    sio_packet_free(&p);

    assert_round_trip("2[\"foo\"]");
    assert_round_trip("2/admin,[\"bar\"]");
    assert_round_trip("212[\"foo\"]");
}

static void test_spec_ack(void **state)
{
    (void)state;
    sio_packet_t p = dec("3/admin,13[\"bar\"]");
    assert_int_equal(p.type, SIO_ACK);
    assert_true(nsp_is(&p, "/admin"));
    assert_true(p.has_id);
    assert_int_equal(p.id, 13);
    assert_payload(&p, "[\"bar\"]");
    sio_packet_free(&p);
    assert_round_trip("3/admin,13[\"bar\"]");
    assert_round_trip("312[]"); /* an ACK payload may be empty */
}

static void test_spec_disconnect(void **state)
{
    (void)state;
    sio_packet_t p = dec("1");
    assert_int_equal(p.type, SIO_DISCONNECT);
    assert_true(nsp_is(&p, "/"));
    sio_packet_free(&p);
    p = dec("1/admin,");
    assert_true(nsp_is(&p, "/admin"));
    assert_null(p.data);
    sio_packet_free(&p);
    assert_round_trip("1");
    assert_round_trip("1/admin,");
}

static void test_spec_binary(void **state)
{
    (void)state;
    sio_packet_t p = dec("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]");
    assert_int_equal(p.type, SIO_BINARY_EVENT);
    assert_int_equal(p.attachments, 1);
    assert_int_equal(p.nbins, 0);
    sio_packet_free(&p);

    p = dec("52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
    assert_int_equal(p.attachments, 2);
    assert_true(nsp_is(&p, "/admin"));
    sio_packet_free(&p);

    p = dec("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]");
    assert_int_equal(p.type, SIO_BINARY_ACK);
    assert_int_equal(p.id, 15);
    sio_packet_free(&p);

    /* The sample session's BINARY_ACK in a custom namespace. */
    p = dec("61-/admin,1[{\"_placeholder\":true,\"num\":0}]");
    assert_int_equal(p.id, 1);
    sio_packet_free(&p);

    assert_round_trip("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]");
    assert_round_trip(
        "52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
    assert_round_trip("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]");
}

/* --- What the compliance suite sends (after the Engine.IO '4') --- */

static void test_suite_packets(void **state)
{
    (void)state;
    sio_packet_t p = dec("0{\"token\":\"123\"}");
    assert_payload(&p, "{\"token\":\"123\"}");
    sio_packet_free(&p);

    /* Namespaces ending the packet without their comma. */
    p = dec("0/random");
    assert_int_equal(p.type, SIO_CONNECT);
    assert_true(nsp_is(&p, "/random"));
    sio_packet_free(&p);
    p = dec("1/custom");
    assert_int_equal(p.type, SIO_DISCONNECT);
    assert_true(nsp_is(&p, "/custom"));
    sio_packet_free(&p);
    p = dec("0/custom,");
    assert_true(nsp_is(&p, "/custom"));
    assert_null(p.data);
    sio_packet_free(&p);
    p = dec("0/custom,{\"token\":\"abc\"}");
    assert_payload(&p, "{\"token\":\"abc\"}");
    sio_packet_free(&p);

    assert_round_trip("2[\"message\",1,\"2\",{\"3\":[true]}]");
    assert_round_trip("2[\"message-back\",1,\"2\",{\"3\":[true]}]");
    assert_round_trip("2456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]");
    assert_round_trip("3456[1,\"2\",{\"3\":[false]}]");
    assert_round_trip("2[\"message\",\"message to main namespace\"]");
    assert_round_trip(
        "52-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
    assert_round_trip("52-789[\"message-with-ack\",{\"_placeholder\":true,\"num\":0},"
                      "{\"_placeholder\":true,\"num\":1}]");
    assert_round_trip("62-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");

    /* And the three malformed ones the server must close on. */
    assert_int_equal(dec_err("abc"), SIO_ERR_BAD_TYPE);
    assert_int_equal(dec_err("2{}"), SIO_ERR_NOT_ARRAY);
    assert_int_equal(dec_err("2abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]"), SIO_ERR_BAD_JSON);
}

/* The server's answers in the suite, built with the encoder. */
static void test_encode_server_packets(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 1024);

    sio_packet_t p = {.type = SIO_CONNECT, .nsp = "/custom", .nsp_len = 7};
    p.data = json_pack("{s:s}", "sid", "abc");
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(b.data, "0/custom,{\"sid\":\"abc\"}");
    json_decref(p.data);

    buf_reset(&b);
    p = (sio_packet_t){.type = SIO_CONNECT_ERROR, .nsp = "/random", .nsp_len = 7};
    p.data = json_pack("{s:s}", "message", "Invalid namespace");
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(b.data, "4/random,{\"message\":\"Invalid namespace\"}");
    json_decref(p.data);

    buf_reset(&b);
    p = (sio_packet_t){.type = SIO_EVENT}; /* nsp NULL = "/" */
    p.data = json_pack("[s,{}]", "auth");
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(b.data, "2[\"auth\",{}]");
    json_decref(p.data);

    buf_reset(&b);
    p = (sio_packet_t){.type = SIO_ACK, .nsp = "/", .nsp_len = 1, .has_id = true, .id = 456};
    p.data = json_loads("[1,\"2\",{\"3\":[false]}]", 0, NULL);
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(b.data, "3456[1,\"2\",{\"3\":[false]}]");
    json_decref(p.data);

    buf_reset(&b);
    p = (sio_packet_t){.type = SIO_DISCONNECT, .nsp = "/admin", .nsp_len = 6};
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(b.data, "1/admin,");

    /* Non-ASCII text is written as UTF-8, as JSON.stringify does. */
    buf_reset(&b);
    p = (sio_packet_t){.type = SIO_EVENT};
    p.data = json_pack("[s,s]", "msg", "\xe2\x82\xac/\n");
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(b.data, "2[\"msg\",\"\xe2\x82\xac/\\n\"]");
    json_decref(p.data);
    buf_free(&b);
}

/* --- Binary attachments --- */

static refbuf_t *bytes(const char *s, size_t n)
{
    return refbuf_copy(s, n);
}

static void test_attach_and_lookup(void **state)
{
    (void)state;
    sio_packet_t p = dec("52-[\"message\",{\"_placeholder\":true,\"num\":0},"
                         "{\"_placeholder\":true,\"num\":1}]");
    refbuf_t *bins[2] = {bytes("\x01\x02\x03", 3), bytes("\x04\x05\x06", 3)};

    assert_int_equal(sio_packet_attach(&p, bins, 1), SIO_ERR_ATTACHMENT_COUNT);
    assert_int_equal(p.nbins, 0);
    assert_int_equal(sio_packet_attach(&p, bins, 2), SIO_OK);
    assert_int_equal(bins[0]->refs, 2); /* the packet holds its own reference */
    assert_int_equal(sio_packet_attach(&p, bins, 2), SIO_ERR_ATTACHMENT_COUNT); /* once */

    assert_ptr_equal(sio_packet_binary(&p, json_array_get(p.data, 1)), bins[0]);
    assert_ptr_equal(sio_packet_binary(&p, json_array_get(p.data, 2)), bins[1]);
    assert_null(sio_packet_binary(&p, json_array_get(p.data, 0)));

    /* Echo as the reference server does: same placeholders, same bytes. */
    json_array_set_new(p.data, 0, json_string("message-back"));
    buf_t b;
    buf_init(&b, 1024);
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(b.data, "52-[\"message-back\",{\"_placeholder\":true,\"num\":0},"
                                "{\"_placeholder\":true,\"num\":1}]");
    refbuf_t *const *out;
    assert_int_equal(sio_packet_attachments(&p, &out), 2);
    assert_ptr_equal(out[0], bins[0]);
    assert_ptr_equal(out[1], bins[1]);
    buf_free(&b);

    sio_packet_free(&p);
    assert_int_equal(bins[0]->refs, 1);
    refbuf_unref(bins[0]);
    refbuf_unref(bins[1]);
}

/* An ACK built by the application with binary arguments becomes BINARY_ACK. */
static void test_encode_binary_ack(void **state)
{
    (void)state;
    refbuf_t *bins[2] = {bytes("a", 1), bytes("b", 1)};
    sio_packet_t p = {.type = SIO_ACK, .has_id = true, .id = 789, .bins = bins, .nbins = 2};
    p.data = json_pack("[o,o]", sio_placeholder_new(0), sio_placeholder_new(1));
    buf_t b;
    buf_init(&b, 1024);
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(b.data,
                        "62-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");

    /* Placeholders must match the attachments handed in. */
    buf_reset(&b);
    p.nbins = 1;
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_BAD_PLACEHOLDER);
    assert_int_equal(b.len, 0);
    p.nbins = 2;
    json_array_remove(p.data, 1);
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_UNUSED_ATTACHMENT);
    assert_int_equal(b.len, 0);

    /* Binary only goes with EVENT and ACK. */
    p.type = SIO_CONNECT;
    p.has_id = false;
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_BAD_ATTACHMENTS);
    json_decref(p.data);
    buf_free(&b);
    refbuf_unref(bins[0]);
    refbuf_unref(bins[1]);
}

static void test_placeholder_errors(void **state)
{
    (void)state;
    /* num out of range, not an integer, missing, negative */
    assert_int_equal(dec_err("51-[\"x\",{\"_placeholder\":true,\"num\":1}]"),
                     SIO_ERR_BAD_PLACEHOLDER);
    assert_int_equal(dec_err("51-[\"x\",{\"_placeholder\":true,\"num\":0.5}]"),
                     SIO_ERR_BAD_PLACEHOLDER);
    assert_int_equal(dec_err("51-[\"x\",{\"_placeholder\":true}]"), SIO_ERR_BAD_PLACEHOLDER);
    assert_int_equal(dec_err("51-[\"x\",{\"_placeholder\":true,\"num\":-1}]"),
                     SIO_ERR_BAD_PLACEHOLDER);
    assert_int_equal(dec_err("51-[\"x\",{\"_placeholder\":true,\"num\":\"0\"}]"),
                     SIO_ERR_BAD_PLACEHOLDER);
    /* an announced attachment that nothing refers to */
    assert_int_equal(dec_err("52-[\"x\",{\"_placeholder\":true,\"num\":0}]"),
                     SIO_ERR_UNUSED_ATTACHMENT);
    assert_int_equal(dec_err("51-[\"x\"]"), SIO_ERR_UNUSED_ATTACHMENT);
    /* nested placeholders count; "_placeholder": false is plain data */
    sio_packet_t p = dec("51-[\"x\",{\"a\":[{\"_placeholder\":true,\"num\":0}],"
                         "\"b\":{\"_placeholder\":false,\"num\":9}}]");
    sio_packet_free(&p);
    /* the same object twice refers to one attachment twice: allowed */
    p = dec("51-[\"x\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]");
    sio_packet_free(&p);
    /* in a plain EVENT a placeholder is just an object */
    p = dec("2[\"x\",{\"_placeholder\":true,\"num\":7}]");
    assert_int_equal(p.attachments, 0);
    assert_null(sio_packet_binary(&p, json_array_get(p.data, 1)));
    sio_packet_free(&p);
}

/* --- Every decoding error --- */

static void test_error_type(void **state)
{
    (void)state;
    assert_int_equal(dec_err(""), SIO_ERR_EMPTY);
    assert_int_equal(dec_err("7"), SIO_ERR_BAD_TYPE);
    assert_int_equal(dec_err("a"), SIO_ERR_BAD_TYPE);
    assert_int_equal(dec_err("[\"x\"]"), SIO_ERR_BAD_TYPE);
    assert_int_equal(dec_err("/2"), SIO_ERR_BAD_TYPE);
}

static void test_error_attachments(void **state)
{
    (void)state;
    assert_int_equal(dec_err("5"), SIO_ERR_BAD_ATTACHMENTS);
    assert_int_equal(dec_err("5[\"x\"]"), SIO_ERR_BAD_ATTACHMENTS);
    assert_int_equal(dec_err("5-[\"x\"]"), SIO_ERR_BAD_ATTACHMENTS);
    assert_int_equal(dec_err("51[\"x\"]"), SIO_ERR_BAD_ATTACHMENTS);
    assert_int_equal(dec_err("50-[\"x\"]"), SIO_ERR_BAD_ATTACHMENTS);
    assert_int_equal(dec_err("5a-[\"x\"]"), SIO_ERR_BAD_ATTACHMENTS);
    assert_int_equal(dec_err("611-1[]"), SIO_ERR_TOO_MANY_ATTACHMENTS);
    assert_int_equal(dec_err("599999999999999999999999-[\"x\"]"), SIO_ERR_TOO_MANY_ATTACHMENTS);
    /* ten is the limit, inclusive */
    char s[512];
    int n = snprintf(s, sizeof s, "510-[\"x\"");
    for (int i = 0; i < 10; i++)
        n += snprintf(s + n, sizeof s - (size_t)n, ",{\"_placeholder\":true,\"num\":%d}", i);
    snprintf(s + n, sizeof s - (size_t)n, "]");
    sio_packet_t p = dec(s);
    assert_int_equal(p.attachments, 10);
    sio_packet_free(&p);
}

static void test_error_nsp(void **state)
{
    (void)state;
    assert_int_equal(dec_err("2/admin[\"x\"]"), SIO_ERR_NSP_NO_COMMA);
    assert_int_equal(dec_err("0/admin{\"token\":1}"), SIO_ERR_NSP_NO_COMMA);
    /* the first ',' is inside the JSON: still a missing comma */
    assert_int_equal(dec_err("2/admin[\"x\",\"y\"]"), SIO_ERR_NSP_NO_COMMA);
    assert_int_equal(dec_err("2/ad\x01min,[\"x\"]"), SIO_ERR_BAD_NSP);
    assert_int_equal(dec_err("2/ad\x7fmin,[\"x\"]"), SIO_ERR_BAD_NSP);
    char s[400];
    s[0] = '0';
    s[1] = '/';
    memset(s + 2, 'a', 254); /* "/" + 254 = 255 bytes: allowed */
    s[256] = 0;
    assert_int_equal(dec_err(s), SIO_OK);
    s[256] = 'a'; /* 256 bytes */
    s[257] = 0;
    assert_int_equal(dec_err(s), SIO_ERR_BAD_NSP);
    /* "/" written out is the main namespace */
    sio_packet_t p = dec("2/,[\"x\"]");
    assert_true(nsp_is(&p, "/"));
    sio_packet_free(&p);
    /* UTF-8 namespaces are fine */
    p = dec("0/caf\xc3\xa9,");
    assert_true(nsp_is(&p, "/caf\xc3\xa9"));
    sio_packet_free(&p);
}

static void test_error_id(void **state)
{
    (void)state;
    sio_packet_t p = dec("29007199254740991[\"x\"]"); /* 2^53 - 1 */
    assert_int_equal(p.id, SIO_ACK_ID_MAX);
    sio_packet_free(&p);
    assert_int_equal(dec_err("29007199254740992[\"x\"]"), SIO_ERR_ID_OVERFLOW);
    assert_int_equal(dec_err("2184467440737095516150[\"x\"]"), SIO_ERR_ID_OVERFLOW);
    assert_int_equal(dec_err("399999999999999999999999999999[]"), SIO_ERR_ID_OVERFLOW);
    assert_int_equal(dec_err("01"), SIO_ERR_UNEXPECTED_ID);
    assert_int_equal(dec_err("1/admin,5"), SIO_ERR_UNEXPECTED_ID);
    assert_int_equal(dec_err("47{\"message\":\"x\"}"), SIO_ERR_UNEXPECTED_ID);
    assert_int_equal(dec_err("3[]"), SIO_ERR_MISSING_ID);
    assert_int_equal(dec_err("61-[{\"_placeholder\":true,\"num\":0}]"), SIO_ERR_MISSING_ID);
    /* leading zeros are read as decimal, as Number() does */
    p = dec("2007[\"x\"]");
    assert_int_equal(p.id, 7);
    sio_packet_free(&p);
}

static void test_error_payload(void **state)
{
    (void)state;
    sio_decode_error_t d;
    sio_packet_t p;
    assert_int_equal(sio_packet_decode("2[\"x\"", 5, &p, &d), SIO_ERR_BAD_JSON);
    assert_non_null(strstr(d.text, "not valid JSON"));
    assert_int_equal(dec_err("2[\"x\"] x"), SIO_ERR_BAD_JSON);   /* trailing garbage */
    assert_int_equal(dec_err("2[\"x\"]["), SIO_ERR_BAD_JSON);
    assert_int_equal(dec_err("2 "), SIO_ERR_BAD_JSON);
    assert_int_equal(dec_err("2[\"x\",\"\\ud800\"]"), SIO_OK); /* lone surrogate: U+FFFD (see test_lone_surrogates) */
    assert_int_equal(dec_err("2[\"\xff\"]"), SIO_ERR_BAD_JSON);          /* invalid UTF-8 */
    assert_int_equal(dec_err("2[\"x\",123456789012345678901234567890]"), SIO_ERR_BAD_JSON);

    assert_int_equal(dec_err("2"), SIO_ERR_MISSING_PAYLOAD);
    assert_int_equal(dec_err("2/admin,"), SIO_ERR_MISSING_PAYLOAD);
    assert_int_equal(dec_err("31"), SIO_ERR_MISSING_PAYLOAD);
    assert_int_equal(dec_err("4"), SIO_ERR_MISSING_PAYLOAD);
    assert_int_equal(dec_err("1{}"), SIO_ERR_UNEXPECTED_PAYLOAD);
    assert_int_equal(dec_err("1/admin,[]"), SIO_ERR_UNEXPECTED_PAYLOAD);
    assert_int_equal(dec_err("0[]"), SIO_ERR_NOT_OBJECT);
    assert_int_equal(dec_err("0\"token\""), SIO_ERR_NOT_OBJECT);
    assert_int_equal(dec_err("0null"), SIO_ERR_NOT_OBJECT);
    assert_int_equal(dec_err("4\"Not authorized\""), SIO_ERR_NOT_OBJECT);
    assert_int_equal(dec_err("2{}"), SIO_ERR_NOT_ARRAY);
    assert_int_equal(dec_err("2\"x\""), SIO_ERR_NOT_ARRAY);
    assert_int_equal(dec_err("31{}"), SIO_ERR_NOT_ARRAY);
    assert_int_equal(dec_err("2[]"), SIO_ERR_EMPTY_EVENT);
    assert_int_equal(dec_err("2[1]"), SIO_ERR_EVENT_NAME);
    assert_int_equal(dec_err("2[null,\"x\"]"), SIO_ERR_EVENT_NAME);
    assert_int_equal(dec_err("2[[\"x\"]]"), SIO_ERR_EVENT_NAME);
    assert_int_equal(dec_err("2[\"connect\"]"), SIO_ERR_RESERVED_EVENT);
    assert_int_equal(dec_err("2[\"disconnect\",1]"), SIO_ERR_RESERVED_EVENT);
    assert_int_equal(dec_err("2[\"removeListener\"]"), SIO_ERR_RESERVED_EVENT);
    assert_int_equal(dec_err("51-[\"newListener\",{\"_placeholder\":true,\"num\":0}]"),
                     SIO_ERR_RESERVED_EVENT);
    /* near misses of reserved names are ordinary events */
    assert_int_equal(dec_err("2[\"connected\"]"), SIO_OK);
    assert_int_equal(dec_err("2[\"\"]"), SIO_OK);

    /* whitespace around the JSON value is allowed, as JSON.parse does */
    p = dec("2 [\"x\"] ");
    assert_payload(&p, "[\"x\"]");
    sio_packet_free(&p);
    /* \u0000 inside a string is kept (use json_string_length) */
    p = dec("2[\"a\\u0000b\"]");
    assert_int_equal(json_string_length(json_array_get(p.data, 0)), 3);
    sio_packet_free(&p);
}

/* The error detail points at the offending byte. */
static void test_error_detail(void **state)
{
    (void)state;
    sio_decode_error_t d;
    sio_packet_t p;
    assert_int_equal(sio_packet_decode("2/chat[1]", 9, &p, &d), SIO_ERR_NSP_NO_COMMA);
    assert_int_equal(d.offset, 6);
    assert_string_equal(d.text, sio_strerror(SIO_ERR_NSP_NO_COMMA));
    assert_int_equal(sio_packet_decode("2/chat,5{}", 10, &p, &d), SIO_ERR_NOT_ARRAY);
    assert_int_equal(d.offset, 8);
    assert_int_equal(sio_packet_decode("52-x", 4, &p, &d), SIO_ERR_BAD_JSON);
    assert_int_equal(d.offset, 3);
    /* every error has its own message */
    for (int e = SIO_ERR_EMPTY; e >= SIO_ERR_TOO_BIG; e--) {
        assert_string_not_equal(sio_strerror((sio_err_t)e), "unknown error");
        for (int f = e - 1; f >= SIO_ERR_TOO_BIG; f--)
            assert_string_not_equal(sio_strerror((sio_err_t)e), sio_strerror((sio_err_t)f));
    }
    assert_string_equal(sio_strerror((sio_err_t)-100), "unknown error");
    assert_string_equal(sio_type_name(SIO_BINARY_ACK), "BINARY_ACK");
    assert_string_equal(sio_type_name((sio_type_t)9), "?");
}

/* --- Encoder errors and edge cases --- */

static void test_encode_errors(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 1024);
    sio_packet_t p = {.type = (sio_type_t)7};
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_BAD_TYPE);

    p = (sio_packet_t){.type = SIO_DISCONNECT, .nsp = "admin", .nsp_len = 5};
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_BAD_NSP);
    p.nsp = "/a,b";
    p.nsp_len = 4;
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_BAD_NSP);
    p.nsp = "/a[b";
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_BAD_NSP);

    p = (sio_packet_t){.type = SIO_EVENT, .has_id = true, .id = SIO_ACK_ID_MAX + 1};
    p.data = json_pack("[s]", "x");
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_ID_OVERFLOW);
    p.type = SIO_CONNECT;
    p.has_id = false;
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_NOT_OBJECT);
    p.type = SIO_BINARY_EVENT; /* binary type with nothing attached */
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_BAD_ATTACHMENTS);
    p.type = SIO_EVENT;
    p.attachments = 11;
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_TOO_MANY_ATTACHMENTS);
    p.attachments = 0;
    p.type = SIO_ACK;
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_MISSING_ID);
    p.type = SIO_DISCONNECT;
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_UNEXPECTED_PAYLOAD);
    json_decref(p.data);
    p.data = json_pack("[s]", "disconnecting");
    p.type = SIO_EVENT;
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_RESERVED_EVENT);
    json_decref(p.data);
    assert_int_equal(b.len, 0);
    buf_free(&b);

    /* The buffer cap: refused and left as it was. */
    buf_init(&b, 8);
    buf_append_str(&b, "42");
    p = (sio_packet_t){.type = SIO_EVENT};
    p.data = json_pack("[s]", "a-long-event-name");
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_TOO_BIG);
    assert_string_equal(b.data, "42");
    json_decref(p.data);
    p = (sio_packet_t){.type = SIO_ACK, .has_id = true, .id = 123456789};
    p.data = json_array();
    assert_int_equal(sio_packet_encode(&b, &p), SIO_ERR_TOO_BIG);
    assert_string_equal(b.data, "42");
    json_decref(p.data);
    buf_free(&b);
}

/* Non-canonical input decodes to the same packet its encoding decodes to. */
static void test_normalising_round_trip(void **state)
{
    (void)state;
    static const char *in[] = {
        "2/,[\"x\"]", "2007[\"x\"]", "2 [ \"x\" , 1 ] ", "0/custom", "1/custom",
        "502-[\"x\",{\"num\":1,\"_placeholder\":true},{\"_placeholder\":true,\"num\":0}]",
        "2[\"x\",1.5,1e3,-0,true,null,{\"a\":{\"b\":[]}}]",
    };
    static const char *want[] = {
        "2[\"x\"]", "27[\"x\"]", "2[\"x\",1]", "0/custom,", "1/custom,",
        "52-[\"x\",{\"num\":1,\"_placeholder\":true},{\"_placeholder\":true,\"num\":0}]",
        "2[\"x\",1.5,1000.0,0,true,null,{\"a\":{\"b\":[]}}]",
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        sio_packet_t p = dec(in[i]);
        buf_t b;
        buf_init(&b, 1024);
        assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
        assert_string_equal(b.data, want[i]);
        buf_free(&b);
        sio_packet_free(&p);
        assert_round_trip(want[i]);
    }
}

static void test_free_is_safe(void **state)
{
    (void)state;
    sio_packet_free(NULL);
    sio_packet_t p;
    assert_int_equal(sio_packet_decode("2{}", 3, &p, NULL), SIO_ERR_NOT_ARRAY);
    sio_packet_free(&p); /* allowed even after an error */
    p = dec("2[\"x\"]");
    sio_packet_free(&p);
    sio_packet_free(&p); /* twice */
    assert_null(p.data);
}

/* A lone surrogate escape (JavaScript sends them) becomes U+FFFD instead of
 * failing the packet; pairs and escaped backslashes are left alone. */
static void test_lone_surrogates(void **state)
{
    sio_packet_t p = dec("2[\"m\",\"a\\ud800b\",\"\\udc00\",\"\\ud83d\\ude00\",\"\\\\ud800\"]");
    assert_string_equal(json_string_value(json_array_get(p.data, 1)), "a\xef\xbf\xbd" "b");
    assert_string_equal(json_string_value(json_array_get(p.data, 2)), "\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_array_get(p.data, 3)), "\xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_array_get(p.data, 4)), "\\ud800");
    sio_packet_free(&p);
    /* A high surrogate at the very end, and one before a non-low escape. */
    p = dec("2[\"m\",\"\\ud800\",\"\\udbff\\u0041\"]");
    assert_string_equal(json_string_value(json_array_get(p.data, 1)), "\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_array_get(p.data, 2)), "\xef\xbf\xbd" "A");
    sio_packet_free(&p);
    /* Still bad JSON is still refused. */
    assert_int_equal(dec_err("2[\"m\",\"\\ud800\""), SIO_ERR_BAD_JSON);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_connect),
        cmocka_unit_test(test_spec_event),
        cmocka_unit_test(test_spec_ack),
        cmocka_unit_test(test_spec_disconnect),
        cmocka_unit_test(test_spec_binary),
        cmocka_unit_test(test_suite_packets),
        cmocka_unit_test(test_encode_server_packets),
        cmocka_unit_test(test_attach_and_lookup),
        cmocka_unit_test(test_encode_binary_ack),
        cmocka_unit_test(test_placeholder_errors),
        cmocka_unit_test(test_error_type),
        cmocka_unit_test(test_error_attachments),
        cmocka_unit_test(test_error_nsp),
        cmocka_unit_test(test_error_id),
        cmocka_unit_test(test_error_payload),
        cmocka_unit_test(test_error_detail),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_normalising_round_trip),
        cmocka_unit_test(test_free_is_safe),
        cmocka_unit_test(test_lone_surrogates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
