/* net.c — listener, connections, capped buffers, corked writev flush.
 * See net.h for the contract. Everything here runs on the loop thread.
 */
#include "net/net.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/deadline.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define DEFAULT_MAX_INPUT (64 * 1024)
#define DEFAULT_MAX_OUTPUT (4 * 1024 * 1024)
#define COPY_MIN 512           /* the first copy buffer of a loop turn */
/* As deep as the kernel allows (listen() caps it at net.core.somaxconn):
 * in a reconnect storm, SYNs beyond the accept queue are dropped and retried
 * by the client a second or more later. */
#define DEFAULT_BACKLOG 65535
#define COPY_CHUNK (16 * 1024) /* copy buffers double up to this */
#define MAX_IOV 512
#define GRACEFUL_CLOSE_MS 3000
#define ACCEPT_BURST 256
#define ACCEPT_BACKOFF_MS 100
/* With a flush delay, a queue this large is worth a write now: waiting
 * would gather little more per byte and only hold memory. */
#define FLUSH_DELAY_MAX_QUEUED (16 * 1024)
#define FLUSH_DELAY_MAX_US 1000000

typedef struct {
    refbuf_t *rb;
    size_t off, len;
} net_seg_t;

/* Output segment arrays come in capacities SEG_MIN << k; a connection holds
 * one only while it has output queued, and gives it back to the server's
 * pool of its size when the queue drains, so an idle connection owns none
 * and a busy one takes and returns arrays without malloc. */
#define SEG_MIN 8
#define SEG_CLASSES 8               /* pooled up to SEG_MIN << 7 = 1024 segments */
#define SEG_POOL_BYTES (256 * 1024) /* kept per size class at most */
#define WREQ_POOL_MAX 256           /* spare uv_write_t kept */

typedef struct {
    void *free; /* arrays linked through their first bytes */
    uint32_t count;
} net_seg_pool_t;

struct net_conn {
    uv_tcp_t tcp; /* first: the handle's address is the conn's */
    net_server_t *server;
    const net_conn_handler_t *handler;
    void *data;
    buf_t *in; /* unconsumed input tail; NULL when there is none (idle) */

    net_seg_t *segs; /* output queue: segs[head..count); NULL when empty */
    uint32_t seg_head, seg_count, seg_cap;
    uint32_t in_flight; /* segments handed to uv_write, from seg_head on */
    size_t queued;      /* bytes in the queue, including those in flight */
    refbuf_t *tail;     /* growing copy buffer, last segment when not in flight */

    net_conn_t *next, *prev;             /* server's list of live connections */
    /* On the server's list of connections to flush at the next check
     * (dirty), or on its FIFO of connections waiting out the flush delay
     * (delayed); never both. */
    net_conn_t *dirty_next, *dirty_prev;
    deadline_t timer; /* on the server's queue (net_conn_set_timeout) */
    uint32_t id;
    uint32_t flush_due; /* while delayed: low 32 bits of the due time in us */
    unsigned dirty : 1;
    unsigned delayed : 1;
    unsigned closing : 1;  /* close requested */
    unsigned graceful : 1; /* write the queue before closing */
    unsigned handles_closed : 1;
    unsigned reading : 1;
    unsigned shutdown_sent : 1;
    unsigned in_on_data : 1;
    unsigned refeed : 1;
    unsigned reason : 3; /* net_close_reason_t */
};

struct net_server {
    uv_loop_t *loop;
    uv_os_sock_t listen_fd;
    uv_poll_t listener;
    uv_timer_t accept_backoff; /* accepting paused after EMFILE */
    uv_check_t flusher;
    uv_idle_t wakeup;                   /* active while output waits: keeps poll from blocking */
    uv_timer_t flush_timer;             /* armed while delayed holds a connection */
    net_conn_t *delayed, *delayed_tail; /* ordered by flush_due: one delay for all */
    uv_timer_t drain_timer;
    deadline_queue_t timers; /* every connection's timer */
    net_server_config_t cfg;
    char *host;
    int port;
    net_conn_t *conns;
    net_conn_t *dirty;
    size_t conn_count;
    uint32_t next_id;
    uint64_t accepted, accept_errors;
    uint64_t last_emfile_log_ms;
    char *read_buf; /* one loop-wide read buffer */
    net_seg_pool_t seg_pool[SEG_CLASSES];
    uv_write_t *wreq_free; /* spare write requests, linked through ->data */
    uint32_t wreq_free_count;
    int read_buf_busy;
    int draining;
    int pending_server_closes;
    int drain_finishing;
    void (*drain_done)(net_server_t *, void *);
    void *drain_ud;
};

