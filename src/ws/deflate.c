/* deflate.c — permessage-deflate negotiation and zlib streams; see deflate.h. */
#include "ws/deflate.h"
#include "core/alloc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define INFLATE_POOL_MAX 4
#define DEFLATE_LEVEL 3 /* chat payloads are small; speed matters more than the last percent */
#define DEFLATE_MEM_LEVEL 8
#define CHUNK 16384
#define MAX_DEFLATE_INPUT (1u << 30)

/* ---- negotiation ---- */

typedef struct {
    const char *s;
    size_t len;
    size_t pos;
} cursor_t;

static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void skip_ows(cursor_t *cur)
{
    while (cur->pos < cur->len && (cur->s[cur->pos] == ' ' || cur->s[cur->pos] == '\t'))
        cur->pos++;
}

static int peek(const cursor_t *cur)
{
    return cur->pos < cur->len ? (unsigned char)cur->s[cur->pos] : -1;
}

/* Reads a token; returns its length (0 when there is none). */
static size_t read_token(cursor_t *cur, const char **tok)
{
    size_t start = cur->pos;
    while (cur->pos < cur->len && is_tchar((unsigned char)cur->s[cur->pos]))
        cur->pos++;
    *tok = cur->s + start;
    return cur->pos - start;
}

/* A parameter value, unescaped when quoted. Only short values matter to us
 * (window bits); longer ones are kept as "too long" so they are refused. */
typedef struct {
    char text[8];
    size_t len;
    int too_long;
} value_t;

static void value_push(value_t *v, char c)
{
    if (v->len < sizeof v->text)
        v->text[v->len++] = c;
    else
        v->too_long = 1;
}

