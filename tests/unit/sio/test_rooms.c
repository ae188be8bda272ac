/* test_rooms.c — room bookkeeping of the Socket.IO layer (sio/room.c) and
 * the hash table under it (sio/map.c): joins, leaves, empty rooms going
 * away, and the selection of broadcast receivers with exceptions. */
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

#define NSOCK 64

typedef struct {
    sio__rooms_t rooms;
    sio_socket_t socks[NSOCK];
    sio_socket_t *all; /* list through nsp_next, as a namespace keeps it */
    sio__sockvec_t out;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = xcalloc(1, sizeof *f);
    sio__rooms_init(&f->rooms);
    for (int i = NSOCK - 1; i >= 0; i--) {
        snprintf(f->socks[i].id, sizeof f->socks[i].id, "sock%02d", i);
        f->socks[i].nsp_next = f->all;
        f->all = &f->socks[i];
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < NSOCK; i++)
        sio__room_leave_all(&f->rooms, &f->socks[i]);
    assert_int_equal(f->rooms.map.count, 0);
    sio__rooms_free(&f->rooms);
    sio__sockvec_free(&f->out);
    free(f);
    return 0;
}

static int join(fixture_t *f, int i, const char *room)
{
    return sio__room_join(&f->rooms, &f->socks[i], room, strlen(room));
}

static int leave(fixture_t *f, int i, const char *room)
{
    return sio__room_leave(&f->rooms, &f->socks[i], room, strlen(room));
}

static size_t size_of(fixture_t *f, const char *room)
{
    sio__room_t *r = sio__room_find(&f->rooms, room, strlen(room));
    return r ? r->count : 0;
}

static int selected(fixture_t *f, int i)
{
    for (size_t k = 0; k < f->out.n; k++)
        if (f->out.v[k] == &f->socks[i])
            return 1;
    return 0;
}

/* Each selected socket appears once. */
static void assert_unique(fixture_t *f)
{
    for (size_t a = 0; a < f->out.n; a++)
        for (size_t b = a + 1; b < f->out.n; b++)
            assert_ptr_not_equal(f->out.v[a], f->out.v[b]);
}

static void test_join_is_idempotent(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(join(f, 0, "a"), 1);
    assert_int_equal(join(f, 0, "a"), 0);
    assert_int_equal(size_of(f, "a"), 1);
    assert_int_equal(f->socks[0].nrooms, 1);
    assert_true(sio__room_has(&f->socks[0], "a", 1));
    assert_false(sio__room_has(&f->socks[1], "a", 1));
}

static void test_leave_and_empty_room_goes(void **state)
{
    fixture_t *f = *state;
    join(f, 0, "a");
    join(f, 1, "a");
    assert_int_equal(leave(f, 0, "a"), 1);
    assert_int_equal(leave(f, 0, "a"), 0);
    assert_int_equal(leave(f, 0, "nope"), 0);
    assert_int_equal(size_of(f, "a"), 1);
    assert_int_equal(leave(f, 1, "a"), 1);
    assert_null(sio__room_find(&f->rooms, "a", 1));
    assert_int_equal(f->rooms.map.count, 0);
}

static void test_names_are_length_delimited(void **state)
{
    fixture_t *f = *state;
    join(f, 0, "ab");
    join(f, 1, "a");
    assert_int_equal(size_of(f, "ab"), 1);
    assert_int_equal(size_of(f, "a"), 1);
    /* a prefix of a member's room is not membership */
    assert_false(sio__room_has(&f->socks[0], "a", 1));
    assert_true(sio__room_has(&f->socks[0], "ab", 2));
}

/* Leaving from the middle of a big room keeps every other member
 * reachable (swap-remove updates the moved member's index). */
static void test_swap_remove_keeps_indexes(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < NSOCK; i++)
        join(f, i, "big");
    for (int i = 0; i < NSOCK; i += 3)
        assert_int_equal(leave(f, i, "big"), 1);
    sio__room_t *r = sio__room_find(&f->rooms, "big", 3);
    assert_non_null(r);
    for (uint32_t k = 0; k < r->count; k++) {
        /* each side points at the other */
        sio_socket_t *s = r->members[k].sock;
        assert_ptr_equal(s->rooms[r->members[k].idx].room, r);
        assert_int_equal(s->rooms[r->members[k].idx].idx, k);
    }
    for (int i = 0; i < NSOCK; i++)
        assert_int_equal(sio__room_has(&f->socks[i], "big", 3), i % 3 != 0);
    for (int i = 1; i < NSOCK; i++)
        if (i % 3)
            assert_int_equal(leave(f, i, "big"), 1);
    assert_null(sio__room_find(&f->rooms, "big", 3));
}

/* Every membership is seen the same way from both sides, and the room
 * table holds exactly the rooms somebody is in. */
static void assert_consistent(fixture_t *f, const char names[][8], int nnames)
{
    size_t total = 0;
    for (int n = 0; n < nnames; n++) {
        sio__room_t *r = sio__room_find(&f->rooms, names[n], strlen(names[n]));
        if (!r)
            continue;
        assert_true(r->count > 0);
        assert_true(r->count <= r->cap);
        total += r->count;
        for (uint32_t k = 0; k < r->count; k++) {
            sio_socket_t *s = r->members[k].sock;
            assert_true(r->members[k].idx < s->nrooms);
            assert_ptr_equal(s->rooms[r->members[k].idx].room, r);
            assert_int_equal(s->rooms[r->members[k].idx].idx, k);
        }
    }
    size_t from_sockets = 0;
    for (int i = 0; i < NSOCK; i++) {
        sio_socket_t *s = &f->socks[i];
        from_sockets += s->nrooms;
        for (uint32_t j = 0; j < s->nrooms; j++) {
            const sio__room_t *r = s->rooms[j].room;
            assert_true(s->rooms[j].idx < r->count);
            assert_ptr_equal(r->members[s->rooms[j].idx].sock, s);
        }
    }
    assert_int_equal(total, from_sockets);
}

