/* test_store.c — the store's behaviour through its public API, on a real
 * SQLite file and a real loop: seqs, group commit, idempotency, read marks,
 * events, paging, notifications, lists, and what survives a reopen. */
#include "fixture.h"

static void users_two(fx_t *f)
{
    assert_int_equal(fx_user(f, "alice", "Alice"), STORE_OK);
    assert_int_equal(fx_user(f, "bob", "Bob"), STORE_OK);
}

static void test_users_and_channels(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_res_t r = {0};
    assert_int_equal(store_user_upsert(f.s, "alice", "Alice", fx_user_cb, &r), STORE_OK);
    assert_int_equal(r.done, 0); /* never called from inside the call */
    fx_run_until(&f, &r.done);
    assert_int_equal(r.err, STORE_OK);
    assert_true(r.flag);
    memset(&r, 0, sizeof r);
    assert_int_equal(store_user_upsert(f.s, "alice", NULL, fx_user_cb, &r), STORE_OK);
    fx_run_until(&f, &r.done);
    assert_false(r.flag); /* existed */
    assert_string_equal(r.id, "Alice");
    memset(&r, 0, sizeof r);
    assert_int_equal(store_user_upsert(f.s, "alice", "Alice L.", fx_user_cb, &r), STORE_OK);
    fx_run_until(&f, &r.done);
    assert_string_equal(r.id, "Alice L.");
    assert_int_equal(fx_user(&f, "bob", NULL), STORE_OK);

    /* Synchronous refusals: nothing queued, callback never runs. */
    assert_int_equal(store_user_upsert(f.s, "", "x", fx_user_cb, &r), STORE_E_INVALID);
    assert_int_equal(store_user_upsert(f.s, NULL, "x", fx_user_cb, &r), STORE_E_INVALID);
    assert_int_equal(store_user_upsert(f.s, "a\xff", "x", fx_user_cb, &r), STORE_E_INVALID);
    assert_int_equal(store_user_upsert(f.s, "a", "x", NULL, &r), STORE_E_INVALID);
    store_channel_spec_t bad = {.id = "x", .kind = (store_kind_t)7};
    assert_int_equal(store_channel_create(f.s, &bad, fx_create_cb, &r), STORE_E_INVALID);

    /* The creator is owner and first member: seq 1 is their join. */
    fx_res_t c = {0};
    assert_int_equal(fx_channel_ex(&f, "general", STORE_PUBLIC, "alice", NULL, 0, &c), STORE_OK);
    assert_int_equal(c.seq, 1);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.n, 1);
    json_t *want = json_pack("{s:s, s:i, s:{s:s, s:s}}", "channel", "general", "seq", 1, "user",
                             "id", "alice", "name", "Alice L.");
    assert_true(json_equal(json_array_get(c.json, 0), want));
    json_decref(want);
    fx_res_free(&c);
    assert_int_equal(fx_channel(&f, "general", STORE_PRIVATE, "bob"), STORE_E_CONFLICT);
    assert_int_equal(fx_channel(&f, "ghosts", STORE_PUBLIC, "nobody"), STORE_E_NOT_FOUND);
    /* A server-made channel has no members and no events. */
    assert_int_equal(fx_channel_ex(&f, "random", STORE_PUBLIC, NULL, NULL, 0, &c), STORE_OK);
    assert_int_equal(c.seq, 0);
    assert_int_equal(c.count, 0);
    /* A DM: both in one transaction, creator listed twice is ignored. */
    const char *dm_members[] = {"bob", "alice"};
    assert_int_equal(fx_channel_ex(&f, "dm:alice:bob", STORE_DM, "alice", dm_members, 2, &c),
                     STORE_OK);
    assert_int_equal(c.seq, 2);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.n, 2);
    fx_res_free(&c);
    /* A member that is no user fails the whole creation. */
    const char *ghost[] = {"ghost"};
    assert_int_equal(fx_channel_ex(&f, "haunted", STORE_PRIVATE, "alice", ghost, 1, NULL),
                     STORE_E_NOT_FOUND);
    fx_destroy(&f);
}

static void channel_get_cb(store_err_t err, const store_channel_t *ch, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    if (ch) {
        r->seq = ch->seq;
        r->count = ch->members;
        cp(r->type, sizeof r->type, store_kind_name(ch->kind));
        cp(r->author, sizeof r->author, ch->created_by);
        cp(r->id, sizeof r->id, ch->topic);
    }
    r->done = 1;
}

