/* test_recovery.c — the connection state recovery buffer (sio/recovery.c):
 * offsets, the count/bytes/age bounds, which offsets still allow a complete
 * replay, kept sessions (capture, take, expiry with the user data freed),
 * and the deadlines under them (sio/timer.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "sio/internal.h"

typedef struct {
    uv_loop_t loop;
    sio_server_t *srv;
    sio_nsp_t *nsp;
    int freed;      /* free_data calls */
    void *freed_of; /* last data freed */
} fixture_t;

static void on_free_data(void *data, void *ud)
{
    fixture_t *f = ud;
    f->freed++;
    f->freed_of = data;
}

static void on_timer_closed(uv_handle_t *h) {}

static int setup_with(void **state, size_t max_packets, size_t max_bytes, uint64_t max_disc)
{
    fixture_t *f = xcalloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    f->srv = xcalloc(1, sizeof *f->srv);
    f->srv->loop = &f->loop;
    f->srv->cfg.recovery = 1;
    f->srv->cfg.recovery_max_packets = max_packets;
    f->srv->cfg.recovery_max_bytes = max_bytes;
    f->srv->cfg.max_disconnection_ms = max_disc;
    sio__timers_init(&f->srv->timers, &f->loop);
    f->nsp = sio_of(f->srv, "/");
    sio_on_free_data(f->nsp, on_free_data, f);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 4, 1000, 60000);
}

static int setup_short(void **state)
{
    return setup_with(state, 100, 100000, 30);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sio__nsp_free(f->nsp);
    sio__timers_close(&f->srv->timers, on_timer_closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f->srv);
    free(f);
    return 0;
}

/* Stores one event of `bytes` bytes for the given room (NULL: everyone). */
static uint64_t store(fixture_t *f, const char *room, size_t bytes)
{
    char *body = xcalloc(1, bytes ? bytes : 1);
    eio_msg_t *m = eio_msg_new(0, body, bytes);
    free(body);
    const char *rooms[] = {room};
    sio_target_t t = {.rooms = rooms, .num_rooms = room ? 1 : 0};
    uint64_t off = sio__rec_store(f->nsp, &t, &m, 1, bytes);
    eio_msg_unref(m);
    return off;
}

/* A disconnected socket's session, kept with data. */
static void keep_session(fixture_t *f, const char *pid, uint64_t first_offset, void *data)
{
    sio_socket_t s = {0};
    s.nsp = f->nsp;
    snprintf(s.id, sizeof s.id, "sid-of-%s", pid);
    snprintf(s.pid, sizeof s.pid, "%s", pid);
    s.first_offset = first_offset;
    sio__room_join(&f->nsp->rooms, &s, s.id, strlen(s.id));
    sio__room_join(&f->nsp->rooms, &s, "room-a", 6);
    sio__session_t *sess = sio__rec_capture(&s);
    sio__room_leave_all(&f->nsp->rooms, &s);
    sio__rec_keep(sess, data);
}

static sio__session_t *take(fixture_t *f, const char *pid, const char *offset, uint64_t *from)
{
    return sio__rec_take(f->nsp, pid, strlen(pid), offset, offset ? strlen(offset) : 0, from);
}

static void test_offsets_increase(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(sio__rec_peek_offset(f->nsp), 1);
    assert_int_equal(store(f, NULL, 10), 1);
    assert_int_equal(sio__rec_peek_offset(f->nsp), 2);
    assert_int_equal(store(f, "r", 10), 2);
    assert_int_equal(f->nsp->rec.count, 2);
    assert_int_equal(f->nsp->rec.bytes, 20);
}

static void test_count_bound(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 6; i++)
        store(f, NULL, 10);
    assert_int_equal(f->nsp->rec.count, 4); /* offsets 3..6 */
    keep_session(f, "p1", 1, NULL);
    uint64_t from = 0;
    /* The client saw 1; 2 is gone: no complete replay. */
    assert_null(take(f, "p1", "1", &from));
    /* The client saw 2; everything from 3 is there. */
    sio__session_t *sess = take(f, "p1", "2", &from);
    assert_non_null(sess);
    assert_int_equal(from, 3);
    assert_string_equal(sess->sid, "sid-of-p1");
    assert_int_equal(sess->nrooms, 2);
    sio__rec_session_free(sess, 1);
    /* Taken sessions are gone. */
    assert_null(take(f, "p1", "2", &from));
}

static void test_bytes_bound_and_oversized_event(void **state)
{
    fixture_t *f = *state;
    store(f, NULL, 400);
    store(f, NULL, 400);
    store(f, NULL, 400); /* 1200 > 1000: the first goes */
    assert_int_equal(f->nsp->rec.count, 2);
    assert_int_equal(f->nsp->rec.bytes, 800);
    /* An event bigger than the budget empties the buffer and is not kept;
     * its offset is still consumed. */
    assert_int_equal(store(f, NULL, 5000), 4);
    assert_int_equal(f->nsp->rec.count, 0);
    assert_int_equal(f->nsp->rec.bytes, 0);
    keep_session(f, "p", 1, NULL);
    uint64_t from;
    assert_null(take(f, "p", "3", &from)); /* 4 was never kept */
    assert_int_equal(store(f, NULL, 10), 5);
    sio__session_t *sess = take(f, "p", "4", &from);
    assert_non_null(sess);
    assert_int_equal(from, 5);
    sio__rec_session_free(sess, 1);
}

