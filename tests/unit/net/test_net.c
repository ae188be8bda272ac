/* test_net.c — the opt-in output flush delay of net.c, over real loopback
 * sockets on one private loop: without a delay two writes 5 ms apart arrive
 * as two reads; with a 20 ms delay they arrive together, not before half the
 * delay and not long after it; 16 KiB of queued output is written at once
 * despite a 1 s delay; and a connection closed, drained or reset by its peer
 * while its output waits closes cleanly (leaks and use-after-free are the
 * sanitizer's to catch). Time bounds are generous: this is behaviour, not
 * performance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

#define MS (1000 * 1000ULL) /* uv_hrtime units */

typedef enum {
    SC_TWO_FRAMES,     /* "A" now, "B" 5 ms later */
    SC_OVER_THRESHOLD, /* 8 KiB now, 12 KiB 5 ms later */
    SC_CLOSE_NOW,      /* "A", then an abortive close */
    SC_CLOSE_GRACEFUL, /* "A", then a graceful close */
    SC_DRAIN,          /* "A", then the server drains */
    SC_PEER_CLOSES,    /* "A" to a client that has already closed */
} scenario_t;

static struct {
    uv_loop_t loop;
    net_server_t *server;
    net_conn_t *conn; /* the server side */
    uv_tcp_t client;
    uv_connect_t connect;
    uv_timer_t later, guard;
    scenario_t sc;
    size_t expect; /* bytes after which the client is done */
    uint64_t t0, first_read;
    size_t got, reads;
    char data[32 * 1024];
    int eof, server_closed, finished, drained;
    net_close_reason_t reason;
} T;

static void finish(void);

static void on_finish_timer(uv_timer_t *t)
{
    finish();
}

static size_t on_data(net_conn_t *c, const char *data, size_t len)
{
    return len;
}

static void on_close(net_conn_t *c, net_close_reason_t reason)
{
    T.server_closed = 1;
    T.reason = reason;
    T.conn = NULL;
    if (T.sc == SC_PEER_CLOSES)
        uv_timer_start(&T.later, on_finish_timer, 100, 0); /* past the 50 ms delay */
}

static const net_conn_handler_t handler = {.on_data = on_data, .on_close = on_close};

static void on_later(uv_timer_t *t)
{
    if (!T.conn)
        return;
    if (T.sc == SC_TWO_FRAMES)
        assert_int_equal(net_conn_write(T.conn, "B", 1), NET_OK);
    else if (T.sc == SC_OVER_THRESHOLD)
        assert_int_equal(net_conn_write(T.conn, T.data, 12 * 1024), NET_OK);
}

static void on_accept(net_conn_t *c, void *ud)
{
    T.conn = c;
    net_conn_set_handler(c, &handler, NULL);
    T.t0 = uv_hrtime();
    switch (T.sc) {
    case SC_TWO_FRAMES:
        assert_int_equal(net_conn_write(c, "A", 1), NET_OK);
        uv_timer_start(&T.later, on_later, 5, 0);
        break;
    case SC_OVER_THRESHOLD:
        assert_int_equal(net_conn_write(c, T.data, 8 * 1024), NET_OK);
        uv_timer_start(&T.later, on_later, 5, 0);
        break;
    case SC_CLOSE_NOW:
        assert_int_equal(net_conn_write(c, "A", 1), NET_OK);
        net_conn_close(c, 0);
        break;
    case SC_CLOSE_GRACEFUL:
        assert_int_equal(net_conn_write(c, "A", 1), NET_OK);
        net_conn_close(c, 1);
        break;
    case SC_DRAIN:
        assert_int_equal(net_conn_write(c, "A", 1), NET_OK);
        finish();
        break;
    case SC_PEER_CLOSES:
        assert_int_equal(net_conn_write(c, "A", 1), NET_OK);
        break;
    }
}

static void on_drained(net_server_t *s, void *ud)
{
    T.drained = 1;
}

static void on_client_closed(uv_handle_t *h) {}

static void close_client(void)
{
    if (!uv_is_closing((uv_handle_t *)&T.client))
        uv_close((uv_handle_t *)&T.client, on_client_closed);
}

static void finish(void)
{
    if (T.finished)
        return;
    T.finished = 1;
    uv_timer_stop(&T.guard);
    uv_close((uv_handle_t *)&T.guard, NULL);
    uv_close((uv_handle_t *)&T.later, NULL);
    net_server_drain(T.server, 1000, on_drained, NULL);
    if (T.sc != SC_DRAIN)
        close_client();
}

