/* tail.c — the per-channel in-memory tail of recent messages (tail.h).
 *
 * A tail is a ring of the channel's last messages in seq order, each a
 * protocol `message` object owned here. A message from a message:new event
 * is kept as the store's JSON text (with its id beside it) and parsed the
 * first time a page shows it or an event changes it: most messages of a
 * busy channel are never read from the tail, and a send then costs the
 * tail one copy of its text instead of a tree.
 *
 * Loading races the writer. A read sees every write whose callback has run
 * and maybe some still queued, so the events that arrive while a load runs
 * are kept and replayed onto what it returned, in order. Replay is exact
 * for message:new (skipped when its seq is there already), message:updated
 * (the last edit wins; a later delete blanks it again) and message:deleted
 * (idempotent). For reaction:updated on a message the load returned, the
 * order of the users depends on whether the load saw the change: a user
 * whose changes the load saw an even number of (none included) has every
 * one of them replayed as a real change, so each present user ends where
 * its last add puts it, as in the store; an odd number shows as an add of
 * a user already there or a remove of one not there. On such a no-op the
 * load is done again, a few times at most; after that the waiting pages
 * read the store and the channel stays uncached until its next read.
 */
#include "chat/tail.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define LOAD_TRIES 3
#define PAGE_MAX 1000 /* store_history_page's largest limit */

typedef struct {
    json_t *msg; /* owned; NULL until parsed from raw */
    /* owned, or NULL for a message loaded as a tree: its id, a NUL, its
     * JSON text (raw_len bytes), a NUL */
    char *raw;
    size_t raw_len;
    uint64_t seq;
    size_t cost; /* estimated bytes */
} entry_t;

/* A committed message event, as apply takes it. */
typedef struct {
    const char *type;
    json_t *payload; /* NULL for message:new: */
    const char *id;  /* its message's id (NULL: read from the text), */
    const char *text; /* its JSON text */
    size_t len;
    uint64_t seq;
} change_t;

/* A newest page asked for while the tail loads. */
typedef struct waiter {
    struct waiter *next;
    uint64_t before;
    unsigned limit;
    chat_tail_page_cb cb;
    void *arg;
} waiter_t;

/* An event committed while the tail loads. */
typedef struct pending {
    struct pending *next;
    char *type;
    json_t *payload; /* a reference; NULL for message:new */
    char *id, *text; /* message:new: copies */
    size_t len;
    uint64_t seq;
} pending_t;

typedef struct tail tail_t;
struct tail {
    char *channel;
    bool ready;    /* loaded; else its load is running */
    bool detached; /* chat__tail_free ran during the load: the load frees it */
    bool complete; /* holds every message of the channel */
    unsigned tries;
    entry_t *ring;
    size_t cap, head, count;
    size_t bytes;
    tail_t *newer, *older; /* the LRU list of ready tails */
    waiter_t *waiters, **waiters_end;
    pending_t *pending, **pending_end;
};

typedef enum { APPLY_OK, APPLY_AMBIGUOUS, APPLY_BROKEN } apply_t;

static struct {
    bool bound;
    chat_t *chat;
    chat_tail_config_t cfg;
    map_t tails;             /* channel -> tail_t* */
    tail_t *newest, *oldest; /* ready tails, by last read */
    size_t nready, messages, bytes;
    chat_tail_stats_t stats;
} T;

/* ---- messages ---- */

/* A rough size of a JSON value in memory: enough to bound the total. */
static size_t cost_of(json_t *v)
{
    size_t n = 32;
    const char *key;
    json_t *x;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return n + json_string_length(v);
    case JSON_ARRAY:
        json_array_foreach(v, i, x)
        {
            n += 8 + cost_of(x);
        }
        return n;
    case JSON_OBJECT:
        json_object_foreach(v, key, x)
        {
            n += 48 + strlen(key) + cost_of(x);
        }
        return n;
    default:
        return n;
    }
}

static bool str_is(json_t *v, const char *s)
{
    const char *t = json_string_value(v);
    return t && strcmp(t, s) == 0;
}

/* Sets key to value (stolen) where store_message_to_json puts it: before
 * "reactions", which is always last. */
