/* store.c — the generic half of the store: request queues, the writer thread
 * with group commit, reader threads, and delivery of results on the loop.
 *
 * Not here: SQL. A backend (store__backend_t) runs one request at a time on
 * one connection; this file decides which thread and which transaction.
 *
 * Life of a write: the loop thread copies the arguments into a request and
 * appends it to the write queue. The writer takes everything queued (up to
 * max_group), runs it in one transaction, commits once, and only then moves
 * the whole group to the done queue and wakes the loop (uv_async). The loop
 * calls each callback, in queue order. A request that fails on its own
 * (not found, conflict, ...) changes nothing and does not disturb the group;
 * one that fails half-way (I/O) makes the writer roll the group back and
 * re-run its requests one transaction each, so that only it fails.
 */
#include "store/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/utf8.h"

/* Requests kept for reuse (about 2 KiB each). Past a burst of more than
 * this many in flight the rest are freed, and malloc gives their memory
 * back to the system only to fault it in again on the next burst. */
#define FREELIST_MAX 4096

typedef struct {
    store__req_t *head, *tail;
} req_queue_t;

typedef struct {
    store_t *store;
    void *conn;
    uv_thread_t tid;
} reader_t;

struct store {
    uv_loop_t *loop;
    const store__backend_t *be;
    store_config_t cfg;
    char *path;
    bool closing;

    uv_async_t async;

    /* writes: loop -> writer */
    uv_mutex_t wmu;
    uv_cond_t wcond;
    req_queue_t wq;
    uint64_t wq_since; /* mono_us when the oldest queued write came */
    bool wstop;
    uv_thread_t writer;
    void *wconn;

    /* reads: loop -> readers */
    uv_mutex_t rmu;
    uv_cond_t rcond;
    req_queue_t rq;
    bool rstop;
    reader_t *readers;
    unsigned nreaders;

    /* results: threads -> loop */
    uv_mutex_t dmu;
    req_queue_t dq;
    store__req_t *delivering; /* taken from dq, not yet delivered (loop only) */

    store__req_t *freelist; /* loop only */
    size_t nfree;

    _Atomic uint64_t st_writes, st_txns, st_retry, st_max_group, st_reads, st_commit_us;
};

/* ---- Arena ------------------------------------------------------------- */

struct store__chunk {
    store__chunk_t *next;
    _Alignas(16) char data[];
};

void store__arena_init(store__arena_t *a, char *inline_buf, size_t cap)
{
    a->base = a->first = inline_buf;
    a->cap = a->first_cap = cap;
    a->used = 0;
    a->chunks = NULL;
}

