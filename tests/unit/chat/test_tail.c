/* test_tail.c — the per-channel history tail against a real store on a
 * real loop: after sends, edits, deletes and reactions, on both sides of
 * the tail's boundary, every page the tail gives equals the page the store
 * gives (same messages and values, same hasMore), and pages inside the tail
 * are answered at once with no store read. Also the races of a load with
 * writes (events committed while the load runs, including the reaction
 * orders a replay cannot settle), the caps, renames and the errors. */
#include "../store/fixture.h"

#include "chat/internal.h"
#include "chat/tail.h"
#include "core/alloc.h"

#define N 8 /* messages per tail in these tests */

static fx_t F;
static chat_t *C;
static int outstanding;

/* ---- a chat with just what the tail uses: the store and the users ---- */

static void user_add(const char *id, const char *name)
{
    assert_int_equal(fx_user(&F, id, name), STORE_OK);
    chat_user_t *u = chat__user_get(C, id);
    if (!u) {
        u = xcalloc(1, sizeof *u);
        snprintf(u->id, sizeof u->id, "%s", id);
        map_put(&C->users, u->id, strlen(u->id), u);
    }
    free(u->name);
    u->name = xstrdup(name);
}

static void tails_reset(size_t channels, size_t bytes)
{
    chat_tail_config_t cfg = {.messages = N, .channels = channels, .bytes = bytes};
    chat__tail_init(C, &cfg);
}

static int setup(void **state)
{
    fx_init(&F);
    C = xcalloc(1, sizeof *C);
    C->loop = &F.loop;
    C->store = F.s;
    map_init(&C->users);
    map_init(&C->channels);
    user_add("alice", "Alice");
    user_add("bob", "Bob");
    user_add("carol", "Carol");
    const char *members[] = {"bob", "carol"};
    assert_int_equal(fx_channel_ex(&F, "general", STORE_PUBLIC, "alice", members, 2, NULL),
                     STORE_OK);
    tails_reset(0, 0);
    outstanding = 0;
    return 0;
}

static int free_user(const char *k, size_t kl, void *v, void *arg)
{
    chat_user_t *u = v;
    free(u->name);
    free(u);
    return 0;
}

static int teardown(void **state)
{
    chat__tail_free(C);
    fx_destroy(&F);
    map_each(&C->users, free_user, NULL);
    map_free(&C->users);
    map_free(&C->channels);
    free(C);
    return 0;
}

/* ---- writes, fed to the tail as messages.c does ---- */

static void on_msg(store_err_t err, const store_message_t *m, const store_event_t *ev, bool dup,
                   void *arg)
{
    assert_int_equal(err, STORE_OK);
    if (ev)
        chat__tail_event(C, ev);
    if (arg)
        snprintf(arg, 64, "%s", m->id);
    outstanding--;
}

static void on_ev(store_err_t err, const store_event_t *ev, void *arg)
{
    if (err == STORE_OK)
        chat__tail_event(C, ev);
    outstanding--;
}

/* Events held back, to be fed later (while a load runs). */
typedef struct {
    char channel[64];
    char type[32];
    uint64_t seq;
    json_t *payload;
    char *text; /* message:new: its payload text and message id */
    char id[64];
} held_t;
static held_t held[32];
static size_t nheld;

static void hold(const store_event_t *ev)
{
    assert_true(nheld < 32);
    held_t *h = &held[nheld++];
    snprintf(h->channel, sizeof h->channel, "%s", ev->channel);
    snprintf(h->type, sizeof h->type, "%s", ev->type);
    h->seq = ev->seq;
    h->payload = json_incref(ev->payload);
    h->text = ev->payload ? NULL : strdup(ev->payload_json);
    snprintf(h->id, sizeof h->id, "%s", ev->message && !ev->payload ? ev->message->id : "");
}

static void on_msg_held(store_err_t err, const store_message_t *m, const store_event_t *ev,
                        bool dup, void *arg)
{
    assert_int_equal(err, STORE_OK);
    hold(ev);
    if (arg)
        snprintf(arg, 64, "%s", m->id);
    outstanding--;
}

static void on_ev_held(store_err_t err, const store_event_t *ev, void *arg)
{
    assert_int_equal(err, STORE_OK);
    assert_false(ev->unchanged);
    hold(ev);
    outstanding--;
}