static void test_channel_get(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    store_channel_spec_t spec = {
        .id = "dev", .name = "Dev", .kind = STORE_PRIVATE, .topic = "builds", .created_by = "bob"};
    fx_res_t r = {0};
    assert_int_equal(store_channel_create(f.s, &spec, fx_create_cb, &r), STORE_OK);
    fx_run_until(&f, &r.done);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_channel_get(f.s, "dev", channel_get_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_string_equal(r.type, "private");
    assert_string_equal(r.author, "bob");
    assert_string_equal(r.id, "builds");
    assert_int_equal(r.seq, 1);
    assert_int_equal(r.count, 1);
    FX_EVENT(&f, r, store_channel_get(f.s, "nope", channel_get_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    fx_destroy(&f);
}

/* ---- Seq continuity under many interleaved senders --------------------- */

#define SENDERS 100
#define CHANNELS 3
#define PER_SENDER 30

typedef struct {
    int index;
    int channel;
    uint64_t seq;
    int done;
    int order;
} send_t;

static int delivered;

static void seq_cb(store_err_t err, const store_message_t *m, const store_event_t *ev, bool dup,
                   void *arg)
{
    send_t *s = arg;
    assert_int_equal(err, STORE_OK);
    assert_false(dup);
    s->seq = ev->seq;
    s->order = delivered++;
    s->done = 1;
}

static void test_seq_continuity(void **state)
{
    fx_t f;
    fx_init(&f);
    char name[32];
    for (int i = 0; i < SENDERS; i++) {
        snprintf(name, sizeof name, "u%d", i);
        assert_int_equal(fx_user(&f, name, NULL), STORE_OK);
    }
    for (int c = 0; c < CHANNELS; c++) {
        snprintf(name, sizeof name, "c%d", c);
        assert_int_equal(fx_channel(&f, name, STORE_PUBLIC, NULL), STORE_OK);
    }
    /* Submitted round-robin across senders and channels, in bursts with the
     * loop running in between, so groups mix everything. */
    static send_t sends[SENDERS * PER_SENDER];
    int total = SENDERS * PER_SENDER;
    delivered = 0;
    for (int i = 0; i < total; i++) {
        int sender = i % SENDERS;
        send_t *s = &sends[i];
        *s = (send_t){.index = i, .channel = (i / 7) % CHANNELS};
        char user[16], chan[16], cid[32], text[48];
        snprintf(user, sizeof user, "u%d", sender);
        snprintf(chan, sizeof chan, "c%d", s->channel);
        snprintf(cid, sizeof cid, "cid-%d", i);
        snprintf(text, sizeof text, "message %d from %s", i, user);
        store_message_spec_t spec = {chan, user, text, cid, NULL};
        assert_int_equal(store_message_insert(f.s, &spec, seq_cb, s), STORE_OK);
        if (i % 97 == 0)
            uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    fx_run_until(&f, &sends[total - 1].done);
    /* Callbacks ran in submission order; seqs per channel are 1, 2, 3 ...
     * in that same order. */
    uint64_t next[CHANNELS] = {1, 1, 1};
    for (int i = 0; i < total; i++) {
        assert_true(sends[i].done);
        assert_int_equal(sends[i].order, i);
        assert_int_equal(sends[i].seq, next[sends[i].channel]++);
    }
    /* And the event log agrees: no gap, no duplicate. */
    for (int c = 0; c < CHANNELS; c++) {
        snprintf(name, sizeof name, "c%d", c);
        uint64_t after = 0;
        bool more = true;
        while (more) {
            fx_res_t r = {0};
            FX_EVENT(&f, r, store_sync_range(f.s, name, after, 500, fx_sync_cb, &r));
            assert_int_equal(r.err, STORE_OK);
            for (size_t k = 0; k < r.n; k++) {
                json_t *ev = json_array_get(r.json, k);
                assert_int_equal(json_integer_value(json_object_get(ev, "seq")), after + 1);
                assert_string_equal(json_string_value(json_object_get(ev, "type")), "message:new");
                after++;
            }
            more = r.flag;
            fx_res_free(&r);
        }
        assert_int_equal(after, next[c] - 1);
    }
    fx_destroy(&f);
}

/* ---- Group commit ------------------------------------------------------ */

static int group_done;

static void group_cb(store_err_t err, const store_message_t *m, const store_event_t *ev, bool dup,
                     void *arg)
{
    assert_int_equal(err, STORE_OK);
    group_done++;
}

static void test_group_commit_batches(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    store_stats_t before, after;
    store_stats(f.s, &before);
    const int n = 2000;
    group_done = 0;
    for (int i = 0; i < n; i++) {
        char cid[32];
        snprintf(cid, sizeof cid, "g%d", i);
        store_message_spec_t spec = {"general", i % 2 ? "alice" : "bob", "hello", cid, NULL};
        assert_int_equal(store_message_insert(f.s, &spec, group_cb, NULL), STORE_OK);
    }
    while (group_done < n)
        uv_run(&f.loop, UV_RUN_ONCE);
    store_stats(f.s, &after);
    uint64_t ops = after.writes - before.writes;
    uint64_t txns = after.write_txns - before.write_txns;
    print_message("group commit: %llu writes in %llu transactions (largest group %llu)\n",
                  (unsigned long long)ops, (unsigned long long)txns,
                  (unsigned long long)after.max_group);
    assert_int_equal(ops, n);
    /* Queued faster than committed: far fewer transactions than writes. */
    assert_true(txns * 4 <= ops);
    assert_true(after.max_group > 1);
    assert_int_equal(after.write_retry, 0);
    fx_destroy(&f);
}

/* A write that comes while a group gathers joins it: with a 100 ms window,
 * a second send 10 ms after the first (a timer, on the loop) commits with
 * it, and not before the window has passed. */
static int window_done;
static uint64_t window_acked_at[2];

static void window_cb(store_err_t err, const store_message_t *m, const store_event_t *ev,
                      bool dup, void *arg)
{
    assert_int_equal(err, STORE_OK);
    window_acked_at[(intptr_t)arg] = uv_hrtime();
    window_done++;
}

static store_t *window_store;

static void window_second(uv_timer_t *t)
{
    store_message_spec_t spec = {"general", "bob", "second", NULL, NULL};
    assert_int_equal(store_message_insert(window_store, &spec, window_cb, (void *)(intptr_t)1),
                     STORE_OK);
}

static void test_group_window(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    fx_close(&f);
    store_config_t cfg = {.group_window_us = 100000};
    assert_int_equal(fx_open_cfg(&f, &cfg), STORE_OK);
    window_store = f.s;
    store_stats_t before, after;
    store_stats(f.s, &before);
    uint64_t t0 = uv_hrtime();
    store_message_spec_t spec = {"general", "alice", "first", NULL, NULL};
    assert_int_equal(store_message_insert(f.s, &spec, window_cb, (void *)(intptr_t)0), STORE_OK);
    uv_timer_t timer;
    uv_timer_init(&f.loop, &timer);
    uv_timer_start(&timer, window_second, 10, 0);
    window_done = 0;
    while (window_done < 2)
        uv_run(&f.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    store_stats(f.s, &after);
    assert_int_equal(after.write_txns - before.write_txns, 1);
    assert_true(window_acked_at[0] - t0 >= 100000000u);
    fx_destroy(&f);
}

/* ---- Idempotency ------------------------------------------------------- */

static void test_idempotent_retry(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK); /* seq 1 */
    assert_int_equal(fx_channel(&f, "other", STORE_PUBLIC, "alice"), STORE_OK);

    fx_res_t a = {0}, b = {0};
    assert_int_equal(fx_send(&f, "general", "bob", "c-1", "hi", NULL, &a), STORE_OK);
    assert_false(a.flag);
    assert_int_equal(a.seq, 2);
    assert_int_equal(fx_send(&f, "general", "bob", "c-1", "hi again?", NULL, &b), STORE_OK);
    assert_true(b.flag);
    assert_string_equal(a.id, b.id);
    assert_int_equal(b.msg_seq, 2);
    assert_true(json_equal(a.json, b.json)); /* the original, text and all */
    fx_res_free(&b);
    /* Same clientId from another channel: still the original. */
    assert_int_equal(fx_send(&f, "other", "bob", "c-1", "x", NULL, &b), STORE_OK);
    assert_true(b.flag);
    assert_string_equal(b.id, a.id);
    fx_res_free(&b);
    /* Another user's clientId is theirs. */
    assert_int_equal(fx_send(&f, "general", "alice", "c-1", "mine", NULL, &b), STORE_OK);
    assert_false(b.flag);
    assert_int_equal(b.seq, 3); /* the retries consumed no seq */
    fx_res_free(&b);
    fx_res_free(&a);

    /* A retry queued in the same group as the original. */
    fx_res_t r1 = {0}, r2 = {0};
    store_message_spec_t spec = {"general", "bob", "twice", "c-2", NULL};
    assert_int_equal(store_message_insert(f.s, &spec, fx_message_cb, &r1), STORE_OK);
    assert_int_equal(store_message_insert(f.s, &spec, fx_message_cb, &r2), STORE_OK);
    fx_run_until(&f, &r2.done);
    assert_true(r1.done);
    assert_false(r1.flag);
    assert_true(r2.flag);
    assert_string_equal(r1.id, r2.id);
    assert_int_equal(r1.seq, 4);
    fx_res_free(&r1);
    fx_res_free(&r2);
    assert_int_equal(fx_send(&f, "general", "bob", NULL, "no key", NULL, &a), STORE_OK);
    assert_int_equal(a.seq, 5);
    fx_res_free(&a);
    assert_int_equal(fx_send(&f, "general", "bob", NULL, "no key", NULL, &a), STORE_OK);
    assert_int_equal(a.seq, 6); /* no key: no deduplication */
    fx_res_free(&a);

    /* Failures consume no seq either. */
    assert_int_equal(fx_send(&f, "nope", "bob", "c-3", "x", NULL, NULL), STORE_E_NOT_FOUND);
    assert_int_equal(fx_send(&f, "general", "carol", "c-3", "x", NULL, NULL), STORE_E_NOT_FOUND);
    assert_int_equal(fx_send(&f, "general", "bob", "c-3", "x", "m-none", NULL), STORE_E_INVALID);
    assert_int_equal(fx_send(&f, "general", "bob", "c-3", "x", NULL, &a), STORE_OK);
    assert_int_equal(a.seq, 7);
    fx_res_free(&a);
    fx_destroy(&f);
}

/* The idempotency key holds across a restart, and a retry whose replyTo
 * is gone still gets the original. */
static void test_idempotent_across_restart(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK); /* 1 */
    fx_res_t a = {0}, b = {0};
    assert_int_equal(fx_send(&f, "general", "bob", "c-1", "hi", NULL, &a), STORE_OK); /* 2 */
    fx_reopen(&f);
    assert_int_equal(fx_send(&f, "general", "bob", "c-1", "hi?", NULL, &b), STORE_OK);
    assert_true(b.flag);
    assert_string_equal(b.id, a.id);
    assert_true(json_equal(a.json, b.json));
    fx_res_free(&b);
    assert_int_equal(fx_send(&f, "general", "bob", "c-1", "hi?", "m-none", &b), STORE_OK);
    assert_true(b.flag);
    assert_string_equal(b.id, a.id);
    fx_res_free(&b);
    assert_int_equal(fx_send(&f, "general", "bob", "c-2", "next", NULL, &b), STORE_OK);
    assert_false(b.flag);
    assert_int_equal(b.seq, 3);
    fx_res_free(&b);
    fx_res_free(&a);
    fx_destroy(&f);
}

/* {type:"message:new", ...m} as channel:sync must show a message sent as m
 * (the json the insert reported). */
static void assert_new_event(json_t *ev, json_t *m)
{
    json_t *want = json_pack("{s:s}", "type", "message:new");
    json_object_update(want, m);
    char *a = json_dumps(ev, JSON_COMPACT), *b = json_dumps(want, JSON_COMPACT);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(want);
}

/* The message:new events channel:sync returns are the messages as they
 * were sent — first text, the author's name then, no reactions — blanked
 * once deleted, whatever happened to the message and its author since. */
static void test_sync_shows_messages_as_sent(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK); /* 1 */
    fx_res_t r = {0};
    FX_EVENT(&f, r, store_member_add(f.s, "general", "bob", STORE_MEMBER, fx_event_cb, &r));
    fx_res_free(&r); /* 2 */
    fx_res_t m1 = {0}, m2 = {0}, m3 = {0}, m4 = {0};
    assert_int_equal(fx_send(&f, "general", "bob", "c-1", "one", NULL, &m1), STORE_OK); /* 3 */
    assert_int_equal(fx_send(&f, "general", "alice", "c-2", "two", m1.id, &m2), STORE_OK); /* 4 */
    assert_int_equal(fx_send(&f, "general", "bob", NULL, "three", NULL, &m3), STORE_OK); /* 5 */
    assert_int_equal(fx_user(&f, "bob", "Bobby"), STORE_OK);
    assert_int_equal(fx_send(&f, "general", "bob", "c-4", "four", NULL, &m4), STORE_OK); /* 6 */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m4.json, "author"), "name")), "Bobby");
    FX_EVENT(&f, r, store_message_edit(f.s, "general", m1.id, "bob", "one!", fx_event_cb, &r));
    assert_int_equal(r.seq, 7);
    FX_EVENT(&f, r, store_message_edit(f.s, "general", m1.id, "bob", "one!!", fx_event_cb, &r));
    FX_EVENT(&f, r, store_reaction_add(f.s, "general", m3.id, "alice", "+1", fx_event_cb, &r));
    FX_EVENT(&f, r, store_message_delete(f.s, "general", m3.id, "bob", fx_event_cb, &r)); /* 10 */
    FX_EVENT(&f, r, store_message_edit(f.s, "general", m2.id, "alice", "two!", fx_event_cb, &r));
    FX_EVENT(&f, r, store_message_delete(f.s, "general", m2.id, "alice", fx_event_cb, &r));
    assert_int_equal(r.seq, 12);
    fx_res_free(&r);

    for (int round = 0; round < 2; round++) {
        FX_EVENT(&f, r, store_sync_range(f.s, "general", 0, 100, fx_sync_cb, &r));
        assert_int_equal(r.err, STORE_OK);
        assert_int_equal(r.n, 12);
        for (size_t i = 0; i < r.n; i++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(r.json, i), "seq")),
                             i + 1);
        /* Sent before the rename, edited twice: the first text, "Bob". */
        assert_new_event(json_array_get(r.json, 2), m1.json);
        assert_new_event(json_array_get(r.json, 5), m4.json);
        /* Deleted: blanked, "deleted" after the emptied reactions (as a
         * delete blanked a stored payload). */
        json_t *gone = json_pack("{s:s, s:s, s:I, s:I, s:{s:s, s:s}, s:s, s:{}, s:b}", "id", m3.id,
                                 "channel", "general", "seq", (json_int_t)5, "ts",
                                 json_integer_value(json_object_get(m3.json, "ts")), "author",
                                 "id", "bob", "name", "Bob", "text", "", "reactions", "deleted", 1);
        assert_new_event(json_array_get(r.json, 4), gone);
        json_decref(gone);
        json_t *two = json_array_get(r.json, 3);
        assert_string_equal(json_string_value(json_object_get(two, "text")), "");
        assert_true(json_is_true(json_object_get(two, "deleted")));
        assert_string_equal(json_string_value(json_object_get(two, "replyTo")), m1.id);
        assert_int_equal(json_object_size(json_object_get(two, "reactions")), 0);
        json_t *upd = json_array_get(r.json, 10); /* m2's edit, blanked */
        assert_string_equal(json_string_value(json_object_get(upd, "type")), "message:updated");
        assert_string_equal(json_string_value(json_object_get(upd, "text")), "");
        upd = json_array_get(r.json, 7); /* m1's second edit stays */
        assert_string_equal(json_string_value(json_object_get(upd, "text")), "one!!");
        /* Paging across the two tables. */
        fx_res_free(&r);
        FX_EVENT(&f, r, store_sync_range(f.s, "general", 4, 3, fx_sync_cb, &r));
        assert_int_equal(r.n, 3);
        assert_true(r.flag);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r.json, 0), "seq")), 5);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r.json, 2), "seq")), 7);
        fx_res_free(&r);
        FX_EVENT(&f, r, store_sync_range(f.s, "general", 11, 5, fx_sync_cb, &r));
        assert_int_equal(r.n, 1);
        assert_false(r.flag);
        fx_res_free(&r);
        fx_reopen(&f);
    }
    /* History shows messages as they are now, under the current name. */
    FX_EVENT(&f, r, store_history_page(f.s, "general", 0, 10, fx_history_cb, &r));
    assert_int_equal(r.n, 4);
    json_t *h1 = json_array_get(r.json, 0);
    assert_string_equal(json_string_value(json_object_get(h1, "text")), "one!!");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(h1, "author"), "name")), "Bobby");
    assert_true(json_is_integer(json_object_get(h1, "editedAt")));
    fx_res_free(&r);
    fx_res_free(&m1);
    fx_res_free(&m2);
    fx_res_free(&m3);
    fx_res_free(&m4);
    fx_destroy(&f);
}

