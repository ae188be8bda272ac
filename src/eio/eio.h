/* eio.h — the Engine.IO v4 server: sessions over HTTP long-polling and
 * WebSocket, the upgrade between them, and the heartbeat.
 *
 * What it is: the layer that turns HTTP requests under a path (default
 * "/socket.io/") into sessions (eio_socket_t) that exchange whole messages,
 * text or binary, whatever the transport. Socket.IO sits on top.
 *
 * What it is not: no packet encoding of Socket.IO, no rooms (sio/).
 *
 * Lifetime: on_open is the first callback of a session and on_close its
 * last; after on_close returns the eio_socket_t is freed. eio_close may be
 * called at any time; on_close then follows later from the loop, never from
 * inside eio_close.
 *
 * Encode once, write many: eio_msg_t is a message prepared once for many
 * sessions; its WebSocket frame is built the first time a WebSocket session
 * needs it and shared by reference from then on.
 */
#ifndef PARLEY_EIO_EIO_H
#define PARLEY_EIO_EIO_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/refbuf.h"
#include "http/server.h"

typedef struct eio_server eio_server_t;
typedef struct eio_socket eio_socket_t;
typedef struct eio_msg eio_msg_t;

typedef enum {
    EIO_TRANSPORT_POLLING = 0,
    EIO_TRANSPORT_WEBSOCKET = 1,
} eio_transport_t;

typedef struct {
    const char *path;             /* URL prefix, e.g. "/socket.io/" */
    uint64_t ping_interval_ms;    /* default 25000 */
    uint64_t ping_timeout_ms;     /* default 20000 */
    uint64_t upgrade_timeout_ms;  /* default 10000 */
    size_t max_payload;           /* bytes per message / per POST body; default 1000000 */
    int disable_polling;          /* 1: websocket only */
    int disable_websocket;        /* 1: polling only */
    int allow_deflate;            /* permessage-deflate on the WebSocket transport */
    /* CORS / Origin allowlist: NULL/0 = any origin ("*"); otherwise only
     * these origins get CORS headers and WebSocket upgrades. */
    const char *const *allowed_origins;
    size_t num_allowed_origins;
    int cors_credentials;         /* Access-Control-Allow-Credentials: true */

    /* A session was opened (handshake answered). req is the handshake
     * request, valid only during the call. Return 0 to accept; non-zero
     * refuses with 403 and no session is created. */
    int (*on_open)(eio_socket_t *s, const http_request_t *req, void *ud);
    /* A whole message arrived. data is valid only during the call. */
    void (*on_message)(eio_socket_t *s, int binary, const char *data, size_t len, void *ud);
    /* The session ended; reason as the Node server names them:
     * "transport close", "transport error", "ping timeout", "forced close",
     * "server shutting down", "parse error". */
    void (*on_close)(eio_socket_t *s, const char *reason, void *ud);
    void *ud;
} eio_config_t;

/* Creates the server; cfg is copied (strings and the origins array must
 * outlive the server). */
eio_server_t *eio_server_new(uv_loop_t *loop, const eio_config_t *cfg);
/* Closes every session ("server shutting down"), then frees the server once
 * the last on_close has run. */
void eio_server_free(eio_server_t *srv);
/* Whether the request path is under the server's path. */
int eio_server_matches(const eio_server_t *srv, const http_request_t *req);
/* Answers an HTTP request under the path: handshake, poll, post, upgrade,
 * CORS preflight, or the Node server's JSON errors. Always answers, defers
 * (long-poll) or takes over the connection (WebSocket). */
void eio_server_handle(eio_server_t *srv, http_exchange_t *ex);
/* Number of open sessions. */
size_t eio_server_count(const eio_server_t *srv);
/* Closes every session with "server shutting down" (SIGTERM drain). */
void eio_server_close_all(eio_server_t *srv);

/* Sends one message ("4" packet). Returns 0, or -1 if the session is
 * closing. Data is copied. */
int eio_send(eio_socket_t *s, int binary, const void *data, size_t len);

/* A message for many sessions. Starts with one reference. */
eio_msg_t *eio_msg_new(int binary, const void *data, size_t len);
eio_msg_t *eio_msg_ref(eio_msg_t *m);
void eio_msg_unref(eio_msg_t *m);
/* Queues a shared message: WebSocket sessions get a reference to the one
 * frame, polling sessions a copy in their next payload. */
int eio_send_msg(eio_socket_t *s, eio_msg_t *m);

/* Closes the session: pending output is flushed where possible, then
 * on_close("forced close") follows from the loop. */
void eio_close(eio_socket_t *s);

const char *eio_sid(const eio_socket_t *s);
eio_transport_t eio_transport(const eio_socket_t *s);
void eio_set_user_data(eio_socket_t *s, void *ud);
void *eio_user_data(const eio_socket_t *s);
/* Bytes waiting to go out on the session (for slow-consumer decisions). */
size_t eio_queued(const eio_socket_t *s);

#endif