void store__arena_reset(store__arena_t *a)
{
    while (a->chunks) {
        store__chunk_t *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
    a->base = a->first;
    a->cap = a->first_cap;
    a->used = 0;
}

void *store__arena_alloc(store__arena_t *a, size_t n)
{
    size_t at = (a->used + 15) & ~(size_t)15;
    if (at + n > a->cap || at + n < at) {
        size_t cap = n > 4096 ? n : 4096;
        store__chunk_t *c = xmalloc(sizeof *c + cap);
        c->next = a->chunks;
        a->chunks = c;
        a->base = c->data;
        a->cap = cap;
        at = 0;
    }
    a->used = at + n;
    return a->base + at;
}

char *store__arena_strndup(store__arena_t *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = store__arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *store__arena_strdup(store__arena_t *a, const char *s)
{
    return s ? store__arena_strndup(a, s, strlen(s)) : NULL;
}

/* ---- Requests ---------------------------------------------------------- */

void store__req_own(store__req_t *r, json_t *j, char *str)
{
    store__owned_t *o = store__arena_alloc(&r->out_arena, sizeof *o);
    o->json = j;
    o->str = str;
    o->next = r->out.owned;
    r->out.owned = o;
}

void store__req_reset_out(store__req_t *r)
{
    for (store__owned_t *o = r->out.owned; o; o = o->next) {
        json_decref(o->json);
        free(o->str);
    }
    memset(&r->out, 0, sizeof r->out);
    store__arena_reset(&r->out_arena);
}

static store__req_t *req_new(store_t *s, store__op_t op, void (*cb)(void), void *arg)
{
    store__req_t *r = s->freelist;
    if (r) {
        s->freelist = r->next;
        s->nfree--;
    } else {
        r = xmalloc(sizeof *r);
    }
    memset(r, 0, offsetof(store__req_t, in_arena));
    store__arena_init(&r->in_arena, r->in_buf, sizeof r->in_buf);
    store__arena_init(&r->out_arena, r->out_buf, sizeof r->out_buf);
    r->op = op;
    r->cb = cb;
    r->arg = arg;
    r->store = s;
    return r;
}

static void req_release(store_t *s, store__req_t *r)
{
    store__req_reset_out(r);
    store__arena_reset(&r->in_arena);
    if (s->closing || s->nfree >= FREELIST_MAX) {
        free(r);
        return;
    }
    r->next = s->freelist;
    s->freelist = r;
    s->nfree++;
}

static char *in_str(store__req_t *r, const char *v)
{
    return store__arena_strdup(&r->in_arena, v);
}

static void queue_push(req_queue_t *q, store__req_t *first, store__req_t *last)
{
    last->next = NULL;
    if (q->tail)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
}

/* ---- Threads ----------------------------------------------------------- */

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void complete(store_t *s, store__req_t *first, store__req_t *last)
{
    uv_mutex_lock(&s->dmu);
    queue_push(&s->dq, first, last);
    uv_mutex_unlock(&s->dmu);
    uv_async_send(&s->async);
}

static void commit_or_fail(store_t *s, store__req_t *first, size_t n)
{
    uint64_t t0 = mono_us();
    store_err_t e = s->be->commit(s->wconn);
    atomic_fetch_add(&s->st_commit_us, mono_us() - t0);
    if (e != STORE_OK) {
        s->be->rollback(s->wconn);
        for (store__req_t *r = first; r && n; r = r->next, n--) {
            store__req_reset_out(r);
            r->err = STORE_E_IO;
        }
        return;
    }
    atomic_fetch_add(&s->st_txns, 1);
    uint64_t m = atomic_load(&s->st_max_group);
    while (n > m && !atomic_compare_exchange_weak(&s->st_max_group, &m, n))
        ;
}

/* One request in a transaction of its own (after a group was rolled back). */
static void run_single(store_t *s, store__req_t *r)
{
    store_err_t e = s->be->begin(s->wconn);
    if (e != STORE_OK) {
        r->err = e;
        return;
    }
    bool dirty = false;
    r->err = s->be->write(s->wconn, r, &dirty);
    if (r->err != STORE_OK && dirty) {
        s->be->rollback(s->wconn);
        store__req_reset_out(r);
        return;
    }
    commit_or_fail(s, r, 1);
}

static void run_group(store_t *s, store__req_t *first, size_t n)
{
    atomic_fetch_add(&s->st_writes, n);
    store_err_t e = s->be->begin(s->wconn);
    if (e != STORE_OK) {
        for (store__req_t *r = first; r; r = r->next)
            r->err = e;
        return;
    }
    bool broken = false;
    for (store__req_t *r = first; r && !broken; r = r->next) {
        bool dirty = false;
        r->err = s->be->write(s->wconn, r, &dirty);
        broken = r->err != STORE_OK && dirty;
    }
    if (broken) {
        /* Someone failed after changing things: undo the group, then give
         * every request a transaction of its own so only that one fails. */
        s->be->rollback(s->wconn);
        atomic_fetch_add(&s->st_retry, 1);
        for (store__req_t *r = first; r; r = r->next) {
            store__req_reset_out(r);
            r->err = STORE_OK;
            run_single(s, r);
        }
        return;
    }
    commit_or_fail(s, first, n);
}

static void writer_main(void *arg)
{
    store_t *s = arg;
    pthread_setname_np(pthread_self(), "store-writer");
    size_t max = s->cfg.max_group;
    uint64_t window = s->cfg.group_window_us;
    for (;;) {
        uv_mutex_lock(&s->wmu);
        while (!s->wq.head && !s->wstop)
            uv_cond_wait(&s->wcond, &s->wmu);
        /* Let a group gather for up to `window` after its oldest write came
         * (under load it came long ago, during the last commit): a commit
         * costs about as much for one message as for dozens. */
        while (s->wq.head && !s->wstop) {
            uint64_t now = mono_us();
            if (now >= s->wq_since + window)
                break;
            uv_cond_timedwait(&s->wcond, &s->wmu, (s->wq_since + window - now) * 1000u);
        }
        store__req_t *first = s->wq.head;
        if (!first) {
            uv_mutex_unlock(&s->wmu);
            break;
        }
        store__req_t *last = first;
        size_t n = 1;
        while (last->next && n < max) {
            last = last->next;
            n++;
        }
        s->wq.head = last->next;
        if (!s->wq.head)
            s->wq.tail = NULL;
        else
            s->wq_since = 0; /* the rest waited already: no window */
        last->next = NULL;
        uv_mutex_unlock(&s->wmu);

        run_group(s, first, n);
        complete(s, first, last);
    }
}

static void reader_main(void *arg)
{
    reader_t *rd = arg;
    store_t *s = rd->store;
    pthread_setname_np(pthread_self(), "store-reader");
    for (;;) {
        uv_mutex_lock(&s->rmu);
        while (!s->rq.head && !s->rstop)
            uv_cond_wait(&s->rcond, &s->rmu);
        store__req_t *r = s->rq.head;
        if (!r) {
            uv_mutex_unlock(&s->rmu);
            break;
        }
        s->rq.head = r->next;
        if (!s->rq.head)
            s->rq.tail = NULL;
        uv_mutex_unlock(&s->rmu);

        r->err = s->be->read(rd->conn, r);
        atomic_fetch_add(&s->st_reads, 1);
        complete(s, r, r);
    }
}

/* ---- Delivery on the loop ---------------------------------------------- */

static void deliver(store__req_t *r)
{
    store_err_t e = r->err;
    bool ok = e == STORE_OK;
    void *arg = r->arg;
    switch (r->op) {
    case STORE__USER_UPSERT:
        ((store_user_cb)r->cb)(e, ok ? &r->out.user : NULL, r->out.flag, arg);
        break;
    case STORE__CHANNEL_CREATE:
        ((store_channel_create_cb)r->cb)(e, ok ? &r->out.channel : NULL, ok ? r->out.events : NULL,
                                         ok ? r->out.nevents : 0, arg);
        break;
    case STORE__MEMBER_ADD:
    case STORE__MEMBER_REMOVE:
    case STORE__MESSAGE_EDIT:
    case STORE__MESSAGE_DELETE:
    case STORE__REACTION_ADD:
    case STORE__REACTION_REMOVE:
        ((store_event_cb)r->cb)(e, ok ? r->out.events : NULL, arg);
        break;
    case STORE__MEMBER_ROLE:
        ((store_done_cb)r->cb)(e, arg);
        break;
    case STORE__MESSAGE_INSERT:
        ((store_message_cb)r->cb)(e, ok ? &r->out.message : NULL,
                                  ok && !r->out.flag ? r->out.events : NULL, ok && r->out.flag,
                                  arg);
        break;
    case STORE__READ_MARK:
        ((store_read_mark_cb)r->cb)(e, r->out.count, ok && r->out.flag, arg);
        break;
    case STORE__INVITE_CREATE:
    case STORE__INVITE_GET:
        ((store_invite_cb)r->cb)(e, ok ? &r->out.invite : NULL, arg);
        break;
    case STORE__NOTIF_INSERT:
    case STORE__NOTIF_LIST:
        ((store_notifications_cb)r->cb)(e, ok ? r->out.items : NULL, ok ? r->out.nitems : 0,
                                        ok && r->out.flag, arg);
        break;
    case STORE__NOTIF_MARK_READ:
    case STORE__UNREAD:
    case STORE__NOTIF_UNREAD:
        ((store_count_cb)r->cb)(e, ok ? r->out.count : 0, arg);
        break;
    case STORE__CHANNEL_GET:
        ((store_channel_cb)r->cb)(e, ok ? &r->out.channel : NULL, arg);
        break;
    case STORE__MESSAGE_GET:
        ((store_message_get_cb)r->cb)(e, ok ? &r->out.message : NULL, arg);
        break;
    case STORE__HISTORY:
        ((store_messages_cb)r->cb)(e, ok ? r->out.items : NULL, ok ? r->out.nitems : 0,
                                   ok && r->out.flag, arg);
        break;
    case STORE__SYNC:
        ((store_sync_cb)r->cb)(e, ok ? r->out.json : NULL, ok && r->out.flag, arg);
        break;
    case STORE__USER_CHANNELS:
        ((store_user_channels_cb)r->cb)(e, ok ? r->out.items : NULL, ok ? r->out.nitems : 0, arg);
        break;
    case STORE__CHANNELS_PUBLIC:
        ((store_channels_cb)r->cb)(e, ok ? r->out.items : NULL, ok ? r->out.nitems : 0, arg);
        break;
    }
}

/* Delivers everything done so far. Re-entrant: a callback may call
 * store_close, which finishes the delivery itself. */
static void deliver_all(store_t *s)
{
    for (;;) {
        if (!s->delivering) {
            uv_mutex_lock(&s->dmu);
            s->delivering = s->dq.head;
            s->dq.head = s->dq.tail = NULL;
            uv_mutex_unlock(&s->dmu);
            if (!s->delivering)
                return;
        }
        store__req_t *r = s->delivering;
        s->delivering = r->next;
        deliver(r);
        req_release(s, r);
    }
}

static void on_async(uv_async_t *h)
{
    deliver_all(h->data);
}

/* ---- Open and close ---------------------------------------------------- */

static void on_async_closed(uv_handle_t *h)
{
    store_t *s = h->data;
    uv_mutex_destroy(&s->wmu);
    uv_cond_destroy(&s->wcond);
    uv_mutex_destroy(&s->rmu);
    uv_cond_destroy(&s->rcond);
    uv_mutex_destroy(&s->dmu);
    free(s->readers);
    free(s->path);
    free(s);
}

static void close_conns(store_t *s)
{
    for (unsigned i = 0; i < s->nreaders; i++)
        if (s->readers[i].conn)
            s->be->close(s->readers[i].conn);
    if (s->wconn)
        s->be->close(s->wconn);
}

store_err_t store_open(uv_loop_t *loop, const store_config_t *cfg, store_t **out, char *err,
                       size_t errsz)
{
    *out = NULL;
    if (errsz)
        err[0] = '\0';
    if (!cfg || !cfg->path || !cfg->path[0]) {
        if (errsz)
            snprintf(err, errsz, "no database path");
        return STORE_E_INVALID;
    }
    store_t *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->be = &store__sqlite;
    s->cfg = *cfg;
    s->path = xstrdup(cfg->path);
    s->cfg.path = s->path;
    if (!s->cfg.busy_timeout_ms)
        s->cfg.busy_timeout_ms = 5000;
    if (!s->cfg.max_group)
        s->cfg.max_group = 1024;
    if (!s->cfg.readers)
        s->cfg.readers = 2;
    if (!s->cfg.group_window_us)
        s->cfg.group_window_us = STORE_GROUP_WINDOW_US;
    s->nreaders = s->cfg.readers;
    s->readers = xcalloc(s->nreaders, sizeof *s->readers);

    store_err_t e = s->be->open(&s->cfg, true, &s->wconn, err, errsz);
    for (unsigned i = 0; e == STORE_OK && i < s->nreaders; i++) {
        s->readers[i].store = s;
        e = s->be->open(&s->cfg, false, &s->readers[i].conn, err, errsz);
    }
    if (e != STORE_OK) {
        close_conns(s);
        free(s->readers);
        free(s->path);
        free(s);
        return e;
    }

    uv_mutex_init(&s->wmu);
    uv_cond_init(&s->wcond);
    uv_mutex_init(&s->rmu);
    uv_cond_init(&s->rcond);
    uv_mutex_init(&s->dmu);
    uv_async_init(loop, &s->async, on_async);
    s->async.data = s;
    uv_thread_create(&s->writer, writer_main, s);
    for (unsigned i = 0; i < s->nreaders; i++)
        uv_thread_create(&s->readers[i].tid, reader_main, &s->readers[i]);
    *out = s;
    return STORE_OK;
}

void store_close(store_t *s)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    uv_mutex_lock(&s->wmu);
    s->wstop = true;
    uv_cond_signal(&s->wcond);
    uv_mutex_unlock(&s->wmu);
    uv_mutex_lock(&s->rmu);
    s->rstop = true;
    uv_cond_broadcast(&s->rcond);
    uv_mutex_unlock(&s->rmu);
    /* Both threads finish their queues before they stop. */
    uv_thread_join(&s->writer);
    for (unsigned i = 0; i < s->nreaders; i++)
        uv_thread_join(&s->readers[i].tid);
    deliver_all(s);
    close_conns(s);
    while (s->freelist) {
        store__req_t *r = s->freelist;
        s->freelist = r->next;
        free(r);
    }
    uv_close((uv_handle_t *)&s->async, on_async_closed);
}

void store_stats(const store_t *s, store_stats_t *out)
{
    store_t *m = (store_t *)s;
    out->writes = atomic_load(&m->st_writes);
    out->write_txns = atomic_load(&m->st_txns);
    out->write_retry = atomic_load(&m->st_retry);
    out->max_group = atomic_load(&m->st_max_group);
    out->reads = atomic_load(&m->st_reads);
    out->commit_us = atomic_load(&m->st_commit_us);
}

store_err_t store_load(store_t *s, store_snapshot_t **out)
{
    return s->be->load(&s->cfg, out);
}

void store_snapshot_free(store_snapshot_t *snap)
{
    if (!snap)
        return;
    store__snapshot_t *p = (store__snapshot_t *)snap;
    store__arena_reset(&p->arena);
    free(p);
}

/* ---- Submission -------------------------------------------------------- */

/* A required string: non-empty, at most max bytes, valid UTF-8. */
static bool valid(const char *v, size_t max)
{
    if (!v || !v[0])
        return false;
    size_t n = strnlen(v, max + 1);
    if (n > max)
        return false;
    utf8_dfa_t d;
    utf8_init(&d);
    return utf8_feed(&d, v, n, NULL) == UTF8_OK && utf8_complete(&d);
}

static bool valid_opt(const char *v, size_t max)
{
    return !v || valid(v, max);
}

/* An optional string that may also be empty (topic). */
static bool valid_text_opt(const char *v, size_t max)
{
    return !v || !v[0] || valid(v, max);
}

static store_err_t submit_write(store_t *s, store__req_t *r)
{
    uv_mutex_lock(&s->wmu);
    bool first = !s->wq.head;
    if (first)
        s->wq_since = mono_us();
    queue_push(&s->wq, r, r);
    /* The writer waits for the first write; during a group's window it
     * wakes at the window's end. */
    if (first)
        uv_cond_signal(&s->wcond);
    uv_mutex_unlock(&s->wmu);
    return STORE_OK;
}

static store_err_t submit_read(store_t *s, store__req_t *r)
{
    uv_mutex_lock(&s->rmu);
    queue_push(&s->rq, r, r);
    uv_cond_signal(&s->rcond);
    uv_mutex_unlock(&s->rmu);
    return STORE_OK;
}

#define CB(f) ((void (*)(void))(f))

/* Common checks: open store, a callback. */
#define PRECHECK(s, cb)                                                                            \
    do {                                                                                           \
        if (!(s) || !(cb))                                                                         \
            return STORE_E_INVALID;                                                                \
        if ((s)->closing)                                                                          \
            return STORE_E_CLOSED;                                                                 \
    } while (0)

store_err_t store_user_upsert(store_t *s, const char *id, const char *name, store_user_cb cb,
                              void *arg)
{
    PRECHECK(s, cb);
    if (!valid(id, STORE_MAX_ID) || !valid_opt(name, STORE_MAX_ID))
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__USER_UPSERT, CB(cb), arg);
    r->in.id = in_str(r, id);
    r->in.name = in_str(r, name);
    return submit_write(s, r);
}