/* Two stores writing one file (two processes, say): each sees the other's
 * events, and seqs stay unique and gap-free, though each writer keeps the
 * seqs it knows from one transaction to the next; message ids made in the
 * same millisecond by both do not collide either. */
static void test_two_writers_share_seqs(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK); /* 1 */
    store_t *a = f.s;
    assert_int_equal(fx_open_cfg(&f, NULL), STORE_OK);
    store_t *b = f.s;
    fx_res_t r = {0};
    for (uint64_t seq = 2; seq < 12; seq++) {
        f.s = seq % 3 ? a : b;
        assert_int_equal(fx_send(&f, "general", "bob", NULL, "hi", NULL, &r), STORE_OK);
        assert_int_equal(r.seq, seq);
        fx_res_free(&r);
    }
    f.s = b;
    FX_EVENT(&f, r, store_member_add(f.s, "general", "bob", STORE_MEMBER, fx_event_cb, &r));
    assert_int_equal(r.seq, 12);
    fx_res_free(&r);
    f.s = a;
    assert_int_equal(fx_send(&f, "general", "alice", NULL, "yo", NULL, &r), STORE_OK);
    assert_int_equal(r.seq, 13);
    fx_res_free(&r);
    store_close(b);
    FX_EVENT(&f, r, store_sync_range(f.s, "general", 0, 100, fx_sync_cb, &r));
    assert_int_equal(r.n, 13);
    fx_res_free(&r);
    store_snapshot_t *snap;
    assert_int_equal(store_load(f.s, &snap), STORE_OK);
    assert_int_equal(snap->channels[0].seq, 13);
    store_snapshot_free(snap);
    fx_destroy(&f);
}