static void set_before_reactions(json_t *msg, const char *key, json_t *value)
{
    if (json_object_get(msg, key)) {
        json_object_set_new(msg, key, value);
        return;
    }
    json_t *r = json_incref(json_object_get(msg, "reactions"));
    json_object_del(msg, "reactions");
    json_object_set_new(msg, key, value);
    json_object_set_new(msg, "reactions", r ? r : json_object());
}

/* reactions: {emoji: [users, oldest first]}, an emoji gone with its last
 * user, as the store reads them back. Returns 1 when it changed something,
 * 0 when the user already was (add) or was not (remove) there, -1 when out
 * of memory. */
static int react(json_t *msg, const char *emoji, const char *user, bool add)
{
    json_t *rs = json_object_get(msg, "reactions");
    if (!json_is_object(rs)) {
        if (!(rs = json_object()) || json_object_set_new(msg, "reactions", rs) != 0)
            return -1;
    }
    json_t *users = json_object_get(rs, emoji);
    size_t n = json_array_size(users), i;
    for (i = 0; i < n && !str_is(json_array_get(users, i), user); i++)
        ;
    if (add) {
        if (i < n)
            return 0;
        if (!users) {
            if (!(users = json_array()) || json_object_set_new(rs, emoji, users) != 0)
                return -1;
        }
        return json_array_append_new(users, json_string(user)) == 0 ? 1 : -1;
    }
    if (i == n)
        return 0;
    json_array_remove(users, i);
    if (json_array_size(users) == 0)
        json_object_del(rs, emoji);
    return 1;
}

/* The author's name as the model has it now: the store joins the current
 * name into every page, so a rename shows on old messages too. */
static void patch_author(chat_t *c, json_t *msg)
{
    json_t *author = json_object_get(msg, "author");
    const char *id = json_string_value(json_object_get(author, "id"));
    chat_user_t *u = id ? chat__user_get(c, id) : NULL;
    if (u && u->name && !str_is(json_object_get(author, "name"), u->name))
        json_object_set_new(author, "name", json_string(u->name));
}

/* ---- the ring ---- */

static entry_t *at(const tail_t *t, size_t i)
{
    return &t->ring[(t->head + i) % t->cap];
}

static void add_cost(tail_t *t, size_t cost)
{
    t->bytes += cost;
    T.bytes += cost;
}

static void sub_cost(tail_t *t, size_t cost)
{
    t->bytes -= cost;
    T.bytes -= cost;
}

/* The entry's message as a tree, parsed from its text on first use; NULL
 * when the text does not parse (never for the store's own). */
static json_t *entry_msg(entry_t *e)
{
    if (!e->msg && e->raw) {
        size_t idlen = strlen(e->raw);
        e->msg = json_loadb(e->raw + idlen + 1, e->raw_len, 0, NULL);
        if (e->msg && !json_is_object(e->msg)) {
            json_decref(e->msg);
            e->msg = NULL;
        }
    }
    return e->msg;
}

static const char *entry_id(const entry_t *e)
{
    return e->raw ? e->raw : json_string_value(json_object_get(e->msg, "id"));
}

static size_t entry_cost(entry_t *e)
{
    size_t n = e->msg ? cost_of(e->msg) : 0;
    if (e->raw)
        n += 32 + strlen(e->raw) + e->raw_len;
    return n;
}

static void drop_oldest(tail_t *t)
{
    entry_t *e = at(t, 0);
    sub_cost(t, e->cost);
    json_decref(e->msg);
    free(e->raw);
    e->msg = NULL;
    e->raw = NULL;
    t->head = (t->head + 1) % t->cap;
    t->count--;
    T.messages--;
}

static void clear(tail_t *t)
{
    while (t->count)
        drop_oldest(t);
    t->head = 0;
}

/* Appends msg (stolen) or raw (stolen: id NUL text NUL, text raw_len
 * bytes); past the cap the oldest goes, and older messages then exist that
 * the tail does not hold. */