store_err_t store_channel_create(store_t *s, const store_channel_spec_t *spec,
                                 store_channel_create_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!spec || !valid(spec->id, STORE_MAX_ID) || !valid_opt(spec->name, STORE_MAX_ID) ||
        !store_kind_name(spec->kind) || !valid_text_opt(spec->topic, STORE_MAX_TEXT) ||
        !valid_opt(spec->created_by, STORE_MAX_ID) || spec->nmembers > 1000 ||
        (spec->nmembers && !spec->members))
        return STORE_E_INVALID;
    for (size_t i = 0; i < spec->nmembers; i++)
        if (!valid(spec->members[i], STORE_MAX_ID))
            return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__CHANNEL_CREATE, CB(cb), arg);
    r->in.id = in_str(r, spec->id);
    r->in.name = in_str(r, spec->name ? spec->name : spec->id);
    r->in.kind = spec->kind;
    r->in.topic = in_str(r, spec->topic ? spec->topic : "");
    r->in.user = in_str(r, spec->created_by);
    r->in.nlist = spec->nmembers;
    if (spec->nmembers) {
        r->in.list = store__arena_alloc(&r->in_arena, spec->nmembers * sizeof *r->in.list);
        for (size_t i = 0; i < spec->nmembers; i++)
            r->in.list[i] = in_str(r, spec->members[i]);
    }
    return submit_write(s, r);
}

