/* ws.h — WebSocket server connections (RFC 6455) with permessage-deflate
 * (RFC 7692), on top of net/ and after an HTTP/1.1 upgrade request.
 *
 * What it is: the opening handshake (handshake.c), and a net handler that
 * reads frames into messages (reader.h), answers pings, runs the closing
 * handshake and the idle and close timers, and writes messages (conn.c).
 *
 * What it is not: no client side, no subprotocol negotiation
 * (Sec-WebSocket-Protocol is ignored), no extension but permessage-deflate.
 *
 * Lifetime: a ws_conn_t returned by ws_accept lives until its on_close
 * callback returns, whatever happens (peer close, error, timeout, output
 * cap, server drain); it is then freed and must not be used. on_close is
 * always the last callback and always comes, exactly once. Nothing is freed
 * inside a callback: calling ws_send / ws_close from on_message is fine.
 *
 * Closing:
 *   - The peer's close frame is answered with the same code (an empty close
 *     with an empty one), then the server closes TCP (RFC 6455 §7.1.1).
 *   - A protocol violation _fails_ the connection: a close frame with the
 *     code (1002, 1007, 1009) is sent and TCP is closed once it is written,
 *     without waiting for the peer. Bytes after the violation are ignored.
 *   - ws_close, the idle timeout and server drain start the closing
 *     handshake: the close frame is sent, further received data messages are
 *     dropped (control frames are still read), and TCP is closed when the
 *     peer's close arrives or after close_timeout_ms.
 *   - After a close frame is sent, nothing else is (no pong, no data).
 *
 * Idle timeout (idle_timeout_ms = T > 0): every byte from the peer counts as
 * life. After T/2 of silence the server sends an empty ping (a live client
 * answers with a pong, which is bytes); after T of silence it starts the
 * closing handshake with 1001 "idle timeout". The timer is armed lazily
 * (reads only record the time), so idle accounting costs no timer work per
 * read.
 *
 * Memory per open connection: the ws_conn_t (~190 bytes) and nothing else
 * while idle; see reader.h for messages in flight and deflate.h for the
 * compression policy (server_no_context_takeover always; by default
 * client_no_context_takeover too, so zlib state is held only while a
 * compressed message is being read or written).
 */
#ifndef PARLEY_WS_WS_H
#define PARLEY_WS_WS_H

#include <stddef.h>
#include <stdint.h>

#include "core/refbuf.h"
#include "http/parser.h"
#include "net/net.h"
#include "ws/deflate.h"
#include "ws/frame.h"

typedef struct ws_conn ws_conn_t;

typedef enum {
    WS_OK = 0,
    WS_E_CLOSING = -1,    /* a close frame was sent or the connection is closing: nothing queued */
    WS_E_OUTPUT_CAP = -2, /* queued output would pass net's max_output: the connection is closing */
} ws_err_t;

typedef struct {
    size_t max_message;          /* bytes, after inflation; 1009 beyond; 0 = 1 MiB */
    size_t max_fragments;        /* frames per message; 1009 beyond; 0 = 1024 */
    int allow_deflate;           /* negotiate permessage-deflate when offered */
    int deflate_client_takeover; /* let clients keep their compression context (better ratio,
                                  * ~40 KiB of inflate state per connection); 0 = ask for
                                  * client_no_context_takeover */
    size_t deflate_min_size;     /* send messages shorter than this uncompressed; 0 = 64 */
    uint64_t idle_timeout_ms;    /* 0 = none; see "Idle timeout" above */
    uint64_t close_timeout_ms;   /* wait for the peer's close after ours; 0 = 5000 */
    /* Origin allowlist, compared case-insensitively and exactly ("https://a.example:8443").
     * NULL/0 = any origin. A request without an Origin header (not a browser) is let in. */
    const char *const *allowed_origins;
    size_t num_allowed_origins;
} ws_config_t;

typedef struct {
    /* A whole message; valid UTF-8 when text; data valid only during the call. */
    void (*on_message)(ws_conn_t *ws, int binary, const char *data, size_t len, void *ud);
    /* The last callback. code: the peer's close code (1005 when its close
     * frame had none); else the code of the close frame we sent (a failure
     * such as 1002/1007/1009, 1001 on idle timeout or drain, or ws_close's);
     * else 1006 (no close frame either way: TCP dropped, output cap). */
    void (*on_close)(ws_conn_t *ws, uint16_t code, void *ud);
} ws_callbacks_t;

