/* test_reader.c — the frame-to-message reader: fragmentation, control frames
 * in between, every protocol error and its close code, limits checked before
 * payload is read, incremental UTF-8 failure, compressed messages and bombs.
 * Every stream is fed whole, one byte at a time, and in random pieces the way
 * net offers them (unconsumed bytes come back with the next read), and all
 * three must give the same events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "ws/reader.h"

/* ---- building client frames ---- */

typedef struct {
    uint8_t data[1 << 17];
    size_t len;
} stream_t;

static const uint8_t MASK[4] = {0x37, 0xFA, 0x21, 0x3D};

static void put_frame(stream_t *s, unsigned b0, const void *payload, size_t len, int masked)
{
    uint8_t *o = s->data + s->len;
    size_t n = 0;
    o[n++] = (uint8_t)b0;
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        o[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        o[n++] = (uint8_t)(m | 126);
        o[n++] = (uint8_t)(len >> 8);
        o[n++] = (uint8_t)len;
    } else {
        o[n++] = (uint8_t)(m | 127);
        for (int i = 7; i >= 0; i--)
            o[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(o + n, MASK, 4);
        n += 4;
    }
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        o[n + i] = masked ? p[i] ^ MASK[i % 4] : p[i];
    s->len += n + len;
    assert_true(s->len <= sizeof s->data);
}

#define FRAME(s, b0, str) put_frame(s, b0, str, sizeof(str) - 1, 1)

/* ---- recording ---- */

typedef struct {
    char log[4096];
    size_t len;
    int stop_on_close;
} rec_t;

static void logf_(rec_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->log + r->len, sizeof r->log - r->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t)n < sizeof r->log - r->len ? (size_t)n : sizeof r->log - r->len - 1;
}

static int on_message(void *ud, int binary, const char *data, size_t len)
{
    rec_t *r = ud;
    assert_non_null(data);
    if (len <= 40 && !binary) {
        logf_(r, "T:%.*s|", (int)len, data);
    } else if (len <= 40) {
        logf_(r, "B:");
        for (size_t i = 0; i < len; i++)
            logf_(r, "%02x", (uint8_t)data[i]);
        logf_(r, "|");
    } else
        logf_(r, "%c#%zu:%02x%02x|", binary ? 'B' : 'T', len, (uint8_t)data[0],
              (uint8_t)data[len - 1]);
    return 0;
}

static int on_control(void *ud, unsigned op, const uint8_t *p, size_t len)
{
    rec_t *r = ud;
    if (op == WS_OP_CLOSE) {
        unsigned code = len >= 2 ? ((unsigned)p[0] << 8 | p[1]) : 1005;
        logf_(r, "close:%u:%.*s|", code, (int)(len > 2 ? len - 2 : 0), (const char *)p + 2);
        return r->stop_on_close;
    }
    logf_(r, "%s:%.*s|", op == WS_OP_PING ? "ping" : "pong", (int)len, (const char *)p);
    return 0;
}

static const ws_reader_cb_t CB = {on_message, on_control};

static uint64_t rng = 88172645463325252ULL;
static size_t rnd(size_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return n ? (size_t)(rng % n) : 0;
}

/* Feeds the stream in pieces; mode 0 whole, 1 byte by byte, 2 random. The
 * consumed-bytes contract is checked: unconsumed bytes are offered again. */
static void run_mode(const stream_t *s, const ws_reader_limits_t *lim, int mode, rec_t *rec,
                     size_t *consumed_total)
{
    ws_reader_t rd;
    memset(rec, 0, sizeof *rec);
    rec->stop_on_close = 1;
    ws_reader_init(&rd, lim, &CB, rec);
    static uint8_t pending[1 << 18];
    size_t plen = 0, pos = 0, total = 0;
    int done = 0;
    while (pos < s->len && !done) {
        size_t step = mode == 0 ? s->len : mode == 1 ? 1 : 1 + rnd(300);
        if (step > s->len - pos)
            step = s->len - pos;
        memcpy(pending + plen, s->data + pos, step);
        plen += step;
        pos += step;
        ptrdiff_t r = ws_reader_feed(&rd, pending, plen);
        if (r < 0) {
            logf_(rec, "E%d", (int)-r);
            done = 1;
            break;
        }
        assert_true((size_t)r <= plen);
        /* everything is consumed (a split header is kept by the reader) */
        if (!strstr(rec->log, "close:"))
            assert_int_equal((size_t)r, plen);
        total += (size_t)r;
        memmove(pending, pending + r, plen - (size_t)r);
        plen -= (size_t)r;
        if (strstr(rec->log, "close:"))
            done = 1;
    }
    if (consumed_total)
        *consumed_total = total;
    ws_reader_free(&rd);
}