static void conn_close_handles(net_conn_t *c);
static void flush_conn(net_conn_t *c);

const char *net_close_reason_str(net_close_reason_t r)
{
    switch (r) {
    case NET_CLOSE_LOCAL: return "local";
    case NET_CLOSE_PEER: return "peer closed";
    case NET_CLOSE_ERROR: return "socket error";
    case NET_CLOSE_INPUT_CAP: return "input over cap";
    case NET_CLOSE_OUTPUT_CAP: return "slow consumer: queued output over cap";
    case NET_CLOSE_SHUTDOWN: return "server shutdown";
    }
    return "unknown";
}

/* ---- output queue ---- */

static int seg_class(uint32_t cap)
{
    for (int k = 0; k < SEG_CLASSES; k++)
        if ((uint32_t)SEG_MIN << k == cap)
            return k;
    return -1;
}

static net_seg_t *seg_array_get(net_server_t *s, uint32_t cap)
{
    int k = seg_class(cap);
    if (k >= 0 && s->seg_pool[k].free) {
        void *a = s->seg_pool[k].free;
        memcpy(&s->seg_pool[k].free, a, sizeof(void *));
        s->seg_pool[k].count--;
        return a;
    }
    return xmalloc(cap * sizeof(net_seg_t));
}

static void seg_array_put(net_server_t *s, net_seg_t *a, uint32_t cap)
{
    int k = seg_class(cap);
    if (k < 0 || s->seg_pool[k].count >= SEG_POOL_BYTES / (cap * sizeof(net_seg_t))) {
        free(a);
        return;
    }
    memcpy(a, &s->seg_pool[k].free, sizeof(void *));
    s->seg_pool[k].free = a;
    s->seg_pool[k].count++;
}

/* The queue is empty: hand the array back. */
static void seg_release(net_conn_t *c)
{
    if (c->segs)
        seg_array_put(c->server, c->segs, c->seg_cap);
    c->segs = NULL;
    c->seg_head = c->seg_count = c->seg_cap = 0;
}

static void seg_push(net_conn_t *c, refbuf_t *rb, size_t off, size_t len)
{
    if (c->seg_count == c->seg_cap) {
        uint32_t live = c->seg_count - c->seg_head;
        if (c->seg_head > c->seg_cap / 2) {
            memmove(c->segs, c->segs + c->seg_head, live * sizeof *c->segs);
        } else {
            uint32_t cap = c->seg_cap ? c->seg_cap * 2 : SEG_MIN;
            net_seg_t *a = seg_array_get(c->server, cap);
            if (live)
                memcpy(a, c->segs + c->seg_head, live * sizeof *c->segs);
            if (c->segs)
                seg_array_put(c->server, c->segs, c->seg_cap);
            c->segs = a;
            c->seg_cap = cap;
        }
        c->seg_head = 0;
        c->seg_count = live;
    }
    c->segs[c->seg_count++] = (net_seg_t){rb, off, len};
}

/* Drops n written bytes from the front of the queue. */
static void seg_consume(net_conn_t *c, size_t n)
{
    c->queued -= n;
    while (n > 0 && c->seg_head < c->seg_count) {
        net_seg_t *s = &c->segs[c->seg_head];
        if (n < s->len) {
            s->off += n;
            s->len -= n;
            return;
        }
        n -= s->len;
        if (s->rb == c->tail)
            c->tail = NULL;
        refbuf_unref(s->rb);
        c->seg_head++;
    }
    if (c->seg_head == c->seg_count)
        seg_release(c);
}

static void seg_free_all(net_conn_t *c)
{
    for (uint32_t i = c->seg_head; i < c->seg_count; i++)
        refbuf_unref(c->segs[i].rb);
    seg_release(c);
    c->tail = NULL;
    c->queued = 0;
}

static uv_write_t *wreq_get(net_server_t *s)
{
    uv_write_t *req = s->wreq_free;
    if (!req)
        return xmalloc(sizeof *req);
    s->wreq_free = req->data;
    s->wreq_free_count--;
    return req;
}

