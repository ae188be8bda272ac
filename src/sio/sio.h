/* sio.h — the Socket.IO v5 server: namespaces, sockets, events, acks, rooms,
 * broadcasts and connection state recovery, on top of Engine.IO (eio/).
 *
 * What it is: the public C API an application (examples/echo, the chat
 * domain) uses to speak Socket.IO to the official clients. One eio session
 * carries one socket per namespace it connected to; the application sees
 * sockets (sio_socket_t), never sessions.
 *
 * What it is not: no packet codec (sio/packet.h), no transports (eio/), no
 * clustering (the adapter for other nodes comes later).
 *
 * Threading: everything runs on the loop thread that owns the server.
 *
 * Callbacks: every callback runs from the loop. The pointers it receives
 * (sockets, arguments, binary buffers) are valid during the call only unless
 * the text says otherwise. Rule for calls that take a callback: if the call
 * returns an error, the callback is never called. A callback may call any
 * function of this API, including sio_disconnect on its own socket.
 *
 * Event arguments: a JSON array (jansson json_t) of the arguments after the
 * event name. Binary arguments travel beside it: the array holds a
 * placeholder object {"_placeholder":true,"num":N} where the N-th buffer of
 * the accompanying sio_bin_t array belongs, exactly as on the wire. Incoming
 * placeholders are checked (N in range) before a handler sees them;
 * sio_arg_bin() resolves one, sio_placeholder_new() (sio/packet.h) makes
 * one for an emit. At most SIO_MAX_ATTACHMENTS buffers per packet.
 *
 * Encode once, write many: an emit or a broadcast serialises its packet once
 * (text plus attachments, into shared eio messages) whatever the number of
 * receivers; the argument JSON is never re-encoded per socket.
 *
 * Connection state recovery (sio_config_t.recovery): as Socket.IO 4.6+ does
 * it. The CONNECT answer carries a private id (pid); every event emitted
 * without an ack gets an offset, a string appended as its last argument so
 * the client remembers the last one it processed; a socket that disconnects
 * for a transport reason is kept (id, rooms, user data) for
 * max_disconnection_ms; a client reconnecting with {pid, offset} in its auth
 * gets the same socket id and rooms back, the events it missed are replayed,
 * and sio_socket_recovered() is 1 (the client sees socket.recovered ===
 * true). The replay buffer is bounded per namespace by count, bytes and age;
 * a client whose offset fell out of it simply gets a new socket.
 */
#ifndef PARLEY_SIO_SIO_H
#define PARLEY_SIO_SIO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "eio/eio.h"
#include "sio/packet.h"

typedef struct sio_server sio_server_t;
typedef struct sio_nsp sio_nsp_t;
typedef struct sio_socket sio_socket_t;
typedef struct sio_ack sio_ack_t;

/* Results of the API calls: SIO_OK (0, from sio/packet.h) or one of these.
 * (The codec's sio_err_t in sio/packet.h describes malformed packets; these
 * describe misuse and state.) */
typedef enum {
    /* An argument is malformed: args not an array, empty or reserved event
     * name, a placeholder that names no buffer, more than
     * SIO_MAX_ATTACHMENTS buffers, a NULL callback where one is required.
     * Nothing was sent. */
    SIO_E_INVALID = -101,
    /* The socket is disconnected (or its session is closing). Nothing was
     * sent. */
    SIO_E_CLOSED = -102,
    /* Only passed to an ack callback: no answer within the timeout. */
    SIO_E_TIMEOUT = -103,
    /* The ack handle was already answered. */
    SIO_E_ANSWERED = -104,
    /* The encoded packet would exceed SIO_MAX_PACKET bytes. */
    SIO_E_TOO_BIG = -105,
} sio_result_t;

/* A description of any result of this API (or of a codec sio_err_t). */
const char *sio_result_str(int result);

/* Largest text part of a packet the server will encode. */
#define SIO_MAX_PACKET ((size_t)64 << 20)

/* A binary argument: bytes owned by whoever made the struct (incoming ones
 * by the library, valid during the callback). */
typedef struct {
    const void *data;
    size_t len;
} sio_bin_t;

/* ---- Server ------------------------------------------------------------ */