/* ---- Read marks -------------------------------------------------------- */

static fx_res_t mark(fx_t *f, const char *channel, const char *user, uint64_t seq)
{
    fx_res_t r = {0};
    FX_EVENT(f, r, store_read_mark(f->s, channel, user, seq, fx_mark_cb, &r));
    return r;
}

static void test_read_mark_monotonic(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    for (int i = 0; i < 9; i++)
        assert_int_equal(fx_send(&f, "general", "bob", NULL, "m", NULL, NULL), STORE_OK);
    /* channel seq is 10 (1 join + 9 messages) */
    fx_res_t r = mark(&f, "general", "alice", 5);
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.count, 5);
    assert_true(r.flag);
    r = mark(&f, "general", "alice", 3);
    assert_int_equal(r.count, 5); /* never backwards */
    assert_false(r.flag);
    r = mark(&f, "general", "alice", 5);
    assert_false(r.flag);
    r = mark(&f, "general", "alice", 1000);
    assert_int_equal(r.count, 10); /* not past the channel's last seq */
    assert_true(r.flag);
    r = mark(&f, "general", "bob", 3);
    assert_int_equal(r.err, STORE_E_NOT_FOUND); /* not a member */
    r = mark(&f, "nope", "alice", 3);
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    fx_reopen(&f);
    r = mark(&f, "general", "alice", 7);
    assert_int_equal(r.count, 10);
    fx_destroy(&f);
}