static void wreq_put(net_server_t *s, uv_write_t *req)
{
    if (s->wreq_free_count >= WREQ_POOL_MAX) {
        free(req);
        return;
    }
    req->data = s->wreq_free;
    s->wreq_free = req;
    s->wreq_free_count++;
}

static void on_wakeup(uv_idle_t *h)
{
    /* Nothing to do: being active makes the loop poll without blocking, so
     * output queued from a timer or a close callback is flushed by the check
     * handle in this same iteration. */
}

static void unmark_delayed(net_conn_t *c)
{
    net_server_t *s = c->server;
    if (!c->delayed)
        return;
    if (c->dirty_prev)
        c->dirty_prev->dirty_next = c->dirty_next;
    else
        s->delayed = c->dirty_next;
    if (c->dirty_next)
        c->dirty_next->dirty_prev = c->dirty_prev;
    else
        s->delayed_tail = c->dirty_prev;
    c->delayed = 0;
    c->dirty_next = c->dirty_prev = NULL;
}

static void mark_dirty(net_conn_t *c)
{
    if (c->dirty)
        return;
    unmark_delayed(c);
    if (!c->server->dirty)
        uv_idle_start(&c->server->wakeup, on_wakeup);
    c->dirty = 1;
    c->dirty_prev = NULL;
    c->dirty_next = c->server->dirty;
    if (c->dirty_next)
        c->dirty_next->dirty_prev = c;
    c->server->dirty = c;
}

/* Microseconds, truncated: due times are compared by signed difference, so
 * the wrap every 71 minutes does not matter for delays up to a second. */
static uint32_t now_us(void)
{
    return (uint32_t)(uv_hrtime() / 1000);
}

static void on_flush_timer(uv_timer_t *t);

static void arm_flush_timer(net_server_t *s)
{
    int32_t left = (int32_t)(s->delayed->flush_due - now_us());
    /* Rounded up to whole milliseconds, the timer's resolution. It counts
     * from the loop's cached time, so it may fire a little before the head
     * is due; it is then armed again for at least 1 ms, never spinning. */
    uint64_t ms = left > 0 ? ((uint64_t)left + 999) / 1000 : 0;
    uv_timer_start(&s->flush_timer, on_flush_timer, ms, 0);
}

static void on_flush_timer(uv_timer_t *t)
{
    net_server_t *s = t->data;
    uint32_t now = now_us();
    while (s->delayed && (int32_t)(s->delayed->flush_due - now) <= 0)
        mark_dirty(s->delayed); /* the check phase of this iteration writes */
    if (s->delayed)
        arm_flush_timer(s);
}

/* Output was queued: flush at the next check, or, with a flush delay, no
 * later than the delay after the queue first became non-empty. */
static void mark_output(net_conn_t *c)
{
    net_server_t *s = c->server;
    if (c->dirty || (c->delayed && c->queued < FLUSH_DELAY_MAX_QUEUED))
        return;
    if (!s->cfg.flush_delay_us || c->queued >= FLUSH_DELAY_MAX_QUEUED || c->closing ||
        c->in_flight > 0) {
        /* With a write in flight, on_write_done flushes the rest anyway. */
        mark_dirty(c);
        return;
    }
    c->flush_due = now_us() + s->cfg.flush_delay_us;
    c->delayed = 1;
    c->dirty_next = NULL;
    c->dirty_prev = s->delayed_tail;
    if (s->delayed_tail)
        s->delayed_tail->dirty_next = c;
    else
        s->delayed = c;
    s->delayed_tail = c;
    if (s->delayed == c)
        arm_flush_timer(s);
}

static int over_cap(net_conn_t *c, size_t len)
{
    size_t max = c->server->cfg.max_output;
    if (len > max || c->queued > max - len) {
        char peer[64];
        net_conn_peer(c, peer, sizeof peer);
        log_warn("slow_consumer", "conn %llu (%s): %zu bytes queued, cap %zu; closing",
                 (unsigned long long)c->id, peer, c->queued, max);
        c->reason = NET_CLOSE_OUTPUT_CAP;
        c->closing = 1;
        net_conn_close(c, 0);
        return 1;
    }
    return 0;
}

