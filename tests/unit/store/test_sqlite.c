/* test_sqlite.c — the SQLite backend under stress: every acknowledged
 * message survives kill -9, FULL sync works, and a throughput/latency
 * printout for the message:send hot path (a number, not an assertion). */
#include "fixture.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void setup_senders(fx_t *f, int n)
{
    for (int i = 0; i < n; i++) {
        char u[16];
        snprintf(u, sizeof u, "u%d", i);
        assert_int_equal(fx_user(f, u, NULL), STORE_OK);
    }
    assert_int_equal(fx_channel(f, "general", STORE_PUBLIC, NULL), STORE_OK);
    assert_int_equal(fx_channel(f, "random", STORE_PUBLIC, NULL), STORE_OK);
}

/* ---- kill -9 after acknowledged writes --------------------------------- */

typedef struct {
    store_t *s;
    int fd;
    unsigned next;
} child_t;

static void child_send(child_t *c);

static void child_ack(store_err_t err, const store_message_t *m, const store_event_t *ev, bool dup,
                      void *arg)
{
    child_t *c = arg;
    if (err)
        _exit(3);
    char line[96];
    int n =
        snprintf(line, sizeof line, "%s %s %llu\n", m->channel, m->id, (unsigned long long)m->seq);
    if (write(c->fd, line, (size_t)n) != n)
        _exit(4);
    child_send(c);
}

static void child_send(child_t *c)
{
    char user[16], cid[32];
    unsigned i = c->next++;
    snprintf(user, sizeof user, "u%u", i % 10);
    snprintf(cid, sizeof cid, "crash-%u", i);
    store_message_spec_t spec = {i % 3 ? "general" : "random", user, "survive this", cid, NULL};
    if (store_message_insert(c->s, &spec, child_ack, c) != STORE_OK)
        _exit(5);
}

static void run_child(const char *path, int fd)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_config_t cfg = {.path = path};
    child_t c = {.fd = fd};
    char err[256];
    if (store_open(&loop, &cfg, &c.s, err, sizeof err) != STORE_OK)
        _exit(2);
    for (int i = 0; i < 64; i++) /* 64 in flight, like 64 eager clients */
        child_send(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(6); /* not reached: killed while running */
}

#define ACKS 3000

typedef struct {
    char channel[16];
    char id[32];
    uint64_t seq;
} acked_t;

static void got_msg(store_err_t err, const store_message_t *m, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    if (m)
        r->seq = m->seq;
    r->done = 1;
}

static void test_acked_writes_survive_kill9(void **state)
{
    fx_t f;
    fx_init(&f);
    setup_senders(&f, 10);
    fx_close(&f);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        run_child(f.path, fds[1]);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    assert_non_null(in);
    static acked_t acked[ACKS];
    int n = 0;
    char line[128];
    while (n < ACKS && fgets(line, sizeof line, in)) {
        unsigned long long seq;
        assert_int_equal(sscanf(line, "%15s %31s %llu", acked[n].channel, acked[n].id, &seq), 3);
        acked[n].seq = seq;
        n++;
    }
    /* Killed mid-stream: more writes are queued and in flight. */
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    fclose(in);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(n, ACKS);

    assert_int_equal(fx_open_cfg(&f, NULL), STORE_OK);
    for (int i = 0; i < n; i++) {
        fx_res_t r = {0};
        FX_EVENT(&f, r, store_message_get(f.s, acked[i].channel, acked[i].id, got_msg, &r));
        assert_int_equal(r.err, STORE_OK);
        assert_int_equal(r.seq, acked[i].seq);
    }
    /* The log is gap-free up to the channel's seq, and the next send
     * continues right after it. */
    store_snapshot_t *snap;
    assert_int_equal(store_load(f.s, &snap), STORE_OK);
    for (size_t c = 0; c < snap->nchannels; c++) {
        uint64_t top = snap->channels[c].seq, after = 0;
        bool more = true;
        while (more) {
            fx_res_t r = {0};
            FX_EVENT(&f, r,
                     store_sync_range(f.s, snap->channels[c].id, after, 1000, fx_sync_cb, &r));
            for (size_t k = 0; k < r.n; k++)
                assert_int_equal(
                    json_integer_value(json_object_get(json_array_get(r.json, k), "seq")), ++after);
            more = r.flag;
            fx_res_free(&r);
        }
        assert_int_equal(after, top);
        fx_res_t m = {0};
        assert_int_equal(fx_send(&f, snap->channels[c].id, "u1", NULL, "after", NULL, &m),
                         STORE_OK);
        assert_int_equal(m.seq, top + 1);
        fx_res_free(&m);
        print_message("%s: %llu events after kill -9 (%d acked in all)\n", snap->channels[c].id,
                      (unsigned long long)top, n);
    }
    store_snapshot_free(snap);
    fx_destroy(&f);
}