static void feed_held(void)
{
    for (size_t i = 0; i < nheld; i++) {
        store_message_t m = {.id = held[i].id};
        store_event_t ev = {.channel = held[i].channel,
                            .seq = held[i].seq,
                            .type = held[i].type,
                            .payload = held[i].payload,
                            .payload_json = held[i].text,
                            .payload_len = held[i].text ? strlen(held[i].text) : 0,
                            .message = held[i].id[0] ? &m : NULL};
        chat__tail_event(C, &ev);
        json_decref(held[i].payload);
        free(held[i].text);
    }
    nheld = 0;
}

static bool holding;

static void send_async(const char *ch, const char *author, const char *text, char *id_out)
{
    store_message_spec_t spec = {ch, author, text, NULL, NULL};
    assert_int_equal(store_message_insert(F.s, &spec, holding ? on_msg_held : on_msg, id_out),
                     STORE_OK);
    outstanding++;
}

static void reply_async(const char *ch, const char *author, const char *text, const char *to)
{
    store_message_spec_t spec = {ch, author, text, NULL, to};
    assert_int_equal(store_message_insert(F.s, &spec, holding ? on_msg_held : on_msg, NULL),
                     STORE_OK);
    outstanding++;
}

static void edit_async(const char *ch, const char *id, const char *author, const char *text)
{
    assert_int_equal(
        store_message_edit(F.s, ch, id, author, text, holding ? on_ev_held : on_ev, NULL),
        STORE_OK);
    outstanding++;
}

static void delete_async(const char *ch, const char *id, const char *actor)
{
    assert_int_equal(store_message_delete(F.s, ch, id, actor, holding ? on_ev_held : on_ev, NULL),
                     STORE_OK);
    outstanding++;
}

static void react_async(const char *ch, const char *id, const char *user, const char *emoji,
                        bool add)
{
    store_event_cb cb = holding ? on_ev_held : on_ev;
    assert_int_equal(add ? store_reaction_add(F.s, ch, id, user, emoji, cb, NULL)
                         : store_reaction_remove(F.s, ch, id, user, emoji, cb, NULL),
                     STORE_OK);
    outstanding++;
}

static void drain(void)
{
    while (outstanding)
        uv_run(&F.loop, UV_RUN_ONCE);
}

/* ---- pages ---- */

typedef struct {
    int done;
    store_err_t err;
    json_t *msgs;
    bool more;
} page_t;

static void on_page(store_err_t err, json_t *messages, bool more, void *arg)
{
    page_t *p = arg;
    p->err = err;
    p->more = more;
    p->msgs = messages ? json_deep_copy(messages) : NULL;
    p->done = 1;
}

/* The tail's page; *at_once: answered from inside the call. */
static page_t tail_page(const char *ch, uint64_t before, unsigned limit, bool *at_once)
{
    page_t p = {0};
    assert_int_equal(chat__tail_page(C, ch, before, limit, on_page, &p), STORE_OK);
    if (at_once)
        *at_once = p.done;
    fx_run_until(&F, &p.done);
    return p;
}

static char *dump(json_t *v)
{
    /* Sorted keys: a reactions object's key order is not part of the
     * promise (tail.h); everything else, arrays included, is compared. */
    return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
}

static uint64_t store_reads(void)
{
    store_stats_t s;
    store_stats(F.s, &s);
    return s.reads;
}

/* Compares one page of the tail with the store's. expect: 1 from memory,
 * 0 from the store, -1 either. */
static void check_page(const char *ch, uint64_t before, unsigned limit, int expect)
{
    fx_res_t r = {0};
    assert_int_equal(store_history_page(F.s, ch, before, limit, fx_history_cb, &r), STORE_OK);
    fx_run_until(&F, &r.done);
    assert_int_equal(r.err, STORE_OK);

    chat_tail_stats_t t0, t1;
    chat__tail_stats(C, &t0);
    uint64_t reads = store_reads();
    bool at_once;
    page_t p = tail_page(ch, before, limit, &at_once);
    chat__tail_stats(C, &t1);
    assert_int_equal(p.err, STORE_OK);
    char *want = dump(r.json), *got = dump(p.msgs);
    if (strcmp(want, got) != 0 || p.more != r.flag)
        fail_msg("%s before %llu limit %u: tail %s (hasMore %d), store %s (hasMore %d)", ch,
                 (unsigned long long)before, limit, got, p.more, want, r.flag);
    if (at_once) {
        assert_int_equal(t1.hits, t0.hits + 1);
        assert_int_equal(store_reads(), reads); /* no store read at all */
    }
    if (expect >= 0 && (int)at_once != expect)
        fail_msg("%s before %llu limit %u: expected %s", ch, (unsigned long long)before, limit,
                 expect ? "memory" : "a store read");
    free(want);
    free(got);
    fx_res_free(&r);
    json_decref(p.msgs);
}

