/* fixture.h — a real store in a temporary directory, driven by a real loop,
 * with blocking wrappers for the tests of tests/unit/store/.
 *
 * Each wrapper submits one request and runs the loop until its callback has
 * run (uv_run ONCE wakes on the store's uv_async: no sleeps), then returns
 * what the callback saw, copied.
 */
#ifndef PARLEY_TEST_STORE_FIXTURE_H
#define PARLEY_TEST_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

typedef struct {
    uv_loop_t loop;
    store_t *s;
    char dir[64];
    char path[128];
} fx_t;

static inline void fx_run_until(fx_t *f, const int *flag)
{
    while (!*flag)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static inline store_err_t fx_open_cfg(fx_t *f, const store_config_t *base)
{
    store_config_t cfg = base ? *base : (store_config_t){0};
    cfg.path = f->path;
    char err[256];
    store_err_t e = store_open(&f->loop, &cfg, &f->s, err, sizeof err);
    if (e)
        fprintf(stderr, "store_open: %s\n", err);
    return e;
}

static inline void fx_init(fx_t *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/parley-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/parley.db", f->dir);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(fx_open_cfg(f, NULL), STORE_OK);
}

/* Closes the store and lets its handle close. */
static inline void fx_close(fx_t *f)
{
    store_close(f->s);
    f->s = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static inline void fx_reopen(fx_t *f)
{
    fx_close(f);
    assert_int_equal(fx_open_cfg(f, NULL), STORE_OK);
}

static inline void fx_destroy(fx_t *f)
{
    if (f->s)
        fx_close(f);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
}

/* ---- Blocking wrappers ------------------------------------------------- */

typedef struct {
    int done;
    store_err_t err;
    bool flag; /* created / duplicate / changed / has_more / unchanged */
    uint64_t count;
    uint64_t seq;
    char type[32];
    char id[64];
    char author[64];
    char reply_author[64];
    uint64_t msg_seq;
    json_t *json; /* payload / events / message json (a reference we own) */
    size_t n;
} fx_res_t;

static inline void fx_res_free(fx_res_t *r)
{
    json_decref(r->json);
    r->json = NULL;
}

static inline void cp(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static inline void fx_done_cb(store_err_t err, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->done = 1;
}

static inline void fx_user_cb(store_err_t err, const store_user_t *u, bool created, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->flag = created;
    if (u)
        cp(r->id, sizeof r->id, u->name);
    r->done = 1;
}

static inline store_err_t fx_user(fx_t *f, const char *id, const char *name)
{
    fx_res_t r = {0};
    store_err_t e = store_user_upsert(f->s, id, name, fx_user_cb, &r);
    if (e)
        return e;
    fx_run_until(f, &r.done);
    return r.err;
}

static inline void fx_create_cb(store_err_t err, const store_channel_t *ch,
                                const store_event_t *evs, size_t n, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    if (ch) {
        r->seq = ch->seq;
        r->count = ch->members;
    }
    r->n = n;
    if (n) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(evs[i].seq, i + 1);
            assert_string_equal(evs[i].type, "member:joined");
            json_array_append(arr, evs[i].payload);
        }
        r->json = arr;
    }
    r->done = 1;
}

static inline store_err_t fx_channel_ex(fx_t *f, const char *id, store_kind_t kind,
                                        const char *creator, const char *const *members,
                                        size_t nmembers, fx_res_t *out)
{
    fx_res_t r = {0};
    store_channel_spec_t spec = {
        .id = id, .kind = kind, .created_by = creator, .members = members, .nmembers = nmembers};
    store_err_t e = store_channel_create(f->s, &spec, fx_create_cb, &r);
    if (e)
        return e;
    fx_run_until(f, &r.done);
    if (out)
        *out = r;
    else
        fx_res_free(&r);
    return r.err;
}

static inline store_err_t fx_channel(fx_t *f, const char *id, store_kind_t kind,
                                     const char *creator)
{
    return fx_channel_ex(f, id, kind, creator, NULL, 0, NULL);
}

static inline void fx_message_cb(store_err_t err, const store_message_t *m, const store_event_t *ev,
                                 bool dup, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->flag = dup;
    if (m) {
        cp(r->id, sizeof r->id, m->id);
        cp(r->author, sizeof r->author, m->author);
        cp(r->reply_author, sizeof r->reply_author, m->reply_to_author);
        r->msg_seq = m->seq;
        r->json = store_message_to_json(m);
    }
    if (ev) {
        assert_false(dup);
        assert_int_equal(ev->seq, m->seq);
        assert_string_equal(ev->type, "message:new");
        r->seq = ev->seq;
        /* The payload is the message object, as its text only; its key
         * order is store_message_to_json's. */
        assert_null(ev->payload);
        assert_ptr_equal(ev->message, m);
        json_t *back = json_loads(ev->payload_json, JSON_DECODE_ANY, NULL);
        assert_true(json_equal(back, r->json));
        char *want = json_dumps(r->json, JSON_COMPACT);
        char *got = json_dumps(back, JSON_COMPACT);
        assert_string_equal(got, want);
        free(want);
        free(got);
        assert_int_equal(strlen(ev->payload_json), ev->payload_len);
        json_decref(back);
    } else if (!err) {
        assert_true(dup);
    }
    r->done = 1;
}

static inline store_err_t fx_send(fx_t *f, const char *channel, const char *author,
                                  const char *client_id, const char *text, const char *reply_to,
                                  fx_res_t *out)
{
    fx_res_t r = {0};
    store_message_spec_t spec = {channel, author, text, client_id, reply_to};
    store_err_t e = store_message_insert(f->s, &spec, fx_message_cb, &r);
    if (e)
        return e;
    fx_run_until(f, &r.done);
    if (out)
        *out = r;
    else
        fx_res_free(&r);
    return r.err;
}

static inline void fx_event_cb(store_err_t err, const store_event_t *ev, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    if (ev) {
        r->flag = ev->unchanged;
        r->seq = ev->seq;
        cp(r->type, sizeof r->type, ev->type);
        if (ev->unchanged) {
            assert_int_equal(ev->seq, 0);
            assert_null(ev->payload);
        } else {
            assert_non_null(ev->payload);
            assert_int_equal(json_integer_value(json_object_get(ev->payload, "seq")), ev->seq);
            r->json = json_incref(ev->payload);
        }
        if (ev->message) {
            cp(r->author, sizeof r->author, ev->message->author);
            cp(r->id, sizeof r->id, ev->message->id);
            r->n = json_object_size(ev->message->reactions);
        }
        if (ev->member)
            r->count = ev->member->last_read;
    }
    r->done = 1;
}

#define FX_EVENT(f, res, call)                                                                     \
    do {                                                                                           \
        fx_res_free(&(res));                                                                       \
        memset(&(res), 0, sizeof(res));                                                            \
        assert_int_equal((call), STORE_OK);                                                        \
        fx_run_until((f), &(res).done);                                                            \
    } while (0)

static inline void fx_count_cb(store_err_t err, uint64_t count, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->count = count;
    r->done = 1;
}

static inline void fx_mark_cb(store_err_t err, uint64_t last_read, bool changed, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->count = last_read;
    r->flag = changed;
    r->done = 1;
}

static inline void fx_sync_cb(store_err_t err, json_t *events, bool has_more, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->flag = has_more;
    if (events) {
        r->json = json_incref(events);
        r->n = json_array_size(events);
    }
    r->done = 1;
}

static inline void fx_history_cb(store_err_t err, const store_message_t *msgs, size_t n,
                                 bool has_more, void *arg)
{
    fx_res_t *r = arg;
    r->err = err;
    r->flag = has_more;
    r->n = n;
    if (!err) {
        r->json = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(r->json, store_message_to_json(&msgs[i]));
    }
    r->done = 1;
}

#endif