typedef struct {
    /* Engine.IO settings (path, heartbeat, maxPayload, transports, CORS).
     * Its on_open/on_message/on_close/ud are ignored: the Socket.IO server
     * installs its own. Strings must outlive the server. */
    eio_config_t eio;
    /* A session that has not connected to any namespace within this is
     * closed. 0 = 45000 (the Node default). */
    uint64_t connect_timeout_ms;

    /* Connection state recovery; off unless set. */
    int recovery;
    uint64_t max_disconnection_ms; /* 0 = 120000 */
    int recovery_run_middlewares;  /* 0: a recovered socket skips middleware (Node default) */
    size_t recovery_max_packets;   /* per namespace; 0 = 10000 */
    size_t recovery_max_bytes;     /* per namespace; 0 = 16 MiB */

    /* Optional gate on new Engine.IO sessions (e.g. headers, address):
     * return 0 to accept, non-zero to refuse with 403. req is valid during
     * the call only. */
    int (*on_open)(eio_socket_t *s, const http_request_t *req, void *ud);
    void *ud;
} sio_config_t;

/* Creates the server and its Engine.IO server (cfg is copied; the main
 * namespace "/" exists from the start). Returns NULL only when the Engine.IO
 * server cannot be created. */
sio_server_t *sio_server_new(uv_loop_t *loop, const sio_config_t *cfg);

/* The Engine.IO server, to route HTTP requests to (eio_server_matches,
 * eio_server_handle). Owned by the sio server. */
eio_server_t *sio_server_eio(sio_server_t *srv);

/* Closes every session (sockets see "server shutting down"), like
 * eio_server_close_all; the server stays usable for new sessions. */
void sio_server_close_all(sio_server_t *srv);

/* Closes every session and frees the server. The on_disconnect callbacks of
 * the sockets still connected run from the loop afterwards (reason "server
 * shutting down"), and pending ack callbacks get SIO_E_CLOSED; the memory
 * goes after the last of them, so the loop must keep running. Persisted
 * recovery sessions are dropped (their user data goes to free_data). */
void sio_server_free(sio_server_t *srv);

/* ---- Namespaces -------------------------------------------------------- */

/* The namespace of that name, created on first use (as Node's io.of()).
 * Clients asking for a namespace that was never created get CONNECT_ERROR
 * {"message":"Invalid namespace"}. Returns NULL if name does not start with
 * '/'. Owned by the server. */
sio_nsp_t *sio_of(sio_server_t *srv, const char *name);
const char *sio_nsp_name(const sio_nsp_t *nsp);
sio_server_t *sio_nsp_server(const sio_nsp_t *nsp);
/* Connected sockets in the namespace. */
size_t sio_nsp_count(const sio_nsp_t *nsp);
/* The connected socket with that id, or NULL. */
sio_socket_t *sio_nsp_socket(const sio_nsp_t *nsp, const char *id);

/* A middleware's refusal: message is copied (NULL means "refused"); data,
 * if set, is an extra JSON value whose reference the library steals (also
 * when the middleware then accepts). The client sees connect_error with
 * err.message and err.data. */
typedef struct {
    const char *message;
    json_t *data;
} sio_refusal_t;

/* Runs for every CONNECT to the namespace, in registration order, before
 * the socket is connected. auth is the CONNECT payload (an object, {} when
 * the client sent none), also available later with sio_socket_auth. Return
 * 0 to let the next middleware (then the connection) proceed; non-zero to
 * refuse after filling *refusal. The socket is not connected yet: it cannot
 * emit or join, but sio_socket_set_data works (kept on success, handed to
 * free_data on refusal). A recovered socket skips the middleware unless
 * sio_config_t.recovery_run_middlewares is set; a refused recovery loses
 * its session. Middleware is synchronous. */
typedef int (*sio_middleware_fn)(sio_socket_t *s, const json_t *auth, sio_refusal_t *refusal,
                                 void *ud);
void sio_use(sio_nsp_t *nsp, sio_middleware_fn fn, void *ud);

/* A socket connected: after the middleware, after the CONNECT answer was
 * queued. A recovered socket (sio_socket_recovered) has already rejoined its
 * rooms, got its user data back, and its missed events are queued before
 * anything this callback emits. */
