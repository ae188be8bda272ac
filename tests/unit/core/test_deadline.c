/* test_deadline.c — deadlines on one uv timer: due order, moving and
 * disarming, re-arming from a callback, a 0 ms arm inside a callback, and a
 * random mix checked against a plain model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"

#define MAX_ITEMS 2000

typedef struct {
    deadline_t d;
    int id;
    int fired;
    uint64_t fired_at;
    uint64_t due;   /* what the test expects */
    int rearm;      /* re-arm this many ms once, from the callback */
    int rearm_zero; /* re-arm with 0 ms this many times */
} item_t;

static int order[MAX_ITEMS * 4];
static int nfired;

static void on_fire(deadline_queue_t *q, deadline_t *d)
{
    item_t *it = (item_t *)((char *)d - offsetof(item_t, d));
    assert_false(deadline_armed(d));
    it->fired++;
    it->fired_at = uv_now(q->loop);
    order[nfired++] = it->id;
    if (it->rearm) {
        uint64_t ms = (uint64_t)it->rearm;
        it->rearm = 0;
        deadline_arm(q, d, ms);
        it->due = uv_now(q->loop) + ms;
    } else if (it->rearm_zero) {
        it->rearm_zero--;
        deadline_arm(q, d, 0);
    }
}

static void run(uv_loop_t *loop, deadline_queue_t *q)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(deadline_queue_count(q), 0);
}

static void close_queue(uv_loop_t *loop, deadline_queue_t *q)
{
    deadline_queue_close(q, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_due_order(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    deadline_queue_init(&q, &loop, on_fire, NULL);
    item_t it[5] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}, {.id = 4}};
    uint64_t ms[5] = {30, 10, 50, 20, 40};
    uint64_t start = uv_now(&loop);
    nfired = 0;
    for (int i = 0; i < 5; i++)
        deadline_arm(&q, &it[i].d, ms[i]);
    assert_int_equal(deadline_queue_count(&q), 5);
    /* Never from inside arm. */
    assert_int_equal(nfired, 0);
    run(&loop, &q);
    assert_int_equal(nfired, 5);
    int want[5] = {1, 3, 0, 4, 2};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(order[i], want[i]);
        assert_true(it[order[i]].fired_at >= start + ms[order[i]]);
    }
    close_queue(&loop, &q);
}

static void test_move_and_disarm(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    deadline_queue_init(&q, &loop, on_fire, NULL);
    item_t a = {.id = 0}, b = {.id = 1}, c = {.id = 2};
    nfired = 0;
    deadline_arm(&q, &a.d, 10);
    deadline_arm(&q, &b.d, 20);
    deadline_arm(&q, &c.d, 30);
    deadline_arm(&q, &a.d, 40); /* later */
    deadline_arm(&q, &c.d, 5);  /* earlier */
    deadline_disarm(&q, &b.d);
    deadline_disarm(&q, &b.d); /* twice is fine */
    assert_false(deadline_armed(&b.d));
    assert_int_equal(deadline_queue_count(&q), 2);
    run(&loop, &q);
    assert_int_equal(nfired, 2);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 0);
    assert_int_equal(b.fired, 0);
    close_queue(&loop, &q);
}

static void test_rearm_from_callback(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    deadline_queue_init(&q, &loop, on_fire, NULL);
    item_t a = {.id = 0, .rearm = 15}, b = {.id = 1};
    nfired = 0;
    deadline_arm(&q, &a.d, 5);
    deadline_arm(&q, &b.d, 10);
    run(&loop, &q);
    assert_int_equal(nfired, 3);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 0);
    assert_true(a.fired_at >= a.due);
    close_queue(&loop, &q);
}

/* A callback that re-arms with 0 ms does not spin inside one timer run. */
static int turns;
static void count_turn(uv_check_t *h)
{
    turns++;
}

static void test_zero_rearm_waits_a_turn(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    deadline_queue_init(&q, &loop, on_fire, NULL);
    uv_check_t check;
    uv_check_init(&loop, &check);
    uv_check_start(&check, count_turn);
    uv_unref((uv_handle_t *)&check);
    item_t a = {.id = 0, .rearm_zero = 3};
    nfired = 0;
    turns = 0;
    deadline_arm(&q, &a.d, 0);
    run(&loop, &q);
    assert_int_equal(a.fired, 4);
    assert_true(turns >= 4); /* one fire per loop turn at most */
    uv_close((uv_handle_t *)&check, NULL);
    close_queue(&loop, &q);
}

/* Closing disarms what is left; nothing fires. */
static void test_close_disarms(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    deadline_queue_init(&q, &loop, on_fire, NULL);
    item_t a = {.id = 0}, b = {.id = 1};
    nfired = 0;
    deadline_arm(&q, &a.d, 1000);
    deadline_arm(&q, &b.d, 2000);
    deadline_queue_close(&q, NULL);
    assert_false(deadline_armed(&a.d));
    assert_false(deadline_armed(&b.d));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(nfired, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Many arms, moves and disarms in a random order: every armed deadline
 * fires once, in nondecreasing due order, none before its due time; the
 * heap array shrinks back as deadlines go. */
static void test_random_mix(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    deadline_queue_t q;
    deadline_queue_init(&q, &loop, on_fire, NULL);
    static item_t it[MAX_ITEMS];
    memset(it, 0, sizeof it);
    srand(12345);
    uint64_t now = uv_now(&loop);
    for (int i = 0; i < MAX_ITEMS; i++)
        it[i].id = i;
    for (int step = 0; step < 20000; step++) {
        int i = rand() % MAX_ITEMS;
        if (rand() % 4 == 0) {
            deadline_disarm(&q, &it[i].d);
        } else {
            uint64_t ms = (uint64_t)(rand() % 60);
            deadline_arm(&q, &it[i].d, ms);
            it[i].due = now + ms;
        }
    }
    uint32_t armed = 0;
    for (int i = 0; i < MAX_ITEMS; i++)
        armed += deadline_armed(&it[i].d) ? 1 : 0;
    assert_int_equal(deadline_queue_count(&q), armed);
    nfired = 0;
    run(&loop, &q);
    assert_int_equal((uint32_t)nfired, armed);
    for (int k = 0; k < nfired; k++) {
        item_t *x = &it[order[k]];
        assert_int_equal(x->fired, 1);
        assert_true(x->fired_at >= x->due);
        if (k > 0)
            assert_true(it[order[k - 1]].due <= x->due);
    }
    assert_true(q.cap <= 16);
    close_queue(&loop, &q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_order),           cmocka_unit_test(test_move_and_disarm),
        cmocka_unit_test(test_rearm_from_callback), cmocka_unit_test(test_zero_rearm_waits_a_turn),
        cmocka_unit_test(test_close_disarms),       cmocka_unit_test(test_random_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