static void append(tail_t *t, json_t *msg, char *raw, size_t raw_len, uint64_t seq)
{
    if (t->count == t->cap) {
        drop_oldest(t);
        t->complete = false;
    }
    entry_t *e = at(t, t->count);
    e->msg = msg;
    e->raw = raw;
    e->raw_len = raw_len;
    e->seq = seq;
    e->cost = entry_cost(e);
    add_cost(t, e->cost);
    t->count++;
    T.messages++;
}

/* id NUL text NUL in one block. */
static char *raw_new(const char *id, const char *text, size_t len)
{
    size_t idlen = strlen(id);
    char *raw = xmalloc(idlen + len + 2);
    memcpy(raw, id, idlen + 1);
    memcpy(raw + idlen + 1, text, len);
    raw[idlen + 1 + len] = '\0';
    return raw;
}

/* The newest first: edits and reactions mostly touch recent messages. */
static entry_t *find(const tail_t *t, const char *id)
{
    for (size_t i = t->count; i-- > 0;) {
        entry_t *e = at(t, i);
        const char *eid = entry_id(e);
        if (eid && strcmp(eid, id) == 0)
            return e;
    }
    return NULL;
}

/* How many held messages have seq < before (0: all). */
static size_t count_before(const tail_t *t, uint64_t before)
{
    if (before == 0)
        return t->count;
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(t, mid)->seq < before)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Applies one committed message event the way a client would. loaded_upto:
 * during a replay, the seq of the newest message the load returned (a
 * reaction that changes nothing on such a message is ambiguous); 0
 * otherwise. */
static apply_t apply(tail_t *t, const change_t *ch, uint64_t loaded_upto)
{
    const char *type = ch->type;
    json_t *p = ch->payload;
    if (strcmp(type, "message:new") == 0) {
        if (ch->seq == 0 || !ch->text)
            return APPLY_BROKEN;
        if (t->count && ch->seq <= at(t, t->count - 1)->seq)
            return APPLY_OK; /* the load saw it */
        if (ch->id) {
            append(t, NULL, raw_new(ch->id, ch->text, ch->len), ch->len, ch->seq);
            return APPLY_OK;
        }
        json_t *msg = json_loadb(ch->text, ch->len, 0, NULL);
        if (!json_is_object(msg)) {
            json_decref(msg);
            return APPLY_BROKEN;
        }
        append(t, msg, NULL, 0, ch->seq);
        return APPLY_OK;
    }
    const char *id = json_string_value(json_object_get(p, "id"));
    entry_t *e = id ? find(t, id) : NULL;
    if (!e)
        return APPLY_OK; /* older than the tail */
    if (!entry_msg(e))
        return APPLY_BROKEN;
    bool reaction = strcmp(type, "reaction:updated") == 0;
    apply_t r = APPLY_OK;
    if (strcmp(type, "message:updated") == 0) {
        json_t *text = json_object_get(p, "text"), *edited = json_object_get(p, "editedAt");
        if (!json_is_string(text) || !json_is_integer(edited))
            return APPLY_BROKEN;
        json_object_set(e->msg, "text", text);
        set_before_reactions(e->msg, "editedAt", json_incref(edited));
    } else if (strcmp(type, "message:deleted") == 0) {
        /* The store blanks the text and drops the reactions; editedAt stays. */
        json_object_set_new(e->msg, "text", json_string(""));
        set_before_reactions(e->msg, "deleted", json_true());
        json_object_set_new(e->msg, "reactions", json_object());
    } else if (reaction) {
        const char *emoji = json_string_value(json_object_get(p, "emoji"));
        const char *user = json_string_value(json_object_get(p, "user"));
        json_t *op = json_object_get(p, "op");
        if (!emoji || !user || !(str_is(op, "add") || str_is(op, "remove")))
            return APPLY_BROKEN;
        int changed = react(e->msg, emoji, user, str_is(op, "add"));
        if (changed < 0)
            r = APPLY_BROKEN;
        else if (changed == 0 && e->seq <= loaded_upto)
            r = APPLY_AMBIGUOUS;
    }
    sub_cost(t, e->cost);
    e->cost = entry_cost(e);
    add_cost(t, e->cost);
    return r;
}

/* ---- tails ---- */