static void test_sync_full(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_close(&f);
    store_config_t cfg = {.sync_full = true, .max_group = 8, .readers = 1};
    assert_int_equal(fx_open_cfg(&f, &cfg), STORE_OK);
    setup_senders(&f, 2);
    fx_res_t m = {0};
    assert_int_equal(fx_send(&f, "general", "u1", "x", "durable", NULL, &m), STORE_OK);
    fx_res_free(&m);
    fx_close(&f);
    assert_int_equal(fx_open_cfg(&f, &cfg), STORE_OK);
    assert_int_equal(fx_send(&f, "general", "u1", "x", "durable", NULL, &m), STORE_OK);
    assert_true(m.flag);
    assert_int_equal(m.msg_seq, 1);
    fx_res_free(&m);
    fx_destroy(&f);
}

/* ---- Throughput and ack latency ---------------------------------------- */

#define BENCH_SENDERS 100
#define BENCH_MAX 400000

typedef struct bench bench_t;

typedef struct {
    bench_t *b;
    int sender;
    uint64_t t0;
} slot_t;

struct bench {
    store_t *s;
    uint64_t deadline;
    unsigned sent, acked, counter;
    uint64_t *lat; /* ns, one per ack */
};

static void bench_send(slot_t *sl);

static void bench_ack(store_err_t err, const store_message_t *m, const store_event_t *ev, bool dup,
                      void *arg)
{
    slot_t *sl = arg;
    bench_t *b = sl->b;
    assert_int_equal(err, STORE_OK);
    uint64_t t = now_ns();
    if (b->acked < BENCH_MAX)
        b->lat[b->acked] = t - sl->t0;
    b->acked++;
    if (t < b->deadline && b->sent < BENCH_MAX)
        bench_send(sl);
}

static void bench_send(slot_t *sl)
{
    bench_t *b = sl->b;
    char user[16], cid[32];
    snprintf(user, sizeof user, "u%d", sl->sender);
    snprintf(cid, sizeof cid, "b%u", b->counter++);
    store_message_spec_t spec = {sl->sender % 2 ? "general" : "random", user,
                                 "a message of typical length, about sixty bytes or so", cid, NULL};
    sl->t0 = now_ns();
    b->sent++;
    assert_int_equal(store_message_insert(b->s, &spec, bench_ack, sl), STORE_OK);
}

static uint64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_run(fx_t *f, int window, double seconds)
{
    bench_t b = {.s = f->s};
    static unsigned counter_base;
    b.counter = counter_base;
    b.lat = malloc(BENCH_MAX * sizeof *b.lat);
    slot_t *slots = calloc((size_t)BENCH_SENDERS * (size_t)window, sizeof *slots);
    store_stats_t s0, s1;
    store_stats(f->s, &s0);
    uint64_t start = now_ns(), cpu0 = cpu_us();
    b.deadline = start + (uint64_t)(seconds * 1e9);
    for (int w = 0; w < window; w++)
        for (int i = 0; i < BENCH_SENDERS; i++) {
            slot_t *sl = &slots[w * BENCH_SENDERS + i];
            *sl = (slot_t){.b = &b, .sender = i};
            bench_send(sl);
        }
    while (b.acked < b.sent)
        uv_run(&f->loop, UV_RUN_ONCE);
    double secs = (double)(now_ns() - start) / 1e9;
    double cpu = (double)(cpu_us() - cpu0);
    store_stats(f->s, &s1);
    size_t n = b.acked < BENCH_MAX ? b.acked : BENCH_MAX;
    qsort(b.lat, n, sizeof *b.lat, cmp_u64);
    uint64_t txns = s1.write_txns - s0.write_txns;
    print_message("store bench: %d senders x %d in flight: %u acked in %.2f s = %.0f msg/s; "
                  "ack latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; %llu commits "
                  "(%.1f writes each), commit time %.1f%%; CPU %.1f us per message "
                  "(all threads)\n",
                  BENCH_SENDERS, window, b.acked, secs, b.acked / secs, b.lat[n / 2] / 1e6,
                  b.lat[n * 99 / 100] / 1e6, b.lat[n - 1] / 1e6, (unsigned long long)txns,
                  txns ? (double)(s1.writes - s0.writes) / (double)txns : 0.0,
                  100.0 * (double)(s1.commit_us - s0.commit_us) / (secs * 1e6),
                  b.acked ? cpu / b.acked : 0.0);
    counter_base = b.counter;
    free(slots);
    free(b.lat);
}

/* ---- The WAL starts again under a load that never stops ---------------- */

#define WAL_SENDS 10000

typedef struct {
    fx_t *f;
    unsigned sent, acked, failed;
    off_t wal_max;
    char wal[160];
} wal_load_t;

static void wal_send(wal_load_t *w);

static void wal_ack(store_err_t err, const store_message_t *m, const store_event_t *ev, bool dup,
                    void *arg)
{
    wal_load_t *w = arg;
    w->acked++;
    w->failed += err != STORE_OK;
    struct stat st;
    if (stat(w->wal, &st) == 0 && st.st_size > w->wal_max)
        w->wal_max = st.st_size;
    if (w->sent < WAL_SENDS)
        wal_send(w);
}

