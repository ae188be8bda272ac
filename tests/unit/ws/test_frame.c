/* test_frame.c — frame header parse/encode, unmasking, close payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ws/frame.h"

/* A client header (masked or not) written by hand, independent of the encoder. */
static size_t client_header(uint8_t *o, unsigned b0, uint64_t len, const uint8_t *mask)
{
    size_t n = 0;
    o[n++] = (uint8_t)b0;
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        o[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        o[n++] = (uint8_t)(m | 126);
        o[n++] = (uint8_t)(len >> 8);
        o[n++] = (uint8_t)len;
    } else {
        o[n++] = (uint8_t)(m | 127);
        for (int i = 7; i >= 0; i--)
            o[n++] = (uint8_t)(len >> (8 * i));
    }
    if (mask) {
        memcpy(o + n, mask, 4);
        n += 4;
    }
    return n;
}

/* Parses h[0..n) offering one more byte each time: every shorter prefix
 * must ask for more (or fail with the same error as the whole). */
static int parse_bytewise(const uint8_t *h, size_t n, ws_frame_header_t *out)
{
    for (size_t k = 0; k < n; k++) {
        int r = ws_frame_header_parse(h, k, out);
        if (r < 0)
            return r;
        assert_int_equal(r, 0);
    }
    return ws_frame_header_parse(h, n, out);
}

static void test_every_length_form(void **state)
{
    (void)state;
    static const uint64_t lens[] = {0,
                                    1,
                                    100,
                                    125,
                                    126,
                                    127,
                                    1000,
                                    65535,
                                    65536,
                                    65537,
                                    1u << 24,
                                    0xFFFFFFFFull,
                                    0x100000000ull,
                                    0x7FFFFFFFFFFFFFFFull};
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int masked = 0; masked < 2; masked++) {
            uint8_t h[WS_MAX_HEADER + 4];
            size_t n = client_header(h, WS_FIN | WS_OP_BINARY, lens[i], masked ? mask : NULL);
            h[n] = 0xEE; /* payload bytes after the header are not part of it */
            ws_frame_header_t f;
            int r = parse_bytewise(h, n, &f);
            assert_int_equal(r, (int)n);
            assert_int_equal(ws_frame_header_parse(h, n + 1, &f), (int)n);
            assert_true(f.len == lens[i]);
            assert_int_equal(f.fin, 1);
            assert_int_equal(f.opcode, WS_OP_BINARY);
            assert_int_equal(f.masked, masked);
            assert_int_equal(f.rsv, 0);
            if (masked)
                assert_memory_equal(f.mask, mask, 4);
            /* the encoder writes the same minimal form (unmasked) */
            uint8_t e[WS_MAX_SERVER_HEADER];
            size_t en = ws_frame_header_encode(e, WS_OP_BINARY, WS_FIN, lens[i]);
            uint8_t want[WS_MAX_HEADER];
            size_t wn = client_header(want, WS_FIN | WS_OP_BINARY, lens[i], NULL);
            assert_int_equal(en, wn);
            assert_memory_equal(e, want, wn);
        }
    }
}

static void test_flags_and_opcodes(void **state)
{
    (void)state;
    ws_frame_header_t f;
    uint8_t h[2] = {0x40 | 0x20 | 0x10 | WS_OP_TEXT, 5}; /* all RSV bits, no FIN */
    assert_int_equal(ws_frame_header_parse(h, 2, &f), 2);
    assert_int_equal(f.fin, 0);
    assert_int_equal(f.rsv, WS_RSV1 | WS_RSV2 | WS_RSV3);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_int_equal(f.len, 5);
    for (unsigned op = 0; op < 16; op++) {
        uint8_t b[2] = {(uint8_t)(WS_FIN | op), 0};
        int want_ok = op <= 2 || (op >= 8 && op <= 10);
        /* a reserved opcode is refused from the first byte */
        int r1 = ws_frame_header_parse(b, 1, &f);
        assert_int_equal(r1, want_ok ? 0 : -WS_CLOSE_PROTOCOL);
        assert_int_equal(ws_frame_header_parse(b, 2, &f), want_ok ? 2 : -WS_CLOSE_PROTOCOL);
    }
    uint8_t enc[WS_MAX_SERVER_HEADER];
    assert_int_equal(ws_frame_header_encode(enc, WS_OP_TEXT, WS_FIN | WS_RSV1, 3), 2);
    assert_int_equal(enc[0], 0xC1);
    assert_int_equal(enc[1], 3);
}