/* token / quoted-string; returns 0, or -1 on a syntax error. */
static int read_value(cursor_t *cur, value_t *v)
{
    v->len = 0;
    v->too_long = 0;
    if (peek(cur) != '"') {
        const char *tok;
        size_t n = read_token(cur, &tok);
        if (n == 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            value_push(v, tok[i]);
        return 0;
    }
    cur->pos++;
    for (;;) {
        int c = peek(cur);
        if (c < 0)
            return -1; /* unterminated */
        cur->pos++;
        if (c == '"')
            return 0;
        if (c == '\\') {
            c = peek(cur);
            if (c < 0 || !(c == '\t' || (c >= 0x20 && c != 0x7F)))
                return -1;
            cur->pos++;
        } else if (!(c == '\t' || (c >= 0x20 && c != 0x7F))) {
            return -1; /* control characters are not qdtext */
        }
        value_push(v, (char)c);
    }
}

/* 8..15 written without leading zeros; returns the value or -1. */
static int window_bits(const value_t *v)
{
    if (v->too_long || v->len == 0 || v->len > 2)
        return -1;
    for (size_t i = 0; i < v->len; i++)
        if (v->text[i] < '0' || v->text[i] > '9')
            return -1;
    if (v->text[0] == '0')
        return -1;
    int n = v->len == 1 ? v->text[0] - '0' : (v->text[0] - '0') * 10 + (v->text[1] - '0');
    return n >= 8 && n <= 15 ? n : -1;
}

static int name_is(const char *tok, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(tok, want, n) == 0;
}

/* Applies one parameter to a permessage-deflate offer; returns 0 or -1 when
 * it makes the offer unacceptable. */
static int offer_param(ws_deflate_offer_t *o, unsigned *seen, const char *name, size_t nlen,
                       const value_t *v)
{
    unsigned bit;
    if (name_is(name, nlen, "server_no_context_takeover"))
        bit = 1;
    else if (name_is(name, nlen, "client_no_context_takeover"))
        bit = 2;
    else if (name_is(name, nlen, "server_max_window_bits"))
        bit = 4;
    else if (name_is(name, nlen, "client_max_window_bits"))
        bit = 8;
    else
        return -1;
    if (*seen & bit)
        return -1; /* RFC 7692 §7.1: a parameter at most once per offer */
    *seen |= bit;
    int bits;
    switch (bit) {
    case 1:
        if (v)
            return -1;
        o->server_no_context_takeover = 1;
        return 0;
    case 2:
        if (v)
            return -1;
        o->client_no_context_takeover = 1;
        return 0;
    case 4:
        if (!v || (bits = window_bits(v)) < 0)
            return -1;
        o->server_max_window_bits = (uint8_t)bits;
        return 0;
    default:
        if (!v) {
            o->client_max_window_bits = 1;
            return 0;
        }
        if ((bits = window_bits(v)) < 0)
            return -1;
        o->client_max_window_bits = (uint8_t)bits;
        return 0;
    }
}

ws_ext_result_t ws_deflate_parse_offers(const char *value, size_t len, ws_deflate_offer_t *out)
{
    cursor_t cur = {value, len, 0};
    int found = 0;
    for (;;) {
        skip_ows(&cur);
        int c = peek(&cur);
        if (c < 0)
            break;
        if (c == ',') { /* empty list element */
            cur.pos++;
            continue;
        }
        const char *name;
        size_t nlen = read_token(&cur, &name);
        if (nlen == 0)
            return WS_EXT_MALFORMED;
        int is_pmd = name_is(name, nlen, "permessage-deflate");
        ws_deflate_offer_t offer = {0, 0, 0, 0};
        unsigned seen = 0;
        int acceptable = is_pmd;
        for (;;) {
            skip_ows(&cur);
            if (peek(&cur) != ';')
                break;
            cur.pos++;
            skip_ows(&cur);
            const char *pname;
            size_t plen = read_token(&cur, &pname);
            if (plen == 0)
                return WS_EXT_MALFORMED;
            skip_ows(&cur);
            value_t v;
            int has_value = 0;
            if (peek(&cur) == '=') {
                cur.pos++;
                skip_ows(&cur);
                if (read_value(&cur, &v) != 0)
                    return WS_EXT_MALFORMED;
                has_value = 1;
            }
            if (acceptable && offer_param(&offer, &seen, pname, plen, has_value ? &v : NULL) != 0)
                acceptable = 0;
        }
        c = peek(&cur);
        if (c >= 0 && c != ',')
            return WS_EXT_MALFORMED;
        if (c == ',')
            cur.pos++;
        if (acceptable && !found) {
            *out = offer;
            found = 1;
        }
    }
    return found ? WS_EXT_FOUND : WS_EXT_NONE;
}

size_t ws_deflate_accept(const ws_deflate_offer_t *offer, int allow_client_takeover,
                         ws_deflate_agreed_t *agreed, char *out, size_t outsz)
{
    int client_takeover = allow_client_takeover && !offer->client_no_context_takeover;
    char sbits[40] = "";
    if (offer->server_max_window_bits)
        snprintf(sbits, sizeof sbits, "; server_max_window_bits=%u",
                 (unsigned)offer->server_max_window_bits);
    int n = snprintf(out, outsz, "permessage-deflate; server_no_context_takeover%s%s",
                     client_takeover ? "" : "; client_no_context_takeover", sbits);
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz)
            out[0] = '\0';
        return 0;
    }
    agreed->enabled = 1;
    agreed->server_window_bits = offer->server_max_window_bits ? offer->server_max_window_bits : 15;
    agreed->client_takeover = (uint8_t)client_takeover;
    return (size_t)n;
}

/* ---- zlib glue ---- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return xcalloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    free(p);
}

struct ws_inflater {
    z_stream z;
};

static _Thread_local ws_inflater_t *inflate_pool[INFLATE_POOL_MAX];
static _Thread_local size_t inflate_pool_len;
static _Thread_local z_stream *deflaters[16]; /* by window bits */

ws_inflater_t *ws_inflater_get(void)
{
    if (inflate_pool_len > 0)
        return inflate_pool[--inflate_pool_len];
    ws_inflater_t *zi = xcalloc(1, sizeof *zi);
    zi->z.zalloc = z_alloc;
    zi->z.zfree = z_free;
    /* 15 bits inflates anything a peer may send, whatever window it chose. */
    if (inflateInit2(&zi->z, -15) != Z_OK) {
        fprintf(stderr, "parley: inflateInit2 failed\n");
        abort();
    }
    return zi;
}

void ws_inflater_reset(ws_inflater_t *zi)
{
    inflateReset(&zi->z);
}

void ws_inflater_put(ws_inflater_t *zi)
{
    if (!zi)
        return;
    if (inflate_pool_len < INFLATE_POOL_MAX) {
        inflateReset(&zi->z);
        inflate_pool[inflate_pool_len++] = zi;
        return;
    }
    inflateEnd(&zi->z);
    free(zi);
}

