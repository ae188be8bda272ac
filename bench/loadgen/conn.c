/* conn.c — Socket.IO-over-WebSocket client connections on one epoll loop
 * (see conn.h). */
#include "conn.h"

#include "core/alloc.h"
#include "ws/frame.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SCRATCH_MIN (256u * 1024u)
#define MAX_FRAME (64u * 1024u * 1024u)
#define MAX_HTTP_HEAD 8192u
#define WATCH_TAG UINT64_MAX

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t next_mask(lg_loop_t *l)
{
    /* xorshift64: the key only has to vary; a server does not judge it. */
    uint64_t x = l->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    l->rng = x;
    return (uint32_t)(x >> 16);
}

int lg_loop_init(lg_loop_t *l, const char *host, int port, uint32_t first, uint32_t n,
                 const lg_handlers_t *h, void *ud, char *err, size_t errsz)
{
    memset(l, 0, sizeof *l);
    l->ep = -1;
    l->watch_fd = -1;
    l->dst.sin_family = AF_INET;
    l->dst.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &l->dst.sin_addr) != 1) {
        snprintf(err, errsz, "--host: expected an IPv4 address, got \"%s\"", host);
        return -1;
    }
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0) {
        snprintf(err, errsz, "epoll_create1: %s", strerror(errno));
        return -1;
    }
    int len = snprintf(l->request, sizeof l->request,
                       "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                       "Host: %s:%d\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: bG9hZGdlbi1wYXJsZXktMQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n",
                       host, port);
    l->request_len = (size_t)len;
    l->h = *h;
    l->ud = ud;
    l->nconns = n;
    l->conns = xcalloc(n ? n : 1, sizeof *l->conns);
    for (uint32_t i = 0; i < n; i++) {
        l->conns[i].fd = -1;
        l->conns[i].id = first + i;
    }
    l->scratch_cap = SCRATCH_MIN;
    l->scratch = xmalloc(l->scratch_cap);
    l->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)getpid() << 32) ^ lg_now_ns();
    l->now = lg_now_ns();
    return 0;
}

static void close_socket(lg_loop_t *l, lg_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd); /* SO_LINGER 0: the kernel sends RST, keeps no TIME_WAIT */
    c->fd = -1;
    c->state = LG_CLOSED;
    c->gen++;
    c->rx_len = 0;
    c->tx_len = c->tx_off = 0;
    c->epollout = 0;
    c->next_ack = 0;
    /* A dirty connection stays on the list; the flush skips closed ones. */
}

void lg_loop_free(lg_loop_t *l)
{
    for (uint32_t i = 0; i < l->nconns; i++) {
        close_socket(l, &l->conns[i]);
        free(l->conns[i].rx);
        free(l->conns[i].tx);
    }
    free(l->conns);
    free(l->scratch);
    if (l->ep >= 0)
        close(l->ep);
    memset(l, 0, sizeof *l);
    l->ep = -1;
}

static void down(lg_loop_t *l, lg_conn_t *c, const char *why)
{
    close_socket(l, c);
    if (l->h.on_down)
        l->h.on_down(l, c, why);
}

int lg_conn_open(lg_loop_t *l, lg_conn_t *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    struct linger lin = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    c->t_open = lg_now_ns();
    if (connect(fd, (struct sockaddr *)&l->dst, sizeof l->dst) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = c - l->conns};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->state = LG_TCP;
    c->epollout = 1;
    c->rx_len = 0;
    c->tx_len = c->tx_off = 0;
    c->next_ack = 0;
    return 0;
}

void lg_conn_drop(lg_loop_t *l, lg_conn_t *c)
{
    close_socket(l, c);
}

static void mark_dirty(lg_loop_t *l, lg_conn_t *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        c->next_dirty = l->dirty;
        l->dirty = c;
    }
}

static char *tx_room(lg_conn_t *c, size_t n)
{
    if (c->tx_off > 0 && c->tx_off == c->tx_len)
        c->tx_off = c->tx_len = 0;
    if (c->tx_len + n > c->tx_cap) {
        if (c->tx_off > 0) {
            memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
            c->tx_len -= c->tx_off;
            c->tx_off = 0;
        }
        if (c->tx_len + n > c->tx_cap) {
            size_t cap = c->tx_cap ? c->tx_cap : 512;
            while (cap < c->tx_len + n)
                cap *= 2;
            c->tx = xrealloc(c->tx, cap);
            c->tx_cap = cap;
        }
    }
    return c->tx + c->tx_len;
}