static tail_t *tail_new(const char *channel)
{
    tail_t *t = xcalloc(1, sizeof *t);
    t->channel = xstrdup(channel);
    t->cap = T.cfg.messages;
    t->ring = xcalloc(t->cap, sizeof *t->ring);
    t->waiters_end = &t->waiters;
    t->pending_end = &t->pending;
    return t;
}

static void pending_free(tail_t *t)
{
    pending_t *p = t->pending;
    while (p) {
        pending_t *next = p->next;
        free(p->type);
        json_decref(p->payload);
        free(p->id);
        free(p->text);
        free(p);
        p = next;
    }
    t->pending = NULL;
    t->pending_end = &t->pending;
}

/* Takes the waiting pages off the tail. */
static waiter_t *waiters_take(tail_t *t)
{
    waiter_t *w = t->waiters;
    t->waiters = NULL;
    t->waiters_end = &t->waiters;
    return w;
}

static void lru_unlink(tail_t *t)
{
    if (t->newer)
        t->newer->older = t->older;
    else
        T.newest = t->older;
    if (t->older)
        t->older->newer = t->newer;
    else
        T.oldest = t->newer;
    t->newer = t->older = NULL;
}

static void lru_push(tail_t *t)
{
    t->older = T.newest;
    t->newer = NULL;
    if (T.newest)
        T.newest->newer = t;
    else
        T.oldest = t;
    T.newest = t;
}

/* Frees t; it is out of the map and the LRU list, with no waiters. A
 * detached tail's messages are not in T's counts (T was reset). */
static void tail_destroy(tail_t *t)
{
    if (t->detached) {
        for (size_t i = 0; i < t->count; i++) {
            json_decref(at(t, i)->msg);
            free(at(t, i)->raw);
        }
    } else {
        clear(t);
    }
    pending_free(t);
    free(t->ring);
    free(t->channel);
    free(t);
}

/* Forgets a tail that is in the map. */
static void tail_drop(tail_t *t)
{
    map_del(&T.tails, t->channel, strlen(t->channel));
    if (t->ready) {
        lru_unlink(t);
        T.nready--;
    }
    tail_destroy(t);
}

/* Drops the least recently read tails while over a cap, never keep. */
static void evict(const tail_t *keep)
{
    while (T.nready > T.cfg.channels || T.bytes > T.cfg.bytes) {
        tail_t *v = T.oldest;
        if (v == keep)
            v = v->newer;
        if (!v)
            break;
        T.stats.evictions++;
        tail_drop(v);
    }
}

/* ---- pages ---- */

typedef struct {
    chat_tail_page_cb cb;
    void *arg;
} read_t;

static void on_read(store_err_t err, const store_message_t *msgs, size_t n, bool has_more,
                    void *arg)
{
    read_t *r = arg;
    json_t *list = NULL;
    if (err == STORE_OK) {
        list = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *m = store_message_to_json(&msgs[i]);
            if (m)
                json_array_append_new(list, m);
        }
    }
    r->cb(err, list, has_more, r->arg);
    json_decref(list);
    free(r);
}

/* The page from the store's reader threads. */
static store_err_t read_store(chat_t *c, const char *channel, uint64_t before, unsigned limit,
                              chat_tail_page_cb cb, void *arg)
{
    read_t *r = xmalloc(sizeof *r);
    r->cb = cb;
    r->arg = arg;
    store_err_t err = store_history_page(c->store, channel, before, limit, on_read, r);
    if (err != STORE_OK)
        free(r);
    else
        T.stats.misses++;
    return err;
}

/* Answers from a ready tail when the page lies wholly inside it: limit
 * messages before `before` are held, or every message of the channel is.
 * Returns false (nothing called) when it does not. */
static bool answer_from(tail_t *t, uint64_t before, unsigned limit, chat_tail_page_cb cb, void *arg)
{
    size_t k = count_before(t, before);
    if (k < limit && !t->complete)
        return false;
    size_t from = k > limit ? k - limit : 0;
    for (size_t i = from; i < k; i++) {
        entry_t *e = at(t, i);
        if (!e->msg) {
            sub_cost(t, e->cost);
            json_t *m = entry_msg(e);
            e->cost = entry_cost(e);
            add_cost(t, e->cost);
            if (!m)
                return false;
        }
    }
    json_t *list = json_array();
    if (!list)
        return false;
    for (size_t i = from; i < k; i++) {
        entry_t *e = at(t, i);
        patch_author(T.chat, e->msg);
        json_array_append(list, e->msg);
    }
    T.stats.hits++;
    lru_unlink(t);
    lru_push(t);
    cb(STORE_OK, list, from > 0 || !t->complete, arg);
    json_decref(list);
    return true;
}

