/* fuzz_sio.c — Socket.IO packet decoding must never crash; when it succeeds,
 * encoding must succeed and be a fixed point: decode(encode(decode(x)))
 * equals decode(x), and encoding it again gives the same bytes. Binary
 * packets are also given fake attachments, which must bind and change
 * nothing in the encoding. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio/packet.h"

static bool same_packet(const sio_packet_t *a, const sio_packet_t *b)
{
    if (a->type != b->type || a->has_id != b->has_id || a->id != b->id ||
        a->attachments != b->attachments)
        return false;
    if (a->nsp_len != b->nsp_len || memcmp(a->nsp, b->nsp, a->nsp_len) != 0)
        return false;
    if (!a->data || !b->data)
        return a->data == b->data;
    return json_equal(a->data, b->data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sio_packet_t p1, p2;
    sio_decode_error_t d;
    if (sio_packet_decode((const char *)data, size, &p1, &d) != SIO_OK)
        return 0;

    buf_t e1, e2;
    buf_init(&e1, size * 16 + 1024); /* reals may print longer than typed */
    buf_init(&e2, size * 16 + 1024);
    if (sio_packet_encode(&e1, &p1) != SIO_OK)
        abort();
    if (sio_packet_decode(e1.data, e1.len, &p2, &d) != SIO_OK)
        abort();
    if (!same_packet(&p1, &p2))
        abort();
    if (sio_packet_encode(&e2, &p2) != SIO_OK || e2.len != e1.len ||
        memcmp(e1.data, e2.data, e1.len) != 0)
        abort();

    if (p1.attachments) {
        refbuf_t *bins[SIO_MAX_ATTACHMENTS];
        for (unsigned i = 0; i < p1.attachments; i++)
            bins[i] = refbuf_copy(&i, sizeof i);
        if (sio_packet_attach(&p1, bins, p1.attachments) != SIO_OK)
            abort();
        buf_reset(&e2);
        if (sio_packet_encode(&e2, &p1) != SIO_OK || e2.len != e1.len ||
            memcmp(e1.data, e2.data, e1.len) != 0)
            abort();
        for (unsigned i = 0; i < p1.attachments; i++)
            refbuf_unref(bins[i]);
    }

    sio_packet_free(&p2);
    sio_packet_free(&p1);
    buf_free(&e1);
    buf_free(&e2);
    return 0;
}
