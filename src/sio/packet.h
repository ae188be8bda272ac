/* packet.h — Socket.IO v5 packet codec (the default socket.io-parser format).
 *
 *   <type>[<attachments>-][<nsp>,][<ack id>][<JSON payload>]
 *
 * e.g. "2[\"hi\"]", "2/chat,7[\"hi\"]", "3/chat,7[]", "40{...}" is CONNECT
 * inside an Engine.IO message. Details and the rules chosen here are in
 * docs/internals/socketio-wire.md §2.
 *
 * Pure functions: no sockets, namespaces or acks bookkeeping. A decoded
 * packet's namespace points into the input (which must outlive its use); the
 * JSON payload is a jansson tree owned by the packet.
 *
 * Binary values: jansson has no binary type, so inside Parley a binary
 * value is what it is on the wire — a placeholder object
 * {"_placeholder":true,"num":N} — and the bytes are the packet's N-th
 * attachment (a refbuf). A decoded BINARY_EVENT/BINARY_ACK announces its
 * attachment count; once that many binary Engine.IO messages have arrived,
 * sio_packet_attach() validates and binds them; sio_packet_binary() then
 * maps a placeholder value to its bytes. Encoding does the reverse: the
 * payload holds placeholders, the attachments ride along, and the encoder
 * writes the "N-" header; the caller sends each attachment as its own binary
 * Engine.IO message right after the text packet.
 */
#ifndef PARLEY_SIO_PACKET_H
#define PARLEY_SIO_PACKET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/refbuf.h"

typedef enum {
    SIO_CONNECT = 0,
    SIO_DISCONNECT = 1,
    SIO_EVENT = 2,
    SIO_ACK = 3,
    SIO_CONNECT_ERROR = 4,
    SIO_BINARY_EVENT = 5,
    SIO_BINARY_ACK = 6,
} sio_type_t;

/* Node's parser refuses more attachments than this (maxAttachments). */
#define SIO_MAX_ATTACHMENTS 10
/* Largest ack id: JavaScript peers cannot represent larger integers exactly. */
#define SIO_ACK_ID_MAX UINT64_C(9007199254740991)
/* Longest namespace name accepted, in bytes, "/" included. */
#define SIO_NSP_MAX 255

typedef enum {
    SIO_OK = 0,
    SIO_ERR_EMPTY = -1,               /* zero-length packet */
    SIO_ERR_BAD_TYPE = -2,            /* first char not '0'..'6' */
    SIO_ERR_BAD_ATTACHMENTS = -3,     /* binary type without "N-", N = 0, or
                                         encoder: BINARY_* with no attachments */
    SIO_ERR_TOO_MANY_ATTACHMENTS = -4,/* N > SIO_MAX_ATTACHMENTS */
    SIO_ERR_BAD_NSP = -5,             /* control byte in namespace, or longer
                                         than SIO_NSP_MAX; encoder: not "/..." */
    SIO_ERR_NSP_NO_COMMA = -6,        /* namespace runs into the payload */
    SIO_ERR_ID_OVERFLOW = -7,         /* ack id > SIO_ACK_ID_MAX */
    SIO_ERR_UNEXPECTED_ID = -8,       /* ack id on CONNECT/DISCONNECT/CONNECT_ERROR */
    SIO_ERR_MISSING_ID = -9,          /* ACK/BINARY_ACK without an ack id */
    SIO_ERR_BAD_JSON = -10,           /* payload is not one JSON value */
    SIO_ERR_MISSING_PAYLOAD = -11,    /* EVENT/ACK/CONNECT_ERROR without payload */
    SIO_ERR_UNEXPECTED_PAYLOAD = -12, /* DISCONNECT with a payload */
    SIO_ERR_NOT_OBJECT = -13,         /* CONNECT/CONNECT_ERROR payload not an object */
    SIO_ERR_NOT_ARRAY = -14,          /* EVENT/ACK payload not an array */
    SIO_ERR_EMPTY_EVENT = -15,        /* EVENT payload is [] */
    SIO_ERR_EVENT_NAME = -16,         /* event name (element 0) not a string */
    SIO_ERR_RESERVED_EVENT = -17,     /* event name reserved by Socket.IO */
    SIO_ERR_BAD_PLACEHOLDER = -18,    /* placeholder "num" not an integer in
                                         [0, attachments) */
    SIO_ERR_UNUSED_ATTACHMENT = -19,  /* an attachment no placeholder refers to */
    SIO_ERR_ATTACHMENT_COUNT = -20,   /* attach: count differs from announced */
    SIO_ERR_TOO_BIG = -21,            /* encoder: output buffer cap reached */
} sio_err_t;

/* Static description of an error code ("unknown error" for others). */
const char *sio_strerror(sio_err_t err);

/* Name of a packet type ("CONNECT", ...), or "?" when out of range. */
const char *sio_type_name(sio_type_t type);

