/* test_packet_json.c — sio_packet_encode_json: events and acks whose
 * arguments arrive as JSON text. Each output must be the packet
 * sio_packet_encode writes for the same arguments as a tree (byte for
 * byte where the text is compact), must decode back to those arguments,
 * and every refusal must leave the buffer as it was. Also the payload
 * reader's fast path (sio_packet_json_fast), held to jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sio/packet.h"

/* Encodes with sio_packet_encode_json into a fresh buffer; returns the text
 * (static storage) or fails the test. */
static const char *enc(sio_type_t type, const char *nsp, bool has_id, uint64_t id,
                       const char *event, const char *args, const char *extra)
{
    static char out[1024];
    buf_t b;
    buf_init(&b, 4096);
    sio_err_t err = sio_packet_encode_json(&b, type, nsp, nsp ? strlen(nsp) : 0, has_id, id,
                                           event, args, strlen(args), extra);
    if (err != SIO_OK)
        fail_msg("encode_json(%s) = %d", args, err);
    assert_true(b.len < sizeof out);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    buf_free(&b);
    return out;
}

/* The same packet from a tree, for comparison. */
static void same_as_tree(sio_type_t type, const char *nsp, bool has_id, uint64_t id,
                         const char *event, const char *args, const char *extra)
{
    json_t *data = json_array();
    if (event)
        json_array_append_new(data, json_string(event));
    json_t *a = json_loads(args, 0, NULL);
    assert_non_null(a);
    json_array_extend(data, a);
    json_decref(a);
    if (extra)
        json_array_append_new(data, json_string(extra));
    sio_packet_t p = {.type = type,
                      .nsp = nsp ? nsp : "/",
                      .nsp_len = nsp ? strlen(nsp) : 1,
                      .has_id = has_id,
                      .id = id,
                      .data = data};
    buf_t b;
    buf_init(&b, 4096);
    assert_int_equal(sio_packet_encode(&b, &p), SIO_OK);
    assert_string_equal(enc(type, nsp, has_id, id, event, args, extra), b.data);
    buf_free(&b);
    json_decref(data);
}

static void test_events(void **state)
{
    assert_string_equal(enc(SIO_EVENT, NULL, false, 0, "message:new", "[{\"a\":1}]", NULL),
                        "2[\"message:new\",{\"a\":1}]");
    assert_string_equal(enc(SIO_EVENT, "/", false, 0, "ev", "[{\"a\":1},2]", "17"),
                        "2[\"ev\",{\"a\":1},2,\"17\"]");
    assert_string_equal(enc(SIO_EVENT, NULL, false, 0, "ev", "[]", NULL), "2[\"ev\"]");
    assert_string_equal(enc(SIO_EVENT, NULL, false, 0, "ev", "[ ]", "3"), "2[\"ev\",\"3\"]");
    assert_string_equal(enc(SIO_EVENT, "/chat", false, 0, "ev", "[1]", NULL),
                        "2/chat,[\"ev\",1]");
    assert_string_equal(enc(SIO_EVENT, NULL, true, 12, "ev", "[1]", NULL), "212[\"ev\",1]");
    /* The name is escaped; the arguments are copied as they are. */
    assert_string_equal(enc(SIO_EVENT, NULL, false, 0, "a\"b\\c\x01", "[\"x\\ny\"]", NULL),
                        "2[\"a\\\"b\\\\c\\u0001\",\"x\\ny\"]");
    same_as_tree(SIO_EVENT, NULL, false, 0, "message:new",
                 "[{\"id\":\"x\",\"seq\":3,\"author\":{\"id\":\"a\",\"name\":\"A\"},"
                 "\"text\":\"caf\xc3\xa9\",\"reactions\":{}}]",
                 "42");
    same_as_tree(SIO_EVENT, "/chat", false, 0, "ev", "[]", NULL);
}

static void test_acks(void **state)
{
    assert_string_equal(enc(SIO_ACK, NULL, true, 7, NULL, "[{\"ok\":true}]", NULL),
                        "37[{\"ok\":true}]");
    assert_string_equal(enc(SIO_ACK, NULL, true, 0, NULL, "[]", NULL), "30[]");
    assert_string_equal(enc(SIO_ACK, "/x", true, 9, NULL, "[1,2]", NULL), "3/x,9[1,2]");
    same_as_tree(SIO_ACK, NULL, true, 123456, NULL, "[{\"message\":{\"id\":\"m\"},\"ok\":true}]",
                 NULL);
}

