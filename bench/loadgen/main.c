/* main.c — `loadgen SCENARIO [options]`: the benchmark load generator.
 *
 * The parent process parses the options, forks --procs generator processes
 * (run.c) that share the connections between them, holds the barrier that
 * starts them together, samples the server process (--server-pid) at the
 * edges of the measured window, merges what the generators measured and
 * prints it (report.c). It generates no load itself, so its CPU is not in
 * the figures; the generators' is, beside the server's.
 *
 * Scenarios and their figures: docs/benchmarks.md.
 */
#include "core/config.h"
#include "procstat.h"
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static lg_opts_t O;

static const config_option_t options[] = {
    {"host", CFG_STRING, &O.host, "127.0.0.1", "server address (IPv4)", 0, 0},
    {"port", CFG_INT, &O.port, "3000", "server port", 1, 65535},
    {"connections", CFG_INT, &O.connections, "1000", "connections in all", 1, 1000000},
    {"rooms", CFG_INT, &O.rooms, "10",
     "fanout rooms / chat channels; connection i is in room i % rooms", 1, 1000000},
    {"senders", CFG_INT, &O.senders, "10", "connections 0..senders-1 send (fanout, chat)", 0,
     1000000},
    {"rate", CFG_INT, &O.rate, "0",
     "messages per second per sender; 0 = saturation (closed loop, --window)", 0, 10000000},
    {"window", CFG_INT, &O.window, "8", "saturation: messages in flight per sender", 1, 4000},
    {"payload", CFG_INT, &O.payload, "64", "payload string length in bytes", 1, 1000},
    {"warmup-ms", CFG_INT, &O.warmup_ms, "2000", "load before the measured window", 0, 600000},
    {"duration-ms", CFG_INT, &O.duration_ms, "10000",
     "measured window (idle: how long the connections sit)", 1, 3600000},
    {"settle-ms", CFG_INT, &O.settle_ms, "1000",
     "idle: wait after the last connection before the window", 0, 600000},
    {"setup-timeout-ms", CFG_INT, &O.setup_timeout_ms, "120000",
     "give up when set-up (connect, join) takes longer", 100, 3600000},
    {"phase-timeout-ms", CFG_INT, &O.phase_timeout_ms, "60000",
     "connect, storm: report what is up after this long", 100, 3600000},
    {"concurrency", CFG_INT, &O.concurrency, "256",
     "connection attempts in flight per generator process", 1, 1000000},
    {"storm-concurrency", CFG_INT, &O.storm_concurrency, "0",
     "storm: re-connections in flight per process (0 = all at once)", 0, 1000000},
    {"procs", CFG_INT, &O.procs, "1", "generator processes (each holds at most ~19,000 sockets)", 1,
     64},
    {"server-pid", CFG_INT, &O.server_pid, "0",
     "server process to sample (/proc/PID/stat, /proc/PID/status)", 0, 4194304},
    {"label", CFG_STRING, &O.label, "server", "name of the server in the output", 0, 0},
    {"channel-prefix", CFG_STRING, &O.channel_prefix, "bench", "chat: channel ids are PREFIX-N", 0,
     0},
    {"json-only", CFG_BOOL, &O.json_only, "false", "print only the JSON line", 0, 0},
};
#define NUM_OPTIONS (sizeof options / sizeof options[0])

static const struct {
    const char *name;
    lg_scenario_t s;
} scenarios[] = {
    {"fanout", LG_FANOUT},   {"chat", LG_CHAT},   {"idle", LG_IDLE},
    {"connect", LG_CONNECT}, {"storm", LG_STORM},
};

typedef struct {
    pid_t pid;
    int to, from; /* pipe ends in the parent */
} child_t;

static child_t kids[64];
static int nkids;

static void sleep_until(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
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

static void stop_kids(void)
{
    for (int i = 0; i < nkids; i++) {
        if (kids[i].to >= 0)
            close(kids[i].to);
        kids[i].to = -1;
    }
    for (int i = 0; i < nkids; i++)
        if (kids[i].pid > 0) {
            int st;
            waitpid(kids[i].pid, &st, 0);
            kids[i].pid = 0;
        }
}

static void kill_kids(void)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i].pid > 0)
            kill(kids[i].pid, SIGKILL);
    stop_kids();
}