typedef struct {
    sio_type_t type;      /* as on the wire: BINARY_* stay BINARY_* */
    const char *nsp;      /* namespace, "/" when absent; not NUL-terminated */
    size_t nsp_len;
    bool has_id;
    uint64_t id;          /* ack id, valid when has_id */
    unsigned attachments; /* announced count for BINARY_*, else 0 */
    json_t *data;         /* payload, owned; NULL when absent */
    refbuf_t **bins;      /* attachments, one reference each, owned;
                             nbins entries (0 until sio_packet_attach) */
    unsigned nbins;
} sio_packet_t;

/* Where and why decoding failed, for logs and close reasons. */
typedef struct {
    size_t offset;  /* byte offset in the input where the problem is */
    char text[224]; /* human-readable detail (with jansson's message for JSON) */
} sio_decode_error_t;

/* Decodes the text of one Socket.IO packet (an Engine.IO message's data,
 * without the leading '4'). On SIO_OK, *out is filled and owns data; release
 * it with sio_packet_free(). On error, *out owns nothing (no need to free),
 * and *detail (if not NULL) says where and why. For BINARY_* packets the
 * placeholders are checked against the announced count here already, so
 * a bad packet is refused before its attachments are buffered. */
sio_err_t sio_packet_decode(const char *s, size_t len, sio_packet_t *out,
                            sio_decode_error_t *detail);

/* Binds n attachments to a decoded binary packet, in arrival order. Checks
 * n == p->attachments, every placeholder num in range and every attachment
 * used. On success takes one reference on each bins[i] (the caller keeps its
 * own). On error takes nothing and leaves p unchanged. Errors:
 * ATTACHMENT_COUNT, BAD_PLACEHOLDER, UNUSED_ATTACHMENT. */
sio_err_t sio_packet_attach(sio_packet_t *p, refbuf_t *const *bins, size_t n);

/* The attachment a payload value stands for: non-NULL when v is a
 * placeholder whose num is a bound attachment of p (borrowed reference). */
refbuf_t *sio_packet_binary(const sio_packet_t *p, const json_t *v);

/* A new placeholder object {"_placeholder":true,"num":num}. */
json_t *sio_placeholder_new(unsigned num);

/* Releases data and attachments; *p becomes an empty packet. NULL-safe. */
void sio_packet_free(sio_packet_t *p);

/* Appends the text form of p to out. The namespace is written only when it
 * is not "/" (nsp NULL or nsp_len 0 means "/"). The id is written when
 * has_id. With attachments (nbins > 0, or attachments > 0 when nothing is
 * bound, as for a packet just decoded), an EVENT/ACK is written as
 * BINARY_EVENT/BINARY_ACK with the "N-" header, and when bins are bound the
 * placeholders are checked against them. The payload (if any) is written as
 * compact JSON with keys in their order, like JSON.stringify. p is not
 * changed. On error out is left as it was. Errors: BAD_TYPE, BAD_NSP,
 * BAD_ATTACHMENTS, TOO_MANY_ATTACHMENTS, ID_OVERFLOW, UNEXPECTED_ID, MISSING_ID,
 * the payload-shape errors, BAD_PLACEHOLDER, UNUSED_ATTACHMENT, TOO_BIG. */
sio_err_t sio_packet_encode(buf_t *out, const sio_packet_t *p);

/* The payload reader's fast path, for the common JSON shapes: objects,
 * arrays, strings (escapes included), integers of up to 18 digits, true,
 * false, null; one value, blanks around it. Returns what
 * json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL) returns for the same input
 * (the same tree, keys in the same order), or NULL when it declines: then
 * json_loadb decides, errors included. A new reference. (Exposed for the
 * tests that hold it to jansson.) */
json_t *sio_packet_json_fast(const char *s, size_t len);

/* Appends the text form of an EVENT or ACK whose arguments are JSON text
 * already: [event, ...the elements of args_json, "extra"] for an EVENT
 * (event required), [...elements, "extra"] for an ACK (event NULL, has_id
 * required). args_json is one JSON array ("[]" for none) that the caller
 * made and vouches for: it is copied as it is, never parsed, so it must be
 * valid compact JSON without binary placeholders. extra, if not NULL, is a
 * last string argument (the recovery offset); the event name and extra are
 * escaped here. The namespace and id are written as sio_packet_encode
 * writes them. On error out is left as it was. Errors: BAD_TYPE (not
 * EVENT/ACK), BAD_NSP, ID_OVERFLOW, MISSING_ID, EVENT_NAME (an EVENT
 * without event, an ACK with one), NOT_ARRAY (args_json does not start
 * with '[' and end with ']'), TOO_BIG. */
sio_err_t sio_packet_encode_json(buf_t *out, sio_type_t type, const char *nsp, size_t nsp_len,
                                 bool has_id, uint64_t id, const char *event,
                                 const char *args_json, size_t args_len, const char *extra);

/* The attachments to send, in order, each as one binary Engine.IO message
 * right after the encoded text packet. Returns the count; *bins borrowed. */
size_t sio_packet_attachments(const sio_packet_t *p, refbuf_t *const **bins);

#endif
