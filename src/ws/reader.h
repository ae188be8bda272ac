/* reader.h — turns the bytes of a WebSocket stream into messages and
 * control frames (RFC 6455 §5, §6.2, RFC 7692 §6.2), without any I/O.
 *
 * What it is: the receive half of a connection as a pure state machine. It
 * parses headers (frame.h), enforces every rule that depends on connection
 * state (mask required, RSV bits, opcode sequencing of fragments, limits),
 * unmasks payload bytes as they arrive into the message buffer, validates
 * text incrementally (failing at the first bad byte, even in a partial
 * frame), inflates compressed messages with their size capped, and calls
 * back with each whole message and each control frame. The caller owns the
 * state (embed a ws_reader_t) and feeds it bytes. Every byte offered is
 * consumed (a header split across reads is kept in the reader, at most 13
 * bytes), so the caller's input buffer never holds WebSocket data; the only
 * exception is a callback asking to stop.
 *
 * Memory: an idle reader owns nothing but the struct (~130 bytes). A message
 * that arrives whole in one feed, uncompressed and up to 8 KiB, is unmasked
 * on the stack and delivered without touching the heap, and so is a control
 * frame that arrives whole; other messages gather in a buffer capped at
 * max_message that is freed when the message is delivered, and a control
 * frame split across feeds in a 125-byte buffer freed after it. Fragments
 * cost nothing each: only their count is kept (capped).
 *
 * What it is not: it never writes (no pong, no close reply; conn.c decides).
 */
#ifndef PARLEY_WS_READER_H
#define PARLEY_WS_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "ws/deflate.h"
#include "ws/frame.h"

#define WS_DEFAULT_MAX_MESSAGE (1024u * 1024u)
#define WS_DEFAULT_MAX_FRAGMENTS 1024u

typedef struct {
    /* A complete message: text is valid UTF-8; data is valid only during the
     * call (never NULL, even when len is 0). Return nonzero to stop: the
     * feed returns at once, the rest of its bytes unconsumed. */
    int (*on_message)(void *ud, int binary, const char *data, size_t len);
    /* A ping, pong or close frame, unmasked. A close payload has been
     * checked (ws_close_payload_parse) before this is called. Return nonzero
     * to stop as above. */
    int (*on_control)(void *ud, unsigned opcode, const uint8_t *payload, size_t len);
} ws_reader_cb_t;

typedef struct {
    size_t max_message;      /* bytes after inflation; 0 = WS_DEFAULT_MAX_MESSAGE */
    size_t max_fragments;    /* frames per message, at most 2^32-1; 0 = WS_DEFAULT_MAX_FRAGMENTS */
    uint8_t require_mask;    /* 1 for a server: unmasked frames are a 1002 */
    uint8_t deflate;         /* permessage-deflate negotiated: RSV1 allowed on a first frame */
    uint8_t client_takeover; /* keep the inflate context from message to message */
} ws_reader_limits_t;

typedef struct {
    const ws_reader_cb_t *cb;
    void *ud;
    /* frame in progress */
    ws_frame_header_t fh;
    uint64_t remaining;
    /* message in progress; msg.max is the max_message limit */
    buf_t msg;
    ws_inflater_t *inflater;
    uint64_t wire_bytes;
    uint32_t fragments;
    uint32_t max_fragments;
    /* a control frame whose payload spans feeds (WS_MAX_CONTROL_PAYLOAD
     * bytes, allocated for it); NULL otherwise */
    uint8_t *ctl;
    uint8_t ctl_len;
    uint8_t hdr[WS_MAX_HEADER]; /* a header split across feeds */
    uint8_t hdr_len;
    uint8_t in_frame;
    uint8_t mask_off;
    uint8_t msg_op; /* 0 (none), WS_OP_TEXT or WS_OP_BINARY */
    uint8_t msg_compressed;
    utf8_dfa_t utf8;
    uint8_t require_mask; /* limits, as ws_reader_limits_t says */
    uint8_t deflate;
    uint8_t client_takeover;
} ws_reader_t;

/* cb must outlive the reader. */
void ws_reader_init(ws_reader_t *r, const ws_reader_limits_t *lim, const ws_reader_cb_t *cb,
                    void *ud);
/* Frees the message buffer and inflate stream; the reader may be re-initialised. */
void ws_reader_free(ws_reader_t *r);

/* Feeds p[0..len). Returns the number of bytes consumed (len, unless a
 * callback asked to stop), or a negative close code after which the reader
 * must not be fed again:
 *   -WS_CLOSE_PROTOCOL (1002): a header error (frame.h), an unmasked frame
 *     when a mask is required, RSV2/RSV3, RSV1 without deflate or on a
 *     control or continuation frame, a continuation with no message started,
 *     a new text/binary frame inside a fragmented message, a close payload
 *     of 1 byte or with an invalid code;
 *   -WS_CLOSE_INVALID_DATA (1007): text that is not UTF-8 (at the first bad
 *     byte), a close reason that is not UTF-8, compressed data zlib refuses;
 *   -WS_CLOSE_TOO_BIG (1009): a message over max_message (judged on each
 *     frame's declared length before its payload is read, and for compressed
 *     messages on the inflated size as it grows, and on the compressed size
 *     against max_message + 1/16 + 1 KiB), or more than max_fragments frames.
 * Callbacks run from inside this call. */
ptrdiff_t ws_reader_feed(ws_reader_t *r, const uint8_t *p, size_t len);

/* True when a fragmented message has started and not finished. */
int ws_reader_in_message(const ws_reader_t *r);

#endif