net_err_t net_conn_write(net_conn_t *c, const void *data, size_t len)
{
    if (c->closing)
        return NET_E_CLOSING;
    if (len == 0)
        return NET_OK;
    if (over_cap(c, len))
        return NET_E_OUTPUT_CAP;
    const char *p = data;
    c->queued += len;
    /* Append into the growing tail chunk while it is the last, unsent segment. */
    if (c->tail && c->seg_count > c->seg_head + c->in_flight) {
        net_seg_t *last = &c->segs[c->seg_count - 1];
        if (last->rb == c->tail) {
            size_t used = last->off + last->len;
            size_t room = c->tail->len - used;
            size_t n = len < room ? len : room;
            memcpy(c->tail->data + used, p, n);
            last->len += n;
            p += n;
            len -= n;
        }
    }
    if (len > 0) {
        /* Most turns write a few hundred bytes (a handshake, an ack): a
         * small first buffer stays in malloc's small bins, where a 16 KiB
         * one would grow and trim the heap top on every connection. */
        size_t size = c->tail ? c->tail->len * 2 : COPY_MIN;
        if (size > COPY_CHUNK)
            size = COPY_CHUNK;
        if (size < len)
            size = len;
        c->tail = refbuf_new(size);
        memcpy(c->tail->data, p, len);
        seg_push(c, c->tail, 0, len);
    }
    mark_output(c);
    return NET_OK;
}

net_err_t net_conn_write_ref(net_conn_t *c, refbuf_t *rb, size_t off, size_t len)
{
    if (c->closing)
        return NET_E_CLOSING;
    if (len == 0)
        return NET_OK;
    if (over_cap(c, len))
        return NET_E_OUTPUT_CAP;
    c->queued += len;
    seg_push(c, refbuf_ref(rb), off, len);
    c->tail = NULL; /* never append copies after a shared buffer's bytes */
    mark_output(c);
    return NET_OK;
}

size_t net_conn_queued(const net_conn_t *c)
{
    return c->queued;
}

/* ---- input ---- */

static void drop_input(net_conn_t *c)
{
    if (!c->in)
        return;
    buf_free(c->in);
    free(c->in);
    c->in = NULL;
}

/* ---- closing ---- */

static void unmark_dirty(net_conn_t *c)
{
    unmark_delayed(c);
    if (!c->dirty)
        return;
    if (c->dirty_prev)
        c->dirty_prev->dirty_next = c->dirty_next;
    else
        c->server->dirty = c->dirty_next;
    if (c->dirty_next)
        c->dirty_next->dirty_prev = c->dirty_prev;
    c->dirty = 0;
    c->dirty_next = c->dirty_prev = NULL;
}

static void conn_free(net_conn_t *c)
{
    net_server_t *s = c->server;
    unmark_dirty(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->conn_count--;
    deadline_disarm(&s->timers, &c->timer);
    seg_free_all(c);
    drop_input(c);
    free(c);
}

static void maybe_drain_done(net_server_t *s);

static void on_handle_closed(uv_handle_t *h)
{
    net_conn_t *c = h->data;
    if (c->handler && c->handler->on_close)
        c->handler->on_close(c, c->reason);
    net_server_t *s = c->server;
    conn_free(c);
    maybe_drain_done(s);
}

static void conn_close_handles(net_conn_t *c)
{
    if (c->handles_closed)
        return;
    c->handles_closed = 1;
    c->closing = 1;
    deadline_disarm(&c->server->timers, &c->timer);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
    net_conn_t *c = req->data;
    free(req);
    /* Linger: our FIN is out; keep reading (and discarding) until the peer's
     * EOF or the close timer. Closing with unread input would make the kernel
     * answer with a reset, and the peer could lose what we just wrote (a
     * WebSocket close frame, an error response). */
    if (status < 0 || !c->reading)
        conn_close_handles(c);
}

/* Called when a graceful close has written everything (or gave up). */
static void finish_graceful(net_conn_t *c)
{
    if (c->shutdown_sent || c->handles_closed)
        return;
    c->shutdown_sent = 1;
    uv_shutdown_t *req = xmalloc(sizeof *req);
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown_done) != 0) {
        free(req);
        conn_close_handles(c);
    }
}

