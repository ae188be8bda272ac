/* report.c — the merged result as one JSON line (stdout) and a readable
 * table (stderr). Which figures appear depends on the scenario; every
 * figure in the table is also in the JSON, under the name shown in
 * brackets in docs/benchmarks.md. */
#include "run.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_int(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_integer((json_int_t)llround(v)));
}

static void put_real(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(v));
}

static json_t *latency(const lg_hist_t *h)
{
    json_t *o = json_object();
    put_int(o, "count", (double)h->count);
    put_real(o, "p50", (double)lg_hist_quantile(h, 0.50) / 1e3);
    put_real(o, "p99", (double)lg_hist_quantile(h, 0.99) / 1e3);
    put_real(o, "p999", (double)lg_hist_quantile(h, 0.999) / 1e3);
    put_real(o, "max", (double)h->max / 1e3);
    put_real(o, "mean", h->count ? (double)h->sum / (double)h->count / 1e3 : 0.0);
    return o;
}

static void row(const char *name, const char *fmt, double v)
{
    fprintf(stderr, "  %-34s ", name);
    fprintf(stderr, fmt, v);
    fputc('\n', stderr);
}

static void latency_rows(const char *what, const lg_hist_t *h)
{
    if (h->count == 0)
        return;
    fprintf(stderr, "  %-34s p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f  (n=%llu)\n", what,
            (double)lg_hist_quantile(h, 0.50) / 1e3, (double)lg_hist_quantile(h, 0.99) / 1e3,
            (double)lg_hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3,
            (unsigned long long)h->count);
}