/* Sockets in several rooms each, joining and leaving in a random order:
 * the two indexes never disagree (a swap-remove on one side moves an entry
 * whose back index on the other side must follow). */
static void test_random_joins_and_leaves(void **state)
{
    fixture_t *f = *state;
    static const char names[6][8] = {"r0", "r1", "r2", "r3", "r4", "r5"};
    int member[NSOCK][6] = {{0}};
    srand(7);
    for (int step = 0; step < 20000; step++) {
        int i = rand() % NSOCK, n = rand() % 6;
        if (rand() % 2) {
            assert_int_equal(join(f, i, names[n]), !member[i][n]);
            member[i][n] = 1;
        } else {
            assert_int_equal(leave(f, i, names[n]), member[i][n]);
            member[i][n] = 0;
        }
        if (step % 97 == 0) {
            assert_consistent(f, names, 6);
            if (rand() % 8 == 0) {
                sio__room_leave_all(&f->rooms, &f->socks[i]);
                memset(member[i], 0, sizeof member[i]);
            }
        }
    }
    assert_consistent(f, names, 6);
    for (int i = 0; i < NSOCK; i++)
        for (int n = 0; n < 6; n++)
            assert_int_equal(sio__room_has(&f->socks[i], names[n], 2), member[i][n]);
}

static void test_leave_all(void **state)
{
    fixture_t *f = *state;
    join(f, 0, "a");
    join(f, 0, "b");
    join(f, 0, "c");
    join(f, 1, "b");
    sio__room_leave_all(&f->rooms, &f->socks[0]);
    assert_int_equal(f->socks[0].nrooms, 0);
    assert_null(sio__room_find(&f->rooms, "a", 1));
    assert_null(sio__room_find(&f->rooms, "c", 1));
    assert_int_equal(size_of(f, "b"), 1);
}

static void test_many_rooms_grow_the_table(void **state)
{
    fixture_t *f = *state;
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "room-%d", i);
        assert_int_equal(join(f, i % NSOCK, name), 1);
    }
    assert_int_equal(f->rooms.map.count, 1000);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "room-%d", i);
        assert_int_equal(size_of(f, name), 1);
        assert_true(sio__room_has(&f->socks[i % NSOCK], name, strlen(name)));
    }
    size_t cur, seen = 0;
    for (hmap_node_t *n = hmap_first(&f->rooms.map, &cur); n;
         n = hmap_next(&f->rooms.map, n, &cur))
        seen++;
    assert_int_equal(seen, 1000);
}

static void test_select_whole_namespace(void **state)
{
    fixture_t *f = *state;
    sio__rooms_select(&f->rooms, f->all, NULL, &f->out);
    assert_int_equal(f->out.n, NSOCK);
    assert_unique(f);
}

static void test_select_union_of_rooms_once_each(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 10; i++)
        join(f, i, "a");
    for (int i = 5; i < 15; i++)
        join(f, i, "b");
    const char *rooms[] = {"a", "b", "missing"};
    sio_target_t t = {.rooms = rooms, .num_rooms = 3};
    sio__rooms_select(&f->rooms, f->all, &t, &f->out);
    assert_int_equal(f->out.n, 15);
    assert_unique(f);
    for (int i = 0; i < NSOCK; i++)
        assert_int_equal(selected(f, i), i < 15);
    /* A second selection starts afresh (stamps are per selection). */
    sio__rooms_select(&f->rooms, f->all, &t, &f->out);
    assert_int_equal(f->out.n, 15);
}

static void test_select_with_exceptions(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < NSOCK; i++) {
        join(f, i, f->socks[i].id); /* each socket's own room */
        join(f, i, "all");
    }
    for (int i = 0; i < 4; i++)
        join(f, i, "muted");
    const char *rooms[] = {"all"};
    const char *except[] = {"muted", "sock10"};
    sio_target_t t = {.rooms = rooms, .num_rooms = 1, .except = except, .num_except = 2};
    sio__rooms_select(&f->rooms, f->all, &t, &f->out);
    assert_int_equal(f->out.n, NSOCK - 5);
    for (int i = 0; i < NSOCK; i++)
        assert_int_equal(selected(f, i), !(i < 4 || i == 10));

    /* The whole namespace minus one socket: socket.broadcast.emit. */
    const char *self[] = {"sock07"};
    sio_target_t bt = {.except = self, .num_except = 1};
    sio__rooms_select(&f->rooms, f->all, &bt, &f->out);
    assert_int_equal(f->out.n, NSOCK - 1);
    assert_false(selected(f, 7));

    /* Excluding a room nobody is in excludes nobody. */
    const char *none[] = {"ghost"};
    sio_target_t gt = {.rooms = rooms, .num_rooms = 1, .except = none, .num_except = 1};
    sio__rooms_select(&f->rooms, f->all, &gt, &f->out);
    assert_int_equal(f->out.n, NSOCK);

    /* A socket that is both targeted and excepted is excluded. */
    const char *both[] = {"sock03"};
    sio_target_t xt = {.rooms = both, .num_rooms = 1, .except = both, .num_except = 1};
    sio__rooms_select(&f->rooms, f->all, &xt, &f->out);
    assert_int_equal(f->out.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_and_empty_room_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_are_length_delimited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_remove_keeps_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_joins_and_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_rooms_grow_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_whole_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_union_of_rooms_once_each, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_with_exceptions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
