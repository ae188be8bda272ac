/* reader.c — WebSocket frames to messages; see reader.h. */
#include "ws/reader.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#define FAST_MAX 8192     /* whole small messages are unmasked on the stack */
#define UNMASK_CHUNK 4096 /* compressed payload is unmasked this much at a time */

/* Return values of the frame-level helpers besides negative close codes. */
#define GO_ON 0
#define STOP 1

void ws_reader_init(ws_reader_t *r, const ws_reader_limits_t *lim, const ws_reader_cb_t *cb,
                    void *ud)
{
    memset(r, 0, sizeof *r);
    r->cb = cb;
    r->ud = ud;
    buf_init(&r->msg, lim->max_message ? lim->max_message : WS_DEFAULT_MAX_MESSAGE);
    size_t frags = lim->max_fragments ? lim->max_fragments : WS_DEFAULT_MAX_FRAGMENTS;
    r->max_fragments = frags < UINT32_MAX ? (uint32_t)frags : UINT32_MAX;
    r->require_mask = lim->require_mask;
    r->deflate = lim->deflate;
    r->client_takeover = lim->client_takeover;
    utf8_init(&r->utf8);
}

void ws_reader_free(ws_reader_t *r)
{
    buf_free(&r->msg);
    ws_inflater_put(r->inflater);
    r->inflater = NULL;
    free(r->ctl);
    r->ctl = NULL;
}

/* The cap on the compressed bytes of one message. Deflate may expand
 * incompressible data a little, and a sender may flush between fragments;
 * anything far beyond that is a stream of empty blocks meant to keep us
 * busy. */
static uint64_t wire_cap(const ws_reader_t *r)
{
    uint64_t m = r->msg.max;
    uint64_t cap = m + m / 16 + 1024;
    return cap < m ? UINT64_MAX : cap;
}

int ws_reader_in_message(const ws_reader_t *r)
{
    return r->msg_op != 0;
}

static void end_message(ws_reader_t *r)
{
    r->msg_op = 0;
    r->msg_compressed = 0;
    r->fragments = 0;
    r->wire_bytes = 0;
    utf8_init(&r->utf8);
    /* An idle connection owns no message memory. */
    buf_free(&r->msg);
    if (r->inflater && !r->client_takeover) {
        ws_inflater_put(r->inflater);
        r->inflater = NULL;
    }
}

/* The header is parsed: judge it against the connection's state. */
static int start_frame(ws_reader_t *r)
{
    const ws_frame_header_t *h = &r->fh;
    if (r->require_mask && !h->masked)
        return -WS_CLOSE_PROTOCOL;
    if (h->rsv & (WS_RSV2 | WS_RSV3))
        return -WS_CLOSE_PROTOCOL;
    int rsv1 = (h->rsv & WS_RSV1) != 0;
    if (WS_IS_CONTROL(h->opcode)) {
        if (rsv1)
            return -WS_CLOSE_PROTOCOL; /* control frames are never compressed */
        r->ctl_len = 0;
        return 0;
    }
    if (h->opcode == WS_OP_CONT) {
        if (!r->msg_op || rsv1) /* RSV1 marks the first frame of a message only */
            return -WS_CLOSE_PROTOCOL;
    } else {
        if (r->msg_op || (rsv1 && !r->deflate))
            return -WS_CLOSE_PROTOCOL;
        r->msg_op = h->opcode;
        r->msg_compressed = (uint8_t)rsv1;
        r->fragments = 0;
        r->wire_bytes = 0;
        utf8_init(&r->utf8);
    }
    if (++r->fragments > r->max_fragments)
        return -WS_CLOSE_TOO_BIG;
    if (r->msg_compressed) {
        if (h->len > wire_cap(r) - r->wire_bytes)
            return -WS_CLOSE_TOO_BIG;
        if (!r->inflater)
            r->inflater = ws_inflater_get();
    } else if (h->len > r->msg.max - r->msg.len) {
        return -WS_CLOSE_TOO_BIG;
    }
    return 0;
}

static int check_text(ws_reader_t *r, const void *p, size_t n)
{
    if (r->msg_op == WS_OP_TEXT && utf8_feed(&r->utf8, p, n, NULL) != UTF8_OK)
        return -WS_CLOSE_INVALID_DATA;
    return 0;
}