static store_err_t member_req(store_t *s, store__op_t op, const char *channel, const char *user,
                              store_role_t role, void (*cb)(void), void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || !valid(user, STORE_MAX_ID) || !store_role_name(role))
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, op, cb, arg);
    r->in.channel = in_str(r, channel);
    r->in.user = in_str(r, user);
    r->in.role = role;
    return submit_write(s, r);
}

store_err_t store_member_add(store_t *s, const char *channel, const char *user, store_role_t role,
                             store_event_cb cb, void *arg)
{
    return member_req(s, STORE__MEMBER_ADD, channel, user, role, CB(cb), arg);
}

store_err_t store_member_remove(store_t *s, const char *channel, const char *user,
                                store_event_cb cb, void *arg)
{
    return member_req(s, STORE__MEMBER_REMOVE, channel, user, STORE_MEMBER, CB(cb), arg);
}

store_err_t store_member_set_role(store_t *s, const char *channel, const char *user,
                                  store_role_t role, store_done_cb cb, void *arg)
{
    return member_req(s, STORE__MEMBER_ROLE, channel, user, role, CB(cb), arg);
}

store_err_t store_message_insert(store_t *s, const store_message_spec_t *spec, store_message_cb cb,
                                 void *arg)
{
    PRECHECK(s, cb);
    if (!spec || !valid(spec->channel, STORE_MAX_ID) || !valid(spec->author, STORE_MAX_ID) ||
        !valid(spec->text, STORE_MAX_TEXT) || !valid_opt(spec->client_id, STORE_MAX_ID) ||
        !valid_opt(spec->reply_to, STORE_MAX_ID))
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__MESSAGE_INSERT, CB(cb), arg);
    r->in.channel = in_str(r, spec->channel);
    r->in.user = in_str(r, spec->author);
    r->in.text = in_str(r, spec->text);
    r->in.client_id = in_str(r, spec->client_id);
    r->in.reply_to = in_str(r, spec->reply_to);
    return submit_write(s, r);
}