/* Pages that waited for a load that did not give a tail: the store
 * answers them (a refusal to queue is their answer). */
static void waiters_to_store(chat_t *c, const char *channel, waiter_t *w)
{
    while (w) {
        waiter_t *next = w->next;
        store_err_t err = read_store(c, channel, w->before, w->limit, w->cb, w->arg);
        if (err != STORE_OK)
            w->cb(err, NULL, false, w->arg);
        free(w);
        w = next;
    }
}

static void waiters_fail(waiter_t *w, store_err_t err)
{
    while (w) {
        waiter_t *next = w->next;
        w->cb(err, NULL, false, w->arg);
        free(w);
        w = next;
    }
}

/* ---- loading ---- */

static void on_loaded(store_err_t err, const store_message_t *msgs, size_t n, bool has_more,
                      void *arg);

static bool load(tail_t *t)
{
    T.stats.loads++;
    return store_history_page(T.chat->store, t->channel, 0, (unsigned)t->cap, on_loaded, t) ==
           STORE_OK;
}

/* Fills t from the load and replays what committed meanwhile. */
static apply_t fill(tail_t *t, const store_message_t *msgs, size_t n, bool has_more)
{
    for (size_t i = 0; i < n; i++) {
        json_t *m = store_message_to_json(&msgs[i]);
        if (!m)
            return APPLY_BROKEN;
        append(t, m, NULL, 0, msgs[i].seq);
    }
    t->complete = !has_more;
    uint64_t upto = n ? msgs[n - 1].seq : 0;
    apply_t r = APPLY_OK;
    for (pending_t *p = t->pending; p && r == APPLY_OK; p = p->next) {
        change_t ch = {p->type, p->payload, p->id, p->text, p->len, p->seq};
        r = apply(t, &ch, upto);
    }
    pending_free(t);
    return r;
}

static void on_loaded(store_err_t err, const store_message_t *msgs, size_t n, bool has_more,
                      void *arg)
{
    tail_t *t = arg;
    if (t->detached) {
        waiters_fail(waiters_take(t), STORE_E_CLOSED);
        tail_destroy(t);
        return;
    }
    chat_t *c = T.chat;
    if (err != STORE_OK) {
        /* What a store read of these pages would answer (no such channel,
         * the store closing or failing). */
        waiter_t *w = waiters_take(t);
        tail_drop(t);
        waiters_fail(w, err);
        return;
    }
    apply_t r = fill(t, msgs, n, has_more);
    if (r == APPLY_AMBIGUOUS && t->tries + 1 < LOAD_TRIES) {
        clear(t);
        t->tries++;
        T.stats.load_retries++;
        if (load(t))
            return;
    }
    if (r != APPLY_OK) {
        if (r == APPLY_BROKEN)
            log_warn("history_tail", "channel %s: could not build its tail", t->channel);
        waiter_t *w = waiters_take(t);
        char *channel = xstrdup(t->channel);
        tail_drop(t);
        waiters_to_store(c, channel, w);
        free(channel);
        return;
    }
    t->ready = true;
    t->tries = 0;
    T.nready++;
    lru_push(t);
    for (waiter_t *w = waiters_take(t), *next; w; w = next) {
        next = w->next;
        if (!answer_from(t, w->before, w->limit, w->cb, w->arg)) {
            store_err_t e = read_store(c, t->channel, w->before, w->limit, w->cb, w->arg);
            if (e != STORE_OK)
                w->cb(e, NULL, false, w->arg);
        }
        free(w);
    }
    evict(t);
}

/* ---- API ---- */