/* The output decodes to the event name and the arguments given. */
static void test_round_trip(void **state)
{
    const char *args = "[{\"k\":[1,\"two\",null,true]},\"s\"]";
    const char *text = enc(SIO_EVENT, "/n", false, 0, "e", args, "9");
    sio_packet_t p;
    assert_int_equal(sio_packet_decode(text, strlen(text), &p, NULL), SIO_OK);
    json_t *want = json_pack("[s, {s:[i, s, n, b]}, s, s]", "e", "k", 1, "two", 1, "s", "9");
    assert_true(json_equal(p.data, want));
    json_decref(want);
    sio_packet_free(&p);
}

static void test_errors(void **state)
{
    buf_t b;
    buf_init(&b, 64);
    assert_int_equal(buf_append_str(&b, "keep"), BUF_OK);
    struct {
        sio_type_t type;
        const char *nsp;
        bool has_id;
        uint64_t id;
        const char *event;
        const char *args;
        sio_err_t want;
    } cases[] = {
        {SIO_CONNECT, NULL, false, 0, NULL, "[]", SIO_ERR_BAD_TYPE},
        {SIO_BINARY_EVENT, NULL, false, 0, "e", "[]", SIO_ERR_BAD_TYPE},
        {SIO_ACK, NULL, false, 0, NULL, "[]", SIO_ERR_MISSING_ID},
        {SIO_ACK, NULL, true, 1, "e", "[]", SIO_ERR_EVENT_NAME},
        {SIO_EVENT, NULL, false, 0, NULL, "[]", SIO_ERR_EVENT_NAME},
        {SIO_EVENT, NULL, true, UINT64_C(1) << 60, "e", "[]", SIO_ERR_ID_OVERFLOW},
        {SIO_EVENT, "chat", false, 0, "e", "[]", SIO_ERR_BAD_NSP},
        {SIO_EVENT, NULL, false, 0, "e", "{}", SIO_ERR_NOT_ARRAY},
        {SIO_EVENT, NULL, false, 0, "e", "[", SIO_ERR_NOT_ARRAY},
        {SIO_EVENT, NULL, false, 0, "e", "", SIO_ERR_NOT_ARRAY},
        {SIO_EVENT, NULL, false, 0, "e", "[1] ", SIO_ERR_NOT_ARRAY},
        /* Past the buffer's cap of 64. */
        {SIO_EVENT, NULL, false, 0, "e",
         "[\"0123456789012345678901234567890123456789012345678901234567890123\"]",
         SIO_ERR_TOO_BIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sio_err_t err = sio_packet_encode_json(
            &b, cases[i].type, cases[i].nsp, cases[i].nsp ? strlen(cases[i].nsp) : 0,
            cases[i].has_id, cases[i].id, cases[i].event, cases[i].args, strlen(cases[i].args),
            NULL);
        if (err != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, err, cases[i].want);
        assert_int_equal(b.len, 4);
        assert_memory_equal(b.data, "keep", 5);
    }
    assert_int_equal(sio_packet_encode_json(&b, SIO_EVENT, NULL, 0, false, 0, "e", NULL, 0, NULL),
                     SIO_ERR_NOT_ARRAY);
    buf_free(&b);
}

/* ---- The payload reader's fast path, held to jansson ------------------- */

/* When the fast path takes text, jansson reads the same tree from it, keys
 * in the same order. Returns whether the fast path took it. */
static bool agrees(const char *text, size_t len)
{
    json_t *fast = sio_packet_json_fast(text, len);
    json_error_t err;
    json_t *ref = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (fast) {
        if (!ref)
            fail_msg("fast path took what jansson refuses (%s): %.*s", err.text, (int)len, text);
        char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!a || !b || strcmp(a, b) != 0 || !json_equal(fast, ref))
            fail_msg("fast path differs on %.*s: %s vs %s", (int)len, text, a, b);
        free(a);
        free(b);
    }
    json_decref(fast);
    json_decref(ref);
    return fast != NULL;
}