static int inflate_result(ws_inflate_result_t ir)
{
    switch (ir) {
    case WS_INFLATE_OK:
        return 0;
    case WS_INFLATE_TOO_BIG:
        return -WS_CLOSE_TOO_BIG;
    default:
        return -WS_CLOSE_INVALID_DATA;
    }
}

/* Text is checked before the inflate result, so a message that is both
 * invalid and too big gets the same code however its bytes were split: 1007
 * when its first max_message bytes are not UTF-8, else 1009. */
static int inflate_and_check(ws_reader_t *r, const uint8_t *p, size_t n, int end)
{
    size_t old = r->msg.len;
    int e = inflate_result(ws_inflate(r->inflater, p, n, end, &r->msg));
    if (r->msg.len > old) {
        int t = check_text(r, r->msg.data + old, r->msg.len - old);
        if (t)
            return t;
    }
    return e;
}

/* Payload bytes p[0..n) of the current frame (n <= remaining). */
static int payload(ws_reader_t *r, const uint8_t *p, size_t n)
{
    const ws_frame_header_t *h = &r->fh;
    if (WS_IS_CONTROL(h->opcode)) {
        if (!r->ctl)
            r->ctl = xmalloc(WS_MAX_CONTROL_PAYLOAD);
        r->mask_off = (uint8_t)ws_unmask(r->ctl + r->ctl_len, p, n, h->mask, r->mask_off);
        r->ctl_len = (uint8_t)(r->ctl_len + n);
        return 0;
    }
    if (!r->msg_compressed) {
        size_t old = r->msg.len;
        if (buf_append(&r->msg, p, n) != BUF_OK)
            return -WS_CLOSE_TOO_BIG; /* cannot happen: checked on the header */
        uint8_t *dst = (uint8_t *)r->msg.data + old;
        r->mask_off = (uint8_t)ws_unmask(dst, dst, n, h->mask, r->mask_off);
        return check_text(r, dst, n);
    }
    r->wire_bytes += n;
    uint8_t tmp[UNMASK_CHUNK];
    while (n > 0) {
        size_t k = n < sizeof tmp ? n : sizeof tmp;
        r->mask_off = (uint8_t)ws_unmask(tmp, p, k, h->mask, r->mask_off);
        int e = inflate_and_check(r, tmp, k, 0);
        if (e)
            return e;
        p += k;
        n -= k;
    }
    return 0;
}

static int deliver(ws_reader_t *r, const char *data, size_t len)
{
    int binary = r->msg_op == WS_OP_BINARY;
    const ws_reader_cb_t *cb = r->cb;
    void *ud = r->ud;
    end_message(r);
    return cb->on_message(ud, binary, data ? data : "", len) ? STOP : GO_ON;
}

/* A whole control frame, unmasked. */
static int control_frame(ws_reader_t *r, const uint8_t *p, size_t n)
{
    if (r->fh.opcode == WS_OP_CLOSE) {
        uint16_t code;
        const char *reason;
        size_t rlen;
        int e = ws_close_payload_parse(p, n, &code, &reason, &rlen);
        if (e)
            return e;
    }
    return r->cb->on_control(r->ud, r->fh.opcode, p, n) ? STOP : GO_ON;
}

/* The current frame's payload is complete. */
static int end_frame(ws_reader_t *r)
{
    const ws_frame_header_t *h = &r->fh;
    r->in_frame = 0;
    if (WS_IS_CONTROL(h->opcode)) {
        /* Copied out so the buffer goes before the callback, which may end
         * the reader. */
        uint8_t tmp[WS_MAX_CONTROL_PAYLOAD];
        size_t n = r->ctl_len;
        if (n)
            memcpy(tmp, r->ctl, n);
        free(r->ctl);
        r->ctl = NULL;
        return control_frame(r, tmp, n);
    }
    if (!h->fin)
        return GO_ON;
    if (r->msg_compressed) {
        int e = inflate_and_check(r, NULL, 0, 1);
        if (e)
            return e;
    }
    if (r->msg_op == WS_OP_TEXT && !utf8_complete(&r->utf8))
        return -WS_CLOSE_INVALID_DATA; /* ends inside a character */
    /* The buffer is freed by end_message inside deliver: hand it over first. */
    size_t len;
    char *data = buf_detach(&r->msg, &len);
    int st = deliver(r, data, len);
    free(data);
    return st;
}