void net_conn_close(net_conn_t *c, int graceful)
{
    if (c->handles_closed)
        return;
    if (!c->closing || !graceful) {
        c->closing = 1;
        c->graceful = graceful ? 1 : 0;
    }
    if (!c->graceful) {
        /* Drop what is queued but not yet handed to the kernel. Segments in
         * flight stay referenced until uv_close cancels the write. */
        conn_close_handles(c);
        return;
    }
    /* Bound the wait for a peer that does not read. */
    net_conn_set_timeout(c, GRACEFUL_CLOSE_MS);
    if (c->queued == 0)
        finish_graceful(c);
    else
        mark_dirty(c);
}

int net_conn_is_closing(const net_conn_t *c)
{
    return c->closing;
}

/* ---- flushing ---- */

static void on_write_done(uv_write_t *req, int status)
{
    net_conn_t *c = req->data;
    wreq_put(c->server, req);
    /* Pop the segments that were in flight. */
    size_t bytes = 0;
    for (uint32_t i = 0; i < c->in_flight; i++)
        bytes += c->segs[c->seg_head + i].len;
    c->in_flight = 0;
    if (status < 0) {
        if (status != UV_ECANCELED && !c->handles_closed) {
            if (!c->closing)
                c->reason = NET_CLOSE_ERROR;
            net_conn_close(c, 0);
        }
        return;
    }
    seg_consume(c, bytes);
    if (c->queued > 0) {
        mark_dirty(c);
    } else if (c->closing && c->graceful) {
        finish_graceful(c);
    } else if (c->handler && c->handler->on_drain) {
        c->handler->on_drain(c);
    }
}

static void flush_conn(net_conn_t *c)
{
    if (c->handles_closed || c->in_flight > 0)
        return;
    if (c->queued == 0) {
        if (c->closing && c->graceful)
            finish_graceful(c);
        return;
    }
    uv_buf_t iov[MAX_IOV];
    uint32_t n = 0;
    for (uint32_t i = c->seg_head; i < c->seg_count && n < MAX_IOV; i++, n++)
        iov[n] = uv_buf_init(c->segs[i].rb->data + c->segs[i].off, (unsigned)c->segs[i].len);
    /* One writev straight to the kernel; only a remainder goes through uv_write. */
    int w = uv_try_write((uv_stream_t *)&c->tcp, iov, (unsigned)n);
    if (w < 0 && w != UV_EAGAIN) {
        if (!c->closing)
            c->reason = NET_CLOSE_ERROR;
        net_conn_close(c, 0);
        return;
    }
    size_t written = w > 0 ? (size_t)w : 0;
    seg_consume(c, written);
    if (c->queued == 0) {
        if (c->closing && c->graceful)
            finish_graceful(c);
        else if (c->handler && c->handler->on_drain)
            c->handler->on_drain(c);
        return;
    }
    n = 0;
    for (uint32_t i = c->seg_head; i < c->seg_count && n < MAX_IOV; i++, n++)
        iov[n] = uv_buf_init(c->segs[i].rb->data + c->segs[i].off, (unsigned)c->segs[i].len);
    c->in_flight = n;
    if (c->tail && c->segs[c->seg_count - 1].rb == c->tail && n == c->seg_count - c->seg_head)
        c->tail = NULL; /* in flight: no more appends into it */
    uv_write_t *req = wreq_get(c->server);
    req->data = c;
    if (uv_write(req, (uv_stream_t *)&c->tcp, iov, (unsigned)n, on_write_done) != 0) {
        wreq_put(c->server, req);
        c->in_flight = 0;
        if (!c->closing)
            c->reason = NET_CLOSE_ERROR;
        net_conn_close(c, 0);
    }
}

static size_t feed(net_conn_t *c, const char *data, size_t len);

void net_conn_refeed(net_conn_t *c)
{
    if (c->closing || !c->in)
        return;
    c->refeed = 1;
    mark_dirty(c);
}

static void refeed_conn(net_conn_t *c)
{
    c->refeed = 0;
    if (c->closing || !c->in)
        return;
    size_t used = feed(c, c->in->data, c->in->len);
    buf_consume(c->in, used);
    if (c->in->len == 0)
        drop_input(c);
}