static void test_control_frame_rules(void **state)
{
    (void)state;
    ws_frame_header_t f;
    for (unsigned op = 8; op <= 10; op++) {
        uint8_t nofin[2] = {(uint8_t)op, 0};
        assert_int_equal(ws_frame_header_parse(nofin, 1, &f), -WS_CLOSE_PROTOCOL);
        uint8_t ok[2] = {(uint8_t)(WS_FIN | op), 125};
        assert_int_equal(ws_frame_header_parse(ok, 2, &f), 2);
        uint8_t big[2] = {(uint8_t)(WS_FIN | op), 126};
        assert_int_equal(ws_frame_header_parse(big, 2, &f), -WS_CLOSE_PROTOCOL);
        uint8_t big2[2] = {(uint8_t)(WS_FIN | op), 127};
        assert_int_equal(ws_frame_header_parse(big2, 2, &f), -WS_CLOSE_PROTOCOL);
    }
}

static void test_non_minimal_lengths(void **state)
{
    (void)state;
    ws_frame_header_t f;
    uint8_t h16[4] = {WS_FIN | WS_OP_BINARY, 126, 0, 125};
    assert_int_equal(parse_bytewise(h16, 4, &f), -WS_CLOSE_PROTOCOL);
    h16[3] = 126;
    assert_int_equal(parse_bytewise(h16, 4, &f), 4);
    uint8_t h64[10] = {WS_FIN | WS_OP_BINARY, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    assert_int_equal(parse_bytewise(h64, 10, &f), -WS_CLOSE_PROTOCOL);
    h64[7] = 1; /* 0x1FFFF */
    assert_int_equal(parse_bytewise(h64, 10, &f), 10);
    assert_true(f.len == 0x1FFFFull);
    uint8_t top[10] = {WS_FIN | WS_OP_BINARY, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    /* the top bit is refused as soon as its byte arrives */
    assert_int_equal(ws_frame_header_parse(top, 3, &f), -WS_CLOSE_PROTOCOL);
    assert_int_equal(ws_frame_header_parse(top, 2, &f), 0);
}

static void test_unmask_pieces(void **state)
{
    (void)state;
    const uint8_t mask[4] = {0xA1, 0x02, 0xF3, 0x64};
    uint8_t src[300], want[300], got[300];
    for (size_t i = 0; i < sizeof src; i++) {
        src[i] = (uint8_t)(i * 7 + 3);
        want[i] = src[i] ^ mask[i % 4];
    }
    /* every split into two pieces, both out of place and in place */
    for (size_t cut = 0; cut <= sizeof src; cut += (cut < 40 ? 1 : 13)) {
        memset(got, 0, sizeof got);
        unsigned off = ws_unmask(got, src, cut, mask, 0);
        assert_int_equal(off, cut % 4);
        off = ws_unmask(got + cut, src + cut, sizeof src - cut, mask, off);
        assert_int_equal(off, sizeof src % 4);
        assert_memory_equal(got, want, sizeof src);

        memcpy(got, src, sizeof src);
        off = ws_unmask(got, got, cut, mask, 0);
        ws_unmask(got + cut, got + cut, sizeof src - cut, mask, off);
        assert_memory_equal(got, want, sizeof src);
    }
    /* many small pieces with odd alignments */
    memset(got, 0, sizeof got);
    unsigned off = 0;
    size_t pos = 0, step = 1;
    while (pos < sizeof src) {
        size_t n = step < sizeof src - pos ? step : sizeof src - pos;
        off = ws_unmask(got + pos, src + pos, n, mask, off);
        pos += n;
        step = step % 23 + 3;
    }
    assert_memory_equal(got, want, sizeof src);
}

static void test_close_codes(void **state)
{
    (void)state;
    static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                     1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const unsigned invalid[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                       1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        assert_true(ws_close_code_valid(valid[i]));
        uint8_t p[2] = {(uint8_t)(valid[i] >> 8), (uint8_t)valid[i]};
        uint16_t code;
        const char *r;
        size_t rl;
        assert_int_equal(ws_close_payload_parse(p, 2, &code, &r, &rl), 0);
        assert_int_equal(code, valid[i]);
        assert_int_equal(rl, 0);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        assert_false(ws_close_code_valid(invalid[i]));
        uint8_t p[2] = {(uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i]};
        uint16_t code;
        const char *r;
        size_t rl;
        assert_int_equal(ws_close_payload_parse(p, 2, &code, &r, &rl), -WS_CLOSE_PROTOCOL);
    }
}

static void test_close_payloads(void **state)
{
    (void)state;
    uint16_t code;
    const char *r;
    size_t rl;
    assert_int_equal(ws_close_payload_parse(NULL, 0, &code, &r, &rl), 0);
    assert_int_equal(code, WS_CLOSE_NO_STATUS);
    const uint8_t one[1] = {0x03};
    assert_int_equal(ws_close_payload_parse(one, 1, &code, &r, &rl), -WS_CLOSE_PROTOCOL);
    const uint8_t ok[] = {0x03, 0xE8, 'b', 'y', 0xC3, 0xA9};
    assert_int_equal(ws_close_payload_parse(ok, sizeof ok, &code, &r, &rl), 0);
    assert_int_equal(code, 1000);
    assert_int_equal(rl, 4);
    assert_memory_equal(r, "by\xc3\xa9", 4);
    const uint8_t bad[] = {0x03, 0xE8, 'b', 0xC3};
    assert_int_equal(ws_close_payload_parse(bad, sizeof bad, &code, &r, &rl),
                     -WS_CLOSE_INVALID_DATA);
    const uint8_t surrogate[] = {0x03, 0xE8, 0xED, 0xA0, 0x80};
    assert_int_equal(ws_close_payload_parse(surrogate, sizeof surrogate, &code, &r, &rl),
                     -WS_CLOSE_INVALID_DATA);
    /* an invalid code wins over an invalid reason */
    const uint8_t both[] = {0x03, 0xED, 0xFF};
    assert_int_equal(ws_close_payload_parse(both, sizeof both, &code, &r, &rl), -WS_CLOSE_PROTOCOL);
}

static void test_close_build(void **state)
{
    (void)state;
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    assert_int_equal(ws_close_payload_build(p, 0, "x"), 0);
    assert_int_equal(ws_close_payload_build(p, WS_CLOSE_NO_STATUS, NULL), 0);
    assert_int_equal(ws_close_payload_build(p, 1001, NULL), 2);
    assert_int_equal(p[0], 0x03);
    assert_int_equal(p[1], 0xE9);
    assert_int_equal(ws_close_payload_build(p, 4000, "bye"), 5);
    assert_memory_equal(p + 2, "bye", 3);
    /* 122 ASCII then a 2-byte character: the character does not fit in 123 */
    char reason[200];
    memset(reason, 'a', 122);
    memcpy(reason + 122, "\xc3\xa9tail", 6);
    reason[128] = '\0';
    size_t n = ws_close_payload_build(p, 1000, reason);
    assert_int_equal(n, 2 + 122);
    /* exactly 123 ASCII fits */
    memset(reason, 'b', 150);
    reason[150] = '\0';
    assert_int_equal(ws_close_payload_build(p, 1000, reason), 125);
    /* what we build always parses back */
    uint16_t code;
    const char *r;
    size_t rl;
    assert_int_equal(ws_close_payload_parse(p, 125, &code, &r, &rl), 0);
    /* invalid UTF-8 in a reason is cut before the bad byte */
    assert_int_equal(ws_close_payload_build(p, 1000,
                                            "ok\xff"
                                            "no"),
                     4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_length_form),   cmocka_unit_test(test_flags_and_opcodes),
        cmocka_unit_test(test_control_frame_rules), cmocka_unit_test(test_non_minimal_lengths),
        cmocka_unit_test(test_unmask_pieces),       cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_close_payloads),      cmocka_unit_test(test_close_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
