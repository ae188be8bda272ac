/* fanout.c — the broadcast scenario against examples/fanout or the Node
 * peer (bench/peers/fanout.js).
 *
 * Connection i joins room "r<i % rooms>"; connections 0..senders-1 also
 * send `say`(room, payload) and everyone else in the room receives
 * `said`(payload). The payload starts with "T<sender>:<ns>;" (the send time
 * on CLOCK_MONOTONIC), so each receiver measures send-to-receive latency
 * without a clock of its own.
 *
 * Two ways to send. --rate R: every sender sends R messages a second on a
 * fixed schedule, whatever the server does (open loop: a server that falls
 * behind shows it in latency, and in skipped sends when our output backs
 * up). --rate 0 (saturation): each sender keeps --window messages in
 * flight, a message counting as in flight until it is acknowledged and,
 * with one generator process, until its deliveries arrived here too — so
 * the server's queues cannot grow without bound and the throughput is what
 * the server sustains, not what it buffers.
 */
#include "run.h"

#include <stdio.h>
#include <string.h>

/* Output queued per sender past which sends are skipped (rate mode). */
#define SEND_BACKLOG_MAX (256u * 1024u)
/* Most sends one sender catches up on in one loop turn. */
#define CATCH_UP_MAX 200u

static void setup(lg_run_t *r)
{
    lg_run_make_senders(r);
    for (uint32_t i = 0; i < r->count; i++)
        lg_run_queue(r, i);
}

static int setup_done(lg_run_t *r)
{
    return r->joined == r->count;
}

static void on_ready(lg_run_t *r, lg_conn_t *c)
{
    char args[64];
    int n = snprintf(args, sizeof args, "[\"join\",\"r%u\"]", r->peers[c - r->loop.conns].room);
    lg_conn_emit(&r->loop, c, 1, args, (size_t)n);
}

static void send_say(lg_run_t *r, lg_sender_t *s)
{
    lg_conn_t *c = &r->loop.conns[s->conn];
    if (c->state != LG_READY)
        return;
    char args[1200];
    uint32_t gid = c->id;
    int k = snprintf(args, sizeof args, "[\"say\",\"r%u\",\"", r->peers[s->conn].room);
    size_t n = (size_t)k;
    uint64_t t = lg_now_ns();
    n += lg_payload(r, gid, t, args + n, sizeof args - n - 3);
    args[n++] = '"';
    args[n++] = ']';
    uint64_t id = lg_conn_emit(&r->loop, c, 1, args, n);
    s->sent_at[id % LG_RING] = t;
    s->sent++;
    if (r->measuring) {
        r->res.sent++;
        r->res.expected += s->fan;
    }
}

static int may_send(const lg_run_t *r, const lg_sender_t *s)
{
    uint64_t w = (uint64_t)r->o->window;
    if (s->sent - s->acked >= w || s->sent - s->acked >= LG_RING)
        return 0;
    /* With every receiver in this process, deliveries close the loop too. */
    if (r->o->procs == 1 && s->sent * s->fan > s->dlv + w * s->fan)
        return 0;
    return 1;
}

static void fill_window(lg_run_t *r, lg_sender_t *s)
{
    while (may_send(r, s) && r->loop.conns[s->conn].state == LG_READY)
        send_say(r, s);
}

static void go(lg_run_t *r)
{
    r->win_start = r->t0 + (uint64_t)r->o->warmup_ms * 1000000u;
    r->win_end = r->win_start + (uint64_t)r->o->duration_ms * 1000000u;
    for (uint32_t i = 0; i < r->nsenders; i++) {
        lg_sender_t *s = &r->senders[i];
        s->sent = s->acked = s->dlv = 0;
        if (r->o->rate == 0)
            fill_window(r, s);
    }
}

static void tick(lg_run_t *r)
{
    if (r->o->rate == 0)
        return;
    for (uint32_t i = 0; i < r->nsenders; i++) {
        lg_sender_t *s = &r->senders[i];
        lg_conn_t *c = &r->loop.conns[s->conn];
        uint64_t due = lg_due(r, c->id);
        if (s->sent >= due || c->state != LG_READY)
            continue;
        uint64_t behind = due - s->sent;
        if (behind > CATCH_UP_MAX || lg_conn_backlog(c) > SEND_BACKLOG_MAX) {
            /* Give up on what cannot be sent in time; say so in the result. */
            uint64_t drop = lg_conn_backlog(c) > SEND_BACKLOG_MAX ? behind : behind - CATCH_UP_MAX;
            s->sent += drop;
            if (r->measuring)
                r->res.skipped += drop;
            behind -= drop;
        }
        while (behind-- > 0)
            send_say(r, s);
    }
}

static void on_event(lg_run_t *r, lg_conn_t *c, const char *p, size_t n)
{
    static const char said[] = "[\"said\",\"";
    const size_t k = sizeof said - 1;
    if (n < k || memcmp(p, said, k) != 0)
        return;
    uint32_t sender;
    uint64_t ns;
    if (lg_payload_parse(p + k, p + n, &sender, &ns) != 0)
        return;
    if (r->measuring) {
        r->res.delivered++;
        uint64_t now = r->loop.now;
        lg_hist_record(&r->res.lat, now > ns ? now - ns : 0);
    }
    if (sender >= r->first && sender - r->first < r->count) {
        int32_t si = r->peers[sender - r->first].sender;
        if (si >= 0) {
            lg_sender_t *s = &r->senders[si];
            s->dlv++;
            if (r->going && r->o->rate == 0)
                fill_window(r, s);
        }
    }
}

static void on_ack(lg_run_t *r, lg_conn_t *c, uint64_t id, const char *p, size_t n)
{
    lg_peer_t *peer = &r->peers[c - r->loop.conns];
    if (!peer->joined) {
        peer->joined = 1;
        r->joined++;
        return;
    }
    if (peer->sender < 0)
        return;
    lg_sender_t *s = &r->senders[peer->sender];
    if (!r->going)
        return;
    s->acked++;
    if (r->measuring) {
        r->res.acked++;
        uint64_t t = s->sent_at[id % LG_RING];
        lg_hist_record(&r->res.ack, r->loop.now > t ? r->loop.now - t : 0);
    }
    if (r->o->rate == 0)
        fill_window(r, s);
}

const lg_scenario_ops_t lg_fanout_ops = {
    .setup = setup,
    .setup_done = setup_done,
    .go = go,
    .tick = tick,
    .on_ready = on_ready,
    .on_event = on_event,
    .on_ack = on_ack,
};
