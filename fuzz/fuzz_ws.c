/* fuzz_ws.c — libFuzzer target for the WebSocket layer's parsers, without
 * sockets: the frame-header parser, unmasking, the UTF-8 validator, inflate,
 * the message reader that ties them together, and the permessage-deflate
 * offer parser.
 *
 * The first input byte picks the reader's settings (mask required, deflate,
 * context takeover, size limit); the rest is the byte stream.
 *
 * Properties checked (abort on violation), beyond ASan/UBSan staying quiet:
 *   - reader, whole == pieces: the stream fed at once, in pieces split at
 *     data-derived points, and (when short) one byte at a time gives the same
 *     events, the same outcome (close code) and the same bytes consumed;
 *   - every delivered message fits max_message, text is valid UTF-8, a close
 *     frame carries no code or a valid one;
 *   - header parser: the answer for a prefix never changes once it is not
 *     "need more"; encode(parse(h)) parses back to the same length and opcode;
 *   - unmask in two pieces == in one; unmasking twice is the identity;
 *   - UTF-8: split == whole (validity and failure offset), utf8_boundary
 *     agrees with utf8_valid;
 *   - inflate never outputs more than its cap;
 *   - an accepted extension offer gives an answer that parses back as an
 *     offer with the same window bits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "ws/deflate.h"
#include "ws/frame.h"
#include "ws/reader.h"

typedef struct {
    uint64_t hash;
    size_t max_message;
    unsigned events;
    int stopped;
} log_t;

static void mix(log_t *l, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        l->hash ^= b[i];
        l->hash *= 0x100000001b3ULL;
    }
}

static int on_message(void *ud, int binary, const char *data, size_t len)
{
    log_t *l = ud;
    if (!data || len > l->max_message)
        abort();
    if (!binary && !utf8_valid(data, len))
        abort();
    uint8_t tag = binary ? 'B' : 'T';
    mix(l, &tag, 1);
    mix(l, &len, sizeof len);
    mix(l, data, len);
    l->events++;
    return 0;
}

static int on_control(void *ud, unsigned op, const uint8_t *p, size_t len)
{
    log_t *l = ud;
    if (len > WS_MAX_CONTROL_PAYLOAD)
        abort();
    if (op == WS_OP_CLOSE) {
        if (len == 1)
            abort();
        if (len >= 2 && !ws_close_code_valid(((unsigned)p[0] << 8) | p[1]))
            abort();
        if (len > 2 && !utf8_valid(p + 2, len - 2))
            abort();
    }
    uint8_t tag = (uint8_t)op;
    mix(l, &tag, 1);
    mix(l, p, len);
    l->events++;
    l->stopped = op == WS_OP_CLOSE; /* stop after a close, as conn.c does */
    return l->stopped;
}

static const ws_reader_cb_t callbacks = {on_message, on_control};

typedef struct {
    uint64_t hash;
    long outcome; /* consumed bytes, or a negative close code */
} result_t;

/* Feeds data split at the given cut points (sorted, within len). */
static result_t run_reader(const ws_reader_limits_t *lim, const uint8_t *data, size_t len,
                           const size_t *cuts, size_t ncuts)
{
    log_t l = {0xcbf29ce484222325ULL, lim->max_message, 0, 0};
    ws_reader_t rd;
    ws_reader_init(&rd, lim, &callbacks, &l);
    size_t pos = 0;
    long outcome = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (end < pos)
            end = pos;
        ptrdiff_t r = ws_reader_feed(&rd, data + pos, end - pos);
        if (r < 0) {
            outcome = (long)r;
            break;
        }
        if ((size_t)r > end - pos)
            abort();
        if (l.stopped) { /* by a close: nothing more is fed */
            outcome = (long)(pos + (size_t)r);
            break;
        }
        if ((size_t)r != end - pos)
            abort(); /* everything is consumed unless stopped */
        pos = end;
        outcome = (long)pos;
    }
    if (rd.msg.len > rd.msg.max)
        abort();
    ws_reader_free(&rd);
    return (result_t){l.hash, outcome};
}

static void check_reader(const ws_reader_limits_t *lim, const uint8_t *data, size_t len)
{
    result_t whole = run_reader(lim, data, len, NULL, 0);
    size_t cuts[3];
    for (size_t i = 0; i < 3; i++)
        cuts[i] = len ? (size_t)data[i % len] * 131 % (len + 1) : 0;
    for (size_t a = 0; a < 3; a++) /* sort */
        for (size_t b = a + 1; b < 3; b++)
            if (cuts[b] < cuts[a]) {
                size_t t = cuts[a];
                cuts[a] = cuts[b];
                cuts[b] = t;
            }
    result_t split = run_reader(lim, data, len, cuts, 3);
    if (split.hash != whole.hash || split.outcome != whole.outcome)
        abort();
    if (len <= 2048) {
        static size_t each[2048];
        for (size_t i = 0; i + 1 < len; i++)
            each[i] = i + 1;
        result_t bytes = run_reader(lim, data, len, each, len ? len - 1 : 0);
        if (bytes.hash != whole.hash || bytes.outcome != whole.outcome)
            abort();
    }
}

