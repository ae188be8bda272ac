/* frame.h — RFC 6455 §5 frame codec: header parsing, header encoding,
 * unmasking, close payloads.
 *
 * What it is: pure functions over bytes, no allocation, no connection state.
 * The header parser checks everything a header can be wrong about on its own
 * (reserved opcodes, fragmented or oversized control frames, non-minimal
 * length encodings, 64-bit lengths with the top bit set) and says which close
 * code the error calls for. What depends on the connection (is a mask
 * required, may RSV1 be set, is a continuation expected) is the message
 * reader's business (reader.h).
 *
 * What it is not: no payload handling beyond unmasking; no client-side
 * masking (a server never masks).
 */
#ifndef PARLEY_WS_FRAME_H
#define PARLEY_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Close codes (RFC 6455 §7.4.1) this layer sends or reports. */
typedef enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never on the wire: a close frame without a code */
    WS_CLOSE_ABNORMAL = 1006,  /* never on the wire: no close frame at all */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
} ws_close_code_t;

typedef enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
} ws_opcode_t;

/* Bits of the first header byte. */
#define WS_FIN 0x80u
#define WS_RSV1 0x40u
#define WS_RSV2 0x20u
#define WS_RSV3 0x10u

#define WS_MAX_HEADER 14        /* 2 + 8 length + 4 mask */
#define WS_MAX_SERVER_HEADER 10 /* unmasked */
#define WS_MAX_CONTROL_PAYLOAD 125

#define WS_IS_CONTROL(op) (((op)&0x8u) != 0)

typedef struct {
    uint8_t fin;    /* 1 when FIN is set */
    uint8_t rsv;    /* the RSV bits as in the first byte (WS_RSV1|WS_RSV2|WS_RSV3) */
    uint8_t opcode; /* one of ws_opcode_t (others are refused) */
    uint8_t masked; /* 1 when the MASK bit is set */
    uint8_t mask[4];
    uint64_t len; /* payload length, < 2^63 */
} ws_frame_header_t;

/* Parses a frame header from p[0..len).
 *
 * Returns the header length (2..14) when it is complete and valid, filling
 * *out; 0 when more bytes are needed (nothing is kept: call again later with
 * the same bytes and more); or a negative close code (-WS_CLOSE_PROTOCOL) for
 * a header that can never be valid, reported as soon as the offending byte is
 * seen: a reserved opcode (3-7, B-F); a control frame without FIN or with a
 * payload over 125 bytes; a 16-bit length under 126 or a 64-bit length under
 * 65536 (non-minimal); a 64-bit length with the most significant bit set.
 * RSV bits and the mask bit are reported, not judged. */
int ws_frame_header_parse(const uint8_t *p, size_t len, ws_frame_header_t *out);

/* Writes an unmasked server frame header for a payload of len bytes into out
 * (room for WS_MAX_SERVER_HEADER bytes). flags: WS_FIN and/or WS_RSV1.
 * Returns the header length (2, 4 or 10), always the minimal encoding. */
size_t ws_frame_header_encode(uint8_t *out, unsigned opcode, unsigned flags, uint64_t len);

/* XORs src[0..n) with the mask into dst (dst == src is allowed; otherwise
 * they must not overlap). off is the position within the payload modulo 4
 * where src starts, so a payload unmasked in pieces gives the same bytes as
 * in one go. Returns the offset for the next piece, (off + n) % 4. */
unsigned ws_unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4], unsigned off);

/* True when code may appear in a close frame on the wire: 1000-1003,
 * 1007-1014, 3000-4999. Refused: 0-999, 1004 (reserved), 1005, 1006, 1015
 * (never on the wire), 1016-2999 (unassigned), 5000 and above. */
int ws_close_code_valid(unsigned code);

/* Checks a received close frame's (unmasked) payload. On success returns 0
 * and sets *code (WS_CLOSE_NO_STATUS for an empty payload) and the reason
 * (pointing into p; may be empty). Errors: -WS_CLOSE_PROTOCOL for a 1-byte
 * payload or an invalid code, -WS_CLOSE_INVALID_DATA for a reason that is not
 * valid UTF-8. */
int ws_close_payload_parse(const uint8_t *p, size_t len, uint16_t *code, const char **reason,
                           size_t *reason_len);

/* Builds a close payload (code + reason) into out, which has room for
 * WS_MAX_CONTROL_PAYLOAD bytes. code 0 or WS_CLOSE_NO_STATUS gives an empty
 * payload. The reason is cut, at a character boundary, to fit in 123 bytes;
 * a reason that is not valid UTF-8 is cut before its first invalid byte.
 * Returns the payload length. */
size_t ws_close_payload_build(uint8_t *out, unsigned code, const char *reason);

#endif