/* Runs all three modes and checks they agree; returns the log. */
static const char *run(const stream_t *s, const ws_reader_limits_t *lim)
{
    static rec_t r0;
    rec_t r1, r2;
    run_mode(s, lim, 0, &r0, NULL);
    run_mode(s, lim, 1, &r1, NULL);
    assert_string_equal(r0.log, r1.log);
    for (int i = 0; i < 5; i++) {
        run_mode(s, lim, 2, &r2, NULL);
        assert_string_equal(r0.log, r2.log);
    }
    return r0.log;
}

static const ws_reader_limits_t SERVER = {
    .max_message = 1 << 20, .max_fragments = 16, .require_mask = 1};
static const ws_reader_limits_t DEFLATE = {
    .max_message = 1 << 20, .max_fragments = 16, .require_mask = 1, .deflate = 1};

/* ---- plain messages ---- */

static void test_messages(void **state)
{
    (void)state;
    static stream_t s;
    s.len = 0;
    FRAME(&s, WS_FIN | WS_OP_TEXT, "hello");
    FRAME(&s, WS_FIN | WS_OP_BINARY, "\x00\x01\x02");
    FRAME(&s, WS_FIN | WS_OP_TEXT, "");
    FRAME(&s, WS_FIN | WS_OP_PING, "p1");
    FRAME(&s, WS_FIN | WS_OP_PONG, "");
    FRAME(&s, WS_FIN | WS_OP_TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5");
    FRAME(&s, WS_FIN | WS_OP_PING, ""); /* empty and last: its header ends the input */
    assert_string_equal(run(&s, &SERVER), "T:hello|B:000102|T:|ping:p1|pong:|"
                                          "T:\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5|ping:|");
}

static void test_large_lengths(void **state)
{
    (void)state;
    static stream_t s;
    static uint8_t big[65536 + 7];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31 + 1);
    big[0] = 0xAB;
    big[sizeof big - 1] = 0xCD;
    s.len = 0;
    put_frame(&s, WS_FIN | WS_OP_BINARY, big, 126, 1);  /* 16-bit form, smallest */
    put_frame(&s, WS_FIN | WS_OP_BINARY, big, 9000, 1); /* over the stack fast path */
    char want[64];
    snprintf(want, sizeof want, "B#126:ab%02x|B#9000:ab%02x|", big[125], big[8999]);
    assert_string_equal(run(&s, &SERVER), want);
    s.len = 0;
    put_frame(&s, WS_FIN | WS_OP_BINARY, big, sizeof big, 1); /* 64-bit form */
    assert_string_equal(run(&s, &SERVER), "B#65543:abcd|");
}

static void test_fragments_with_control_between(void **state)
{
    (void)state;
    static stream_t s;
    s.len = 0;
    FRAME(&s, WS_OP_TEXT, "Hel");
    FRAME(&s, WS_FIN | WS_OP_PING, "mid");
    FRAME(&s, WS_OP_CONT, "");
    FRAME(&s, WS_OP_CONT, "lo \xce"); /* a character split across fragments */
    FRAME(&s, WS_FIN | WS_OP_PONG, "x");
    FRAME(&s, WS_FIN | WS_OP_CONT, "\xba!");
    FRAME(&s, WS_OP_BINARY, "ab");
    FRAME(&s, WS_FIN | WS_OP_CONT, "cd");
    FRAME(&s, WS_FIN | WS_OP_CLOSE,
          "\x03\xe8"
          "bye");
    FRAME(&s, WS_FIN | WS_OP_TEXT, "after close");
    size_t consumed;
    rec_t r;
    run_mode(&s, &SERVER, 0, &r, &consumed);
    assert_string_equal(r.log, "ping:mid|pong:x|T:Hello \xce\xba!|B:61626364|close:1000:bye|");
    /* the frame after the close is left alone */
    assert_int_equal(consumed, s.len - (2 + 4 + 11));
    assert_string_equal(run(&s, &SERVER), r.log);
}

/* ---- protocol errors ---- */

static void expect_error(void (*build)(stream_t *), const ws_reader_limits_t *lim, const char *want)
{
    static stream_t s;
    s.len = 0;
    build(&s);
    assert_string_equal(run(&s, lim), want);
}

