/* deflate.h — permessage-deflate (RFC 7692): negotiation, inflate, deflate.
 *
 * What it is: the parser for the client's Sec-WebSocket-Extensions offers and
 * the answer we give, plus zlib glue for one message at a time.
 *
 * Memory policy (zlib state is large: ~7 KiB + a 32 KiB window to inflate,
 * ~260 KiB to deflate at 15 window bits):
 *   - We always answer server_no_context_takeover. Each outgoing message is
 *     compressed whole, synchronously, from a fresh context, so one deflate
 *     stream per thread (one per window size actually used) serves every
 *     connection; connections own no deflate state at all.
 *   - By default we also answer client_no_context_takeover (RFC 7692 §7.1.1.2
 *     lets a server ask for it even when the client did not offer it). Inflate
 *     state is then needed only while a compressed message is being read: it
 *     is taken from a small per-thread pool when the message starts and given
 *     back when it ends, so an idle connection owns none. A message that
 *     spans several reads keeps its stream until its last frame.
 *   - With allow_client_takeover (ws_config_t.deflate_client_takeover) a
 *     client that did not ask for no-context-takeover keeps its compression
 *     context, and its connection keeps an inflate stream for its lifetime.
 *
 * Not here: framing (RSV1 handling lives in reader.c and conn.c).
 */
#ifndef PARLEY_WS_DEFLATE_H
#define PARLEY_WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* One permessage-deflate offer, as the client made it. */
typedef struct {
    uint8_t server_no_context_takeover; /* 1 when present */
    uint8_t client_no_context_takeover; /* 1 when present */
    uint8_t server_max_window_bits;     /* 0 when absent, else 8..15 */
    uint8_t client_max_window_bits; /* 0 when absent, 1 when present without a value, else 8..15 */
} ws_deflate_offer_t;

typedef enum {
    WS_EXT_MALFORMED = -1, /* the header value is not a valid extension list */
    WS_EXT_NONE = 0,       /* no acceptable permessage-deflate offer in it */
    WS_EXT_FOUND = 1,      /* *out holds the first acceptable offer */
} ws_ext_result_t;

/* Scans one Sec-WebSocket-Extensions header value (RFC 6455 §9.1 syntax: a
 * comma-separated list of `name *(; param[=token|quoted-string])`, OWS
 * allowed around separators, empty elements skipped) for the first
 * acceptable permessage-deflate offer. An offer is declined (and the scan
 * goes on) when it has an unknown parameter, a parameter twice, a value
 * where none is allowed (the no_context_takeover ones), no value for
 * server_max_window_bits, or a window-bits value that is not 8..15 written
 * without leading zeros. Other extensions are skipped. A syntax error
 * anywhere in the value gives WS_EXT_MALFORMED (and *out is unspecified):
 * the caller then declines every offer. */
ws_ext_result_t ws_deflate_parse_offers(const char *value, size_t len, ws_deflate_offer_t *out);

/* What the connection runs with, once an offer is accepted. */
typedef struct {
    uint8_t enabled;            /* permessage-deflate is in effect */
    uint8_t server_window_bits; /* our deflate window; 8 means we never compress (zlib cannot) */
    uint8_t client_takeover;    /* 1: the client keeps its context; keep our inflate stream */
} ws_deflate_agreed_t;

/* Accepts an offer: fills *agreed and writes the Sec-WebSocket-Extensions
 * response value into out (NUL-terminated; 128 bytes are always enough).
 * Returns its length, or 0 if outsz is too small (then nothing is agreed). */
size_t ws_deflate_accept(const ws_deflate_offer_t *offer, int allow_client_takeover,
                         ws_deflate_agreed_t *agreed, char *out, size_t outsz);

/* ---- inflate ---- */

typedef struct ws_inflater ws_inflater_t;

typedef enum {
    WS_INFLATE_OK = 0,
    WS_INFLATE_TOO_BIG = -1,  /* the output would pass out->max: stopped there (-> 1009) */
    WS_INFLATE_BAD_DATA = -2, /* not a valid deflate stream (-> 1007) */
} ws_inflate_result_t;

/* A raw inflate stream ready for a new message: from this thread's pool,
 * or new. Never NULL (out of memory aborts). */
ws_inflater_t *ws_inflater_get(void);
/* Resets the stream and returns it to this thread's pool (or frees it when
 * the pool is full). NULL is ignored. */
void ws_inflater_put(ws_inflater_t *z);
/* Forgets the context (between messages without context takeover). */
void ws_inflater_reset(ws_inflater_t *z);

/* Inflates in[0..n) and appends the output to out. With end_of_message, the
 * 00 00 FF FF tail that the sender removed is inflated after it. Inflation
 * stops as soon as out would grow past out->max (a decompression bomb costs
 * at most that much): WS_INFLATE_TOO_BIG, out then full (exactly out->max
 * bytes, the first ones of the output). On WS_INFLATE_BAD_DATA out holds
 * what was inflated before the bad data. A final
 * deflate block inside the message is accepted and the stream goes on with a
 * fresh context. After an error the stream must be put back, not reused. */
ws_inflate_result_t ws_inflate(ws_inflater_t *z, const void *in, size_t n, int end_of_message,
                               buf_t *out);

/* ---- deflate ---- */

/* Compresses a whole message with a fresh context at the given window size
 * (9..15) and appends it to out without the 00 00 FF FF tail, ready to be a
 * permessage-deflate payload. Returns 0, or -1 when window_bits is not
 * 9..15, len is over 1 GiB, or the output would pass out->max (set max to
 * what you are willing to send; the tail needs 4 bytes more while
 * compressing). On -1, out->len is unspecified. Uses this thread's shared
 * deflate stream for that window size. */
int ws_deflate_message(unsigned window_bits, const void *data, size_t len, buf_t *out);

/* Frees this thread's pooled inflate streams and shared deflate streams
 * (for tests and clean exits; the pools refill on demand). */
void ws_deflate_thread_cleanup(void);

#endif
