/* run.c — one generator process: set-up, the barrier with the parent, the
 * measured phase, and the helpers every scenario shares (see run.h). */
#include "run.h"

#include "core/alloc.h"
#include "procstat.h"

#include <errno.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ATTEMPTS 5

static const lg_scenario_ops_t *ops_for(lg_scenario_t s)
{
    switch (s) {
    case LG_FANOUT:
        return &lg_fanout_ops;
    case LG_CHAT:
        return &lg_chat_ops;
    case LG_IDLE:
        return &lg_idle_ops;
    case LG_CONNECT:
        return &lg_connect_ops;
    case LG_STORM:
        return &lg_storm_ops;
    }
    return NULL;
}

uint32_t lg_room_of(const lg_opts_t *o, uint32_t id)
{
    return id % (uint32_t)o->rooms;
}

uint32_t lg_room_size(const lg_opts_t *o, uint32_t room)
{
    uint32_t n = (uint32_t)o->connections, r = (uint32_t)o->rooms;
    return room < n ? (n - 1 - room) / r + 1 : 0;
}

void lg_run_error(lg_run_t *r, const char *why)
{
    r->res.errors++;
    if (!r->res.first_error[0])
        snprintf(r->res.first_error, sizeof r->res.first_error, "%s", why);
}

void lg_run_refusal(lg_run_t *r, const char *p, size_t n)
{
    r->res.refused++;
    if (!r->res.first_refusal[0]) {
        size_t k = n < sizeof r->res.first_refusal - 1 ? n : sizeof r->res.first_refusal - 1;
        memcpy(r->res.first_refusal, p, k);
        r->res.first_refusal[k] = '\0';
    }
}

void lg_run_queue(lg_run_t *r, uint32_t local)
{
    r->queue[(r->q_head + r->q_len) % r->count] = local;
    r->q_len++;
}

/* Opens queued connections while fewer than r->concurrency are pending. */
void lg_run_pump(lg_run_t *r)
{
    while (r->q_len > 0 && r->in_flight < r->concurrency) {
        uint32_t i = r->queue[r->q_head];
        r->q_head = (r->q_head + 1) % r->count;
        r->q_len--;
        lg_conn_t *c = &r->loop.conns[i];
        r->peers[i].attempts++;
        if (lg_conn_open(&r->loop, c) != 0) {
            lg_run_error(r, "socket/connect failed at once (out of fds or ports?)");
            if (r->retry && r->peers[i].attempts < MAX_ATTEMPTS)
                lg_run_queue(r, i);
            else
                r->gave_up++;
            /* Opening fails the same way again right now: retry next turn. */
            return;
        }
        r->in_flight++;
    }
}

void lg_run_make_senders(lg_run_t *r)
{
    for (uint32_t i = 0; i < r->count; i++)
        if (r->first + i < (uint32_t)r->o->senders)
            r->nsenders++;
    r->senders = xcalloc(r->nsenders ? r->nsenders : 1, sizeof *r->senders);
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->count; i++) {
        uint32_t id = r->first + i;
        r->peers[i].sender = -1;
        if (id >= (uint32_t)r->o->senders)
            continue;
        lg_sender_t *s = &r->senders[k];
        s->conn = i;
        uint32_t size = lg_room_size(r->o, lg_room_of(r->o, id));
        s->fan = size > 0 ? size - 1 : 0;
        s->sent_at = xcalloc(LG_RING, sizeof *s->sent_at);
        r->peers[i].sender = (int32_t)k;
        k++;
    }
}

uint64_t lg_due(const lg_run_t *r, uint32_t id)
{
    double phase = r->o->senders > 0 ? (double)id / (double)r->o->senders : 0.0;
    return (uint64_t)((double)(r->loop.now - r->t0) * (double)r->o->rate / 1e9 + phase);
}

size_t lg_payload(const lg_run_t *r, uint32_t sender, uint64_t ns, char *out, size_t cap)
{
    int n = snprintf(out, cap, "T%u:%llu;", sender, (unsigned long long)ns);
    size_t len = (size_t)n;
    size_t want = (size_t)r->o->payload;
    if (want > cap - 1)
        want = cap - 1;
    if (len < want) {
        memcpy(out + len, r->pad, want - len);
        len = want;
    }
    return len;
}