static void send_frame(lg_loop_t *l, lg_conn_t *c, unsigned opcode, const char *data, size_t n)
{
    if (c->state == LG_CLOSED)
        return;
    uint8_t hdr[WS_MAX_HEADER];
    size_t hl = ws_frame_header_encode(hdr, opcode, WS_FIN, n);
    hdr[1] |= 0x80; /* client frames are masked (RFC 6455 §5.3) */
    uint32_t key = next_mask(l);
    memcpy(hdr + hl, &key, 4);
    hl += 4;
    char *dst = tx_room(c, hl + n);
    memcpy(dst, hdr, hl);
    ws_unmask((uint8_t *)dst + hl, (const uint8_t *)data, n, hdr + hl - 4, 0);
    c->tx_len += hl + n;
    mark_dirty(l, c);
}

void lg_conn_send_text(lg_loop_t *l, lg_conn_t *c, const char *data, size_t n)
{
    send_frame(l, c, WS_OP_TEXT, data, n);
}

uint64_t lg_conn_emit(lg_loop_t *l, lg_conn_t *c, int want_ack, const char *args, size_t n)
{
    char stackbuf[2048];
    char *p = n + 32 <= sizeof stackbuf ? stackbuf : xmalloc(n + 32);
    size_t k = 0;
    p[k++] = '4';
    p[k++] = '2';
    uint64_t id = 0;
    if (want_ack) {
        id = c->next_ack++;
        k += (size_t)snprintf(p + k, 24, "%llu", (unsigned long long)id);
    }
    memcpy(p + k, args, n);
    k += n;
    lg_conn_send_text(l, c, p, k);
    if (p != stackbuf)
        free(p);
    return id;
}

static int set_epollout(lg_loop_t *l, lg_conn_t *c, int on)
{
    if (c->epollout == on)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u64 = c - l->conns};
    if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return -1;
    c->epollout = (uint8_t)on;
    return 0;
}

/* Writes what c has queued. Returns 0, or -1 when the connection went down. */
static int flush(lg_loop_t *l, lg_conn_t *c)
{
    if (c->state == LG_CLOSED || c->state == LG_TCP)
        return 0;
    while (c->tx_off < c->tx_len) {
        ssize_t w = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (w > 0) {
            c->tx_off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (set_epollout(l, c, 1) != 0) {
                down(l, c, "epoll_ctl failed");
                return -1;
            }
            return 0;
        }
        down(l, c, "send failed");
        return -1;
    }
    c->tx_off = c->tx_len = 0;
    if (c->epollout && set_epollout(l, c, 0) != 0) {
        down(l, c, "epoll_ctl failed");
        return -1;
    }
    return 0;
}

static void send_connect(lg_loop_t *l, lg_conn_t *c)
{
    char buf[1024];
    buf[0] = '4';
    buf[1] = '0';
    size_t n = 2;
    if (l->h.auth)
        n += l->h.auth(l, c, buf + 2, sizeof buf - 2);
    lg_conn_send_text(l, c, buf, n);
}

static uint64_t parse_uint(const char **p, const char *end)
{
    uint64_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        v = v * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    return v;
}

/* One Engine.IO text packet. */
static void on_text(lg_loop_t *l, lg_conn_t *c, const char *p, size_t n)
{
    if (n == 0) {
        down(l, c, "empty Engine.IO packet");
        return;
    }
    switch (p[0]) {
    case '0':
        if (c->state == LG_EIO) {
            c->state = LG_SIO;
            send_connect(l, c);
        }
        return;
    case '1':
        down(l, c, "Engine.IO close from the server");
        return;
    case '2':
        l->pings++;
        lg_conn_send_text(l, c, "3", 1);
        return;
    case '4':
        break;
    default:
        return; /* noop and the like */
    }
    if (n < 2) {
        down(l, c, "empty Socket.IO packet");
        return;
    }
    const char *q = p + 2, *end = p + n;
    switch (p[1]) {
    case '0':
        if (c->state == LG_SIO) {
            c->state = LG_READY;
            if (l->h.on_ready)
                l->h.on_ready(l, c);
        }
        return;
    case '1':
        down(l, c, "Socket.IO disconnect from the server");
        return;
    case '2':
        if (l->h.on_event)
            l->h.on_event(l, c, q, (size_t)(end - q));
        return;
    case '3': {
        uint64_t id = parse_uint(&q, end);
        if (l->h.on_ack)
            l->h.on_ack(l, c, id, q, (size_t)(end - q));
        return;
    }
    case '4':
        down(l, c, "namespace connect refused (CONNECT_ERROR)");
        return;
    default:
        return;
    }
}

/* Parses buf[0..len) for c. Returns the bytes consumed, or -1 when the
 * connection was closed (by an error, the peer or a callback). */