/* ---- Message events ---------------------------------------------------- */

static void test_message_events(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_user(&f, "carol", "Carol"), STORE_OK);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK); /* 1 */
    fx_res_t r = {0};
    FX_EVENT(&f, r, store_member_add(f.s, "general", "bob", STORE_MEMBER, fx_event_cb, &r)); /* 2 */
    FX_EVENT(&f, r, store_member_add(f.s, "general", "carol", STORE_MEMBER, fx_event_cb, &r));
    fx_res_free(&r); /* 3 */
    fx_res_t m = {0};
    assert_int_equal(fx_send(&f, "general", "bob", "k1", "first", NULL, &m), STORE_OK); /* 4 */
    assert_int_equal(m.seq, 4);
    char id[64];
    cp(id, sizeof id, m.id);
    fx_res_free(&m);
    /* A reply knows whom it answers. */
    assert_int_equal(fx_send(&f, "general", "alice", "k2", "re", id, &m), STORE_OK); /* 5 */
    assert_string_equal(m.reply_author, "bob");
    assert_string_equal(json_string_value(json_object_get(m.json, "replyTo")), id);
    fx_res_free(&m);

    /* Text that needs escaping round-trips through the stored payload
     * (fx_message_cb compares the text with the json). */
    assert_int_equal(
        fx_send(&f, "general", "carol", NULL,
                "q\"uote\\ nl\n tab\t ctl\x01\x1f caf\xc3\xa9 \xf0\x9f\x98\x80 </script>", NULL,
                &m),
        STORE_OK); /* 6 */
    fx_res_free(&m);

    /* Edit: only the author. */
    FX_EVENT(&f, r, store_message_edit(f.s, "general", id, "alice", "hacked", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_FORBIDDEN);
    FX_EVENT(&f, r, store_message_edit(f.s, "general", id, "bob", "first!", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.seq, 7);
    assert_string_equal(r.type, "message:updated");
    assert_string_equal(json_string_value(json_object_get(r.json, "text")), "first!");
    assert_non_null(json_object_get(r.json, "editedAt"));
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), id);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_message_edit(f.s, "other", id, "bob", "x", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND); /* not in that channel */

    /* Reactions: add, add again (unchanged), remove, remove again. */
    FX_EVENT(&f, r, store_reaction_add(f.s, "general", id, "carol", "+1", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.seq, 8);
    assert_string_equal(r.type, "reaction:updated");
    assert_string_equal(r.author, "bob"); /* who gets the "reaction" notification */
    assert_int_equal(r.n, 1);
    json_t *want = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "channel", "general", "id", id,
                             "seq", 8, "emoji", "+1", "user", "carol", "op", "add");
    assert_true(json_equal(r.json, want));
    json_decref(want);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_reaction_add(f.s, "general", id, "carol", "+1", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_true(r.flag);
    FX_EVENT(&f, r, store_reaction_add(f.s, "general", id, "alice", "+1", fx_event_cb, &r)); /* 9 */
    assert_int_equal(r.seq, 9);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_reaction_remove(f.s, "general", id, "carol", "+1", fx_event_cb, &r));
    assert_int_equal(r.seq, 10);
    assert_string_equal(json_string_value(json_object_get(r.json, "op")), "remove");
    fx_res_free(&r);
    FX_EVENT(&f, r, store_reaction_remove(f.s, "general", id, "carol", "+1", fx_event_cb, &r));
    assert_true(r.flag);
    FX_EVENT(&f, r, store_reaction_add(f.s, "general", id, "ghost", "+1", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);

    /* Delete: a plain member may not delete another's; an owner may. */
    FX_EVENT(&f, r, store_message_delete(f.s, "general", id, "carol", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_FORBIDDEN);
    FX_EVENT(&f, r, store_message_delete(f.s, "general", id, "alice", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.seq, 11);
    assert_string_equal(r.type, "message:deleted");
    assert_int_equal(r.n, 0); /* reactions dropped */
    fx_res_free(&r);
    FX_EVENT(&f, r, store_message_delete(f.s, "general", id, "bob", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_true(r.flag); /* already deleted */
    FX_EVENT(&f, r, store_message_edit(f.s, "general", id, "bob", "back", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    FX_EVENT(&f, r, store_reaction_add(f.s, "general", id, "bob", "+1", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);

    /* The log: 11 events, gap-free; the deleted words are gone from it. */
    FX_EVENT(&f, r, store_sync_range(f.s, "general", 0, 100, fx_sync_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.n, 11);
    assert_false(r.flag);
    const char *types[] = {"member:joined",    "member:joined",    "member:joined",
                           "message:new",      "message:new",      "message:new",
                           "message:updated",  "reaction:updated", "reaction:updated",
                           "reaction:updated", "message:deleted"};
    for (size_t i = 0; i < r.n; i++) {
        json_t *ev = json_array_get(r.json, i);
        assert_string_equal(json_string_value(json_object_get(ev, "type")), types[i]);
        assert_int_equal(json_integer_value(json_object_get(ev, "seq")), i + 1);
        assert_string_equal(json_string_value(json_object_get(ev, "channel")), "general");
    }
    char *dump = json_dumps(r.json, 0);
    assert_null(strstr(dump, "first"));
    free(dump);
    json_t *first = json_array_get(r.json, 3);
    assert_string_equal(json_string_value(json_object_get(first, "id")), id);
    assert_string_equal(json_string_value(json_object_get(first, "text")), "");
    assert_true(json_is_true(json_object_get(first, "deleted")));
    fx_res_free(&r);
    fx_destroy(&f);
}

static void member_cb_check(fx_res_t *r, uint64_t seq, const char *type)
{
    assert_int_equal(r->err, STORE_OK);
    assert_int_equal(r->seq, seq);
    assert_string_equal(r->type, type);
}

static void test_member_events(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    fx_res_t r = {0};
    FX_EVENT(&f, r, store_member_add(f.s, "general", "bob", STORE_MEMBER, fx_event_cb, &r));
    member_cb_check(&r, 2, "member:joined");
    assert_int_equal(r.count, 2); /* last_read starts at the join */
    json_t *want = json_pack("{s:s, s:i, s:{s:s, s:s}}", "channel", "general", "seq", 2, "user",
                             "id", "bob", "name", "Bob");
    assert_true(json_equal(r.json, want));
    json_decref(want);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_member_add(f.s, "general", "bob", STORE_ADMIN, fx_event_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_true(r.flag);
    FX_EVENT(&f, r, store_member_add(f.s, "general", "ghost", STORE_MEMBER, fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    FX_EVENT(&f, r, store_member_add(f.s, "nope", "bob", STORE_MEMBER, fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    FX_EVENT(&f, r, store_member_set_role(f.s, "general", "bob", STORE_ADMIN, fx_done_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    FX_EVENT(&f, r, store_member_set_role(f.s, "nope", "bob", STORE_ADMIN, fx_done_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    FX_EVENT(&f, r, store_member_remove(f.s, "general", "bob", fx_event_cb, &r));
    member_cb_check(&r, 3, "member:left");
    fx_res_free(&r);
    FX_EVENT(&f, r, store_member_remove(f.s, "general", "bob", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_true(r.flag);
    FX_EVENT(&f, r, store_member_remove(f.s, "nope", "bob", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    FX_EVENT(&f, r, store_member_add(f.s, "general", "bob", STORE_MEMBER, fx_event_cb, &r));
    member_cb_check(&r, 4, "member:joined");
    fx_res_free(&r);

    store_snapshot_t *snap;
    assert_int_equal(store_load(f.s, &snap), STORE_OK);
    assert_int_equal(snap->nusers, 2);
    assert_int_equal(snap->nchannels, 1);
    assert_int_equal(snap->channels[0].seq, 4);
    assert_int_equal(snap->channels[0].members, 2);
    assert_int_equal(snap->nmembers, 2);
    assert_string_equal(snap->members[0].user, "alice");
    assert_int_equal(snap->members[0].role, STORE_OWNER);
    assert_string_equal(snap->members[1].user, "bob");
    assert_int_equal(snap->members[1].role, STORE_MEMBER);
    assert_int_equal(snap->members[1].last_read, 4);
    store_snapshot_free(snap);
    fx_destroy(&f);
}

/* ---- History and sync paging ------------------------------------------- */

static void test_history_and_sync_paging(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK); /* seq 1 */
    for (int i = 0; i < 25; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(fx_send(&f, "general", i % 2 ? "alice" : "bob", NULL, text, NULL, NULL),
                         STORE_OK); /* seqs 2..26 */
    }
    fx_res_t r = {0};
    FX_EVENT(&f, r, store_history_page(f.s, "general", 0, 10, fx_history_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.n, 10);
    assert_true(r.flag);
    /* newest ten, oldest first: m15 .. m24 */
    json_t *m0 = json_array_get(r.json, 0);
    assert_string_equal(json_string_value(json_object_get(m0, "text")), "m15");
    assert_int_equal(json_integer_value(json_object_get(m0, "seq")), 17);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m0, "author"), "name")),
                        "Alice");
    assert_true(json_is_object(json_object_get(m0, "reactions")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 9), "text")),
                        "m24");
    fx_res_free(&r);
    FX_EVENT(&f, r, store_history_page(f.s, "general", 17, 10, fx_history_cb, &r));
    assert_int_equal(r.n, 10);
    assert_true(r.flag);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "text")),
                        "m5");
    fx_res_free(&r);
    FX_EVENT(&f, r, store_history_page(f.s, "general", 7, 10, fx_history_cb, &r));
    assert_int_equal(r.n, 5); /* m0..m4 */
    assert_false(r.flag);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_history_page(f.s, "general", 2, 10, fx_history_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.n, 0);
    assert_false(r.flag);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_history_page(f.s, "nope", 0, 10, fx_history_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    assert_int_equal(store_history_page(f.s, "general", 0, 0, fx_history_cb, &r), STORE_E_INVALID);

    /* Sync: exact pages, hasMore only when more exist. */
    FX_EVENT(&f, r, store_sync_range(f.s, "general", 0, 13, fx_sync_cb, &r));
    assert_int_equal(r.n, 13);
    assert_true(r.flag);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "type")),
                        "member:joined");
    fx_res_free(&r);
    FX_EVENT(&f, r, store_sync_range(f.s, "general", 13, 13, fx_sync_cb, &r));
    assert_int_equal(r.n, 13); /* 14..26 */
    assert_false(r.flag);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r.json, 12), "seq")), 26);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_sync_range(f.s, "general", 26, 13, fx_sync_cb, &r));
    assert_int_equal(r.n, 0);
    assert_false(r.flag);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_sync_range(f.s, "nope", 0, 13, fx_sync_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    fx_destroy(&f);
}

/* ---- Notifications ----------------------------------------------------- */

static void notif_cb(store_err_t err, const store_notification_t *items, size_t n, bool has_more,
                     void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->n = n;
    r->flag = has_more;
    r->json = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            r->json,
            json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:b}", "id", (json_int_t)items[i].id, "kind",
                      store_notif_kind_name(items[i].kind), "user", items[i].user, "from",
                      items[i].from_user, "fromName", items[i].from_name, "read", items[i].read));
    r->done = 1;
}

static int64_t nid(fx_res_t *r, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(r->json, i), "id"));
}

static void test_notifications(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    fx_res_t m = {0};
    assert_int_equal(fx_send(&f, "general", "bob", NULL, "@alice hi", NULL, &m), STORE_OK);
    store_notification_spec_t specs[5];
    for (int i = 0; i < 5; i++)
        specs[i] = (store_notification_spec_t){"alice", (store_notif_kind_t)(i % 4), "general",
                                               m.id, "bob"};
    fx_res_t r = {0};
    FX_EVENT(&f, r, store_notification_insert(f.s, specs, 5, notif_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.n, 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "fromName")),
                        "Bob");
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        ids[i] = nid(&r, (size_t)i);
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }
    fx_res_free(&r);
    /* A bad one fails the whole call: the first was already stored when
     * the second failed, so its group is rolled back and re-run one by
     * one; the sends around it in the same group are not disturbed. */
    store_notification_spec_t bad[2] = {specs[0], {"ghost", STORE_N_DM, "general", m.id, "bob"}};
    store_stats_t st0, st1;
    store_stats(f.s, &st0);
    fx_res_t s1 = {0}, s2 = {0};
    store_message_spec_t around = {"general", "bob", "around", NULL, NULL};
    memset(&r, 0, sizeof r);
    assert_int_equal(store_message_insert(f.s, &around, fx_message_cb, &s1), STORE_OK);
    assert_int_equal(store_notification_insert(f.s, bad, 2, notif_cb, &r), STORE_OK);
    assert_int_equal(store_message_insert(f.s, &around, fx_message_cb, &s2), STORE_OK);
    fx_run_until(&f, &s2.done);
    assert_true(s1.done && r.done);
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    assert_int_equal(s1.err, STORE_OK);
    assert_int_equal(s2.err, STORE_OK);
    assert_int_equal(s1.seq, 3);
    assert_int_equal(s2.seq, 4);
    store_stats(f.s, &st1);
    assert_true(st1.write_retry > st0.write_retry);
    fx_res_free(&s1);
    fx_res_free(&s2);
    fx_res_free(&r);
    fx_res_free(&m);

    FX_EVENT(&f, r, store_notification_unread(f.s, "alice", fx_count_cb, &r));
    assert_int_equal(r.count, 5);
    /* Newest first, paged. */
    FX_EVENT(&f, r, store_notification_list(f.s, "alice", false, 0, 2, notif_cb, &r));
    assert_int_equal(r.n, 2);
    assert_true(r.flag);
    assert_int_equal(nid(&r, 0), ids[4]);
    assert_int_equal(nid(&r, 1), ids[3]);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_notification_list(f.s, "alice", false, ids[3], 2, notif_cb, &r));
    assert_int_equal(nid(&r, 0), ids[2]);
    assert_true(r.flag);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_notification_list(f.s, "alice", false, ids[1], 2, notif_cb, &r));
    assert_int_equal(r.n, 1);
    assert_false(r.flag);
    fx_res_free(&r);

    /* Mark some read (bob cannot mark alice's). */
    int64_t some[] = {ids[1], ids[3], 99999};
    FX_EVENT(&f, r, store_notification_mark_read(f.s, "bob", some, 3, false, fx_count_cb, &r));
    assert_int_equal(r.count, 0);
    FX_EVENT(&f, r, store_notification_mark_read(f.s, "alice", some, 3, false, fx_count_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.count, 3);
    FX_EVENT(&f, r, store_notification_list(f.s, "alice", true, 0, 10, notif_cb, &r));
    assert_int_equal(r.n, 3);
    assert_int_equal(nid(&r, 0), ids[4]);
    assert_int_equal(nid(&r, 1), ids[2]);
    assert_int_equal(nid(&r, 2), ids[0]);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_notification_list(f.s, "alice", false, 0, 10, notif_cb, &r));
    assert_int_equal(r.n, 5);
    assert_true(json_is_true(json_object_get(json_array_get(r.json, 1), "read")));
    fx_res_free(&r);
    FX_EVENT(&f, r, store_notification_mark_read(f.s, "alice", NULL, 0, true, fx_count_cb, &r));
    assert_int_equal(r.count, 0);
    FX_EVENT(&f, r, store_notification_unread(f.s, "alice", fx_count_cb, &r));
    assert_int_equal(r.count, 0);
    fx_destroy(&f);
}

