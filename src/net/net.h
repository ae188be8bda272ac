/* net.h — TCP listener and connections on libuv, with capped buffers and
 * corked output.
 *
 * What it is: the bottom of the stack. A net_server_t accepts connections on
 * one loop; every net_conn_t carries a protocol handler (a table of callbacks)
 * that the layers above swap as the protocol changes (HTTP -> WebSocket).
 *
 * Reading: bytes are read into one loop-wide buffer and offered to the
 * handler's on_data. The handler returns how many it consumed; only the
 * unconsumed tail is copied into the connection's own capped input buffer and
 * offered again, prefixed, when more bytes arrive. An idle connection therefore
 * owns no read buffer at all. A handler that neither consumes nor closes while
 * its tail exceeds max_input gets the connection closed (NET_CLOSE_INPUT_CAP).
 *
 * Writing: net_conn_write copies bytes, net_conn_write_ref queues a reference
 * to an immutable refbuf (encode once, write many). Nothing is written at
 * once: every connection with queued output is flushed once per loop
 * iteration (a uv_check handle) with a single writev. Queued output is capped
 * (max_output, the slow-consumer limit); a write past the cap closes the
 * connection with NET_CLOSE_OUTPUT_CAP and logs it.
 *
 * Flush delay (opt-in, flush_delay_us > 0): a connection whose output is
 * queued waits up to flush_delay_us, counted from the first write since its
 * last flush, so that one writev carries more frames. It is written at the
 * next check as without a delay when its queue reaches 16 KiB, when it is
 * closing (a graceful close writes at once), or when the rest of a partial
 * write is pending. All else waits, handshakes included: the net layer does
 * not know which bytes are which, and the wait is bounded. Due times are
 * kept in microseconds on one loop timer of millisecond resolution, so a
 * flush comes at most about 1 ms after it is due (plus loop lateness).
 *
 * Memory: an idle connection is one allocation (~380 bytes, most of it
 * libuv's uv_tcp_t). Its timer is a deadline on the server's one queue
 * (core/deadline.h); the output segment array and the uv_write_t for a
 * partial write are taken from the server's pools while output is queued
 * and given back when it drains; the input tail buffer exists only while
 * unconsumed input does.
 *
 * Lifetime: a connection is never freed inside its own callbacks.
 * net_conn_close marks it closing; handler->on_close runs later from libuv's
 * close callback, exactly once, and is the last callback; the connection
 * memory is freed right after it returns.
 *
 * What it is not: no TLS yet, no protocol knowledge.
 */
#ifndef PARLEY_NET_NET_H
#define PARLEY_NET_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "core/refbuf.h"

typedef struct net_server net_server_t;
typedef struct net_conn net_conn_t;

typedef enum {
    NET_OK = 0,
    NET_E_CLOSING = -1,    /* the connection is closing; nothing was queued */
    NET_E_OUTPUT_CAP = -2, /* queued output would pass max_output; conn is being closed */
} net_err_t;

/* Why a connection closed; passed to on_close. */
typedef enum {
    NET_CLOSE_LOCAL = 0,    /* net_conn_close was called by a layer above */
    NET_CLOSE_PEER,         /* EOF from the peer */
    NET_CLOSE_ERROR,        /* read or write error (reset, ...) */
    NET_CLOSE_INPUT_CAP,    /* unconsumed input over max_input */
    NET_CLOSE_OUTPUT_CAP,   /* slow consumer: queued output over max_output */
    NET_CLOSE_SHUTDOWN,     /* server drain timed out */
} net_close_reason_t;

const char *net_close_reason_str(net_close_reason_t r);

typedef struct net_conn_handler {
    /* Bytes from the peer. Returns the number consumed (0..len). The handler
     * may call net_conn_close or swap the handler (net_conn_set_handler)
     * inside; after a swap, the bytes not consumed are offered to the new
     * handler at once. Required. */
    size_t (*on_data)(net_conn_t *c, const char *data, size_t len);
    /* The last callback; free the protocol state here. Required. */
    void (*on_close)(net_conn_t *c, net_close_reason_t reason);
    /* The connection timer (net_conn_set_timeout) expired. Optional. */
    void (*on_timeout)(net_conn_t *c);
    /* The server is draining (SIGTERM): say goodbye the protocol's way
     * (e.g. WebSocket close 1001) and close. Optional: default is a graceful
     * net_conn_close. */
    void (*on_shutdown)(net_conn_t *c);
    /* All queued output has been written. Optional. */
    void (*on_drain)(net_conn_t *c);
} net_conn_handler_t;

