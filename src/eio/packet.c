/* packet.c — Engine.IO v4 packet and polling-payload codec. */
#include "eio/packet.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/json_escape.h"

const char *eio_strerror(eio_err_t err)
{
    switch (err) {
    case EIO_OK: return "ok";
    case EIO_END: return "end of payload";
    case EIO_ERR_EMPTY: return "empty packet";
    case EIO_ERR_BAD_TYPE: return "packet type must be a digit 0-6 or 'b' (base64 binary)";
    case EIO_ERR_BAD_BASE64: return "binary packet is not valid base64";
    case EIO_ERR_TOO_BIG: return "packet exceeds the buffer limit";
    case EIO_ERR_SEPARATOR: return "text data contains the record separator 0x1E";
    }
    return "unknown error";
}

const char *eio_type_name(eio_type_t type)
{
    static const char *const names[] = {"open",    "close",   "ping", "pong",
                                        "message", "upgrade", "noop"};
    if ((unsigned)type < sizeof names / sizeof names[0])
        return names[type];
    return "?";
}

eio_err_t eio_packet_decode_text(const char *s, size_t len, eio_packet_t *out)
{
    if (len == 0)
        return EIO_ERR_EMPTY;
    if (s[0] == 'b') {
        size_t n;
        if (base64_check(s + 1, len - 1, &n) != 0)
            return EIO_ERR_BAD_BASE64;
        *out = (eio_packet_t){.type = EIO_MESSAGE, .kind = EIO_DATA_BASE64,
                              .data = s + 1, .len = len - 1, .binary_len = n};
        return EIO_OK;
    }
    if (s[0] < '0' || s[0] > '6')
        return EIO_ERR_BAD_TYPE;
    *out = (eio_packet_t){.type = (eio_type_t)(s[0] - '0'), .kind = EIO_DATA_TEXT,
                          .data = s + 1, .len = len - 1};
    return EIO_OK;
}

eio_err_t eio_packet_decode_binary(const void *data, size_t len, eio_packet_t *out)
{
    *out = (eio_packet_t){.type = EIO_MESSAGE, .kind = EIO_DATA_BINARY,
                          .data = data, .len = len, .binary_len = len};
    return EIO_OK;
}

eio_err_t eio_packet_binary(const eio_packet_t *p, void *out, size_t outsz,
                            const unsigned char **bytes)
{
    switch (p->kind) {
    case EIO_DATA_BINARY:
        *bytes = (const unsigned char *)p->data;
        return EIO_OK;
    case EIO_DATA_BASE64: {
        if (outsz < p->binary_len)
            return EIO_ERR_TOO_BIG;
        ssize_t n = base64_decode(p->data, p->len, out, outsz);
        if (n < 0)
            return EIO_ERR_BAD_BASE64; /* not reached: checked at decode */
        *bytes = out;
        return EIO_OK;
    }
    case EIO_DATA_TEXT:
        break;
    }
    return EIO_ERR_BAD_TYPE;
}

void eio_payload_iter_init(eio_payload_iter_t *it, const char *body, size_t len)
{
    *it = (eio_payload_iter_t){.body = body, .len = len};
}

eio_err_t eio_payload_next(eio_payload_iter_t *it, eio_packet_t *out)
{
    if (it->done)
        return EIO_END;
    const char *start = it->body + it->pos;
    size_t left = it->len - it->pos;
    const char *sep = left ? memchr(start, EIO_SEPARATOR, left) : NULL;
    size_t n = sep ? (size_t)(sep - start) : left;
    if (sep)
        it->pos += n + 1;
    else
        it->done = true; /* this was the last packet */
    eio_err_t err = eio_packet_decode_text(start, n, out);
    if (err != EIO_OK)
        it->done = true;
    return err;
}

/* --- Encoding --- */

/* Undoes a partial append, keeping buf's NUL terminator invariant. */
static void restore(buf_t *b, size_t mark)
{
    b->len = mark;
    if (b->data)
        b->data[mark] = '\0';
}

eio_err_t eio_encode_text(buf_t *out, eio_type_t type, const char *data, size_t len)
{
    if (len && memchr(data, EIO_SEPARATOR, len))
        return EIO_ERR_SEPARATOR;
    size_t mark = out->len;
    if (buf_append_byte(out, (unsigned char)('0' + type)) != BUF_OK ||
        buf_append(out, data, len) != BUF_OK) {
        restore(out, mark);
        return EIO_ERR_TOO_BIG;
    }
    return EIO_OK;
}

eio_err_t eio_payload_append_text(buf_t *out, eio_type_t type, const char *data, size_t len)
{
    if (len && memchr(data, EIO_SEPARATOR, len))
        return EIO_ERR_SEPARATOR;
    size_t mark = out->len;
    if (mark > 0 && buf_append_byte(out, EIO_SEPARATOR) != BUF_OK)
        return EIO_ERR_TOO_BIG;
    eio_err_t err = eio_encode_text(out, type, data, len);
    if (err != EIO_OK)
        restore(out, mark);
    return err;
}

eio_err_t eio_payload_append_binary(buf_t *out, const void *data, size_t len)
{
    size_t mark = out->len;
    size_t enc = base64_encoded_len(len);
    size_t extra = (mark > 0) + 1 + enc;
    /* Refuse before allocating: the scratch copy is as large as the packet. */
    if (enc < len || extra > out->max || mark > out->max - extra)
        return EIO_ERR_TOO_BIG;
    char *scratch = xmalloc(enc + 1);
    base64_encode(data, len, scratch);
    buf_err_t e = BUF_OK;
    if (mark > 0)
        e = buf_append_byte(out, EIO_SEPARATOR);
    if (e == BUF_OK)
        e = buf_append_byte(out, 'b');
    if (e == BUF_OK)
        e = buf_append(out, scratch, enc);
    free(scratch);
    if (e != BUF_OK) {
        restore(out, mark);
        return EIO_ERR_TOO_BIG;
    }
    return EIO_OK;
}

eio_err_t eio_encode_open(buf_t *out, const char *sid, bool offer_websocket,
                          unsigned ping_interval_ms, unsigned ping_timeout_ms,
                          size_t max_payload)
{
    size_t sid_len = strlen(sid);
    char *esc = xmalloc(sid_len * 6 + 1);
    json_escape(sid, sid_len, esc, sid_len * 6 + 1);
    size_t mark = out->len;
    buf_err_t e = buf_printf(out,
                             "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%u,"
                             "\"pingTimeout\":%u,\"maxPayload\":%zu}",
                             esc, offer_websocket ? "\"websocket\"" : "", ping_interval_ms,
                             ping_timeout_ms, max_payload);
    free(esc);
    if (e != BUF_OK) {
        restore(out, mark);
        return EIO_ERR_TOO_BIG;
    }
    return EIO_OK;
}