typedef void (*sio_connect_fn)(sio_socket_t *s, void *ud);
void sio_on_connect(sio_nsp_t *nsp, sio_connect_fn fn, void *ud);

/* A socket disconnected; reason as Node names them: "client namespace
 * disconnect", "server namespace disconnect", "transport close",
 * "transport error", "ping timeout", "parse error", "server shutting down",
 * "forced close". The socket is out of every room; it cannot emit. Pending
 * ack callbacks have already been called with SIO_E_CLOSED. */
typedef void (*sio_disconnect_fn)(sio_socket_t *s, const char *reason, void *ud);
void sio_on_disconnect(sio_nsp_t *nsp, sio_disconnect_fn fn, void *ud);

/* Frees per-socket user data (sio_socket_set_data) when it is finally
 * dropped: when the socket is refused or disconnects without a recoverable
 * session, when its kept session expires or a recovery of it is refused,
 * at server free. A recovery hands the data to the new socket instead. With
 * recovery on, free user data here rather than in on_disconnect. */
typedef void (*sio_free_data_fn)(void *data, void *ud);
void sio_on_free_data(sio_nsp_t *nsp, sio_free_data_fn fn, void *ud);

/* An event from a client. args is the array of arguments after the event
 * name (borrowed: json_incref to keep it), bins its binary attachments. ack
 * is non-NULL when the client asked for an acknowledgement: answer it with
 * sio_ack_send during the call, or sio_ack_retain it to answer later; an
 * ack neither answered nor retained is dropped when the handler returns
 * (the client's callback never fires, as with Node). */
typedef void (*sio_event_fn)(sio_socket_t *s, const char *event, json_t *args,
                             const sio_bin_t *bins, size_t nbins, sio_ack_t *ack, void *ud);
/* Registers the handler for one event name (replacing any earlier one).
 * fn NULL removes it. Events with no handler go to the sio_on_any handler
 * if there is one, else are dropped. Returns SIO_E_INVALID for an empty
 * name. */
int sio_on(sio_nsp_t *nsp, const char *event, sio_event_fn fn, void *ud);
void sio_on_any(sio_nsp_t *nsp, sio_event_fn fn, void *ud);

/* ---- Sockets ----------------------------------------------------------- */

/* Sockets are owned by the library. A pointer stays valid until the
 * on_disconnect callback of the socket returns (or, for a socket refused by
 * middleware, until the middleware returns). */

/* The socket id (20 characters; every socket is in a room of that name). */
const char *sio_socket_id(const sio_socket_t *s);
sio_nsp_t *sio_socket_nsp(const sio_socket_t *s);
/* The CONNECT auth payload: a JSON object, {} when none was sent. Borrowed,
 * valid as long as the socket. With recovery, pid and offset are removed.
 * Every socket without auth gets the same {} (one per server): it is const
 * for a reason. */
const json_t *sio_socket_auth(const sio_socket_t *s);
/* 1 if this socket was restored by connection state recovery. */
int sio_socket_recovered(const sio_socket_t *s);
/* 1 while connected (middleware done, not disconnected). */
int sio_socket_connected(const sio_socket_t *s);
/* The Engine.IO session under the socket (sid, transport, queued bytes), or
 * NULL once disconnected. */
eio_socket_t *sio_socket_eio(const sio_socket_t *s);

/* Application data for the socket; never touched by the library except to
 * hand it to free_data (see sio_on_free_data) and to carry it over a
 * recovery. */
void sio_socket_set_data(sio_socket_t *s, void *data);
void *sio_socket_data(const sio_socket_t *s);

/* Disconnects the socket from its namespace: the client gets a DISCONNECT
 * packet and on_disconnect runs (from inside this call) with "server
 * namespace disconnect". With close_session, the whole Engine.IO session is
 * closed afterwards, so every other socket of the session disconnects too
 * (same reason). No-op on a socket already disconnected. */
void sio_disconnect(sio_socket_t *s, int close_session);

/* ---- Rooms ------------------------------------------------------------- */

/* Joins / leaves a room of the socket's namespace. Idempotent. Return
 * SIO_OK, SIO_E_CLOSED for a disconnected socket, SIO_E_INVALID for an
 * empty name. */