static store__req_t *message_req(store_t *s, store__op_t op, const char *channel, const char *id,
                                 const char *who, void (*cb)(void), void *arg)
{
    store__req_t *r = req_new(s, op, cb, arg);
    r->in.channel = in_str(r, channel);
    r->in.id = in_str(r, id);
    r->in.user = in_str(r, who);
    return r;
}

store_err_t store_message_edit(store_t *s, const char *channel, const char *id, const char *actor,
                               const char *text, store_event_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || !valid(id, STORE_MAX_ID) ||
        !valid_opt(actor, STORE_MAX_ID) || !valid(text, STORE_MAX_TEXT))
        return STORE_E_INVALID;
    store__req_t *r = message_req(s, STORE__MESSAGE_EDIT, channel, id, actor, CB(cb), arg);
    r->in.text = in_str(r, text);
    return submit_write(s, r);
}

store_err_t store_message_delete(store_t *s, const char *channel, const char *id, const char *actor,
                                 store_event_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || !valid(id, STORE_MAX_ID) ||
        !valid_opt(actor, STORE_MAX_ID))
        return STORE_E_INVALID;
    return submit_write(s, message_req(s, STORE__MESSAGE_DELETE, channel, id, actor, CB(cb), arg));
}

static store_err_t reaction_req(store_t *s, store__op_t op, const char *channel, const char *id,
                                const char *user, const char *emoji, store_event_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || !valid(id, STORE_MAX_ID) || !valid(user, STORE_MAX_ID) ||
        !valid(emoji, 64))
        return STORE_E_INVALID;
    store__req_t *r = message_req(s, op, channel, id, user, CB(cb), arg);
    r->in.emoji = in_str(r, emoji);
    return submit_write(s, r);
}