static void wal_send(wal_load_t *w)
{
    char user[16], channel[16];
    unsigned i = w->sent++;
    snprintf(user, sizeof user, "u%u", i % 10);
    snprintf(channel, sizeof channel, "c%u", i % 20);
    store_message_spec_t spec = {channel, user, "a message of some length, as chat has them", NULL,
                                 NULL};
    assert_int_equal(store_message_insert(w->f->s, &spec, wal_ack, w), STORE_OK);
}

/* With the writer never idle, the checkpoint thread alone never catches
 * up: the writer must finish its copy for the WAL to start again, or the
 * WAL grows with every message (a 4 KiB page or so each here). */
static void test_wal_restarts_under_load(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_close(&f);
    store_config_t cfg = {.checkpoint_frames = 256};
    assert_int_equal(fx_open_cfg(&f, &cfg), STORE_OK);
    for (int i = 0; i < 10; i++) {
        char u[16];
        snprintf(u, sizeof u, "u%d", i);
        assert_int_equal(fx_user(&f, u, NULL), STORE_OK);
    }
    for (int i = 0; i < 20; i++) {
        char c[16];
        snprintf(c, sizeof c, "c%d", i);
        assert_int_equal(fx_channel(&f, c, STORE_PUBLIC, NULL), STORE_OK);
    }
    wal_load_t w = {.f = &f};
    snprintf(w.wal, sizeof w.wal, "%s-wal", f.path);
    for (int i = 0; i < 64; i++)
        wal_send(&w);
    while (w.acked < WAL_SENDS)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_int_equal(w.failed, 0);
    /* The WAL header's checkpoint sequence number counts its restarts. */
    unsigned char hdr[16] = {0};
    FILE *fp = fopen(w.wal, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(hdr, 1, sizeof hdr, fp), sizeof hdr);
    fclose(fp);
    uint32_t restarts = (uint32_t)hdr[12] << 24 | (uint32_t)hdr[13] << 16 | hdr[14] << 8 | hdr[15];
    print_message("WAL restarted %u times, at most %lld KiB, over %d sends\n", restarts,
                  (long long)w.wal_max / 1024, WAL_SENDS);
    assert_true(restarts >= 3);
    /* 256 frames of 4 KiB, plus what comes in while they are copied (the
     * checkpoint thread lags on a busy machine); without the writer's part
     * of the copy the WAL never restarts and passes 40 MB here. */
    assert_true(w.wal_max < 32 * 256 * 4120);
    fx_res_t r = {0};
    FX_EVENT(&f, r, store_sync_range(f.s, "c7", 0, 1000, fx_sync_cb, &r));
    assert_int_equal(r.n, WAL_SENDS / 20);
    fx_res_free(&r);
    fx_destroy(&f);
}

/* ---- A commit larger than the WAL write buffer ------------------------- */

typedef struct {
    int pending, failed;
} big_t;

static void big_ack(store_err_t err, const store_message_t *m, const store_event_t *ev, bool dup,
                    void *arg)
{
    big_t *b = arg;
    b->pending--;
    b->failed += err != STORE_OK;
}

/* 100 messages of 60 KB queued at once commit as one group of some 1,500
 * pages: more than the 4 MiB walbuf.c gathers, and its pieces longer than
 * the 128 KiB the unix VFS takes per write. All of it reads back, from
 * another connection and after a reopen. */
static void test_big_commit(void **state)
{
    fx_t f;
    fx_init(&f);
    setup_senders(&f, 1);
    size_t len = 60000;
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        text[i] = (char)('a' + i % 26);
    text[len] = '\0';
    big_t b = {0};
    for (int i = 0; i < 100; i++) {
        text[0] = (char)('A' + i % 26);
        store_message_spec_t spec = {"general", "u0", text, NULL, NULL};
        assert_int_equal(store_message_insert(f.s, &spec, big_ack, &b), STORE_OK);
        b.pending++;
    }
    while (b.pending)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_int_equal(b.failed, 0);
    for (int round = 0; round < 2; round++) {
        fx_res_t r = {0};
        FX_EVENT(&f, r, store_history_page(f.s, "general", 0, 1000, fx_history_cb, &r));
        assert_int_equal(r.n, 100);
        for (size_t i = 0; i < r.n; i++) {
            const char *t = json_string_value(json_object_get(json_array_get(r.json, i), "text"));
            assert_int_equal(strlen(t), len);
            assert_int_equal(t[0], 'A' + (int)i % 26);
            assert_memory_equal(t + 1, text + 1, len - 1);
        }
        fx_res_free(&r);
        fx_reopen(&f);
    }
    free(text);
    fx_destroy(&f);
}

static void test_throughput_printout(void **state)
{
    fx_t f;
    fx_init(&f);
    setup_senders(&f, BENCH_SENDERS);
    double secs =
        getenv("PARLEY_STORE_BENCH_SECS") ? strtod(getenv("PARLEY_STORE_BENCH_SECS"), NULL) : 1.0;
    bench_run(&f, 1, secs);
    bench_run(&f, 5, secs);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acked_writes_survive_kill9),
        cmocka_unit_test(test_sync_full),
        cmocka_unit_test(test_wal_restarts_under_load),
        cmocka_unit_test(test_big_commit),
        cmocka_unit_test(test_throughput_printout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