int lg_payload_parse(const char *p, const char *end, uint32_t *sender, uint64_t *ns)
{
    if (p >= end || *p != 'T')
        return -1;
    p++;
    uint64_t s = 0, t = 0;
    const char *d = p;
    while (p < end && *p >= '0' && *p <= '9')
        s = s * 10 + (uint64_t)(*p++ - '0');
    if (p == d || p >= end || *p != ':')
        return -1;
    p++;
    d = p;
    while (p < end && *p >= '0' && *p <= '9')
        t = t * 10 + (uint64_t)(*p++ - '0');
    if (p == d || p >= end || *p != ';')
        return -1;
    *sender = (uint32_t)s;
    *ns = t;
    return 0;
}

/* --- loop callbacks: common bookkeeping, then the scenario's. */

static void h_ready(lg_loop_t *l, lg_conn_t *c)
{
    lg_run_t *r = l->ud;
    lg_peer_t *p = &r->peers[c - l->conns];
    if (!p->ready) {
        p->ready = 1;
        r->ready++;
        if (r->in_flight)
            r->in_flight--;
    }
    r->t_ready_last = l->now;
    if (r->ops->on_ready)
        r->ops->on_ready(r, c);
}

static void h_event(lg_loop_t *l, lg_conn_t *c, const char *p, size_t n)
{
    lg_run_t *r = l->ud;
    if (r->ops->on_event)
        r->ops->on_event(r, c, p, n);
}

static void h_ack(lg_loop_t *l, lg_conn_t *c, uint64_t id, const char *p, size_t n)
{
    lg_run_t *r = l->ud;
    if (r->ops->on_ack)
        r->ops->on_ack(r, c, id, p, n);
}

static void h_down(lg_loop_t *l, lg_conn_t *c, const char *why)
{
    lg_run_t *r = l->ud;
    uint32_t i = (uint32_t)(c - l->conns);
    lg_peer_t *p = &r->peers[i];
    if (p->ready) {
        p->ready = 0;
        r->ready--;
    } else if (r->in_flight) {
        r->in_flight--;
    }
    if (p->joined) {
        p->joined = 0;
        r->joined--;
    }
    lg_run_error(r, why);
    if (r->retry && p->attempts < MAX_ATTEMPTS)
        lg_run_queue(r, i);
    else if (r->retry)
        r->gave_up++;
}

static size_t h_auth(lg_loop_t *l, lg_conn_t *c, char *out, size_t cap)
{
    lg_run_t *r = l->ud;
    return r->ops->auth ? r->ops->auth(r, c, out, cap) : 0;
}

/* --- talking to the parent */

static int write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static int fail(int fd_out, const char *fmt, const char *detail)
{
    char msg[LG_ERR_TEXT * 2 + 64];
    memset(msg, 0, sizeof msg);
    msg[0] = 'E';
    snprintf(msg + 1, sizeof msg - 1, fmt, detail);
    write_all(fd_out, msg, sizeof msg);
    return 1;
}