store_err_t store_reaction_add(store_t *s, const char *channel, const char *id, const char *user,
                               const char *emoji, store_event_cb cb, void *arg)
{
    return reaction_req(s, STORE__REACTION_ADD, channel, id, user, emoji, cb, arg);
}

store_err_t store_reaction_remove(store_t *s, const char *channel, const char *id, const char *user,
                                  const char *emoji, store_event_cb cb, void *arg)
{
    return reaction_req(s, STORE__REACTION_REMOVE, channel, id, user, emoji, cb, arg);
}

store_err_t store_read_mark(store_t *s, const char *channel, const char *user, uint64_t seq,
                            store_read_mark_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || !valid(user, STORE_MAX_ID) || seq > INT64_MAX)
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__READ_MARK, CB(cb), arg);
    r->in.channel = in_str(r, channel);
    r->in.user = in_str(r, user);
    r->in.seq = seq;
    return submit_write(s, r);
}

store_err_t store_invite_create(store_t *s, const char *channel, const char *created_by,
                                store_invite_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || !valid_opt(created_by, STORE_MAX_ID))
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__INVITE_CREATE, CB(cb), arg);
    r->in.channel = in_str(r, channel);
    r->in.user = in_str(r, created_by);
    return submit_write(s, r);
}

store_err_t store_notification_insert(store_t *s, const store_notification_spec_t *specs, size_t n,
                                      store_notifications_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!specs || n == 0 || n > 1000)
        return STORE_E_INVALID;
    for (size_t i = 0; i < n; i++) {
        const store_notification_spec_t *p = &specs[i];
        if (!valid(p->user, STORE_MAX_ID) || !store_notif_kind_name(p->kind) ||
            !valid(p->channel, STORE_MAX_ID) || !valid_opt(p->message_id, STORE_MAX_ID) ||
            !valid_opt(p->from_user, STORE_MAX_ID))
            return STORE_E_INVALID;
    }
    store__req_t *r = req_new(s, STORE__NOTIF_INSERT, CB(cb), arg);
    r->in.specs = store__arena_alloc(&r->in_arena, n * sizeof *r->in.specs);
    r->in.n = n;
    for (size_t i = 0; i < n; i++) {
        store_notification_spec_t *d = &r->in.specs[i];
        d->user = in_str(r, specs[i].user);
        d->kind = specs[i].kind;
        d->channel = in_str(r, specs[i].channel);
        d->message_id = in_str(r, specs[i].message_id);
        d->from_user = in_str(r, specs[i].from_user);
    }
    return submit_write(s, r);
}