typedef struct {
    const char *host;       /* "127.0.0.1", "::", ... */
    int port;               /* 0 = pick a free port (see net_server_port) */
    int backlog;            /* listen backlog; 0 = as deep as the kernel allows */
    size_t max_input;       /* cap on a connection's unconsumed input; 0 = 64 KiB */
    size_t max_output;      /* cap on a connection's queued output; 0 = 4 MiB */
    int tcp_nodelay;        /* 1 to set TCP_NODELAY on accepted sockets */
    /* Flush delay in microseconds (see Flush delay above); 0 = flush every
     * loop iteration. Values over 1000000 are taken as 1000000. */
    uint32_t flush_delay_us;
    /* Called for each accepted connection; sets its handler and data with
     * net_conn_set_handler. If it does not set a handler, the connection is
     * closed. */
    void (*on_accept)(net_conn_t *c, void *ud);
    void *ud;
} net_server_config_t;

/* Binds and listens. On success *out is the server and 0 is returned; on
 * failure a negative libuv error code and nothing is left allocated. */
int net_server_start(uv_loop_t *loop, const net_server_config_t *cfg, net_server_t **out);
/* The bound port (useful with port 0). */
int net_server_port(const net_server_t *s);
size_t net_server_conn_count(const net_server_t *s);
/* Total connections accepted and refused (EMFILE etc.) since start. */
uint64_t net_server_accepted(const net_server_t *s);
uint64_t net_server_accept_errors(const net_server_t *s);
uv_loop_t *net_server_loop(const net_server_t *s);

/* Stops accepting, asks every connection to shut down (on_shutdown), waits up
 * to timeout_ms for them to close, then aborts the rest. done(s, ud) is called
 * once all are closed and the listener is closed; the server is freed right
 * after done returns. */
void net_server_drain(net_server_t *s, uint64_t timeout_ms, void (*done)(net_server_t *s, void *ud),
                      void *ud);

/* Sets the protocol handler and its state for the connection. */
void net_conn_set_handler(net_conn_t *c, const net_conn_handler_t *h, void *data);
void *net_conn_data(const net_conn_t *c);
net_server_t *net_conn_server(const net_conn_t *c);

/* Queues a copy of data[0..len). */
net_err_t net_conn_write(net_conn_t *c, const void *data, size_t len);
/* Queues a reference to rb->data[off..off+len) (takes its own reference). */
net_err_t net_conn_write_ref(net_conn_t *c, refbuf_t *rb, size_t off, size_t len);
/* Bytes queued and not yet written. */
size_t net_conn_queued(const net_conn_t *c);

/* Closes the connection. graceful: stop reading, write what is queued (for
 * at most a few seconds), then shut down and close. Not graceful: drop the
 * queue and close now. Idempotent; the reason of the first call is kept. */
void net_conn_close(net_conn_t *c, int graceful);
int net_conn_is_closing(const net_conn_t *c);

/* Arms the connection's single timer to fire on_timeout after ms
 * milliseconds (replacing any earlier deadline); 0 disarms it. */
void net_conn_set_timeout(net_conn_t *c, uint64_t ms);

/* Offers the buffered, unconsumed input to the handler again, from the loop
 * (not from inside this call): for a handler that stopped consuming until an
 * answer was ready (HTTP pipelining behind a long-poll). */
void net_conn_refeed(net_conn_t *c);

/* Stops or resumes reading (back-pressure). */
void net_conn_pause_reading(net_conn_t *c);
void net_conn_resume_reading(net_conn_t *c);

/* Peer address as "ip:port" into out (always NUL-terminated). */
void net_conn_peer(const net_conn_t *c, char *out, size_t outsz);
/* An id for logs, unique among the last 2^32 connections. */
uint64_t net_conn_id(const net_conn_t *c);

#endif
