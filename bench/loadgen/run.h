/* run.h — what the load generator's processes share: the options, the
 * result one generator process reports, and the scenario interface.
 *
 * Process model: main.c (the parent) forks --procs generator processes and
 * takes no load itself. Each generator owns a slice of the connections,
 * runs the scenario's set-up (connect, join), says 'R', waits for 'G' with
 * a common start time T0, runs the measured phase and sends its lg_result_t
 * back. The parent samples the server's CPU and memory at the window's
 * edges, merges the results and prints them (report.c).
 *
 * Not here: anything about the wire (conn.h).
 */
#ifndef PARLEY_BENCH_RUN_H
#define PARLEY_BENCH_RUN_H

#include "conn.h"
#include "hist.h"

#include <stdint.h>
#include <sys/types.h>

typedef enum {
    LG_FANOUT = 0,
    LG_CHAT,
    LG_IDLE,
    LG_CONNECT,
    LG_STORM,
} lg_scenario_t;

typedef struct {
    lg_scenario_t scenario;
    const char *scenario_name;
    char *host;
    int64_t port;
    int64_t connections; /* total, across processes */
    int64_t rooms;       /* fanout rooms / chat channels */
    int64_t senders;
    int64_t rate;    /* per sender, messages/s; 0: as fast as the window allows */
    int64_t payload; /* bytes of the payload string */
    int64_t window;  /* saturation: messages in flight per sender */
    int64_t warmup_ms, duration_ms, settle_ms, setup_timeout_ms;
    int64_t phase_timeout_ms;  /* connect, storm: stop waiting after this */
    int64_t concurrency;       /* connection attempts in flight per process */
    int64_t storm_concurrency; /* storm: re-connects in flight (0: all at once) */
    int64_t procs;
    int64_t server_pid;
    char *label;
    char *channel_prefix;
    int json_only;
} lg_opts_t;

#define LG_ERR_TEXT 120

/* What one generator process measured. Plain data: it travels through a
 * pipe as raw bytes (parent and children are the same binary). */
typedef struct {
    uint64_t sent;        /* messages sent in the window */
    uint64_t expected;    /* deliveries those messages call for */
    uint64_t delivered;   /* messages received in the window */
    uint64_t acked;       /* positive acks received in the window */
    uint64_t refused;     /* negative acks (chat: {ok:false}) */
    uint64_t skipped;     /* sends not made: the connection's output was backed up */
    uint64_t errors;      /* connections lost or refused, any phase */
    uint64_t established; /* connections in the namespace at the end */
    uint64_t pings;       /* server pings answered */
    uint64_t timed_out;   /* connect/storm: not all up within --phase-timeout-ms */
    double gen_cpu_s;     /* this process's CPU over the window */
    double window_s;      /* connect/storm: T0 to the last connection up */
    char first_error[LG_ERR_TEXT];
    char first_refusal[LG_ERR_TEXT];
    lg_hist_t lat;  /* send to receive */
    lg_hist_t ack;  /* send to ack */
    lg_hist_t conn; /* connect: connect() to namespace joined; storm: T0 to joined */
} lg_result_t;

/* Per-connection state every scenario uses. */
typedef struct {
    uint8_t ready;    /* counted in run.ready */
    uint8_t joined;   /* set-up done (fanout: in its room; chat: in its channel) */
    uint8_t attempts; /* connection attempts in the current phase */
    uint8_t op;       /* chat: the set-up request in flight */
    uint32_t room;
    int32_t sender; /* index among the senders, or -1 */
} lg_peer_t;

typedef struct lg_run lg_run_t;

typedef struct {
    /* Starts the set-up (usually: queue every connection for opening). */
    void (*setup)(lg_run_t *r);
    int (*setup_done)(lg_run_t *r);
    /* The measured phase begins (r->t0 is set). */
    void (*go)(lg_run_t *r);
    /* Called after every loop turn during the measured phase. */
    void (*tick)(lg_run_t *r);
    /* For phases of open length (connect, storm): true when finished. */
    int (*done)(lg_run_t *r);
    void (*on_ready)(lg_run_t *r, lg_conn_t *c);
    void (*on_event)(lg_run_t *r, lg_conn_t *c, const char *p, size_t n);
    void (*on_ack)(lg_run_t *r, lg_conn_t *c, uint64_t id, const char *p, size_t n);
    size_t (*auth)(lg_run_t *r, lg_conn_t *c, char *out, size_t cap);
} lg_scenario_ops_t;