void lg_report(const lg_opts_t *o, const lg_result_t *r, const lg_server_stats_t *s)
{
    double wall = s->wall_s > 0 ? s->wall_s : 1e-9;
    int msg = o->scenario == LG_FANOUT || o->scenario == LG_CHAT;
    json_t *j = json_object();
    json_object_set_new(j, "scenario", json_string(o->scenario_name));
    json_object_set_new(j, "label", json_string(o->label));
    put_int(j, "connections", (double)o->connections);
    put_int(j, "procs", (double)o->procs);
    put_real(j, "window_s", wall);
    if (msg) {
        put_int(j, "rooms", (double)o->rooms);
        put_int(j, "senders", (double)o->senders);
        put_int(j, "rate", (double)o->rate);
        put_int(j, "window", (double)o->window);
        put_int(j, "payload", (double)o->payload);
        put_int(j, "sent", (double)r->sent);
        put_int(j, "sent_per_s", (double)r->sent / wall);
        put_int(j, "expected_per_s", (double)r->expected / wall);
        put_int(j, "delivered", (double)r->delivered);
        put_int(j, "delivered_per_s", (double)r->delivered / wall);
        put_int(j, "acked", (double)r->acked);
        put_int(j, "acked_per_s", (double)r->acked / wall);
        put_int(j, "refused", (double)r->refused);
        put_int(j, "skipped", (double)r->skipped);
        json_object_set_new(j, "latency_us", latency(&r->lat));
        json_object_set_new(j, "ack_latency_us", latency(&r->ack));
    }
    if (o->scenario == LG_CONNECT || o->scenario == LG_STORM) {
        put_int(j, "connects_per_s", (double)r->conn.count / wall);
        json_object_set_new(j, "timed_out", json_boolean(r->timed_out > 0));
        json_object_set_new(j, "connect_latency_us", latency(&r->conn));
    }
    put_int(j, "established", (double)r->established);
    put_int(j, "errors", (double)r->errors);
    if (r->first_error[0])
        json_object_set_new(j, "first_error", json_string(r->first_error));
    if (r->first_refusal[0])
        json_object_set_new(j, "first_refusal", json_string(r->first_refusal));
    put_int(j, "pings_answered", (double)r->pings);
    put_real(j, "gen_cpu_s", r->gen_cpu_s);
    put_real(j, "gen_cpu_pct", 100.0 * r->gen_cpu_s / wall);
    if (s->server_cpu_s >= 0) {
        put_real(j, "server_cpu_s", s->server_cpu_s);
        put_real(j, "server_cpu_pct", 100.0 * s->server_cpu_s / wall);
        if (msg && r->delivered)
            put_real(j, "server_cpu_s_per_million_deliveries",
                     s->server_cpu_s / (double)r->delivered * 1e6);
        if (o->scenario == LG_CHAT && r->acked)
            put_real(j, "server_cpu_s_per_million_messages",
                     s->server_cpu_s / (double)r->acked * 1e6);
        if ((o->scenario == LG_CONNECT || o->scenario == LG_STORM) && r->conn.count)
            put_real(j, "server_cpu_us_per_connect", s->server_cpu_s / (double)r->conn.count * 1e6);
    }
    /* Other processes on the pinned cores: how noisy this run was. */
    double srv_others = -1, gen_others = -1;
    if (s->server_core_busy_s >= 0 && s->server_cpu_s >= 0) {
        srv_others = s->server_core_busy_s - s->server_cpu_s;
        srv_others = srv_others < 0 ? 0 : srv_others;
        put_int(j, "server_core", s->server_core);
        put_real(j, "server_core_others_pct", 100.0 * srv_others / wall);
    }
    if (s->gen_core_busy_s >= 0) {
        gen_others = s->gen_core_busy_s - r->gen_cpu_s;
        gen_others = gen_others < 0 ? 0 : gen_others;
        put_int(j, "gen_core", s->gen_core);
        put_real(j, "gen_core_others_pct", 100.0 * gen_others / wall);
    }
    if (s->rss_kib) {
        put_int(j, "server_rss_kib", (double)s->rss_kib);
        if (o->scenario == LG_IDLE) {
            put_int(j, "server_rss_base_kib", (double)s->rss_base_kib);
            if (r->established)
                put_int(j, "server_rss_per_conn_bytes",
                        ((double)s->rss_kib - (double)s->rss_base_kib) * 1024.0 /
                            (double)r->established);
        }
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (text) {
        printf("%s\n", text);
        fflush(stdout);
        free(text);
    }

    if (!o->json_only) {
        fprintf(stderr, "\n%s — %s, %lld connections, %lld process(es), window %.2f s\n",
                o->scenario_name, o->label, (long long)o->connections, (long long)o->procs, wall);
        if (msg) {
            fprintf(stderr, "  %lld rooms, %lld senders at %s, payload %lld bytes\n",
                    (long long)o->rooms, (long long)o->senders,
                    o->rate ? "a fixed rate" : "saturation", (long long)o->payload);
            if (o->rate)
                row("rate per sender (msg/s)", "%.0f", (double)o->rate);
            else
                row("window per sender", "%.0f", (double)o->window);
            row("sent (msg/s)", "%.0f", (double)r->sent / wall);
            row("expected deliveries (/s)", "%.0f", (double)r->expected / wall);
            row("delivered (msg/s)", "%.0f", (double)r->delivered / wall);
            row(o->scenario == LG_CHAT ? "acked ok (msg/s)" : "acked (msg/s)", "%.0f",
                (double)r->acked / wall);
            if (r->refused)
                row("refused acks", "%.0f", (double)r->refused);
            if (r->skipped)
                row("skipped sends (backed up)", "%.0f", (double)r->skipped);
            latency_rows("send-to-receive latency (us)", &r->lat);
            latency_rows("ack latency (us)", &r->ack);
        }
        if (o->scenario == LG_CONNECT || o->scenario == LG_STORM) {
            row("connections established", "%.0f", (double)r->conn.count);
            row(r->timed_out ? "gave up after (s)" : "time to establish all (s)", "%.3f", wall);
            row("connects/s", "%.0f", (double)r->conn.count / wall);
            latency_rows(o->scenario == LG_STORM ? "outage per client (us)"
                                                 : "establishment latency (us)",
                         &r->conn);
        }
        row("in the namespace at the end", "%.0f", (double)r->established);
        row("errors", "%.0f", (double)r->errors);
        if (r->first_error[0])
            fprintf(stderr, "  %-34s %s\n", "first error", r->first_error);
        if (r->first_refusal[0])
            fprintf(stderr, "  %-34s %.100s\n", "first refusal", r->first_refusal);
        if (s->server_cpu_s >= 0) {
            row("server CPU (s)", "%.3f", s->server_cpu_s);
            row("server CPU (% of a core)", "%.1f", 100.0 * s->server_cpu_s / wall);
            if (msg && r->delivered)
                row("server CPU s per million deliveries", "%.3f",
                    s->server_cpu_s / (double)r->delivered * 1e6);
            if (o->scenario == LG_CHAT && r->acked)
                row("server CPU s per million messages", "%.3f",
                    s->server_cpu_s / (double)r->acked * 1e6);
        }
        row("generator CPU (s)", "%.3f", r->gen_cpu_s);
        row("generator CPU (% of a core)", "%.1f", 100.0 * r->gen_cpu_s / wall);
        if (srv_others >= 0)
            row("others on the server's core (%)", "%.1f", 100.0 * srv_others / wall);
        if (gen_others >= 0)
            row("others on the generator's core (%)", "%.1f", 100.0 * gen_others / wall);
        if (s->rss_kib) {
            row("server RSS (KiB)", "%.0f", (double)s->rss_kib);
            if (o->scenario == LG_IDLE && r->established) {
                row("server RSS before (KiB)", "%.0f", (double)s->rss_base_kib);
                row("server RSS per connection (bytes)", "%.0f",
                    ((double)s->rss_kib - (double)s->rss_base_kib) * 1024.0 /
                        (double)r->established);
            }
        }
        fputc('\n', stderr);
    }
    json_decref(j);
}