static bool agrees_str(const char *text)
{
    return agrees(text, strlen(text));
}

static void test_fast_takes_the_common_shapes(void **state)
{
    const char *common[] = {
        "[\"message:send\",{\"channel\":\"x-5\",\"clientId\":\"5-1700000000-12\","
        "\"text\":\"T5:123456789;xxxxxxxxxxxxxxxxxxxx\"}]",
        "[\"e\",{\"a\":[1,-2,0,-0,123456789012345678],\"b\":{\"c\":null,\"d\":true,\"e\":false},"
        "\"f\":\"\"}]",
        " [ \"sp\" , { \"k\" : \"v\" } ]\r\n\t",
        "[\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]",
        "[\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u20AC \\ud83d\\ude00 \\u0041\"]",
        "{\"dup\":1,\"x\":2,\"dup\":3}",
        "[\"nul in value \\u0000 ok\"]",
        "{}",
        "[]",
        "[[[[[[1]]]]]]",
        "\"top\"",
        "42",
        "{\"\":\"empty key\"}",
    };
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        if (!agrees_str(common[i]))
            fail_msg("fast path declined %s", common[i]);
}

static void test_fast_declines_the_rest(void **state)
{
    const char *rare[] = {
        "[1.5]", "[1e3]", "[1E3]", "[-1.0e-3]", "[1234567890123456789]", "[-]", "[01]",
        "[9999999999999999999]", "[-9999999999999999999]", "[99999999999999999999999999]",
        "[\"lone \\ud800\"]", "[\"lone \\udc00\"]", "[\"bad \\x\"]", "[\"\\u12\"]",
        "{\"nul\\u0000key\":1}", "[\"raw\x01ctl\"]", "[\"bad \xff utf8\"]", "[\"\xc0\xaf\"]",
        "[\"\xed\xa0\x80\"]", "[\"open", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
        "{a:1}", "[tru]", "[nul]", "[truex]", "[1 2]", "[1] x", "", "   ", "[", "]", "{",
        "[\"a\"\"b\"]", "[+1]", "[.5]", "[NaN]", "[\x00]",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof rare / sizeof rare[0]; i++)
        if (agrees_str(rare[i]))
            fail_msg("fast path took %s", rare[i]);
    /* NUL bytes in the input. */
    assert_false(agrees("[1]\0", 4));
    assert_false(agrees("[\"a\0b\"]", 7));
}

/* Random edits of valid payloads: whatever the fast path takes, jansson
 * reads alike. */
static void test_fast_against_jansson_fuzz(void **state)
{
    const char *seeds[] = {
        "[\"message:send\",{\"channel\":\"x-5\",\"clientId\":\"c-1\",\"text\":\"h\\u00e9 \\n\"}]",
        "{\"a\":[1,-2,{\"b\":null}],\"c\":true,\"d\":\"\xe2\x82\xac\"}",
        "[\"\\ud83d\\ude00\",false,0,\"\\\\\\\"\"]",
    };
    static const char alphabet[] = "[]{}\",:\\u0123456789abcdefABCDEF-+.eEtrunlsf \n\x01\x7f\x80\xc3\xa9\xed\xff";
    uint64_t x = 0x9E3779B97F4A7C15u;
    char buf[256];
    size_t taken = 0;
    for (int iter = 0; iter < 60000; iter++) {
        const char *seed = seeds[iter % 3];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + iter % 3;
        for (int k = 0; k < edits; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t at = n ? (size_t)(x % n) : 0;
            char c = alphabet[(x >> 32) % (sizeof alphabet - 1)];
            switch ((x >> 48) % 4) {
            case 0: /* replace */
                if (n)
                    buf[at] = c;
                break;
            case 1: /* insert */
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                }
                break;
            case 2: /* delete */
                if (n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            default: /* truncate */
                n = at;
            }
        }
        taken += agrees(buf, n);
    }
    /* Both sides were exercised. */
    assert_true(taken > 1000);
    assert_true(taken < 59000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_acks),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fast_takes_the_common_shapes),
        cmocka_unit_test(test_fast_declines_the_rest),
        cmocka_unit_test(test_fast_against_jansson_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