static void test_offsets_that_are_not_ours(void **state)
{
    fixture_t *f = *state;
    store(f, NULL, 10);
    store(f, NULL, 10);
    keep_session(f, "p", 1, NULL);
    uint64_t from;
    assert_null(take(f, "nobody", "1", &from));
    assert_null(take(f, "p", "3", &from)); /* never issued */
    assert_null(take(f, "p", "0", &from));
    assert_null(take(f, "p", "x1", &from));
    assert_null(take(f, "p", "", &from));
    assert_null(take(f, "p", "99999999999999999999", &from));
    /* All of these left the session in place. */
    sio__session_t *sess = take(f, "p", "2", &from);
    assert_non_null(sess);
    assert_int_equal(from, 3); /* nothing to replay */
    sio__rec_session_free(sess, 1);
}

static void test_no_offset_replays_from_connect(void **state)
{
    fixture_t *f = *state;
    store(f, NULL, 10); /* 1, before the socket connected */
    keep_session(f, "p", 2, NULL);
    store(f, NULL, 10); /* 2 */
    uint64_t from = 0;
    sio__session_t *sess = take(f, "p", NULL, &from);
    assert_non_null(sess);
    assert_int_equal(from, 2);
    sio__rec_session_free(sess, 1);

    /* An offset older than the socket does not replay what preceded it. */
    keep_session(f, "q", 2, NULL);
    sess = take(f, "q", "1", &from);
    assert_non_null(sess);
    assert_int_equal(from, 2);
    sio__rec_session_free(sess, 1);
}

static void test_newer_disconnection_replaces_session(void **state)
{
    fixture_t *f = *state;
    int a, b;
    keep_session(f, "p", 1, &a);
    keep_session(f, "p", 1, &b);
    assert_int_equal(f->freed, 1);
    assert_ptr_equal(f->freed_of, &a);
    uint64_t from;
    sio__session_t *sess = take(f, "p", NULL, &from);
    assert_non_null(sess);
    assert_ptr_equal(sess->data, &b);
    sio__rec_session_free(sess, 0); /* the data moved on: not freed */
    assert_int_equal(f->freed, 1);
}

static void test_session_expires_and_frees_data(void **state)
{
    fixture_t *f = *state;
    int data;
    keep_session(f, "p", 1, &data);
    uv_update_time(&f->loop);
    uint64_t t0 = uv_now(&f->loop);
    while (f->freed == 0 && uv_now(&f->loop) - t0 < 2000)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->freed, 1);
    assert_ptr_equal(f->freed_of, &data);
    assert_true(uv_now(&f->loop) - t0 >= 25);
    uint64_t from;
    assert_null(take(f, "p", NULL, &from));
    /* Old events age out with it. */
    store(f, NULL, 10);
    uv_sleep(40);
    uv_update_time(&f->loop);
    store(f, NULL, 10);
    assert_int_equal(f->nsp->rec.count, 1);
}

static void test_server_free_frees_kept_data(void **state)
{
    fixture_t *f = *state;
    int x, y;
    keep_session(f, "p", 1, &x);
    keep_session(f, "q", 1, &y);
    sio__rec_free(f->nsp);
    assert_int_equal(f->freed, 2);
    sio__rec_init(&f->nsp->rec);
}

typedef struct {
    sio__deadline_t d;
    int *order;
    int *n;
    int tag;
} tagged_t;

static void on_fire(sio__deadline_t *d)
{
    tagged_t *t = SIO__CONTAINER(d, tagged_t, d);
    t->order[(*t->n)++] = t->tag;
}

static void test_deadlines_fire_in_order(void **state)
{
    fixture_t *f = *state;
    int order[4] = {0}, n = 0;
    tagged_t t[4];
    uint64_t ms[4] = {30, 10, 20, 10};
    for (int i = 0; i < 4; i++) {
        t[i] = (tagged_t){.d = {.fire = on_fire}, .order = order, .n = &n, .tag = i + 1};
        sio__deadline_arm(&f->srv->timers, &t[i].d, ms[i]);
    }
    sio__deadline_disarm(&f->srv->timers, &t[2].d);  /* 20 ms: never fires */
    sio__deadline_arm(&f->srv->timers, &t[1].d, 40); /* re-armed later */
    while (n < 3)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(order[0], 4);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    assert_false(t[2].d.armed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offsets_increase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_bound_and_oversized_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets_that_are_not_ours, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_offset_replays_from_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_disconnection_replaces_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_expires_and_frees_data, setup_short, teardown),
        cmocka_unit_test_setup_teardown(test_server_free_frees_kept_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadlines_fire_in_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