/* ---- Lists, unread counts, invites ------------------------------------- */

static void user_channels_cb(store_err_t err, const store_user_channel_t *items, size_t n,
                             void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->n = n;
    r->json = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            r->json,
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:i}", "id", items[i].channel.id, "kind",
                      store_kind_name(items[i].channel.kind), "seq",
                      (json_int_t)items[i].channel.seq, "lastRead", (json_int_t)items[i].last_read,
                      "unread", (json_int_t)items[i].unread, "role", store_role_name(items[i].role),
                      "members", (int)items[i].channel.members));
    r->done = 1;
}

static void channels_cb(store_err_t err, const store_channel_t *chs, size_t n, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->n = n;
    r->json = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(r->json, json_string(chs[i].id));
    r->done = 1;
}

static void invite_cb(store_err_t err, const store_invite_t *inv, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    if (inv) {
        cp(r->id, sizeof r->id, inv->code);
        cp(r->type, sizeof r->type, inv->channel);
        cp(r->author, sizeof r->author, inv->created_by);
    }
    r->done = 1;
}

static void test_lists_unread_invites(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    assert_int_equal(fx_channel(&f, "secret", STORE_PRIVATE, "alice"), STORE_OK);
    assert_int_equal(fx_channel(&f, "zoo", STORE_PUBLIC, "bob"), STORE_OK);
    fx_res_t r = {0};
    FX_EVENT(&f, r, store_member_add(f.s, "general", "bob", STORE_MEMBER, fx_event_cb, &r));
    fx_res_free(&r);
    /* alice: 2 own in general, bob: 3 in general (+1 deleted) */
    fx_res_t m = {0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(fx_send(&f, "general", "alice", NULL, "a", NULL, NULL), STORE_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fx_send(&f, "general", "bob", NULL, "b", NULL, &m), STORE_OK);
        if (i < 3)
            fx_res_free(&m);
    }
    FX_EVENT(&f, r, store_message_delete(f.s, "general", m.id, "bob", fx_event_cb, &r));
    fx_res_free(&r);
    fx_res_free(&m);

    FX_EVENT(&f, r, store_unread_count(f.s, "general", "alice", fx_count_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.count, 3); /* by others, not deleted */
    FX_EVENT(&f, r, store_unread_count(f.s, "general", "bob", fx_count_cb, &r));
    assert_int_equal(r.count, 2);
    FX_EVENT(&f, r, store_unread_count(f.s, "zoo", "alice", fx_count_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);

    FX_EVENT(&f, r, store_user_channels(f.s, "alice", user_channels_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.n, 2);
    json_t *want = json_pack("[{s:s, s:s, s:i, s:i, s:i, s:s, s:i},"
                             " {s:s, s:s, s:i, s:i, s:i, s:s, s:i}]",
                             "id", "general", "kind", "public", "seq", 9, "lastRead", 1, "unread",
                             3, "role", "owner", "members", 2, "id", "secret", "kind", "private",
                             "seq", 1, "lastRead", 1, "unread", 0, "role", "owner", "members", 1);
    assert_true(json_equal(r.json, want));
    json_decref(want);
    fx_res_free(&r);
    FX_EVENT(&f, r, store_user_channels(f.s, "nobody", user_channels_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(r.n, 0);
    fx_res_free(&r);

    FX_EVENT(&f, r, store_channels_public(f.s, channels_cb, &r));
    want = json_pack("[s, s]", "general", "zoo");
    assert_true(json_equal(r.json, want));
    json_decref(want);
    fx_res_free(&r);

    FX_EVENT(&f, r, store_invite_create(f.s, "secret", "alice", invite_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_int_equal(strlen(r.id), 12);
    char code[64];
    cp(code, sizeof code, r.id);
    FX_EVENT(&f, r, store_invite_get(f.s, code, invite_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_string_equal(r.type, "secret");
    assert_string_equal(r.author, "alice");
    FX_EVENT(&f, r, store_invite_get(f.s, "nope", invite_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    FX_EVENT(&f, r, store_invite_create(f.s, "nope", "alice", invite_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    fx_destroy(&f);
}

static void msg_get_cb(store_err_t err, const store_message_t *m, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    if (m)
        r->json = store_message_to_json(m);
    r->done = 1;
}

/* ---- Persistence ------------------------------------------------------- */

static void test_reopen_persists(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    fx_res_t m = {0};
    assert_int_equal(fx_send(&f, "general", "bob", "k", "before", NULL, &m), STORE_OK);
    assert_int_equal(m.seq, 2);
    fx_reopen(&f);
    fx_res_t r = {0};
    FX_EVENT(&f, r, store_message_get(f.s, "general", m.id, msg_get_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    assert_true(json_equal(r.json, m.json));
    fx_res_free(&r);
    FX_EVENT(&f, r, store_message_get(f.s, "other", m.id, msg_get_cb, &r));
    assert_int_equal(r.err, STORE_E_NOT_FOUND);
    /* The key still deduplicates; the next seq continues. */
    fx_res_t d = {0};
    assert_int_equal(fx_send(&f, "general", "bob", "k", "again", NULL, &d), STORE_OK);
    assert_true(d.flag);
    assert_string_equal(d.id, m.id);
    fx_res_free(&d);
    assert_int_equal(fx_send(&f, "general", "bob", "k2", "after", NULL, &d), STORE_OK);
    assert_int_equal(d.seq, 3);
    /* Ids keep growing across restarts (they sort by time). */
    assert_true(strcmp(d.id, m.id) > 0);
    fx_res_free(&d);
    fx_res_free(&m);
    store_snapshot_t *snap;
    assert_int_equal(store_load(f.s, &snap), STORE_OK);
    assert_int_equal(snap->channels[0].seq, 3);
    store_snapshot_free(snap);
    fx_destroy(&f);
}

/* store_close commits and answers everything queued before it returns. */
static int close_acked;

static void close_cb(store_err_t err, const store_message_t *m, const store_event_t *ev, bool dup,
                     void *arg)
{
    assert_int_equal(err, STORE_OK);
    close_acked++;
    /* Calls made while closing are refused, not queued. */
    store_message_spec_t spec = {"general", "bob", "late", NULL, NULL};
    assert_int_equal(store_message_insert(arg, &spec, close_cb, arg), STORE_E_CLOSED);
}

static void sync_seq_cb(store_err_t err, json_t *events, bool more, void *arg)
{
    assert_int_equal(err, STORE_OK);
    *(size_t *)arg = json_array_size(events);
}

static void test_close_drains(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    close_acked = 0;
    size_t synced = (size_t)-1;
    for (int i = 0; i < 300; i++) {
        store_message_spec_t spec = {"general", "bob", "queued", NULL, NULL};
        assert_int_equal(store_message_insert(f.s, &spec, close_cb, f.s), STORE_OK);
    }
    assert_int_equal(store_sync_range(f.s, "general", 0, 1000, sync_seq_cb, &synced), STORE_OK);
    store_close(f.s);
    assert_int_equal(close_acked, 300);
    assert_true(synced <= 301); /* the queued read was answered too */
    f.s = NULL;
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(fx_open_cfg(&f, NULL), STORE_OK);
    store_snapshot_t *snap;
    assert_int_equal(store_load(f.s, &snap), STORE_OK);
    assert_int_equal(snap->channels[0].seq, 301);
    store_snapshot_free(snap);
    fx_destroy(&f);
}

/* A callback may close the store; the rest is still delivered, in order. */
static int reentrant_seen;

static void reentrant_cb(store_err_t err, const store_message_t *m, const store_event_t *ev,
                         bool dup, void *arg)
{
    fx_t *f = arg;
    assert_int_equal(err, STORE_OK);
    assert_int_equal(ev->seq, (uint64_t)reentrant_seen + 2);
    if (reentrant_seen++ == 0) {
        store_close(f->s);
        assert_int_equal(reentrant_seen, 50);
    }
}

static void test_close_from_callback(void **state)
{
    fx_t f;
    fx_init(&f);
    users_two(&f);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    reentrant_seen = 0;
    for (int i = 0; i < 50; i++) {
        store_message_spec_t spec = {"general", "bob", "x", NULL, NULL};
        assert_int_equal(store_message_insert(f.s, &spec, reentrant_cb, &f), STORE_OK);
    }
    while (reentrant_seen == 0)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_int_equal(reentrant_seen, 50);
    f.s = NULL;
    uv_run(&f.loop, UV_RUN_DEFAULT);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_and_channels),
        cmocka_unit_test(test_channel_get),
        cmocka_unit_test(test_seq_continuity),
        cmocka_unit_test(test_group_commit_batches),
        cmocka_unit_test(test_group_window),
        cmocka_unit_test(test_idempotent_retry),
        cmocka_unit_test(test_idempotent_across_restart),
        cmocka_unit_test(test_sync_shows_messages_as_sent),
        cmocka_unit_test(test_two_writers_share_seqs),
        cmocka_unit_test(test_read_mark_monotonic),
        cmocka_unit_test(test_message_events),
        cmocka_unit_test(test_member_events),
        cmocka_unit_test(test_history_and_sync_paging),
        cmocka_unit_test(test_notifications),
        cmocka_unit_test(test_lists_unread_invites),
        cmocka_unit_test(test_reopen_persists),
        cmocka_unit_test(test_close_drains),
        cmocka_unit_test(test_close_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