void chat__tail_init(chat_t *c, const chat_tail_config_t *cfg)
{
    if (T.bound)
        chat__tail_free(T.chat);
    memset(&T, 0, sizeof T);
    T.bound = true;
    T.chat = c;
    if (cfg)
        T.cfg = *cfg;
    if (!T.cfg.messages)
        T.cfg.messages = CHAT_TAIL_MESSAGES;
    if (T.cfg.messages > PAGE_MAX)
        T.cfg.messages = PAGE_MAX;
    if (!T.cfg.channels)
        T.cfg.channels = CHAT_TAIL_CHANNELS;
    if (!T.cfg.bytes)
        T.cfg.bytes = CHAT_TAIL_BYTES;
    map_init(&T.tails);
}

static int free_tail(const char *k, size_t kl, void *v, void *arg)
{
    tail_t *t = v;
    if (t->ready) {
        tail_drop(t);
    } else {
        /* Its load callback still comes (the store answers every read it
         * queued): it frees the tail then. */
        map_del(&T.tails, k, kl);
        t->detached = true;
    }
    return 0;
}

void chat__tail_free(chat_t *c)
{
    if (!T.bound || c != T.chat)
        return;
    map_each(&T.tails, free_tail, NULL);
    map_free(&T.tails);
    memset(&T, 0, sizeof T);
}

void chat__tail_event(chat_t *c, const store_event_t *ev)
{
    if (!T.bound || c != T.chat || !ev || ev->unchanged || !ev->type || !ev->channel)
        return;
    bool is_new = strcmp(ev->type, "message:new") == 0;
    if (is_new ? !ev->payload_json : !ev->payload)
        return;
    if (strncmp(ev->type, "message:", 8) != 0 && strcmp(ev->type, "reaction:updated") != 0)
        return;
    tail_t *t = map_get(&T.tails, ev->channel, strlen(ev->channel));
    if (!t)
        return;
    const char *id = is_new && ev->message ? ev->message->id : NULL;
    if (!t->ready) {
        pending_t *p = xcalloc(1, sizeof *p);
        p->type = xstrdup(ev->type);
        p->payload = json_incref(ev->payload);
        if (is_new) {
            p->id = id ? xstrdup(id) : NULL;
            p->text = xmemdup(ev->payload_json, ev->payload_len);
            p->len = ev->payload_len;
        }
        p->seq = ev->seq;
        *t->pending_end = p;
        t->pending_end = &p->next;
        return;
    }
    change_t ch = {ev->type, ev->payload, id, ev->payload_json, ev->payload_len, ev->seq};
    if (apply(t, &ch, 0) != APPLY_OK) {
        log_warn("history_tail", "channel %s: dropping its tail (%s not applied)", t->channel,
                 ev->type);
        tail_drop(t);
        return;
    }
    evict(NULL);
}

store_err_t chat__tail_page(chat_t *c, const char *channel, uint64_t before, unsigned limit,
                            chat_tail_page_cb cb, void *arg)
{
    if (!c || !channel || !*channel || !cb || limit == 0 || limit > PAGE_MAX)
        return STORE_E_INVALID;
    if (!T.bound || c != T.chat)
        return read_store(c, channel, before, limit, cb, arg);
    tail_t *t = map_get(&T.tails, channel, strlen(channel));
    if (t && t->ready) {
        if (answer_from(t, before, limit, cb, arg))
            return STORE_OK;
        return read_store(c, channel, before, limit, cb, arg);
    }
    /* Only a newest page loads a tail: an older one may well lie beyond
     * it, and is one store read either way. */
    if (before != 0)
        return read_store(c, channel, before, limit, cb, arg);
    if (!t) {
        t = tail_new(channel);
        map_put(&T.tails, t->channel, strlen(t->channel), t);
        if (!load(t)) {
            tail_drop(t);
            return read_store(c, channel, before, limit, cb, arg);
        }
    }
    waiter_t *w = xcalloc(1, sizeof *w);
    w->before = before;
    w->limit = limit;
    w->cb = cb;
    w->arg = arg;
    *t->waiters_end = w;
    t->waiters_end = &w->next;
    return STORE_OK;
}

void chat__tail_stats(const chat_t *c, chat_tail_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!T.bound || c != T.chat)
        return;
    *out = T.stats;
    out->channels = T.nready;
    out->messages = T.messages;
    out->bytes = T.bytes;
}
