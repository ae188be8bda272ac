/* chat.c — the chat scenario against `parley serve` (open mode).
 *
 * Connection i signs in as user "u<i>" (auth {user, name}) and joins
 * channel "<prefix>-<i % rooms>" (channel:join; on not_found it creates the
 * channel, on conflict it joins again: no ordering between generator
 * processes is needed). Connections 0..senders-1 then send `message:send`
 * with acks; the ack counts once it says ok:true, which the server gives
 * only after the message is committed (PROTOCOL.md, DESIGN.md §delivery).
 * Other members receive `message:new` with our text, whose "T<sender>:<ns>;"
 * marker gives send-to-receive latency.
 *
 * --rate R: each sender sends R messages a second on a fixed schedule (open
 * loop). --rate 0: each sender keeps --window unacknowledged sends in
 * flight (closed loop). The server's rate limits must be raised for this
 * (bench/run.sh starts it with --send-rate and --event-rate high).
 */
#include "run.h"

#include <stdio.h>
#include <string.h>

#define SEND_BACKLOG_MAX (256u * 1024u)
#define CATCH_UP_MAX 200u

enum { OP_NONE = 0, OP_JOIN, OP_CREATE };

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

static size_t auth(lg_run_t *r, lg_conn_t *c, char *out, size_t cap)
{
    int n = snprintf(out, cap, "{\"user\":\"u%u\",\"name\":\"U%u\"}", c->id, c->id);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void request(lg_run_t *r, lg_conn_t *c, int op)
{
    lg_peer_t *p = &r->peers[c - r->loop.conns];
    const char *prefix = r->o->channel_prefix;
    char args[256];
    int n;
    if (op == OP_JOIN)
        n = snprintf(args, sizeof args, "[\"channel:join\",{\"channel\":\"%s-%u\"}]", prefix,
                     p->room);
    else
        n = snprintf(
            args, sizeof args,
            "[\"channel:create\",{\"id\":\"%s-%u\",\"name\":\"%s %u\",\"kind\":\"public\"}]",
            prefix, p->room, prefix, p->room);
    p->op = (uint8_t)op;
    lg_conn_emit(&r->loop, c, 1, args, (size_t)n);
}

static void on_ready(lg_run_t *r, lg_conn_t *c)
{
    request(r, c, OP_JOIN);
}

static void send_message(lg_run_t *r, lg_sender_t *s)
{
    lg_conn_t *c = &r->loop.conns[s->conn];
    if (c->state != LG_READY)
        return;
    char args[1400];
    uint64_t t = lg_now_ns();
    int k = snprintf(args, sizeof args,
                     "[\"message:send\",{\"channel\":\"%s-%u\",\"clientId\":\"%u-%llu-%llu\","
                     "\"text\":\"",
                     r->o->channel_prefix, r->peers[s->conn].room, c->id, (unsigned long long)r->t0,
                     (unsigned long long)s->seq++);
    size_t n = (size_t)k;
    n += lg_payload(r, c->id, t, args + n, sizeof args - n - 4);
    memcpy(args + n, "\"}]", 3);
    n += 3;
    uint64_t id = lg_conn_emit(&r->loop, c, 1, args, n);
    s->sent_at[id % LG_RING] = t;
    s->sent++;
    if (r->measuring) {
        r->res.sent++;
        r->res.expected += s->fan;
    }
}

static void fill_window(lg_run_t *r, lg_sender_t *s)
{
    uint64_t w = (uint64_t)r->o->window;
    while (s->sent - s->acked < w && s->sent - s->acked < LG_RING &&
           r->loop.conns[s->conn].state == LG_READY)
        send_message(r, s);
}

static void go(lg_run_t *r)
{
    r->win_start = r->t0 + (uint64_t)r->o->warmup_ms * 1000000u;
    r->win_end = r->win_start + (uint64_t)r->o->duration_ms * 1000000u;
    for (uint32_t i = 0; i < r->nsenders; i++) {
        lg_sender_t *s = &r->senders[i];
        s->sent = s->acked = 0;
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
        int backed_up = lg_conn_backlog(c) > SEND_BACKLOG_MAX || s->sent - s->acked >= LG_RING;
        if (backed_up || behind > CATCH_UP_MAX) {
            uint64_t drop = backed_up ? behind : behind - CATCH_UP_MAX;
            s->sent += drop;
            s->acked += drop; /* never acknowledged: keep the in-flight count honest */
            if (r->measuring)
                r->res.skipped += drop;
            behind -= drop;
        }
        while (behind-- > 0)
            send_message(r, s);
    }
}

static void on_event(lg_run_t *r, lg_conn_t *c, const char *p, size_t n)
{
    static const char ev[] = "[\"message:new\",";
    const size_t k = sizeof ev - 1;
    if (!r->measuring || n < k || memcmp(p, ev, k) != 0)
        return;
    const char *t = memmem(p + k, n - k, "\"text\":\"T", 9);
    uint32_t sender;
    uint64_t ns;
    if (!t || lg_payload_parse(t + 8, p + n, &sender, &ns) != 0)
        return;
    r->res.delivered++;
    lg_hist_record(&r->res.lat, r->loop.now > ns ? r->loop.now - ns : 0);
}

static int has(const char *p, size_t n, const char *s)
{
    return memmem(p, n, s, strlen(s)) != NULL;
}

static void on_ack(lg_run_t *r, lg_conn_t *c, uint64_t id, const char *p, size_t n)
{
    lg_peer_t *peer = &r->peers[c - r->loop.conns];
    int ok = has(p, n, "\"ok\":true");
    if (!peer->joined) {
        if (ok) {
            peer->joined = 1;
            peer->op = OP_NONE;
            r->joined++;
        } else if (peer->op == OP_JOIN && has(p, n, "\"not_found\"")) {
            request(r, c, OP_CREATE);
        } else if (peer->op == OP_CREATE && has(p, n, "\"conflict\"")) {
            request(r, c, OP_JOIN);
        } else {
            lg_run_refusal(r, p, n);
            lg_run_error(r, "channel set-up refused (see first_refusal)");
        }
        return;
    }
    if (peer->sender < 0 || !r->going)
        return;
    lg_sender_t *s = &r->senders[peer->sender];
    s->acked++;
    if (r->measuring) {
        if (ok) {
            r->res.acked++;
            uint64_t t = s->sent_at[id % LG_RING];
            lg_hist_record(&r->res.ack, r->loop.now > t ? r->loop.now - t : 0);
        } else {
            lg_run_refusal(r, p, n);
        }
    }
    if (r->o->rate == 0)
        fill_window(r, s);
}

const lg_scenario_ops_t lg_chat_ops = {
    .setup = setup,
    .setup_done = setup_done,
    .go = go,
    .tick = tick,
    .on_ready = on_ready,
    .on_event = on_event,
    .on_ack = on_ack,
    .auth = auth,
};