static void b_cont_first(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CONT, "x");
}
static void b_text_in_text(stream_t *s)
{
    FRAME(s, WS_OP_TEXT, "a");
    FRAME(s, WS_FIN | WS_OP_TEXT, "b");
}
static void b_binary_in_text(stream_t *s)
{
    FRAME(s, WS_OP_TEXT, "a");
    FRAME(s, WS_FIN | WS_OP_PING, "");
    FRAME(s, WS_FIN | WS_OP_BINARY, "b");
}
static void b_unmasked(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_TEXT, "ok");
    put_frame(s, WS_FIN | WS_OP_TEXT, "no", 2, 0);
}
static void b_rsv2(stream_t *s)
{
    FRAME(s, WS_FIN | WS_RSV2 | WS_OP_TEXT, "x");
}
static void b_rsv3(stream_t *s)
{
    FRAME(s, WS_FIN | WS_RSV3 | WS_OP_BINARY, "x");
}
static void b_rsv1(stream_t *s)
{
    FRAME(s, WS_FIN | WS_RSV1 | WS_OP_TEXT, "x");
}
static void b_rsv1_ping(stream_t *s)
{
    FRAME(s, WS_FIN | WS_RSV1 | WS_OP_PING, "");
}
static void b_rsv1_cont(stream_t *s)
{
    FRAME(s, WS_OP_BINARY, "a");
    FRAME(s, WS_FIN | WS_RSV1 | WS_OP_CONT, "b");
}
static void b_opcode3(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_TEXT, "ok");
    FRAME(s, WS_FIN | 0x3, "x");
}
static void b_opcode_b(stream_t *s)
{
    FRAME(s, WS_FIN | 0xB, "x");
}
static void b_ping_nofin(stream_t *s)
{
    FRAME(s, WS_OP_PING, "x");
}
static void b_ping_126(stream_t *s)
{
    static uint8_t p[126];
    put_frame(s, WS_FIN | WS_OP_PING, p, sizeof p, 1);
}
static void b_ping_125(stream_t *s)
{
    static uint8_t p[125];
    memset(p, 'z', sizeof p);
    put_frame(s, WS_FIN | WS_OP_PING, p, sizeof p, 1);
    FRAME(s, WS_FIN | WS_OP_TEXT, "k");
}
static void b_close_1byte(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CLOSE, "\x03");
}
static void b_close_1005(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CLOSE, "\x03\xed");
}
static void b_close_999(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CLOSE, "\x03\xe7");
}
static void b_close_2999(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CLOSE, "\x0b\xb7");
}
static void b_close_5000(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CLOSE, "\x13\x88");
}
static void b_close_bad_reason(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CLOSE, "\x03\xe8\xc0\xaf");
}
static void b_close_empty(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CLOSE, "");
}
static void b_close_4999(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_CLOSE, "\x13\x87");
}
static void b_nonminimal(stream_t *s)
{
    /* 16-bit length 5 */
    uint8_t h[] = {WS_FIN | WS_OP_TEXT, 0x80 | 126, 0, 5, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'};
    memcpy(s->data + s->len, h, sizeof h);
    s->len += sizeof h;
}

static void test_protocol_errors(void **state)
{
    (void)state;
    expect_error(b_cont_first, &SERVER, "E1002");
    expect_error(b_text_in_text, &SERVER, "E1002");
    expect_error(b_binary_in_text, &SERVER, "ping:|E1002");
    expect_error(b_unmasked, &SERVER, "T:ok|E1002");
    expect_error(b_rsv2, &DEFLATE, "E1002");
    expect_error(b_rsv3, &DEFLATE, "E1002");
    expect_error(b_rsv1, &SERVER, "E1002");
    expect_error(b_rsv1_ping, &DEFLATE, "E1002");
    expect_error(b_rsv1_cont, &DEFLATE, "E1002");
    expect_error(b_opcode3, &SERVER, "T:ok|E1002");
    expect_error(b_opcode_b, &SERVER, "E1002");
    expect_error(b_ping_nofin, &SERVER, "E1002");
    expect_error(b_ping_126, &SERVER, "E1002");
    expect_error(b_ping_125, &SERVER,
                 "ping:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
                 "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz|T:k|");
    expect_error(b_close_1byte, &SERVER, "E1002");
    expect_error(b_close_1005, &SERVER, "E1002");
    expect_error(b_close_999, &SERVER, "E1002");
    expect_error(b_close_2999, &SERVER, "E1002");
    expect_error(b_close_5000, &SERVER, "E1002");
    expect_error(b_close_bad_reason, &SERVER, "E1007");
    expect_error(b_close_empty, &SERVER, "close:1005:|");
    expect_error(b_close_4999, &SERVER, "close:4999:|");
    expect_error(b_nonminimal, &SERVER, "E1002");
}

/* ---- UTF-8 ---- */

static void b_bad_utf8_fragment(stream_t *s)
{
    FRAME(s, WS_OP_TEXT, "ok \xce");
    FRAME(s, WS_FIN | WS_OP_CONT, "\x41");
}
static void b_text_ends_mid_char(stream_t *s)
{
    FRAME(s, WS_OP_TEXT, "ok");
    FRAME(s, WS_FIN | WS_OP_CONT, "\xe2\x82");
}
static void b_binary_any_bytes(stream_t *s)
{
    FRAME(s, WS_FIN | WS_OP_BINARY, "\xff\xfe");
}

static void test_utf8(void **state)
{
    (void)state;
    expect_error(b_bad_utf8_fragment, &SERVER, "E1007");
    expect_error(b_text_ends_mid_char, &SERVER, "E1007");
    expect_error(b_binary_any_bytes, &SERVER, "B:fffe|");
}

/* Fail fast: the bad byte is in the first few bytes of a frame whose payload
 * has not arrived yet; the error comes without the rest. */
static void test_utf8_fails_in_partial_frame(void **state)
{
    (void)state;
    static stream_t s;
    static uint8_t text[5000];
    memset(text, 'a', sizeof text);
    text[10] = 0xC0; /* overlong lead: invalid at once */
    s.len = 0;
    put_frame(&s, WS_FIN | WS_OP_TEXT, text, sizeof text, 1);
    ws_reader_t rd;
    rec_t rec;
    memset(&rec, 0, sizeof rec);
    ws_reader_init(&rd, &SERVER, &CB, &rec);
    /* header (8 bytes) + 20 payload bytes only */
    assert_int_equal(ws_reader_feed(&rd, s.data, 8 + 20), -WS_CLOSE_INVALID_DATA);
    ws_reader_free(&rd);
    /* same in a continuation of a fragmented message */
    s.len = 0;
    put_frame(&s, WS_OP_TEXT, "fine", 4, 1);
    put_frame(&s, WS_FIN | WS_OP_CONT, text, sizeof text, 1);
    memset(&rec, 0, sizeof rec);
    ws_reader_init(&rd, &SERVER, &CB, &rec);
    assert_int_equal(ws_reader_feed(&rd, s.data, 10 + 8 + 20), -WS_CLOSE_INVALID_DATA);
    ws_reader_free(&rd);
}

/* ---- limits ---- */

static void test_limits_before_payload(void **state)
{
    (void)state;
    ws_reader_limits_t lim = {.max_message = 10, .max_fragments = 3, .require_mask = 1};
    static stream_t s;
    ws_reader_t rd;
    rec_t rec;
    memset(&rec, 0, sizeof rec);

    /* 11 declared bytes: refused on the header alone */
    s.len = 0;
    put_frame(&s, WS_FIN | WS_OP_BINARY, "0123456789A", 11, 1);
    ws_reader_init(&rd, &lim, &CB, &rec);
    assert_int_equal(ws_reader_feed(&rd, s.data, 6), -WS_CLOSE_TOO_BIG);
    ws_reader_free(&rd);

    /* a 64-bit length of 2^40: refused on the header too */
    uint8_t huge[14] = {WS_FIN | WS_OP_BINARY, 0x80 | 127, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    ws_reader_init(&rd, &lim, &CB, &rec);
    assert_int_equal(ws_reader_feed(&rd, huge, sizeof huge), -WS_CLOSE_TOO_BIG);
    ws_reader_free(&rd);

    /* running total: 6 + 5 over fragments, refused at the second header */
    s.len = 0;
    put_frame(&s, WS_OP_TEXT, "abcdef", 6, 1);
    size_t first = s.len;
    put_frame(&s, WS_FIN | WS_OP_CONT, "ghijk", 5, 1);
    ws_reader_init(&rd, &lim, &CB, &rec);
    assert_int_equal(ws_reader_feed(&rd, s.data, first), (ptrdiff_t)first);
    assert_int_equal(ws_reader_feed(&rd, s.data + first, 6), -WS_CLOSE_TOO_BIG);
    ws_reader_free(&rd);

    /* exactly the limit is fine */
    s.len = 0;
    put_frame(&s, WS_OP_TEXT, "abcde", 5, 1);
    put_frame(&s, WS_FIN | WS_OP_CONT, "fghij", 5, 1);
    assert_string_equal(run(&s, &lim), "T:abcdefghij|");
}

static void test_fragment_cap(void **state)
{
    (void)state;
    ws_reader_limits_t lim = {.max_message = 1000, .max_fragments = 100, .require_mask = 1};
    static stream_t s;
    s.len = 0;
    put_frame(&s, WS_OP_BINARY, "", 0, 1);
    for (int i = 0; i < 98; i++)
        put_frame(&s, WS_OP_CONT, "", 0, 1);
    put_frame(&s, WS_FIN | WS_OP_CONT, "z", 1, 1);
    assert_string_equal(run(&s, &lim), "B:7a|"); /* 100 fragments: fine */
    s.len = 0;
    put_frame(&s, WS_OP_BINARY, "", 0, 1);
    for (int i = 0; i < 200; i++)
        put_frame(&s, WS_OP_CONT, "", 0, 1);
    assert_string_equal(run(&s, &lim), "E1009");
    /* control frames in between do not count */
    s.len = 0;
    put_frame(&s, WS_OP_BINARY, "", 0, 1);
    for (int i = 0; i < 150; i++)
        put_frame(&s, WS_FIN | WS_OP_PONG, "", 0, 1);
    put_frame(&s, WS_FIN | WS_OP_CONT, "y", 1, 1);
    const char *log = run(&s, &lim);
    assert_non_null(strstr(log, "B:79|"));
}

/* ---- compressed messages ---- */

/* Compresses with an independent zlib stream; keep_context mimics a client
 * with context takeover. Returns the payload length without the tail. */
static size_t client_deflate(z_stream *z, const void *in, size_t n, uint8_t *out, size_t outsz)
{
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)outsz;
    assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
    assert_true(z->avail_out > 0);
    size_t len = outsz - z->avail_out;
    assert_true(len >= 4);
    assert_memory_equal(out + len - 4, "\x00\x00\xff\xff", 4);
    return len - 4;
}

static void test_compressed_messages(void **state)
{
    (void)state;
    static stream_t s;
    static uint8_t comp[8192];
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    const char *msg = "hello hello hello hello compressed world";

    s.len = 0;
    size_t n = client_deflate(&z, msg, strlen(msg), comp, sizeof comp);
    deflateReset(&z);
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_TEXT, comp, n, 1);
    FRAME(&s, WS_FIN | WS_OP_TEXT, "plain in between");
    /* fragmented: RSV1 on the first frame only, ping in the middle */
    n = client_deflate(&z, msg, strlen(msg), comp, sizeof comp);
    deflateReset(&z);
    put_frame(&s, WS_RSV1 | WS_OP_TEXT, comp, 3, 1);
    FRAME(&s, WS_FIN | WS_OP_PING, "z");
    put_frame(&s, WS_OP_CONT, comp + 3, 4, 1);
    put_frame(&s, WS_FIN | WS_OP_CONT, comp + 7, n - 7, 1);
    /* an empty compressed message: just the empty block's tail, i.e. 0x00 */
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_BINARY, "\x00", 1, 1);
    char want[512];
    snprintf(want, sizeof want, "T:%s|T:plain in between|ping:z|T:%s|B:|", msg, msg);
    assert_string_equal(run(&s, &DEFLATE), want);

    /* Context takeover: the second message refers to the first. */
    ws_reader_limits_t take = DEFLATE;
    take.client_takeover = 1;
    s.len = 0;
    n = client_deflate(&z, msg, strlen(msg), comp, sizeof comp);
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_TEXT, comp, n, 1);
    size_t n2 = client_deflate(&z, msg, strlen(msg), comp, sizeof comp);
    assert_true(n2 < n); /* really uses the context */
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_TEXT, comp, n2, 1);
    snprintf(want, sizeof want, "T:%s|T:%s|", msg, msg);
    assert_string_equal(run(&s, &take), want);
    /* ...and without takeover on our side the second message cannot be read */
    const char *log = run(&s, &DEFLATE);
    assert_non_null(strstr(log, "E1007"));

    /* A final deflate block (a client that used Z_FINISH) is fine too. */
    deflateReset(&z);
    z.next_in = (Bytef *)msg;
    z.avail_in = (uInt)strlen(msg);
    z.next_out = comp;
    z.avail_out = sizeof comp;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    s.len = 0;
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_TEXT, comp, sizeof comp - z.avail_out, 1);
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_TEXT, comp, sizeof comp - z.avail_out, 1);
    snprintf(want, sizeof want, "T:%s|T:%s|", msg, msg);
    assert_string_equal(run(&s, &DEFLATE), want);
    deflateEnd(&z);
    ws_deflate_thread_cleanup();
}