/* Every interesting page of the channel. The tail is loaded (and not
 * evicted): it holds the last min(N, total) messages and knows whether
 * that is all of them, so where each page must come from is known. */
static void check_all(const char *ch)
{
    fx_res_t all = {0};
    assert_int_equal(store_history_page(F.s, ch, 0, 1000, fx_history_cb, &all), STORE_OK);
    fx_run_until(&F, &all.done);
    size_t total = all.n;
    uint64_t seqs[1000];
    for (size_t i = 0; i < total; i++)
        seqs[i] = (uint64_t)json_integer_value(json_object_get(json_array_get(all.json, i), "seq"));
    fx_res_free(&all);
    size_t held_from = total > N ? total - N : 0;
    uint64_t befores[2100];
    size_t nb = 0;
    befores[nb++] = 0;
    befores[nb++] = 1;
    for (size_t i = 0; i < total; i++) {
        befores[nb++] = seqs[i];
        befores[nb++] = seqs[i] + 1;
    }
    if (total)
        befores[nb++] = seqs[total - 1] + 1000;
    const unsigned limits[] = {1, 2, 3, N - 1, N, N + 1, 50, 100};
    for (size_t b = 0; b < nb; b++) {
        for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
            /* messages before `before` that the tail holds */
            size_t k = 0;
            for (size_t i = held_from; i < total; i++)
                k += befores[b] == 0 || seqs[i] < befores[b];
            int memory = k >= limits[l] || total <= N;
            check_page(ch, befores[b], limits[l], memory);
        }
    }
}

/* ---- tests ---- */

static void test_pages_equal_store(void **state)
{
    char ids[40][64];
    for (int i = 0; i < 5; i++) {
        char text[32];
        snprintf(text, sizeof text, "m%d", i);
        send_async("general", i % 2 ? "bob" : "alice", text, ids[i]);
    }
    drain();
    chat_tail_stats_t s;
    chat__tail_stats(C, &s);
    assert_int_equal(s.channels, 0); /* events of an uncached channel: ignored */
    assert_int_equal(s.loads, 0);

    /* The first newest page loads the tail; then pages come from memory. */
    bool at_once;
    page_t p = tail_page("general", 0, 50, &at_once);
    assert_false(at_once);
    assert_int_equal(json_array_size(p.msgs), 5);
    assert_false(p.more);
    json_decref(p.msgs);
    chat__tail_stats(C, &s);
    assert_int_equal(s.loads, 1);
    assert_int_equal(s.channels, 1);
    assert_int_equal(s.messages, 5);
    check_all("general");

    /* Edits, a reply, reactions in every order, a delete with reactions. */
    edit_async("general", ids[0], "alice", "m0 edited");
    edit_async("general", ids[2], "alice", "m2 once");
    edit_async("general", ids[2], "alice", "m2 twice");
    react_async("general", ids[1], "bob", "+1", true);
    react_async("general", ids[1], "carol", "+1", true);
    react_async("general", ids[1], "alice", "\xf0\x9f\x8e\x89", true);
    react_async("general", ids[1], "bob", "+1", false);
    react_async("general", ids[1], "bob", "+1", true);      /* back, after carol */
    react_async("general", ids[1], "carol", "+1", true);    /* already there: unchanged */
    react_async("general", ids[1], "alice", "nope", false); /* not there: unchanged */
    react_async("general", ids[3], "carol", "x", true);
    react_async("general", ids[3], "carol", "x", false); /* emoji gone */
    react_async("general", ids[4], "bob", "y", true);
    reply_async("general", "carol", "a reply", ids[1]);
    drain();
    check_all("general");
    react_async("general", ids[4], "alice", "z", true);
    edit_async("general", ids[4], "bob", "m4 edited");
    delete_async("general", ids[4], "alice"); /* the owner deletes: text, reactions gone */
    delete_async("general", ids[4], "bob");   /* unchanged */
    drain();
    check_all("general");

    /* Past N: the oldest leave the tail; pages across the boundary read
     * the store, pages inside it do not. */
    for (int i = 5; i < 20; i++) {
        char text[32];
        snprintf(text, sizeof text, "m%d", i);
        send_async("general", "alice", text, ids[i]);
    }
    drain();
    chat__tail_stats(C, &s);
    assert_int_equal(s.messages, N);
    check_all("general");

    /* Changes to messages older than the tail touch only the store. */
    edit_async("general", ids[0], "alice", "m0 edited again");
    react_async("general", ids[2], "bob", "old", true);
    delete_async("general", ids[5], "alice");
    /* ... and changes inside it, the newest included. */
    react_async("general", ids[19], "bob", "new", true);
    edit_async("general", ids[18], "alice", "m18 edited");
    delete_async("general", ids[17], "alice");
    drain();
    check_all("general");

    /* A rename shows on old messages in the store; the tail follows the
     * model. */
    user_add("alice", "Alice Liddell");
    check_all("general");
    chat__tail_stats(C, &s);
    assert_int_equal(s.loads, 1); /* one load for all of it */
    assert_true(s.bytes > 0);
}