store_err_t store_notification_mark_read(store_t *s, const char *user, const int64_t *ids,
                                         size_t nids, bool all, store_count_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(user, STORE_MAX_ID) || (nids && !ids) || nids > 1000)
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__NOTIF_MARK_READ, CB(cb), arg);
    r->in.user = in_str(r, user);
    r->in.flag = all;
    r->in.n = all ? 0 : nids;
    if (r->in.n) {
        r->in.ids = store__arena_alloc(&r->in_arena, nids * sizeof *ids);
        memcpy(r->in.ids, ids, nids * sizeof *ids);
    }
    return submit_write(s, r);
}

/* ---- Reads ------------------------------------------------------------- */

store_err_t store_channel_get(store_t *s, const char *id, store_channel_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(id, STORE_MAX_ID))
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__CHANNEL_GET, CB(cb), arg);
    r->in.channel = in_str(r, id);
    return submit_read(s, r);
}

store_err_t store_message_get(store_t *s, const char *channel, const char *id,
                              store_message_get_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || !valid(id, STORE_MAX_ID))
        return STORE_E_INVALID;
    return submit_read(s, message_req(s, STORE__MESSAGE_GET, channel, id, NULL, CB(cb), arg));
}

store_err_t store_invite_get(store_t *s, const char *code, store_invite_cb cb, void *arg)
{
    PRECHECK(s, cb);
    if (!valid(code, STORE_MAX_ID))
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__INVITE_GET, CB(cb), arg);
    r->in.code = in_str(r, code);
    return submit_read(s, r);
}