static void test_compressed_errors(void **state)
{
    (void)state;
    static stream_t s;
    static uint8_t comp[8192];
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);

    /* invalid UTF-8 inside compressed text */
    s.len = 0;
    size_t n = client_deflate(&z, "abc\xed\xa0\x80", 6, comp, sizeof comp);
    deflateReset(&z);
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_TEXT, comp, n, 1);
    assert_string_equal(run(&s, &DEFLATE), "E1007");

    /* invalid early and too big: 1007 however the bytes are split (the
     * first max_message inflated bytes are judged before the size) */
    static uint8_t bad_big[3000];
    memset(bad_big, 'a', sizeof bad_big);
    bad_big[5] = 0xFF;
    ws_reader_limits_t small_text = DEFLATE;
    small_text.max_message = 1000;
    s.len = 0;
    n = client_deflate(&z, bad_big, sizeof bad_big, comp, sizeof comp);
    deflateReset(&z);
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_TEXT, comp, n, 1);
    assert_string_equal(run(&s, &small_text), "E1007");
    bad_big[5] = 'a';
    s.len = 0;
    n = client_deflate(&z, bad_big, sizeof bad_big, comp, sizeof comp);
    deflateReset(&z);
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_TEXT, comp, n, 1);
    assert_string_equal(run(&s, &small_text), "E1009");

    /* garbage that is not deflate (reserved block type 3) */
    s.len = 0;
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_BINARY, "\xff\xff\xff\xff", 4, 1);
    assert_string_equal(run(&s, &DEFLATE), "E1007");

    /* A bomb: 8 MiB of zeros compresses to ~8 KiB; the cap is 1 MiB. */
    static uint8_t zeros[1 << 16];
    memset(zeros, 0, sizeof zeros);
    static uint8_t bomb[65536];
    size_t blen = 0;
    for (int i = 0; i < 128; i++) {
        z.next_in = zeros;
        z.avail_in = sizeof zeros;
        z.next_out = bomb + blen;
        z.avail_out = (uInt)(sizeof bomb - blen);
        assert_int_equal(deflate(&z, i == 127 ? Z_SYNC_FLUSH : Z_NO_FLUSH), Z_OK);
        blen = sizeof bomb - z.avail_out;
    }
    blen -= 4;
    assert_true(blen < 20000);
    deflateEnd(&z);
    s.len = 0;
    put_frame(&s, WS_FIN | WS_RSV1 | WS_OP_BINARY, bomb, blen, 1);
    assert_string_equal(run(&s, &DEFLATE), "E1009");
    /* and the reader never held more than the cap */
    ws_reader_t rd;
    rec_t rec;
    memset(&rec, 0, sizeof rec);
    ws_reader_init(&rd, &DEFLATE, &CB, &rec);
    assert_int_equal(ws_reader_feed(&rd, s.data, s.len), -WS_CLOSE_TOO_BIG);
    assert_true(rd.msg.len <= DEFLATE.max_message);
    ws_reader_free(&rd);

    /* compressed bytes alone over max + 1/16 + 1 KiB: refused on the header */
    ws_reader_limits_t small = DEFLATE;
    small.max_message = 1000;
    uint8_t h[8] = {WS_FIN | WS_RSV1 | WS_OP_BINARY, 0x80 | 126, 0x09, 0x00, 1, 2, 3, 4};
    ws_reader_init(&rd, &small, &CB, &rec);
    assert_int_equal(ws_reader_feed(&rd, h, sizeof h), -WS_CLOSE_TOO_BIG);
    ws_reader_free(&rd);
    ws_deflate_thread_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_large_lengths),
        cmocka_unit_test(test_fragments_with_control_between),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_fails_in_partial_frame),
        cmocka_unit_test(test_limits_before_payload),
        cmocka_unit_test(test_fragment_cap),
        cmocka_unit_test(test_compressed_messages),
        cmocka_unit_test(test_compressed_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
