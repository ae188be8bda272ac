/* packet.h — Engine.IO v4 packet and polling-payload codec.
 *
 * Pure functions over bytes: no sessions, no timers, no I/O. Decoding copies
 * nothing — a decoded packet points into the caller's input, which must stay
 * alive while the packet is used. Encoding appends to a capped buf_t.
 *
 * Wire format (docs/internals/socketio-wire.md §1):
 *   text packet      <type digit 0-6><data>           "4hello", "2", "2probe"
 *   binary packet    raw bytes (WebSocket binary frame; always a message)
 *   polling payload  packets joined by 0x1E; a binary message inside a
 *                    payload is "b" + base64               "4hi\x1ebAQID"
 *
 * Not here: which packets are legal in which session state (a client "2"
 * outside an upgrade probe, "5" outside an upgrade...) — that is the
 * session's business; this layer only says what the bytes mean.
 */
#ifndef PARLEY_EIO_PACKET_H
#define PARLEY_EIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"

typedef enum {
    EIO_OPEN = 0,
    EIO_CLOSE = 1,
    EIO_PING = 2,
    EIO_PONG = 3,
    EIO_MESSAGE = 4,
    EIO_UPGRADE = 5,
    EIO_NOOP = 6,
} eio_type_t;

#define EIO_SEPARATOR '\x1e'

/* How a packet's data is represented. */
typedef enum {
    EIO_DATA_TEXT = 0, /* UTF-8 text, as received (not validated here) */
    EIO_DATA_BINARY,   /* raw bytes (binary WebSocket frame) */
    EIO_DATA_BASE64,   /* base64 text from a "b" packet; syntax already checked;
                          eio_packet_binary() turns it into bytes */
} eio_data_kind_t;

typedef struct {
    eio_type_t type;
    eio_data_kind_t kind; /* BINARY and BASE64 only occur with EIO_MESSAGE */
    const char *data;     /* into the input; never NUL-terminated */
    size_t len;           /* for BASE64: length of the base64 text */
    size_t binary_len;    /* for BINARY/BASE64: decoded byte count */
} eio_packet_t;

typedef enum {
    EIO_OK = 0,
    EIO_END = 1,              /* eio_payload_next: no more packets */
    EIO_ERR_EMPTY = -1,       /* zero-length text packet (also: empty payload,
                                 or two separators in a row / a trailing one) */
    EIO_ERR_BAD_TYPE = -2,    /* first character is not '0'..'6' nor 'b' */
    EIO_ERR_BAD_BASE64 = -3,  /* "b" packet whose base64 does not decode */
    EIO_ERR_TOO_BIG = -4,     /* output buffer cap reached, or a caller buffer
                                 too small for decoded bytes */
    EIO_ERR_SEPARATOR = -5,   /* encoder: text data contains 0x1E, which would
                                 split the packet inside a polling payload */
} eio_err_t;

/* Static description of an error code ("unknown error" for others). */
const char *eio_strerror(eio_err_t err);

/* Name of a packet type ("open", "close", ...), or "?" when out of range. */
const char *eio_type_name(eio_type_t type);

/* Decodes one text packet: a WebSocket text frame or one element of a
 * polling payload. "b<base64>" gives an EIO_MESSAGE with kind BASE64 (Node
 * accepts that form on WebSocket too). Errors: EMPTY, BAD_TYPE, BAD_BASE64.
 * On error *out is unspecified. */
eio_err_t eio_packet_decode_text(const char *s, size_t len, eio_packet_t *out);

/* Decodes one binary WebSocket frame: always an EIO_MESSAGE of kind BINARY
 * (a zero-length frame is an empty binary message). Never fails. */
eio_err_t eio_packet_decode_binary(const void *data, size_t len, eio_packet_t *out);

/* The bytes of a binary message. For kind BINARY, *bytes points at the
 * packet's data and no copy is made (out may be NULL). For kind BASE64 the
 * bytes are decoded into out (outsz >= p->binary_len needed, else
 * EIO_ERR_TOO_BIG) and *bytes points at out. For kind TEXT: EIO_ERR_BAD_TYPE. */
eio_err_t eio_packet_binary(const eio_packet_t *p, void *out, size_t outsz,
                            const unsigned char **bytes);

/* Iterator over a polling POST body. Zero-copy: packets point into body. */
typedef struct {
    const char *body;
    size_t len;
    size_t pos;
    bool done;
} eio_payload_iter_t;

void eio_payload_iter_init(eio_payload_iter_t *it, const char *body, size_t len);

/* Next packet: EIO_OK with *out filled, EIO_END after the last packet, or an
 * error (the payload is then invalid as a whole: Node closes the session).
 * An empty body is one empty packet, hence EIO_ERR_EMPTY, as in Node. After
 * an error or EIO_END, further calls return EIO_END. */
eio_err_t eio_payload_next(eio_payload_iter_t *it, eio_packet_t *out);

/* --- Encoding. Every function appends to out and, on error, leaves out as
 * it was. Errors: EIO_ERR_TOO_BIG (out's cap), EIO_ERR_SEPARATOR. */

/* One text packet "<type><data>" (a WebSocket text frame). data may be NULL
 * when len is 0. Text data containing 0x1E is refused (EIO_ERR_SEPARATOR) so
 * that the same bytes are always safe in a polling payload. */
eio_err_t eio_encode_text(buf_t *out, eio_type_t type, const char *data, size_t len);

/* Appends a text packet to a polling payload, preceded by 0x1E when out is
 * not empty (out must hold only this payload). */
eio_err_t eio_payload_append_text(buf_t *out, eio_type_t type, const char *data, size_t len);

/* Appends a binary message to a polling payload as "b" + base64, preceded by
 * 0x1E when out is not empty. */
eio_err_t eio_payload_append_binary(buf_t *out, const void *data, size_t len);

/* Appends the open packet:
 *   0{"sid":"<sid>","upgrades":[...],"pingInterval":N,"pingTimeout":N,"maxPayload":N}
 * with upgrades ["websocket"] when offer_websocket, else []. sid is escaped
 * as a JSON string. */
eio_err_t eio_encode_open(buf_t *out, const char *sid, bool offer_websocket,
                          unsigned ping_interval_ms, unsigned ping_timeout_ms,
                          size_t max_payload);

#endif