static ws_inflate_result_t inflate_some(z_stream *z, const uint8_t *in, size_t n, buf_t *out)
{
    uint8_t chunk[CHUNK];
    z->next_in = (Bytef *)in;
    z->avail_in = 0;
    for (;;) {
        if (z->avail_in == 0 && n > 0) {
            size_t take = n > UINT_MAX ? UINT_MAX : n;
            z->next_in = (Bytef *)in;
            z->avail_in = (uInt)take;
            in += take;
            n -= take;
        }
        /* Ask for at most one byte past the cap, so a bomb is caught at the
         * first byte over it rather than a chunk later. */
        size_t room = out->max - out->len;
        size_t want = room < sizeof chunk ? room + 1 : sizeof chunk;
        z->next_out = chunk;
        z->avail_out = (uInt)want;
        int rc = inflate(z, Z_SYNC_FLUSH);
        size_t got = want - z->avail_out;
        if (got > room) {
            /* Keep exactly what fits, so the caller can judge those bytes
             * (UTF-8) the same way however the input was split. */
            buf_append(out, chunk, room);
            return WS_INFLATE_TOO_BIG;
        }
        if (got > 0 && buf_append(out, chunk, got) != BUF_OK)
            return WS_INFLATE_TOO_BIG;
        if (rc == Z_STREAM_END) {
            /* A final block: the rest of the message starts a new stream. */
            inflateReset(z);
            if (z->avail_in == 0 && n == 0)
                return WS_INFLATE_OK;
            continue;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return WS_INFLATE_BAD_DATA;
        if (z->avail_out == 0)
            continue; /* output may be pending inside zlib */
        if (z->avail_in == 0) {
            if (n == 0)
                return WS_INFLATE_OK;
            continue;
        }
        return WS_INFLATE_BAD_DATA; /* stopped with room on both sides */
    }
}

ws_inflate_result_t ws_inflate(ws_inflater_t *zi, const void *in, size_t n, int end_of_message,
                               buf_t *out)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xFF, 0xFF};
    ws_inflate_result_t r = inflate_some(&zi->z, in, n, out);
    if (r == WS_INFLATE_OK && end_of_message)
        r = inflate_some(&zi->z, tail, sizeof tail, out);
    return r;
}

static z_stream *deflater_for(unsigned bits)
{
    if (deflaters[bits])
        return deflaters[bits];
    z_stream *z = xcalloc(1, sizeof *z);
    z->zalloc = z_alloc;
    z->zfree = z_free;
    if (deflateInit2(z, DEFLATE_LEVEL, Z_DEFLATED, -(int)bits, DEFLATE_MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        fprintf(stderr, "parley: deflateInit2 failed\n");
        abort();
    }
    deflaters[bits] = z;
    return z;
}

int ws_deflate_message(unsigned window_bits, const void *data, size_t len, buf_t *out)
{
    if (window_bits < 9 || window_bits > 15 || len > MAX_DEFLATE_INPUT)
        return -1;
    z_stream *z = deflater_for(window_bits);
    size_t start = out->len;
    uint8_t chunk[CHUNK];
    int ret = 0;
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)len;
    do {
        z->next_out = chunk;
        z->avail_out = sizeof chunk;
        if (deflate(z, Z_SYNC_FLUSH) == Z_STREAM_ERROR) {
            ret = -1;
            goto out;
        }
        size_t got = sizeof chunk - z->avail_out;
        if (got > 0 && buf_append(out, chunk, got) != BUF_OK) {
            ret = -1;
            goto out;
        }
    } while (z->avail_out == 0);
    /* A sync flush ends in an empty stored block, 00 00 FF FF: RFC 7692 §7.2.1
     * has the sender drop it. */
    if (out->len - start < 4 || memcmp(out->data + out->len - 4, "\x00\x00\xff\xff", 4) != 0) {
        ret = -1;
        goto out;
    }
    out->len -= 4;
out:
    deflateReset(z);
    return ret;
}

void ws_deflate_thread_cleanup(void)
{
    while (inflate_pool_len > 0) {
        ws_inflater_t *zi = inflate_pool[--inflate_pool_len];
        inflateEnd(&zi->z);
        free(zi);
    }
    for (size_t i = 0; i < sizeof deflaters / sizeof deflaters[0]; i++) {
        if (deflaters[i]) {
            deflateEnd(deflaters[i]);
            free(deflaters[i]);
            deflaters[i] = NULL;
        }
    }
}