/* Writes whose callbacks run while a load is running: the load may or may
 * not have seen them. Here it has (they committed before it started, their
 * events come late on purpose), the case replay must not double. */
static void test_load_sees_replayed_events(void **state)
{
    char ids[8][64];
    for (int i = 0; i < 3; i++)
        send_async("general", "alice", "x", ids[i]);
    drain();
    holding = true;
    send_async("general", "bob", "new while loading", ids[3]);
    edit_async("general", ids[0], "alice", "edited while loading");
    delete_async("general", ids[1], "alice");
    drain();
    holding = false;
    page_t p = {0};
    assert_int_equal(chat__tail_page(C, "general", 0, 50, on_page, &p), STORE_OK);
    assert_false(p.done);
    feed_held(); /* the tail is loading: they wait, then replay */
    fx_run_until(&F, &p.done);
    assert_int_equal(p.err, STORE_OK);
    assert_int_equal(json_array_size(p.msgs), 4); /* the new one once */
    json_decref(p.msgs);
    chat_tail_stats_t s;
    chat__tail_stats(C, &s);
    assert_int_equal(s.loads, 1);
    assert_int_equal(s.load_retries, 0);
    check_all("general");
}

/* The order a replay cannot settle: bob's reaction removed and re-added,
 * then carol's, all seen by the load. Replaying onto it would give
 * [carol, bob]; the store says [bob, carol]. The load is redone. */
static void test_load_redone_on_reaction_race(void **state)
{
    char id[64];
    send_async("general", "alice", "react to me", id);
    drain();
    react_async("general", id, "bob", "+1", true);
    drain();
    holding = true;
    react_async("general", id, "bob", "+1", false);
    react_async("general", id, "bob", "+1", true);
    react_async("general", id, "carol", "+1", true);
    drain();
    holding = false;
    page_t p = {0};
    assert_int_equal(chat__tail_page(C, "general", 0, 50, on_page, &p), STORE_OK);
    feed_held();
    fx_run_until(&F, &p.done);
    assert_int_equal(p.err, STORE_OK);
    json_t *users = json_object_get(
        json_object_get(json_array_get(p.msgs, json_array_size(p.msgs) - 1), "reactions"), "+1");
    assert_int_equal(json_array_size(users), 2);
    assert_string_equal(json_string_value(json_array_get(users, 0)), "bob");
    assert_string_equal(json_string_value(json_array_get(users, 1)), "carol");
    json_decref(p.msgs);
    chat_tail_stats_t s;
    chat__tail_stats(C, &s);
    assert_int_equal(s.loads, 2);
    assert_int_equal(s.load_retries, 1);
    check_all("general");
}

/* A user whose reaction changed twice under the load (removed, added back)
 * replays as two real changes and lands where the store has it: no
 * reload needed. */
