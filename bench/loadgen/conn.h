/* conn.h — the load generator's Socket.IO client: many connections on one
 * epoll loop, each a direct WebSocket Engine.IO v4 session
 * (GET /socket.io/?EIO=4&transport=websocket) joined to the main namespace.
 *
 * What it does by itself: the TCP connect, the HTTP upgrade, the Engine.IO
 * open packet, the namespace CONNECT (with an optional auth payload), pongs
 * for the server's pings, masking of every client frame, and one send() per
 * connection per loop turn for everything queued in that turn. What it
 * hands to the scenario: "namespace connected", each EVENT, each ACK, and
 * a connection lost. It does not parse JSON: scenarios look at the raw
 * packet text, which keeps the per-delivery cost of the generator small.
 *
 * What it is not: no polling transport, no binary packets (ignored), no
 * namespaces other than "/", no permessage-deflate, no fragmented messages
 * (a server that fragments is reported as an error on that connection).
 *
 * Ownership: the loop owns the connection array and every buffer in it.
 * Callbacks run inside lg_loop_poll(); a callback may send on any
 * connection, and may drop or reopen the connection it was called for.
 */
#ifndef PARLEY_BENCH_CONN_H
#define PARLEY_BENCH_CONN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    LG_CLOSED = 0, /* no socket */
    LG_TCP,        /* connect() in progress */
    LG_HTTP,       /* upgrade request sent, waiting for the 101 */
    LG_EIO,        /* waiting for the Engine.IO open packet */
    LG_SIO,        /* CONNECT sent, waiting for the namespace reply */
    LG_READY,      /* in the namespace */
} lg_state_t;

typedef struct lg_conn lg_conn_t;
typedef struct lg_loop lg_loop_t;

struct lg_conn {
    int fd;
    uint32_t id;  /* global index across generator processes */
    uint32_t gen; /* bumped on every close: callbacks detect a drop with it */
    uint8_t state;
    uint8_t epollout; /* EPOLLOUT armed */
    uint8_t dirty;    /* on the flush list */
    char *rx;         /* unparsed tail of the input (partial frame) */
    uint32_t rx_len, rx_cap;
    char *tx; /* output not yet accepted by the kernel: tx[tx_off..tx_len) */
    size_t tx_off, tx_len, tx_cap;
    uint64_t t_open;   /* lg_now_ns() at connect() */
    uint64_t next_ack; /* next ack id to use */
    lg_conn_t *next_dirty;
    void *app; /* the scenario's per-connection data */
};

typedef struct {
    /* Namespace CONNECT accepted. */
    void (*on_ready)(lg_loop_t *l, lg_conn_t *c);
    /* An EVENT: p points just past "42" (the JSON array text), n bytes. */
    void (*on_event)(lg_loop_t *l, lg_conn_t *c, const char *p, size_t n);
    /* An ACK: id, and p/n the JSON array text after the id. */
    void (*on_ack)(lg_loop_t *l, lg_conn_t *c, uint64_t id, const char *p, size_t n);
    /* The connection was lost or refused (why: a static string). The socket
     * is already closed (state LG_CLOSED); it may be reopened from here. */
    void (*on_down)(lg_loop_t *l, lg_conn_t *c, const char *why);
    /* Optional: writes the CONNECT payload (a JSON object) for c into out
     * and returns its length; 0 for none. */
    size_t (*auth)(lg_loop_t *l, lg_conn_t *c, char *out, size_t cap);
} lg_handlers_t;

struct lg_loop {
    int ep;
    struct sockaddr_in dst;
    char request[512]; /* the HTTP upgrade request, same for every connection */
    size_t request_len;
    lg_handlers_t h;
    void *ud;
    lg_conn_t *conns;
    uint32_t nconns;
    char *scratch; /* shared read buffer */
    size_t scratch_cap;
    lg_conn_t *dirty;
    uint64_t now; /* ns, refreshed at each wakeup and each read */
    uint64_t rng;
    uint64_t bytes_in, frames_in, pings;
    int watch_fd; /* an extra fd polled for readability (-1: none) */
    int watch_ready;
};

/* Monotonic clock in ns (CLOCK_MONOTONIC: comparable across processes). */
uint64_t lg_now_ns(void);

/* Prepares a loop of n connections (ids first..first+n-1), all closed.
 * Returns 0, or -1 with a message in err (bad host, epoll failure). */
int lg_loop_init(lg_loop_t *l, const char *host, int port, uint32_t first, uint32_t n,
                 const lg_handlers_t *h, void *ud, char *err, size_t errsz);
/* Closes every socket and frees everything. */
void lg_loop_free(lg_loop_t *l);

/* Starts connecting c (must be LG_CLOSED). Returns 0; or -1 when socket()
 * or connect() fail at once, in which case on_down is NOT called. */
int lg_conn_open(lg_loop_t *l, lg_conn_t *c);
/* Abortive close (RST, no TIME_WAIT left behind); no callback. */
void lg_conn_drop(lg_loop_t *l, lg_conn_t *c);

/* Queues one text frame (masked). */
void lg_conn_send_text(lg_loop_t *l, lg_conn_t *c, const char *data, size_t n);
/* Queues the EVENT "42[<ack>]<args>" where args is a JSON array text. With
 * want_ack, uses and returns the connection's next ack id; else returns 0. */
uint64_t lg_conn_emit(lg_loop_t *l, lg_conn_t *c, int want_ack, const char *args, size_t n);
/* Bytes queued but not yet accepted by the kernel. */
static inline size_t lg_conn_backlog(const lg_conn_t *c)
{
    return c->tx_len - c->tx_off;
}

/* Waits up to timeout_ms for events, handles them, then flushes every
 * connection that has output. Returns 0, or -1 when epoll_wait fails. */
int lg_loop_poll(lg_loop_t *l, int timeout_ms);

/* Writes what every connection has queued (lg_loop_poll does this at the
 * end of each turn; call it after sending outside a callback). */
void lg_loop_flush(lg_loop_t *l);

/* Also polls fd for readability; lg_loop_poll sets l->watch_ready. */
int lg_loop_watch(lg_loop_t *l, int fd);

#endif