/* A sender's in-flight bookkeeping (acks and, for fanout, deliveries). */
#define LG_RING 4096
typedef struct {
    uint32_t conn;     /* local index of its connection */
    uint32_t fan;      /* deliveries each message calls for */
    uint64_t sent;     /* since T0 */
    uint64_t acked;    /* since T0 */
    uint64_t dlv;      /* deliveries of its messages seen here, since T0 */
    uint64_t seq;      /* messages ever sent (chat clientId) */
    uint64_t *sent_at; /* LG_RING send times by ack id */
} lg_sender_t;

struct lg_run {
    const lg_opts_t *o;
    const lg_scenario_ops_t *ops;
    lg_loop_t loop;
    uint32_t first, count; /* this process's slice of connection ids */
    lg_peer_t *peers;
    /* connection pacing */
    uint32_t *queue;
    uint32_t q_head, q_len;
    uint32_t in_flight, ready, joined;
    uint32_t concurrency;
    int retry;        /* reopen connections that fail (set-up, connect, storm) */
    uint32_t gave_up; /* connections out of attempts */
    uint64_t t_ready_last;
    /* measured phase */
    uint64_t t0, win_start, win_end; /* win_end 0: open-ended (ops->done) */
    int going, measuring;
    double cpu_start;
    lg_sender_t *senders;
    uint32_t nsenders;
    char pad[512]; /* the payload padding */
    lg_result_t res;
};

extern const lg_scenario_ops_t lg_fanout_ops, lg_chat_ops, lg_idle_ops, lg_connect_ops,
    lg_storm_ops;

/* Common helpers for scenarios (run.c). */
void lg_run_queue(lg_run_t *r, uint32_t local);
void lg_run_pump(lg_run_t *r);
void lg_run_error(lg_run_t *r, const char *why);
void lg_run_refusal(lg_run_t *r, const char *p, size_t n);
/* Room of a global connection id, size of a room. */
uint32_t lg_room_of(const lg_opts_t *o, uint32_t id);
uint32_t lg_room_size(const lg_opts_t *o, uint32_t room);
/* Allocates senders for the local connections whose global id < senders. */
void lg_run_make_senders(lg_run_t *r);
/* Fixed-rate sending: how many messages the sender on connection id
 * should have sent by now. Senders are spread evenly over one interval
 * (sender k starts k/senders of an interval early), so that they do not
 * all send in the same instant. */
uint64_t lg_due(const lg_run_t *r, uint32_t id);
/* Writes the marker "T<sender>:<ns>;" padded with 'x' to o->payload bytes
 * into out (JSON-safe); returns the length. */
size_t lg_payload(const lg_run_t *r, uint32_t sender, uint64_t ns, char *out, size_t cap);
/* Parses a marker at p ("T<sender>:<ns>;"); returns 0 or -1. */
int lg_payload_parse(const char *p, const char *end, uint32_t *sender, uint64_t *ns);

/* Runs one generator process over connections [first, first+count):
 * talks to the parent through fd_in/fd_out. Returns the exit status. */
int lg_child_main(const lg_opts_t *o, uint32_t first, uint32_t count, int fd_in, int fd_out);

/* report.c: prints the merged result (JSON line on stdout, table on stderr). */
typedef struct {
    double server_cpu_s;            /* over the window; < 0 when unknown */
    double wall_s;                  /* the window's length */
    uint64_t rss_base_kib, rss_kib; /* 0 when unknown */
    /* Whole-core busy time over the window of the server's and of the
     * generator's core when each is pinned to one (< 0: unknown): what is
     * not theirs is other processes' — the noise in the figures. */
    double server_core_busy_s, gen_core_busy_s;
    int server_core, gen_core;
} lg_server_stats_t;
void lg_report(const lg_opts_t *o, const lg_result_t *r, const lg_server_stats_t *s);

#endif