static void test_load_replays_even_changes(void **state)
{
    char id[64];
    send_async("general", "alice", "react to me", id);
    drain();
    react_async("general", id, "bob", "+1", true);
    react_async("general", id, "carol", "+1", true);
    drain();
    holding = true;
    react_async("general", id, "bob", "+1", false);
    react_async("general", id, "bob", "+1", true);
    react_async("general", id, "alice", "new", true);
    react_async("general", id, "alice", "new", false);
    drain();
    holding = false;
    page_t p = {0};
    assert_int_equal(chat__tail_page(C, "general", 0, 50, on_page, &p), STORE_OK);
    feed_held();
    fx_run_until(&F, &p.done);
    assert_int_equal(p.err, STORE_OK);
    json_t *rs = json_object_get(json_array_get(p.msgs, json_array_size(p.msgs) - 1), "reactions");
    json_t *users = json_object_get(rs, "+1");
    assert_int_equal(json_array_size(users), 2);
    assert_string_equal(json_string_value(json_array_get(users, 0)), "carol");
    assert_string_equal(json_string_value(json_array_get(users, 1)), "bob");
    assert_null(json_object_get(rs, "new"));
    json_decref(p.msgs);
    chat_tail_stats_t s;
    chat__tail_stats(C, &s);
    assert_int_equal(s.loads, 1);
    assert_int_equal(s.load_retries, 0);
    check_all("general");
}

/* Writes queued around a load, with whatever timing the threads give:
 * afterwards the tail still equals the store. */
static void test_load_races_writes(void **state)
{
    char ids[200][64];
    size_t n = 0;
    for (int i = 0; i < 6; i++)
        send_async("general", "alice", "seed", ids[n++]);
    drain();
    uint64_t loads = 0, redone = 0;
    for (int round = 0; round < 25; round++) {
        chat_tail_stats_t s;
        chat__tail_stats(C, &s);
        loads += s.loads;
        redone += s.load_retries;
        tails_reset(0, 0);
        const char *users[] = {"alice", "bob", "carol"};
        for (int i = 0; i < 4; i++) {
            const char *u = users[(round + i) % 3];
            react_async("general", ids[n - 1 - (size_t)i % 3], u, i % 2 ? "a" : "b",
                        (round + i) % 4 != 3);
        }
        page_t p = {0};
        assert_int_equal(chat__tail_page(C, "general", 0, 50, on_page, &p), STORE_OK);
        /* ids[n] is known only once its send is back: work on older ones */
        send_async("general", users[round % 3], "racing", ids[n]);
        edit_async("general", ids[n - 1], "alice", "edited racing");
        for (int i = 0; i < 4; i++)
            react_async("general", ids[n - 1 - (size_t)i % 4], users[(round + i + 1) % 3],
                        i % 2 ? "a" : "b", i != 2);
        if (round % 5 == 4)
            delete_async("general", ids[n - 3], "alice");
        n++;
        drain();
        fx_run_until(&F, &p.done);
        assert_int_equal(p.err, STORE_OK);
        json_decref(p.msgs);
        /* the newest pages, each compared with the store */
        for (unsigned limit = 1; limit <= N + 1; limit++)
            check_page("general", 0, limit, -1);
    }
    check_all("general");
    chat_tail_stats_t s;
    chat__tail_stats(C, &s);
    print_message("load races: %llu loads in 25 rounds, %llu of them redone\n",
                  (unsigned long long)(loads + s.loads),
                  (unsigned long long)(redone + s.load_retries));
}

/* Pages asked for while the tail loads wait for it: one load for all. */
static void test_one_load_for_many(void **state)
{
    send_async("general", "alice", "hello", NULL);
    drain();
    page_t p[3] = {{0}};
    assert_int_equal(chat__tail_page(C, "general", 0, 50, on_page, &p[0]), STORE_OK);
    assert_int_equal(chat__tail_page(C, "general", 0, 1, on_page, &p[1]), STORE_OK);
    /* an older page does not wait: the store answers it */
    assert_int_equal(chat__tail_page(C, "general", 3, 50, on_page, &p[2]), STORE_OK);
    for (int i = 0; i < 3; i++) {
        fx_run_until(&F, &p[i].done);
        assert_int_equal(p[i].err, STORE_OK);
    }
    assert_int_equal(json_array_size(p[0].msgs), 1);
    assert_int_equal(json_array_size(p[1].msgs), 1);
    assert_int_equal(json_array_size(p[2].msgs), 0);
    for (int i = 0; i < 3; i++)
        json_decref(p[i].msgs);
    chat_tail_stats_t s;
    chat__tail_stats(C, &s);
    assert_int_equal(s.loads, 1);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 1);
}