int lg_child_main(const lg_opts_t *o, uint32_t first, uint32_t count, int fd_in, int fd_out)
{
    static lg_run_t run;
    lg_run_t *r = &run;
    char err[256];
    memset(r, 0, sizeof *r);
    r->o = o;
    r->ops = ops_for(o->scenario);
    r->first = first;
    r->count = count;
    r->peers = xcalloc(count ? count : 1, sizeof *r->peers);
    r->queue = xcalloc(count ? count : 1, sizeof *r->queue);
    r->concurrency = (uint32_t)o->concurrency;
    memset(r->pad, 'x', sizeof r->pad);
    lg_handlers_t h = {
        .on_ready = h_ready,
        .on_event = h_event,
        .on_ack = h_ack,
        .on_down = h_down,
        .auth = h_auth,
    };
    if (lg_loop_init(&r->loop, o->host, (int)o->port, first, count, &h, r, err, sizeof err) != 0)
        return fail(fd_out, "%s", err);
    for (uint32_t i = 0; i < count; i++) {
        r->peers[i].room = lg_room_of(o, first + i);
        r->peers[i].sender = -1;
    }
    lg_loop_watch(&r->loop, fd_in);

    /* Set-up. */
    r->retry = 1;
    r->ops->setup(r);
    uint64_t deadline = lg_now_ns() + (uint64_t)o->setup_timeout_ms * 1000000u;
    while (!r->ops->setup_done(r)) {
        lg_run_pump(r);
        if (lg_loop_poll(&r->loop, 5) != 0)
            return fail(fd_out, "epoll_wait: %s", strerror(errno));
        if (r->loop.now > deadline) {
            snprintf(err, sizeof err,
                     "%u of %u connections set up (%u in the namespace) after %lld ms; "
                     "first error: %.100s",
                     r->joined, count, r->ready, (long long)o->setup_timeout_ms,
                     r->res.first_error[0] ? r->res.first_error : "none");
            return fail(fd_out, "set-up timed out: %s", err);
        }
        if (r->gave_up) {
            snprintf(err, sizeof err, "a connection failed %d times; first error: %.100s",
                     MAX_ATTEMPTS, r->res.first_error);
            return fail(fd_out, "set-up failed: %s", err);
        }
        if (r->loop.watch_ready)
            return fail(fd_out, "%s", "parent went away during set-up");
    }
    if (write_all(fd_out, "R", 1) != 0)
        return 1;

    /* Barrier: keep answering pings while the parent gathers everyone. */
    while (!r->loop.watch_ready)
        if (lg_loop_poll(&r->loop, 50) != 0)
            return fail(fd_out, "epoll_wait: %s", strerror(errno));
    char go;
    uint64_t t0;
    if (read_all(fd_in, &go, 1) != 0 || go != 'G' || read_all(fd_in, &t0, sizeof t0) != 0)
        return 1;
    /* fd_in is not polled any more: its next readability is EOF at exit. */
    epoll_ctl(r->loop.ep, EPOLL_CTL_DEL, fd_in, NULL);
    r->loop.watch_ready = 0;

    /* Measured phase. Errors from the set-up are not this phase's. */
    memset(&r->res, 0, sizeof r->res);
    r->retry = 0;
    r->t0 = t0;
    while (lg_now_ns() < t0)
        lg_loop_poll(&r->loop, 1);
    r->going = 1;
    r->ops->go(r);
    lg_loop_flush(&r->loop);
    for (;;) {
        lg_run_pump(r);
        uint64_t now = r->loop.now;
        if (!r->measuring && now >= r->win_start) {
            r->measuring = 1;
            r->cpu_start = lg_self_cpu();
            uint64_t errors = r->res.errors, ests = r->res.established;
            char fe[LG_ERR_TEXT];
            memcpy(fe, r->res.first_error, sizeof fe);
            /* Counters restart at the window; errors count from T0. */
            memset(&r->res, 0, sizeof r->res);
            r->res.errors = errors;
            r->res.established = ests;
            memcpy(r->res.first_error, fe, sizeof fe);
        }
        if (r->win_end ? now >= r->win_end : (r->measuring && r->ops->done(r)))
            break;
        if (!r->win_end && now - t0 > (uint64_t)o->phase_timeout_ms * 1000000u) {
            r->res.timed_out = 1;
            r->t_ready_last = now;
            break;
        }
        if (lg_loop_poll(&r->loop, 1) != 0)
            return fail(fd_out, "epoll_wait: %s", strerror(errno));
        if (r->ops->tick) {
            r->ops->tick(r);
            lg_loop_flush(&r->loop); /* now, not after the next wait */
        }
    }
    r->res.gen_cpu_s = lg_self_cpu() - r->cpu_start;
    r->res.established = r->ready;
    r->res.pings = r->loop.pings;
    if (!r->win_end && r->t_ready_last > r->t0)
        r->res.window_s = (double)(r->t_ready_last - r->t0) / 1e9;
    char tag = 'D';
    if (write_all(fd_out, &tag, 1) != 0 || write_all(fd_out, &r->res, sizeof r->res) != 0)
        return 1;
    /* The parent may still be sampling the server: leave only when it says
     * so (EOF), so that closing 15,000 sockets does not land in a window. */
    char eof;
    while (read(fd_in, &eof, 1) > 0)
        ;
    lg_loop_free(&r->loop);
    return 0;
}