static void on_check(uv_check_t *h)
{
    net_server_t *s = h->data;
    /* Work on a snapshot: a connection marked dirty again while flushing
     * (a drain callback that writes) waits for the next iteration. Nothing is
     * freed during this phase: frees happen in close callbacks. */
    net_conn_t *c = s->dirty;
    s->dirty = NULL;
    while (c) {
        net_conn_t *next = c->dirty_next;
        c->dirty = 0;
        c->dirty_next = c->dirty_prev = NULL;
        if (c->refeed)
            refeed_conn(c);
        flush_conn(c);
        c = next;
    }
    if (!s->dirty)
        uv_idle_stop(&s->wakeup);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    net_conn_t *c = h->data;
    net_server_t *s = c->server;
    if (s->read_buf_busy) {
        /* Only if libuv ever nested reads: fall back to a private buffer. */
        *out = uv_buf_init(xmalloc(READ_CHUNK), READ_CHUNK);
        return;
    }
    s->read_buf_busy = 1;
    *out = uv_buf_init(s->read_buf, READ_CHUNK);
}

/* Offers bytes to the handler until it stops consuming; returns what it
 * consumed in total. A handler swap re-offers the rest at once. */
static size_t feed(net_conn_t *c, const char *data, size_t len)
{
    size_t used = 0;
    c->in_on_data = 1;
    while (used < len && !c->closing && c->handler) {
        const net_conn_handler_t *h = c->handler;
        size_t n = h->on_data(c, data + used, len - used);
        if (n > len - used)
            n = len - used;
        used += n;
        if (c->handler == h && n == 0)
            break;
    }
    c->in_on_data = 0;
    return used;
}

static void input_over_cap(net_conn_t *c)
{
    c->reason = NET_CLOSE_INPUT_CAP;
    net_conn_close(c, 0);
}

/* Offers newly read bytes to the handler. Bytes the handler leaves go to the
 * capped tail buffer; a pending tail is topped up at most to the cap and
 * offered again, as often as the handler makes progress, so a partial frame
 * header followed by a full read never trips the cap. */
static void take_input(net_conn_t *c, const char *p, size_t n)
{
    while (n > 0 && !c->closing) {
        if (!c->in) {
            size_t used = feed(c, p, n);
            p += used;
            n -= used;
            if (n > 0 && !c->closing) {
                c->in = xmalloc(sizeof *c->in);
                buf_init(c->in, c->server->cfg.max_input);
                if (buf_append(c->in, p, n) != BUF_OK)
                    input_over_cap(c);
            }
            break;
        }
        size_t room = c->in->max - c->in->len;
        size_t take = n < room ? n : room;
        if (take == 0) {
            input_over_cap(c);
            break;
        }
        buf_append(c->in, p, take);
        p += take;
        n -= take;
        size_t used = feed(c, c->in->data, c->in->len);
        buf_consume(c->in, used);
        if (c->in->len == 0)
            drop_input(c); /* idle connections own no read memory */
    }
    if (c->in && c->in->len == 0)
        drop_input(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    net_conn_t *c = stream->data;
    net_server_t *s = c->server;
    int shared = b->base == s->read_buf;

    if (nread > 0 && !c->closing) {
        take_input(c, b->base, (size_t)nread);
    } else if (nread < 0) {
        if (!c->closing)
            c->reason = nread == UV_EOF ? NET_CLOSE_PEER : NET_CLOSE_ERROR;
        /* The peer is gone or done (EOF ends a lingering close too). */
        c->reading = 0;
        net_conn_close(c, 0);
    }
    /* While closing, input is read and dropped (see on_shutdown_done). */

    if (shared)
        s->read_buf_busy = 0;
    else if (b->base)
        free(b->base);
}

void net_conn_pause_reading(net_conn_t *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

void net_conn_resume_reading(net_conn_t *c)
{
    if (!c->reading && !c->closing) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
    }
}

/* ---- timers ---- */

static void on_conn_deadline(deadline_queue_t *q, deadline_t *d)
{
    net_conn_t *c = (net_conn_t *)((char *)d - offsetof(net_conn_t, timer));
    if (c->closing) {
        /* A graceful close that took too long: give up on the peer. */
        if (c->graceful)
            conn_close_handles(c);
        return;
    }
    if (c->handler && c->handler->on_timeout)
        c->handler->on_timeout(c);
}

void net_conn_set_timeout(net_conn_t *c, uint64_t ms)
{
    if (c->handles_closed)
        return;
    if (ms == 0)
        deadline_disarm(&c->server->timers, &c->timer);
    else
        deadline_arm(&c->server->timers, &c->timer, ms);
}

/* ---- accessors ---- */

void net_conn_set_handler(net_conn_t *c, const net_conn_handler_t *h, void *data)
{
    c->handler = h;
    c->data = data;
}

void *net_conn_data(const net_conn_t *c)
{
    return c->data;
}

net_server_t *net_conn_server(const net_conn_t *c)
{
    return c->server;
}

uint64_t net_conn_id(const net_conn_t *c)
{
    return c->id;
}

void net_conn_peer(const net_conn_t *c, char *out, size_t outsz)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "?";
    int port = 0;
    if (outsz == 0)
        return;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof ip);
            port = ntohs(a->sin6_port);
        } else if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof ip);
            port = ntohs(a->sin_port);
        }
    }
    snprintf(out, outsz, "%s:%d", ip, port);
}