static void channel_with(const char *id, int messages)
{
    assert_int_equal(fx_channel(&F, id, STORE_PUBLIC, "alice"), STORE_OK);
    for (int i = 0; i < messages; i++)
        send_async(id, "alice", "hello there", NULL);
    drain();
}

static void test_caps(void **state)
{
    tails_reset(2, 0);
    channel_with("a", 3);
    channel_with("b", 3);
    channel_with("c", 3);
    bool at_once;
    page_t p;
    const char *order[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        p = tail_page(order[i], 0, 50, &at_once);
        assert_false(at_once);
        json_decref(p.msgs);
    }
    chat_tail_stats_t s;
    chat__tail_stats(C, &s);
    assert_int_equal(s.channels, 2);
    assert_int_equal(s.evictions, 1);
    assert_int_equal(s.messages, 6);
    /* "a" was read least recently: it went; "b" and "c" answer at once. */
    p = tail_page("b", 0, 50, &at_once);
    assert_true(at_once);
    json_decref(p.msgs);
    p = tail_page("a", 0, 50, &at_once);
    assert_false(at_once);
    json_decref(p.msgs);
    p = tail_page("b", 0, 50, &at_once); /* "c" went this time */
    assert_true(at_once);
    json_decref(p.msgs);
    p = tail_page("c", 0, 50, &at_once);
    assert_false(at_once);
    json_decref(p.msgs);

    /* A byte budget smaller than one tail keeps just the tail being read,
     * and drops it when it grows. */
    tails_reset(0, 1);
    p = tail_page("a", 0, 50, &at_once);
    json_decref(p.msgs);
    p = tail_page("b", 0, 50, &at_once);
    json_decref(p.msgs);
    chat__tail_stats(C, &s);
    assert_int_equal(s.channels, 1);
    assert_int_equal(s.evictions, 1);
    send_async("b", "alice", "more", NULL);
    drain();
    chat__tail_stats(C, &s);
    assert_int_equal(s.channels, 0);
    assert_int_equal(s.messages, 0);
    assert_int_equal(s.bytes, 0);
    check_page("b", 0, 50, 0); /* reloads */
}

static void test_errors(void **state)
{
    page_t p = {0};
    assert_int_equal(chat__tail_page(C, "general", 0, 0, on_page, &p), STORE_E_INVALID);
    assert_int_equal(chat__tail_page(C, "general", 0, 1001, on_page, &p), STORE_E_INVALID);
    assert_int_equal(chat__tail_page(C, "general", 0, 10, NULL, &p), STORE_E_INVALID);
    assert_int_equal(chat__tail_page(C, "", 0, 10, on_page, &p), STORE_E_INVALID);
    assert_false(p.done);

    /* No such channel: what the store says, and nothing stays cached. */
    p = tail_page("nope", 0, 10, NULL);
    assert_int_equal(p.err, STORE_E_NOT_FOUND);
    assert_null(p.msgs);
    chat_tail_stats_t s;
    chat__tail_stats(C, &s);
    assert_int_equal(s.channels, 0);
    p = tail_page("nope", 5, 10, NULL);
    assert_int_equal(p.err, STORE_E_NOT_FOUND);

    /* Freed while loading: the load's callback answers the waiting page. */
    memset(&p, 0, sizeof p);
    assert_int_equal(chat__tail_page(C, "general", 0, 10, on_page, &p), STORE_OK);
    chat__tail_free(C);
    fx_run_until(&F, &p.done);
    assert_int_equal(p.err, STORE_E_CLOSED);
    /* Unbound: pages are store reads. */
    bool at_once;
    p = tail_page("general", 0, 10, &at_once);
    assert_int_equal(p.err, STORE_OK);
    assert_false(at_once);
    json_decref(p.msgs);
    tails_reset(0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pages_equal_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_sees_replayed_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_redone_on_reaction_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_replays_even_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_races_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_load_for_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
