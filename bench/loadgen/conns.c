/* conns.c — the connection scenarios: idle, connect and storm.
 *
 * idle: every connection is opened (--concurrency at a time) and joins the
 *   namespace; then they sit for --duration, answering pings. The parent
 *   reads the server's RSS before the first connection and after the last
 *   (see main.c), which gives the memory one idle connection costs.
 * connect: from T0, opens every connection (--concurrency at a time) and
 *   keeps it; the result is the establishment rate, TCP connect through the
 *   namespace CONNECT reply, and each establishment's latency.
 * storm: every connection is set up first; at T0 all are cut at once (RST,
 *   as a network failure or a crashed proxy would) and reopened at once
 *   (--storm-concurrency 0) or that many at a time. Latency is measured from
 *   the cut, i.e. how long each client was without its session.
 */
#include "run.h"

static void queue_all(lg_run_t *r)
{
    for (uint32_t i = 0; i < r->count; i++)
        lg_run_queue(r, i);
}

static int all_ready(lg_run_t *r)
{
    return r->ready == r->count;
}

static void nothing(lg_run_t *r) {}

static int always(lg_run_t *r)
{
    return 1;
}

/* Readiness is the set-up for these scenarios. */
static void mark_joined(lg_run_t *r, lg_conn_t *c)
{
    lg_peer_t *p = &r->peers[c - r->loop.conns];
    if (!p->joined) {
        p->joined = 1;
        r->joined++;
    }
    if (r->measuring)
        lg_hist_record(&r->res.conn,
                       r->loop.now - (r->o->scenario == LG_STORM ? r->t0 : c->t_open));
}

/* idle */

static void idle_go(lg_run_t *r)
{
    r->win_start = r->t0;
    r->win_end = r->t0 + (uint64_t)r->o->duration_ms * 1000000u;
}

const lg_scenario_ops_t lg_idle_ops = {
    .setup = queue_all,
    .setup_done = all_ready,
    .go = idle_go,
    .on_ready = mark_joined,
};

/* connect */

static void connect_go(lg_run_t *r)
{
    r->win_start = r->t0;
    r->win_end = 0;
    r->retry = 1;
    for (uint32_t i = 0; i < r->count; i++)
        r->peers[i].attempts = 0;
    queue_all(r);
}

/* Finished when every connection is up or out of attempts. */
static int connect_done(lg_run_t *r)
{
    return r->q_len == 0 && r->in_flight == 0;
}

const lg_scenario_ops_t lg_connect_ops = {
    .setup = nothing,
    .setup_done = always,
    .go = connect_go,
    .done = connect_done,
    .on_ready = mark_joined,
};

/* storm */

static void storm_go(lg_run_t *r)
{
    r->win_start = r->t0;
    r->win_end = 0;
    r->retry = 1;
    for (uint32_t i = 0; i < r->count; i++) {
        lg_conn_drop(&r->loop, &r->loop.conns[i]);
        r->peers[i].ready = 0;
        r->peers[i].joined = 0;
        r->peers[i].attempts = 0;
    }
    r->ready = r->joined = 0;
    r->in_flight = 0;
    r->q_len = 0;
    r->concurrency = r->o->storm_concurrency > 0 ? (uint32_t)r->o->storm_concurrency : r->count;
    queue_all(r);
}

const lg_scenario_ops_t lg_storm_ops = {
    .setup = queue_all,
    .setup_done = all_ready,
    .go = storm_go,
    .done = connect_done,
    .on_ready = mark_joined,
};