static ssize_t parse(lg_loop_t *l, lg_conn_t *c, const char *buf, size_t len)
{
    size_t off = 0;
    uint32_t gen = c->gen;
    if (c->state == LG_HTTP) {
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (!end) {
            if (len > MAX_HTTP_HEAD) {
                down(l, c, "HTTP response head too long");
                return -1;
            }
            return 0;
        }
        if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
            down(l, c, "upgrade refused (no 101)");
            return -1;
        }
        off = (size_t)(end - buf) + 4;
        c->state = LG_EIO;
    }
    while (off < len) {
        ws_frame_header_t h;
        int r = ws_frame_header_parse((const uint8_t *)buf + off, len - off, &h);
        if (r == 0)
            break;
        if (r < 0) {
            down(l, c, "bad WebSocket frame header");
            return -1;
        }
        if (h.len > MAX_FRAME) {
            down(l, c, "WebSocket frame too big");
            return -1;
        }
        if (len - off - (size_t)r < h.len)
            break;
        const char *payload = buf + off + r;
        size_t plen = (size_t)h.len;
        off += (size_t)r + plen;
        l->frames_in++;
        if (h.masked) {
            down(l, c, "masked frame from the server");
            return -1;
        }
        if (!h.fin || h.opcode == WS_OP_CONT) {
            down(l, c, "fragmented message (not supported)");
            return -1;
        }
        switch (h.opcode) {
        case WS_OP_TEXT:
            on_text(l, c, payload, plen);
            break;
        case WS_OP_PING:
            send_frame(l, c, WS_OP_PONG, payload, plen);
            break;
        case WS_OP_CLOSE:
            down(l, c, "WebSocket close from the server");
            return -1;
        default:
            break; /* binary messages and pongs: not used by the scenarios */
        }
        if (c->gen != gen)
            return -1;
    }
    return (ssize_t)off;
}

static void on_readable(lg_loop_t *l, lg_conn_t *c)
{
    size_t have = 0;
    if (c->rx_len) {
        if (l->scratch_cap < (size_t)c->rx_len + SCRATCH_MIN) {
            l->scratch_cap = (size_t)c->rx_len + SCRATCH_MIN;
            l->scratch = xrealloc(l->scratch, l->scratch_cap);
        }
        memcpy(l->scratch, c->rx, c->rx_len);
        have = c->rx_len;
        c->rx_len = 0;
    }
    ssize_t n = recv(c->fd, l->scratch + have, l->scratch_cap - have, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            c->rx_len = (uint32_t)have; /* still in c->rx: memcpy did not move it */
            return;
        }
        down(l, c, n == 0 ? "closed by the server" : "recv failed");
        return;
    }
    have += (size_t)n;
    l->bytes_in += (uint64_t)n;
    l->now = lg_now_ns();
    ssize_t used = parse(l, c, l->scratch, have);
    if (used < 0)
        return;
    size_t rest = have - (size_t)used;
    if (rest) {
        if (rest > c->rx_cap) {
            size_t cap = c->rx_cap ? c->rx_cap : 256;
            while (cap < rest)
                cap *= 2;
            c->rx = xrealloc(c->rx, cap);
            c->rx_cap = (uint32_t)cap;
        }
        memcpy(c->rx, l->scratch + used, rest);
        c->rx_len = (uint32_t)rest;
    }
}

static void on_connected(lg_loop_t *l, lg_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        down(l, c, err == ECONNREFUSED ? "connection refused" : "connect failed");
        return;
    }
    c->state = LG_HTTP;
    memcpy(tx_room(c, l->request_len), l->request, l->request_len);
    c->tx_len += l->request_len;
    flush(l, c);
}

int lg_loop_watch(lg_loop_t *l, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WATCH_TAG};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -1;
    l->watch_fd = fd;
    return 0;
}

int lg_loop_poll(lg_loop_t *l, int timeout_ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(l->ep, evs, 512, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            n = 0;
        else
            return -1;
    }
    l->now = lg_now_ns();
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == WATCH_TAG) {
            l->watch_ready = 1;
            continue;
        }
        lg_conn_t *c = &l->conns[evs[i].data.u64];
        uint32_t gen = c->gen;
        if (c->state == LG_CLOSED)
            continue;
        if (c->state == LG_TCP) {
            if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                on_connected(l, c);
            continue;
        }
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            on_readable(l, c);
        if (c->gen == gen && (evs[i].events & EPOLLOUT))
            flush(l, c);
    }
    lg_loop_flush(l);
    return 0;
}

void lg_loop_flush(lg_loop_t *l)
{
    while (l->dirty) {
        lg_conn_t *c = l->dirty;
        l->dirty = c->next_dirty;
        c->dirty = 0;
        flush(l, c);
    }
}
