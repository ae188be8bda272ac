/* fuzz_eio.c — Engine.IO packet and payload decoding must never crash, and
 * whatever decodes must re-encode to a payload that decodes to the same
 * packets (same types, same text, same binary bytes). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio/packet.h"

/* One decoded packet, with binary data materialised. */
typedef struct {
    eio_type_t type;
    bool binary;
    unsigned char *bytes; /* owned copy of text or binary data */
    size_t len;
} item_t;

static size_t collect(const char *body, size_t len, item_t *items, size_t max, eio_err_t *end)
{
    eio_payload_iter_t it;
    eio_packet_t p;
    size_t n = 0;
    eio_payload_iter_init(&it, body, len);
    while ((*end = eio_payload_next(&it, &p)) == EIO_OK && n < max) {
        item_t *x = &items[n++];
        x->type = p.type;
        x->binary = p.kind != EIO_DATA_TEXT;
        if (x->binary) {
            x->len = p.binary_len;
            x->bytes = malloc(x->len + 1);
            const unsigned char *b;
            if (eio_packet_binary(&p, x->bytes, x->len, &b) != EIO_OK)
                abort();
            if (b != x->bytes)
                memcpy(x->bytes, b, x->len);
        } else {
            x->len = p.len;
            x->bytes = malloc(x->len + 1);
            memcpy(x->bytes, p.data, p.len);
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    eio_packet_t p;

    /* Single packets, as WebSocket frames. */
    if (eio_packet_decode_text(s, size, &p) == EIO_OK && p.kind == EIO_DATA_BASE64) {
        unsigned char *out = malloc(p.binary_len + 1);
        const unsigned char *b;
        if (eio_packet_binary(&p, out, p.binary_len, &b) != EIO_OK)
            abort();
        free(out);
    }
    eio_packet_decode_binary(data, size, &p);

    /* As a polling payload: decode, re-encode, decode again, compare. */
    enum { MAX = 256 };
    item_t *a = calloc(MAX, sizeof *a), *b = calloc(MAX, sizeof *b);
    eio_err_t end_a, end_b;
    size_t na = collect(s, size, a, MAX, &end_a);
    if (end_a == EIO_END) {
        buf_t out;
        buf_init(&out, size * 2 + 64);
        for (size_t i = 0; i < na; i++) {
            eio_err_t e = a[i].binary
                              ? eio_payload_append_binary(&out, a[i].bytes, a[i].len)
                              : eio_payload_append_text(&out, a[i].type, (char *)a[i].bytes,
                                                        a[i].len);
            if (e != EIO_OK)
                abort();
        }
        size_t nb = collect(out.data ? out.data : "", out.len, b, MAX, &end_b);
        if (end_b != EIO_END || nb != na)
            abort();
        for (size_t i = 0; i < na; i++)
            if (a[i].type != b[i].type || a[i].binary != b[i].binary || a[i].len != b[i].len ||
                memcmp(a[i].bytes, b[i].bytes, a[i].len) != 0)
                abort();
        for (size_t i = 0; i < nb; i++)
            free(b[i].bytes);
        buf_free(&out);
    }
    for (size_t i = 0; i < na; i++)
        free(a[i].bytes);
    free(a);
    free(b);
    return 0;
}