int sio_join(sio_socket_t *s, const char *room);
int sio_leave(sio_socket_t *s, const char *room);
int sio_in_room(const sio_socket_t *s, const char *room);
/* Members of a room of the namespace (0 if the room does not exist). */
size_t sio_room_size(const sio_nsp_t *nsp, const char *room);

/* ---- Emitting ---------------------------------------------------------- */

/* args: a JSON array (borrowed; NULL = no arguments) whose placeholders
 * name buffers of bins[0..nbins). Event names reserved by the client
 * ("connect", "connect_error", "disconnect", "disconnecting",
 * "newListener", "removeListener") are refused with SIO_E_INVALID. */

/* Sends an event to one socket. SIO_OK once queued. */
int sio_emit(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins, size_t nbins);

/* Answer to a server-side emit with an ack: err is SIO_OK with the client's
 * arguments (args borrowed, bins valid during the call), SIO_E_TIMEOUT, or
 * SIO_E_CLOSED when the socket disconnected first (args NULL). Called
 * exactly once when sio_emit_ack returned SIO_OK. s is valid during the
 * call. */
typedef void (*sio_ack_fn)(sio_socket_t *s, int err, json_t *args, const sio_bin_t *bins,
                           size_t nbins, void *ud);

/* Sends an event asking for an ack; timeout_ms 0 waits until the socket
 * disconnects. Events with an ack are not stored for recovery (as Node). */
int sio_emit_ack(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                 size_t nbins, uint64_t timeout_ms, sio_ack_fn cb, void *ud);

/* Who receives a broadcast: the sockets in any of rooms (every socket of
 * the namespace when num_rooms is 0), minus those in any of except. A
 * socket id names the room holding only that socket, so except = {id}
 * excludes one socket (Node's socket.broadcast / socket.to()). Each
 * receiver gets the packet once. */
typedef struct {
    const char *const *rooms;
    size_t num_rooms;
    const char *const *except;
    size_t num_except;
} sio_target_t;

/* Sends an event to every socket targeted (t NULL: the whole namespace).
 * The packet is encoded once and shared. Returns SIO_OK (also when nobody
 * received it) or SIO_E_INVALID. */
int sio_broadcast(sio_nsp_t *nsp, const sio_target_t *t, const char *event, json_t *args,
                  const sio_bin_t *bins, size_t nbins);

/* sio_broadcast for arguments that are JSON text already, for a caller
 * that holds the encoded value (the chat domain has each message's JSON
 * from the store): args_json is one JSON array, e.g. "[{...}]", copied
 * into the packet as it is. It is trusted, not parsed: it must be valid
 * compact JSON with no binary placeholders. Returns SIO_OK, SIO_E_INVALID
 * (no event, a reserved one, args_json not "[...]"), SIO_E_TOO_BIG. */
int sio_broadcast_json(sio_nsp_t *nsp, const sio_target_t *t, const char *event,
                       const char *args_json, size_t args_len);

/* ---- Acks to client events -------------------------------------------- */

/* Answers the client's ack with args (borrowed; NULL = no arguments) and
 * bins. The handle is released (if retained). Returns SIO_OK,
 * SIO_E_ANSWERED if it was answered already, SIO_E_CLOSED if the socket is
 * gone, SIO_E_INVALID for bad args. */
int sio_ack_send(sio_ack_t *ack, json_t *args, const sio_bin_t *bins, size_t nbins);
/* sio_ack_send with the arguments as JSON text, trusted as for
 * sio_broadcast_json (one JSON array, no placeholders, not parsed). Same
 * results; SIO_E_INVALID also for args_json NULL or not "[...]". */
int sio_ack_send_json(sio_ack_t *ack, const char *args_json, size_t args_len);
/* Keeps the handle past the event handler; it must then be answered
 * (sio_ack_send) or released (sio_ack_release). Returns ack. */
sio_ack_t *sio_ack_retain(sio_ack_t *ack);
/* Drops a retained handle without answering. */
void sio_ack_release(sio_ack_t *ack);

/* ---- Binary helpers ---------------------------------------------------- */

/* If v is a placeholder naming one of bins[0..nbins), stores that buffer in
 * *out and returns 1; otherwise returns 0. */
int sio_arg_bin(const json_t *v, const sio_bin_t *bins, size_t nbins, sio_bin_t *out);

#endif