/* ---- server ---- */

/* Sets up one accepted descriptor as a connection. */
static void conn_accepted(net_server_t *s, int fd)
{
    net_conn_t *c = xcalloc(1, sizeof *c);
    c->server = s;
    c->id = ++s->next_id;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->conn_count++;

    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        s->accept_errors++;
        c->reason = NET_CLOSE_ERROR;
        conn_close_handles(c);
        return;
    }
    s->accepted++;
    if (s->cfg.tcp_nodelay)
        uv_tcp_nodelay(&c->tcp, 1);
    if (s->draining) {
        conn_close_handles(c);
        return;
    }
    s->cfg.on_accept(c, s->cfg.ud);
    if (!c->handler) {
        net_conn_close(c, 0);
        return;
    }
    if (!c->closing)
        net_conn_resume_reading(c);
}

static void on_listener_readable(uv_poll_t *h, int status, int events);

static void on_accept_backoff(uv_timer_t *t)
{
    net_server_t *s = t->data;
    if (!s->draining)
        uv_poll_start(&s->listener, UV_READABLE, on_listener_readable);
}

/* Accepts a bounded burst, so a reconnect storm cannot starve the loop's
 * other work. Out of descriptors, accepting pauses for a moment: pending
 * clients wait in the kernel's backlog instead of being reset, the loop does
 * not spin on a listener that stays readable, and accepting resumes by itself
 * once descriptors are free again. */
static void on_listener_readable(uv_poll_t *h, int status, int events)
{
    net_server_t *s = h->data;
    if (status < 0)
        return;
    for (int i = 0; i < ACCEPT_BURST && !s->draining; i++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_accepted(s, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        s->accept_errors++;
        uint64_t now = uv_now(s->loop);
        if (s->last_emfile_log_ms == 0 || now - s->last_emfile_log_ms >= 1000) {
            s->last_emfile_log_ms = now;
            log_warn("accept_failed", "accept: %s with %zu connections open; pausing accepts %d ms",
                     strerror(errno), s->conn_count, ACCEPT_BACKOFF_MS);
        }
        uv_poll_stop(&s->listener);
        uv_timer_start(&s->accept_backoff, on_accept_backoff, ACCEPT_BACKOFF_MS, 0);
        return;
    }
}

static int listen_socket(const char *host, int port, int backlog, uv_os_sock_t *out)
{
    struct sockaddr_storage addr;
    socklen_t alen;
    int r;
    if (strchr(host, ':')) {
        r = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
        alen = sizeof(struct sockaddr_in6);
    } else {
        r = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
        alen = sizeof(struct sockaddr_in);
    }
    if (r != 0)
        return r;
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, alen) != 0 || listen(fd, backlog) != 0) {
        r = uv_translate_sys_error(errno);
        close(fd);
        return r;
    }
    *out = fd;
    return 0;
}