/* Completes the opening handshake on an HTTP connection: validates the
 * request (see ws_handshake_check), writes the 101 response (with the
 * negotiated extension) and switches the net_conn to the WebSocket handler;
 * bytes the client sent after the request go to the new handler. cb is
 * kept, not copied: it must outlive the connection (a static table; NULL
 * for none); cfg is read during the call only (timeouts are kept to the
 * millisecond up to 49 days).
 *
 * On refusal writes the HTTP error response (400/403/426, Connection: close,
 * a small JSON body) itself, returns NULL and sets *status to it; the caller
 * then closes the connection gracefully (net_conn_close(c, 1)). On success
 * *status is 101. status may be NULL. */
ws_conn_t *ws_accept(net_conn_t *c, const http_request_t *req, const ws_config_t *cfg,
                     const ws_callbacks_t *cb, void *ud, int *status);

/* Sends a whole message as one frame. With permessage-deflate it is
 * compressed when at least deflate_min_size bytes long and when that makes it
 * smaller (RSV1 set); otherwise sent as is. Returns WS_OK or a ws_err_t. */
int ws_send(ws_conn_t *ws, int binary, const void *data, size_t len);

/* Builds a complete unmasked, uncompressed, final server frame (header +
 * payload) into one refbuf with one reference (the caller's), once, for many
 * receivers. */
refbuf_t *ws_frame_build(int binary, const void *data, size_t len);

/* Queues a reference to a frame from ws_frame_build (takes its own
 * reference). Returns WS_OK or a ws_err_t. */
int ws_send_frame_ref(ws_conn_t *ws, refbuf_t *frame);

/* Starts the closing handshake with code (1000, 1001, 3000-4999, ...; 0 sends
 * a close frame without a code) and an optional reason (cut to 123 bytes at
 * a character boundary). Does nothing if a close was already sent or the
 * connection is closing. */
void ws_close(ws_conn_t *ws, uint16_t code, const char *reason);

void ws_set_user_data(ws_conn_t *ws, void *ud);
void *ws_user_data(const ws_conn_t *ws);
net_conn_t *ws_net_conn(const ws_conn_t *ws);
/* True when permessage-deflate was negotiated. */
int ws_deflate_enabled(const ws_conn_t *ws);

/* ---- the opening handshake, as pure functions (handshake.c) ---- */

typedef struct {
    int status;        /* 101 when accepted; else 400, 403 or 426 */
    const char *error; /* why it was refused, for the body and logs; NULL on 101 */
    char accept[29];   /* Sec-WebSocket-Accept, NUL-terminated (101 only) */
    ws_deflate_agreed_t deflate;
    char extensions[128]; /* Sec-WebSocket-Extensions answer; "" for none */
} ws_handshake_t;

/* Judges an upgrade request; returns out->status. In order:
 *   400 method is not GET; not HTTP/1.1; no "websocket" token in Upgrade;
 *       no "upgrade" token in Connection;
 *   426 Sec-WebSocket-Version is missing or not exactly 13 (the response
 *       then carries Sec-WebSocket-Version: 13);
 *   400 Sec-WebSocket-Key missing, repeated, or not the base64 form of 16
 *       bytes (22 base64 characters and "==");
 *   403 an Origin allowlist is configured and the request's Origin is not
 *       in it.
 * Then permessage-deflate is negotiated when cfg->allow_deflate (deflate.h;
 * Sec-WebSocket-Extensions headers are read in order, the first acceptable
 * offer wins, a malformed header declines them all). cfg may be NULL
 * (defaults: no deflate, any origin). */
int ws_handshake_check(const http_request_t *req, const ws_config_t *cfg, ws_handshake_t *out);

/* Writes the HTTP response for hs (the 101, or the error with its JSON body
 * and Connection: close) into out. Returns its length, or 0 if outsz is too
 * small; 1024 bytes are always enough. */
size_t ws_handshake_response(const ws_handshake_t *hs, char *out, size_t outsz);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + RFC 6455 GUID)),
 * 28 characters and a NUL. */
void ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