static void on_guard(uv_timer_t *t)
{
    finish();
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    static char buf[64 * 1024];
    *out = uv_buf_init(buf, sizeof buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n > 0) {
        if (T.reads++ == 0)
            T.first_read = uv_hrtime();
        T.got += (size_t)n;
        if (T.expect && T.got >= T.expect && T.sc != SC_DRAIN && T.sc != SC_CLOSE_GRACEFUL)
            finish();
        return;
    }
    if (n < 0) {
        T.eof = 1;
        close_client();
        if (T.sc != SC_DRAIN)
            finish();
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    assert_int_equal(status, 0);
    if (T.sc == SC_PEER_CLOSES) {
        close_client();
        return;
    }
    uv_read_start((uv_stream_t *)&T.client, on_alloc, on_read);
}

static void run(scenario_t sc, uint32_t delay_us, size_t expect)
{
    memset(&T, 0, sizeof T);
    T.sc = sc;
    T.expect = expect;
    assert_int_equal(uv_loop_init(&T.loop), 0);
    net_server_config_t cfg = {
        .host = "127.0.0.1",
        .tcp_nodelay = 1,
        .flush_delay_us = delay_us,
        .on_accept = on_accept,
    };
    assert_int_equal(net_server_start(&T.loop, &cfg, &T.server), 0);
    uv_timer_init(&T.loop, &T.later);
    uv_timer_init(&T.loop, &T.guard);
    uv_timer_start(&T.guard, on_guard, 3000, 0);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", net_server_port(T.server), &addr);
    uv_tcp_init(&T.loop, &T.client);
    assert_int_equal(uv_tcp_connect(&T.connect, &T.client, (struct sockaddr *)&addr, on_connect),
                     0);
    uv_run(&T.loop, UV_RUN_DEFAULT);
    assert_true(T.drained);
    assert_int_equal(uv_loop_close(&T.loop), 0); /* every handle, the flush timer too, closed */
}

static void test_no_delay_writes_each_turn(void **state)
{
    run(SC_TWO_FRAMES, 0, 2);
    assert_int_equal(T.got, 2);
    assert_int_equal(T.reads, 2);
}

static void test_delay_gathers_frames(void **state)
{
    run(SC_TWO_FRAMES, 20000, 2);
    assert_int_equal(T.got, 2);
    assert_int_equal(T.reads, 1);
    uint64_t waited = T.first_read - T.t0;
    assert_true(waited >= 10 * MS);
    assert_true(waited <= 20 * MS + 500 * MS);
}

static void test_threshold_flushes_at_once(void **state)
{
    run(SC_OVER_THRESHOLD, 1000000, 20 * 1024);
    assert_int_equal(T.got, 20 * 1024);
    assert_true(T.first_read - T.t0 < 500 * MS);
}

static void test_close_while_delayed(void **state)
{
    run(SC_CLOSE_NOW, 1000000, 0);
    assert_true(T.server_closed);
    assert_int_equal(T.reason, NET_CLOSE_LOCAL);
    assert_int_equal(T.got, 0); /* an abortive close drops what is queued */
    assert_true(T.eof);
}

static void test_graceful_close_writes_now(void **state)
{
    run(SC_CLOSE_GRACEFUL, 1000000, 1);
    assert_true(T.server_closed);
    assert_int_equal(T.got, 1);
    assert_true(T.eof);
    assert_true(T.first_read - T.t0 < 500 * MS);
}

static void test_drain_writes_now(void **state)
{
    run(SC_DRAIN, 1000000, 1);
    assert_true(T.server_closed);
    assert_int_equal(T.got, 1);
    assert_true(T.eof);
    assert_true(T.first_read - T.t0 < 500 * MS);
}

static void test_peer_closes_while_delayed(void **state)
{
    run(SC_PEER_CLOSES, 50000, 0);
    assert_true(T.server_closed);
    assert_int_not_equal(T.reason, NET_CLOSE_LOCAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_delay_writes_each_turn),
        cmocka_unit_test(test_delay_gathers_frames),
        cmocka_unit_test(test_threshold_flushes_at_once),
        cmocka_unit_test(test_close_while_delayed),
        cmocka_unit_test(test_graceful_close_writes_now),
        cmocka_unit_test(test_drain_writes_now),
        cmocka_unit_test(test_peer_closes_while_delayed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