int net_server_start(uv_loop_t *loop, const net_server_config_t *cfg, net_server_t **out)
{
    uv_os_sock_t fd = -1;
    int r = listen_socket(cfg->host, cfg->port, cfg->backlog ? cfg->backlog : DEFAULT_BACKLOG, &fd);
    if (r != 0)
        return r;

    net_server_t *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->cfg = *cfg;
    if (!s->cfg.max_input)
        s->cfg.max_input = DEFAULT_MAX_INPUT;
    if (!s->cfg.max_output)
        s->cfg.max_output = DEFAULT_MAX_OUTPUT;
    s->host = xstrdup(cfg->host);
    s->cfg.host = s->host;
    s->listen_fd = fd;

    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);

    s->read_buf = xmalloc(READ_CHUNK);
    uv_poll_init_socket(loop, &s->listener, fd);
    s->listener.data = s;
    uv_poll_start(&s->listener, UV_READABLE, on_listener_readable);
    uv_timer_init(loop, &s->accept_backoff);
    s->accept_backoff.data = s;
    uv_check_init(loop, &s->flusher);
    s->flusher.data = s;
    uv_check_start(&s->flusher, on_check);
    uv_idle_init(loop, &s->wakeup);
    s->wakeup.data = s;
    uv_timer_init(loop, &s->flush_timer);
    s->flush_timer.data = s;
    if (s->cfg.flush_delay_us > FLUSH_DELAY_MAX_US)
        s->cfg.flush_delay_us = FLUSH_DELAY_MAX_US;
    uv_timer_init(loop, &s->drain_timer);
    s->drain_timer.data = s;
    deadline_queue_init(&s->timers, loop, on_conn_deadline, s);
    *out = s;
    return 0;
}

int net_server_port(const net_server_t *s)
{
    return s->port;
}

size_t net_server_conn_count(const net_server_t *s)
{
    return s->conn_count;
}

uint64_t net_server_accepted(const net_server_t *s)
{
    return s->accepted;
}

uint64_t net_server_accept_errors(const net_server_t *s)
{
    return s->accept_errors;
}

uv_loop_t *net_server_loop(const net_server_t *s)
{
    return s->loop;
}

static void server_free_pools(net_server_t *s)
{
    for (int k = 0; k < SEG_CLASSES; k++) {
        while (s->seg_pool[k].free) {
            void *a = s->seg_pool[k].free;
            memcpy(&s->seg_pool[k].free, a, sizeof(void *));
            free(a);
        }
        s->seg_pool[k].count = 0;
    }
    while (s->wreq_free) {
        uv_write_t *req = s->wreq_free;
        s->wreq_free = req->data;
        free(req);
    }
    s->wreq_free_count = 0;
}

static void server_handle_closed(net_server_t *s)
{
    if (--s->pending_server_closes > 0 || !s->drain_finishing)
        return;
    void (*done)(net_server_t *, void *) = s->drain_done;
    void *ud = s->drain_ud;
    close(s->listen_fd);
    if (done)
        done(s, ud);
    server_free_pools(s);
    free(s->read_buf);
    free(s->host);
    free(s);
}

static void on_server_handle_closed(uv_handle_t *h)
{
    server_handle_closed(h->data);
}

static void on_timers_closed(uv_handle_t *h)
{
    deadline_queue_t *q = h->data;
    server_handle_closed(q->data);
}

static void maybe_drain_done(net_server_t *s)
{
    if (!s->draining || s->conn_count > 0 || s->drain_finishing)
        return;
    s->drain_finishing = 1;
    s->pending_server_closes += 5;
    uv_close((uv_handle_t *)&s->flusher, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->wakeup, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->flush_timer, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->drain_timer, on_server_handle_closed);
    deadline_queue_close(&s->timers, on_timers_closed);
}

static void on_drain_timeout(uv_timer_t *t)
{
    net_server_t *s = t->data;
    for (net_conn_t *c = s->conns; c; c = c->next) {
        if (!c->handles_closed) {
            c->reason = NET_CLOSE_SHUTDOWN;
            conn_close_handles(c);
        }
    }
}

void net_server_drain(net_server_t *s, uint64_t timeout_ms, void (*done)(net_server_t *, void *),
                      void *ud)
{
    if (s->draining)
        return;
    s->draining = 1;
    s->drain_done = done;
    s->drain_ud = ud;
    /* Stop accepting at once; the descriptor closes with the last handle. */
    s->pending_server_closes += 2;
    uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->accept_backoff, on_server_handle_closed);
    for (net_conn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (c->handler && c->handler->on_shutdown)
            c->handler->on_shutdown(c);
        else
            net_conn_close(c, 1);
    }
    uv_timer_start(&s->drain_timer, on_drain_timeout, timeout_ms, 0);
    maybe_drain_done(s);
}