/* Reads a child's tag: 'R' / 'D' on success; prints its error otherwise. */
static int expect(int i, char want)
{
    char tag;
    if (read_all(kids[i].from, &tag, 1) != 0) {
        fprintf(stderr, "loadgen: generator %d exited unexpectedly\n", i);
        return -1;
    }
    if (tag == want)
        return 0;
    if (tag == 'E') {
        char msg[LG_ERR_TEXT * 2 + 63];
        if (read_all(kids[i].from, msg, sizeof msg) == 0) {
            msg[sizeof msg - 1] = '\0';
            fprintf(stderr, "loadgen: generator %d: %s\n", i, msg);
            return -1;
        }
    }
    fprintf(stderr, "loadgen: generator %d: protocol error\n", i);
    return -1;
}

static int check_options(char *err, size_t errsz)
{
    int msgs = O.scenario == LG_FANOUT || O.scenario == LG_CHAT;
    if (msgs && O.senders > O.connections) {
        snprintf(err, errsz, "--senders (%lld) is more than --connections (%lld)",
                 (long long)O.senders, (long long)O.connections);
        return -1;
    }
    if (O.procs > O.connections) {
        snprintf(err, errsz, "--procs is more than --connections");
        return -1;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        long long per = (O.connections + O.procs - 1) / O.procs;
        if ((long long)rl.rlim_cur != (long long)RLIM_INFINITY &&
            per + 64 > (long long)rl.rlim_cur) {
            snprintf(err, errsz,
                     "%lld connections per process but only %llu open files allowed: "
                     "use --procs %lld or more",
                     per, (unsigned long long)rl.rlim_cur,
                     (O.connections + (long long)rl.rlim_cur - 65) / ((long long)rl.rlim_cur - 64));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[256];
    int rest = 0, help = 0, status = 1;
    if (config_load(options, NUM_OPTIONS, argc, argv, 1, &rest, &help, err, sizeof err) != 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 2;
    }
    if (help || rest != 1) {
        FILE *out = help ? stdout : stderr;
        fprintf(out, "usage: loadgen fanout|chat|idle|connect|storm [options]\n\n");
        config_print_help(out, options, NUM_OPTIONS);
        config_free(options, NUM_OPTIONS);
        return help ? 0 : 2;
    }
    O.scenario_name = argv[1];
    size_t k;
    for (k = 0; k < sizeof scenarios / sizeof scenarios[0]; k++)
        if (strcmp(argv[1], scenarios[k].name) == 0)
            break;
    if (k == sizeof scenarios / sizeof scenarios[0]) {
        fprintf(stderr, "loadgen: unknown scenario \"%s\" (fanout, chat, idle, connect, storm)\n",
                argv[1]);
        goto out;
    }
    O.scenario = scenarios[k].s;
    if (check_options(err, sizeof err) != 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    fflush(stdout);
    fflush(stderr);

    pid_t server = (pid_t)O.server_pid;
    lg_server_stats_t st = {.server_cpu_s = -1};
    lg_proc_rss_kib(server, &st.rss_base_kib);

    uint32_t total = (uint32_t)O.connections, first = 0;
    for (int i = 0; i < O.procs; i++) {
        uint32_t n = total / (uint32_t)O.procs + ((uint32_t)i < total % (uint32_t)O.procs);
        int down[2], up[2];
        if (pipe(down) != 0 || pipe(up) != 0) {
            fprintf(stderr, "loadgen: pipe: %s\n", strerror(errno));
            kill_kids();
            goto out;
        }
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "loadgen: fork: %s\n", strerror(errno));
            kill_kids();
            goto out;
        }
        if (pid == 0) {
            close(down[1]);
            close(up[0]);
            for (int j = 0; j < nkids; j++) {
                close(kids[j].to);
                close(kids[j].from);
            }
            _exit(lg_child_main(&O, first, n, down[0], up[1]));
        }
        close(down[0]);
        close(up[1]);
        kids[nkids++] = (child_t){.pid = pid, .to = down[1], .from = up[0]};
        first += n;
    }

    for (int i = 0; i < nkids; i++)
        if (expect(i, 'R') != 0) {
            kill_kids();
            goto out;
        }
    if (O.scenario == LG_IDLE && O.settle_ms > 0)
        sleep_until(lg_now_ns() + (uint64_t)O.settle_ms * 1000000u);

    uint64_t t0 = lg_now_ns() + 50000000u;
    int fixed = O.scenario == LG_FANOUT || O.scenario == LG_CHAT || O.scenario == LG_IDLE;
    int warm = O.scenario == LG_FANOUT || O.scenario == LG_CHAT;
    uint64_t wstart = t0 + (warm ? (uint64_t)O.warmup_ms * 1000000u : 0);
    uint64_t wend = wstart + (uint64_t)O.duration_ms * 1000000u;
    for (int i = 0; i < nkids; i++) {
        char go[1 + sizeof t0];
        go[0] = 'G';
        memcpy(go + 1, &t0, sizeof t0);
        if (write(kids[i].to, go, sizeof go) != (ssize_t)sizeof go) {
            fprintf(stderr, "loadgen: generator %d went away\n", i);
            kill_kids();
            goto out;
        }
    }
    double cpu_a = 0, cpu_b = 0, score_a = 0, score_b = 0, gcore_a = 0, gcore_b = 0;
    int have_cpu, have_score, have_gcore;
    st.server_core = lg_proc_pinned_cpu(server);
    st.gen_core = lg_proc_pinned_cpu(0);
    sleep_until(wstart);
    have_cpu = lg_proc_cpu(server, &cpu_a) == 0;
    have_score = lg_cpu_busy(st.server_core, &score_a) == 0;
    have_gcore = lg_cpu_busy(st.gen_core, &gcore_a) == 0;
    if (fixed) {
        sleep_until(wend);
        have_cpu = have_cpu && lg_proc_cpu(server, &cpu_b) == 0;
        have_score = have_score && lg_cpu_busy(st.server_core, &score_b) == 0;
        have_gcore = have_gcore && lg_cpu_busy(st.gen_core, &gcore_b) == 0;
        lg_proc_rss_kib(server, &st.rss_kib);
        st.wall_s = (double)(wend - wstart) / 1e9;
    }

    static lg_result_t sum, one;
    memset(&sum, 0, sizeof sum);
    for (int i = 0; i < nkids; i++) {
        if (expect(i, 'D') != 0 || read_all(kids[i].from, &one, sizeof one) != 0) {
            kill_kids();
            goto out;
        }
        sum.sent += one.sent;
        sum.expected += one.expected;
        sum.delivered += one.delivered;
        sum.acked += one.acked;
        sum.refused += one.refused;
        sum.skipped += one.skipped;
        sum.errors += one.errors;
        sum.established += one.established;
        sum.pings += one.pings;
        sum.timed_out += one.timed_out;
        sum.gen_cpu_s += one.gen_cpu_s;
        if (one.window_s > sum.window_s)
            sum.window_s = one.window_s;
        if (!sum.first_error[0])
            memcpy(sum.first_error, one.first_error, sizeof sum.first_error);
        if (!sum.first_refusal[0])
            memcpy(sum.first_refusal, one.first_refusal, sizeof sum.first_refusal);
        lg_hist_merge(&sum.lat, &one.lat);
        lg_hist_merge(&sum.ack, &one.ack);
        lg_hist_merge(&sum.conn, &one.conn);
    }
    if (!fixed) {
        have_cpu = have_cpu && lg_proc_cpu(server, &cpu_b) == 0;
        have_score = have_score && lg_cpu_busy(st.server_core, &score_b) == 0;
        have_gcore = have_gcore && lg_cpu_busy(st.gen_core, &gcore_b) == 0;
        lg_proc_rss_kib(server, &st.rss_kib);
        st.wall_s = sum.window_s;
    }
    if (have_cpu)
        st.server_cpu_s = cpu_b - cpu_a;
    st.server_core_busy_s = have_score && st.server_core != st.gen_core ? score_b - score_a : -1;
    st.gen_core_busy_s = have_gcore && st.server_core != st.gen_core ? gcore_b - gcore_a : -1;
    stop_kids();
    lg_report(&O, &sum, &st);
    status = 0;
out:
    config_free(options, NUM_OPTIONS);
    return status;
}