static store_err_t page_req(store_t *s, store__op_t op, const char *channel, uint64_t seq,
                            unsigned limit, void (*cb)(void), void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || limit == 0 || limit > 1000 || seq > INT64_MAX)
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, op, cb, arg);
    r->in.channel = in_str(r, channel);
    r->in.seq = seq;
    r->in.limit = limit;
    return submit_read(s, r);
}

store_err_t store_history_page(store_t *s, const char *channel, uint64_t before, unsigned limit,
                               store_messages_cb cb, void *arg)
{
    return page_req(s, STORE__HISTORY, channel, before, limit, CB(cb), arg);
}

store_err_t store_sync_range(store_t *s, const char *channel, uint64_t after, unsigned limit,
                             store_sync_cb cb, void *arg)
{
    return page_req(s, STORE__SYNC, channel, after, limit, CB(cb), arg);
}

store_err_t store_unread_count(store_t *s, const char *channel, const char *user, store_count_cb cb,
                               void *arg)
{
    PRECHECK(s, cb);
    if (!valid(channel, STORE_MAX_ID) || !valid(user, STORE_MAX_ID))
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, STORE__UNREAD, CB(cb), arg);
    r->in.channel = in_str(r, channel);
    r->in.user = in_str(r, user);
    return submit_read(s, r);
}

static store_err_t user_req(store_t *s, store__op_t op, const char *user, void (*cb)(void),
                            void *arg, store__req_t **out)
{
    PRECHECK(s, cb);
    if (!valid(user, STORE_MAX_ID))
        return STORE_E_INVALID;
    store__req_t *r = req_new(s, op, cb, arg);
    r->in.user = in_str(r, user);
    *out = r;
    return STORE_OK;
}

store_err_t store_user_channels(store_t *s, const char *user, store_user_channels_cb cb, void *arg)
{
    store__req_t *r;
    store_err_t e = user_req(s, STORE__USER_CHANNELS, user, CB(cb), arg, &r);
    return e ? e : submit_read(s, r);
}

store_err_t store_channels_public(store_t *s, store_channels_cb cb, void *arg)
{
    PRECHECK(s, cb);
    return submit_read(s, req_new(s, STORE__CHANNELS_PUBLIC, CB(cb), arg));
}

store_err_t store_notification_list(store_t *s, const char *user, bool unread_only, int64_t before,
                                    unsigned limit, store_notifications_cb cb, void *arg)
{
    if (limit == 0 || limit > 1000 || before < 0)
        return STORE_E_INVALID;
    store__req_t *r;
    store_err_t e = user_req(s, STORE__NOTIF_LIST, user, CB(cb), arg, &r);
    if (e)
        return e;
    r->in.flag = unread_only;
    r->in.before = before;
    r->in.limit = limit;
    return submit_read(s, r);
}

store_err_t store_notification_unread(store_t *s, const char *user, store_count_cb cb, void *arg)
{
    store__req_t *r;
    store_err_t e = user_req(s, STORE__NOTIF_UNREAD, user, CB(cb), arg, &r);
    return e ? e : submit_read(s, r);
}