static void check_header(const uint8_t *data, size_t len)
{
    ws_frame_header_t f, g;
    int first = 0;
    size_t n = len < WS_MAX_HEADER + 2 ? len : WS_MAX_HEADER + 2;
    for (size_t k = 0; k <= n; k++) {
        int r = ws_frame_header_parse(data, k, &f);
        if (r > (int)k || r > WS_MAX_HEADER)
            abort();
        if (first != 0 && r != first)
            abort(); /* a decided answer changed with more bytes */
        if (r != 0)
            first = r;
    }
    if (first > 0) {
        ws_frame_header_parse(data, (size_t)first, &f);
        if (f.len >> 63)
            abort();
        uint8_t enc[WS_MAX_SERVER_HEADER];
        size_t el = ws_frame_header_encode(enc, f.opcode, WS_FIN | (f.rsv & WS_RSV1), f.len);
        if (ws_frame_header_parse(enc, el, &g) != (int)el || g.len != f.len ||
            g.opcode != f.opcode || g.masked)
            abort();
    }
}

static void check_unmask(const uint8_t *data, size_t len)
{
    if (len < 4 || len > 65536)
        return;
    static uint8_t a[65536], b[65536];
    const uint8_t *mask = data;
    size_t cut = data[1] % (len + 1);
    unsigned off = data[2] & 3u;
    ws_unmask(a, data, len, mask, off);
    unsigned o2 = ws_unmask(b, data, cut, mask, off);
    ws_unmask(b + cut, data + cut, len - cut, mask, o2);
    if (memcmp(a, b, len) != 0)
        abort();
    ws_unmask(a, a, len, mask, off); /* in place, back to the input */
    if (memcmp(a, data, len) != 0)
        abort();
}

static void check_utf8(const uint8_t *data, size_t len)
{
    utf8_dfa_t d;
    size_t off_whole = 0, off_split = 0;
    utf8_init(&d);
    int ok_whole = utf8_feed(&d, data, len, &off_whole) == UTF8_OK;
    int complete_whole = ok_whole && utf8_complete(&d);
    size_t cut = len ? data[0] % (len + 1) : 0;
    utf8_init(&d);
    int ok_split = 1;
    if (utf8_feed(&d, data, cut, &off_split) != UTF8_OK) {
        ok_split = 0;
    } else if (utf8_feed(&d, data + cut, len - cut, &off_split) != UTF8_OK) {
        ok_split = 0;
        off_split += cut;
    }
    if (ok_whole != ok_split || (!ok_whole && off_whole != off_split))
        abort();
    if (ok_split && utf8_complete(&d) != complete_whole)
        abort();
    if (complete_whole != utf8_valid(data, len))
        abort();
    if ((utf8_boundary(data, len) == len) != complete_whole)
        abort();
}

static void check_inflate(const uint8_t *data, size_t len, size_t cap)
{
    buf_t out;
    buf_init(&out, cap);
    ws_inflater_t *z = ws_inflater_get();
    ws_inflate(z, data, len, 1, &out);
    if (out.len > cap)
        abort();
    ws_inflater_put(z);
    buf_free(&out);
}

static void check_offers(const uint8_t *data, size_t len)
{
    ws_deflate_offer_t o;
    if (ws_deflate_parse_offers((const char *)data, len, &o) != WS_EXT_FOUND)
        return;
    if (o.server_max_window_bits && (o.server_max_window_bits < 8 || o.server_max_window_bits > 15))
        abort();
    if (o.client_max_window_bits > 15 ||
        (o.client_max_window_bits > 1 && o.client_max_window_bits < 8))
        abort();
    char answer[128];
    ws_deflate_agreed_t a;
    size_t n = ws_deflate_accept(&o, data[0] & 1, &a, answer, sizeof answer);
    ws_deflate_offer_t back;
    if (n == 0 || ws_deflate_parse_offers(answer, n, &back) != WS_EXT_FOUND ||
        back.server_max_window_bits != o.server_max_window_bits || !back.server_no_context_takeover)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t limits[4] = {64, 1000, 65536, 1 << 20};
    uint8_t sel = data[0];
    ws_reader_limits_t lim = {
        .max_message = limits[(sel >> 3) & 3],
        .max_fragments = (sel & 0x20) ? 4 : 64,
        .require_mask = sel & 1,
        .deflate = (sel >> 1) & 1,
        .client_takeover = (sel >> 2) & 1,
    };
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    check_reader(&lim, p, n);
    check_header(p, n);
    check_unmask(p, n);
    check_utf8(p, n);
    check_inflate(p, n, limits[(sel >> 3) & 3]);
    check_offers(p, n);
    ws_deflate_thread_cleanup();
    return 0;
}