/* A whole small uncompressed single-frame message is in p: no heap at all. */
static int fast_message(ws_reader_t *r, const uint8_t *p)
{
    uint8_t tmp[FAST_MAX];
    size_t n = (size_t)r->fh.len;
    ws_unmask(tmp, p, n, r->fh.mask, 0);
    r->in_frame = 0;
    if (r->msg_op == WS_OP_TEXT && !utf8_valid(tmp, n))
        return -WS_CLOSE_INVALID_DATA;
    return deliver(r, (const char *)tmp, n);
}

/* A header is complete in r->fh: judge it and get ready for its payload.
 * Returns 0 or a negative close code. */
static int begin_frame(ws_reader_t *r)
{
    int e = start_frame(r);
    if (e)
        return e;
    r->in_frame = 1;
    r->remaining = r->fh.len;
    r->mask_off = 0;
    return 0;
}

/* Completes a header split across feeds from the bytes kept in r->hdr plus
 * p. Returns the bytes of p used (all of them while still incomplete), or a
 * negative close code. */
static ptrdiff_t finish_split_header(ws_reader_t *r, const uint8_t *p, size_t len)
{
    size_t have = r->hdr_len;
    size_t take = WS_MAX_HEADER - have < len ? WS_MAX_HEADER - have : len;
    memcpy(r->hdr + have, p, take);
    int hl = ws_frame_header_parse(r->hdr, have + take, &r->fh);
    if (hl < 0)
        return hl;
    if (hl == 0) { /* still short: 14 bytes always decide, so take == len */
        r->hdr_len = (uint8_t)(have + take);
        return (ptrdiff_t)take;
    }
    r->hdr_len = 0;
    int e = begin_frame(r);
    if (e)
        return e;
    return (ptrdiff_t)((size_t)hl - have);
}

ptrdiff_t ws_reader_feed(ws_reader_t *r, const uint8_t *p, size_t len)
{
    size_t used = 0;
    if (r->hdr_len > 0 && len > 0) {
        ptrdiff_t n = finish_split_header(r, p, len);
        if (n < 0)
            return n;
        used = (size_t)n;
    }
    for (;;) {
        if (!r->in_frame) {
            if (used == len)
                break;
            int hl = ws_frame_header_parse(p + used, len - used, &r->fh);
            if (hl < 0)
                return hl;
            if (hl == 0) {
                /* Keep the partial header here rather than in the caller's
                 * input buffer: the caller never has to hold our bytes. */
                r->hdr_len = (uint8_t)(len - used);
                memcpy(r->hdr, p + used, len - used);
                used = len;
                break;
            }
            used += (size_t)hl;
            int e = begin_frame(r);
            if (e)
                return e;
            if (WS_IS_CONTROL(r->fh.opcode) && r->fh.len <= len - used) {
                /* Whole: unmasked on the stack, no buffer. */
                uint8_t tmp[WS_MAX_CONTROL_PAYLOAD];
                size_t n = (size_t)r->fh.len;
                ws_unmask(tmp, p + used, n, r->fh.mask, 0);
                used += n;
                r->in_frame = 0;
                int st = control_frame(r, tmp, n);
                if (st < 0)
                    return st;
                if (st == STOP)
                    return (ptrdiff_t)used;
                continue;
            }
            if (!WS_IS_CONTROL(r->fh.opcode) && r->fh.fin && r->fragments == 1 &&
                !r->msg_compressed && r->fh.len <= FAST_MAX && r->fh.len <= len - used) {
                size_t n = (size_t)r->fh.len;
                int st = fast_message(r, p + used);
                if (st < 0)
                    return st;
                used += n;
                if (st == STOP)
                    return (ptrdiff_t)used;
                continue;
            }
        }
        size_t n = len - used;
        if (n > r->remaining)
            n = (size_t)r->remaining;
        if (n > 0) {
            int e = payload(r, p + used, n);
            if (e)
                return e;
            used += n;
            r->remaining -= n;
        }
        if (r->remaining > 0)
            break; /* all of p went into this frame's payload */
        /* complete, even when empty and its header ended p */
        int st = end_frame(r);
        if (st < 0)
            return st;
        if (st == STOP)
            return (ptrdiff_t)used;
    }
    return (ptrdiff_t)used;
}
