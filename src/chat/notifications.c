/* notifications.c — who a message or a reaction notifies, storing and
 * delivering those notifications, and the notification:list /
 * notification:read requests (PROTOCOL.md "Notifications").
 *
 * A notification is stored first and emitted (`notification` to every socket
 * of the user) only after the commit, so an offline user finds it in
 * notification:list and in `ready`'s unread count.
 *
 * Decisions:
 * - Mentions: "@id" where the '@' starts the text or follows a character
 *   that cannot be part of a user id; the id is the longest run of user-id
 *   characters after it (ASCII letters folded to lower case), with trailing
 *   '.', '-', '_' and '@' dropped one by one until it names a member, so
 *   "@bob," and "@Bob." both mention bob. Only members of the channel other
 *   than the author, at most MENTIONS_MAX distinct users per message.
 * - One notification per user per message: mention, else reply (to their
 *   message, if they are still a member), else dm (every other member of a
 *   DM channel). Edits notify nobody.
 * - Reactions: reaction:add notifies the message's author (if not the
 *   reactor and still a member); removing a reaction notifies nobody.
 * - Notification ids are the store's integers; notification:list returns the
 *   newest first, `before` is an id (the last one of the previous page),
 *   `limit` 1-100 (default 50). notification:read takes {ids: [1-1000
 *   ids]} or {all: true} (not both); ids that are not the user's are
 *   ignored; the ack is {unread} (what is left unread).
 *
 * What it is not: no push to devices outside Socket.IO, no digest e-mails.
 */
#include "chat/notifications.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MENTIONS_MAX 50
#define LIST_DEFAULT 50
#define LIST_MAX 100
#define READ_IDS_MAX 1000

/* ---- creating ---- */

typedef struct {
    chat_t *chat;
    chat_notified_fn done;
    void *arg;
} notify_ctx_t;

static json_t *notification_json(const store_notification_t *n)
{
    json_t *from = json_null();
    if (n->from_user)
        from = json_pack("{s:s, s:s}", "id", n->from_user, "name",
                         n->from_name ? n->from_name : n->from_user);
    return json_pack("{s:I, s:s, s:s, s:s?, s:o, s:I, s:b}", "id", (json_int_t)n->id, "kind",
                     store_notif_kind_name(n->kind), "channel", n->channel, "messageId",
                     n->message_id, "from", from, "ts", (json_int_t)n->ts, "read", n->read);
}

static void on_notifications_stored(store_err_t err, const store_notification_t *items, size_t n,
                                    bool has_more, void *arg)
{
    notify_ctx_t *ctx = arg;
    if (err != STORE_OK) {
        log_error("notify_failed", "%s", store_strerror(err));
    } else {
        for (size_t i = 0; i < n; i++) {
            json_t *j = notification_json(&items[i]);
            chat__emit_user(ctx->chat, items[i].user, "notification", j);
            json_decref(j);
        }
    }
    ctx->done(ctx->arg);
    free(ctx);
}

static bool submit(chat_t *c, const store_notification_spec_t *specs, size_t n,
                   chat_notified_fn done, void *arg)
{
    if (n == 0)
        return false;
    notify_ctx_t *ctx = xcalloc(1, sizeof *ctx);
    ctx->chat = c;
    ctx->done = done;
    ctx->arg = arg;
    store_err_t err = store_notification_insert(c->store, specs, n, on_notifications_stored, ctx);
    if (err != STORE_OK) {
        log_error("notify_failed", "%s", store_strerror(err));
        free(ctx);
        return false;
    }
    return true;
}

static bool is_id_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.' || ch == '@';
}

/* The member named by the mention token s[0..len) (already lower case),
 * trimming trailing punctuation; NULL when none. */
static chat_user_t *mentioned_member(chat_t *c, const chat_channel_t *ch, char *s, size_t len)
{
    while (len > 0) {
        s[len] = '\0';
        if (chat__member_get(ch, s))
            return chat__user_get(c, s);
        char last = s[len - 1];
        if (last != '.' && last != '-' && last != '_' && last != '@')
            break;
        len--;
    }
    return NULL;
}

typedef struct {
    store_notification_spec_t specs[MENTIONS_MAX + 2];
    size_t n;
    size_t mentions;
} recipients_t;

static bool has_recipient(const recipients_t *r, const char *user)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->specs[i].user, user) == 0)
            return true;
    return false;
}

static void add_recipient(recipients_t *r, const char *user, store_notif_kind_t kind,
                          const store_message_t *m)
{
    if (strcmp(user, m->author) == 0 || has_recipient(r, user) ||
        r->n == sizeof r->specs / sizeof r->specs[0])
        return;
    r->specs[r->n++] = (store_notification_spec_t){
        .user = user,
        .kind = kind,
        .channel = m->channel,
        .message_id = m->id,
        .from_user = m->author,
    };
}

static void find_mentions(chat_t *c, const chat_channel_t *ch, const store_message_t *m,
                          recipients_t *r)
{
    const char *t = m->text;
    size_t len = strlen(t);
    for (size_t i = 0; i < len && r->mentions < MENTIONS_MAX; i++) {
        const char *at = memchr(t + i, '@', len - i);
        if (!at)
            break;
        i = (size_t)(at - t);
        if (i > 0 && is_id_char((unsigned char)t[i - 1]))
            continue;
        char id[CHAT_ID_MAX + 1];
        size_t n = 0;
        size_t j = i + 1;
        while (j < len && is_id_char((unsigned char)t[j]) && n < CHAT_ID_MAX) {
            char ch2 = t[j++];
            id[n++] = ch2 >= 'A' && ch2 <= 'Z' ? (char)(ch2 - 'A' + 'a') : ch2;
        }
        /* A run longer than any id names nobody. */
        if (j < len && is_id_char((unsigned char)t[j]))
            n = 0;
        chat_user_t *u = n ? mentioned_member(c, ch, id, n) : NULL;
        if (u && strcmp(u->id, m->author) != 0 && !has_recipient(r, u->id)) {
            add_recipient(r, u->id, STORE_N_MENTION, m);
            r->mentions++;
        }
        i = j - 1;
    }
}

typedef struct {
    recipients_t *r;
    const store_message_t *m;
    chat_t *c;
} dm_walk_t;

static int add_dm_member(const char *key, size_t klen, void *value, void *arg)
{
    dm_walk_t *w = arg;
    char id[CHAT_ID_MAX + 1];
    snprintf(id, sizeof id, "%.*s", (int)klen, key);
    chat_user_t *u = chat__user_get(w->c, id);
    if (u)
        add_recipient(w->r, u->id, STORE_N_DM, w->m);
    return 0;
}

bool chat__notify_message(chat_t *c, const chat_channel_t *ch, const store_message_t *m,
                          chat_notified_fn done, void *arg)
{
    if (!ch || !m)
        return false;
    recipients_t r; /* specs[] filled as they come: no 2 KiB to clear per message */
    r.n = r.mentions = 0;
    find_mentions(c, ch, m, &r);
    if (m->reply_to_author && chat__member_get(ch, m->reply_to_author)) {
        chat_user_t *u = chat__user_get(c, m->reply_to_author);
        if (u)
            add_recipient(&r, u->id, STORE_N_REPLY, m);
    }
    if (ch->kind == STORE_DM) {
        dm_walk_t w = {&r, m, c};
        map_each((map_t *)&ch->members, add_dm_member, &w);
    }
    return submit(c, r.specs, r.n, done, arg);
}

bool chat__notify_reaction(chat_t *c, const chat_channel_t *ch, const store_message_t *m,
                           const char *reactor, chat_notified_fn done, void *arg)
{
    if (!ch || !m || strcmp(m->author, reactor) == 0 || !chat__member_get(ch, m->author))
        return false;
    store_notification_spec_t spec = {
        .user = m->author,
        .kind = STORE_N_REACTION,
        .channel = m->channel,
        .message_id = m->id,
        .from_user = reactor,
    };
    return submit(c, &spec, 1, done, arg);
}

/* ---- notification:list ---- */

static void on_listed(store_err_t err, const store_notification_t *items, size_t n, bool has_more,
                      void *arg)
{
    chat_req_t *req = arg;
    if (err != STORE_OK) {
        chat__reply_store_error(req, err, "notifications");
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, notification_json(&items[i]));
        chat__reply_ok(req, json_pack("{s:o, s:b}", "notifications", list, "hasMore", has_more));
    }
    chat__req_free(req);
}

static void on_list(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    bool unread_only;
    uint64_t before, limit;
    if (chat__field_bool(req, payload, "unreadOnly", false, &unread_only) != 0 ||
        chat__field_uint(req, payload, "before", INT64_MAX, true, 0, &before) != 0 ||
        chat__field_uint_range(req, payload, "limit", 1, LIST_MAX, true, LIST_DEFAULT, &limit) != 0)
        return;
    json_t *b = json_object_get(payload, "before");
    if (b && !json_is_null(b) && before == 0) {
        chat__reply_error(req, "bad_request", "before: expected a notification id >= 1");
        return;
    }
    chat_req_t *k = chat__req_keep(req);
    store_err_t err = store_notification_list(cc->chat->store, cc->user->id, unread_only,
                                              (int64_t)before, (unsigned)limit, on_listed, k);
    if (err != STORE_OK) {
        chat__reply_store_error(k, err, "notifications");
        chat__req_free(k);
    }
}

/* ---- notification:read ---- */

static void on_marked(store_err_t err, uint64_t count, void *arg)
{
    chat_req_t *req = arg;
    if (err != STORE_OK)
        chat__reply_store_error(req, err, "notifications");
    else
        chat__reply_ok(req, json_pack("{s:I}", "unread", (json_int_t)count));
    chat__req_free(req);
}

static void on_read(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    bool all;
    if (chat__field_bool(req, payload, "all", false, &all) != 0)
        return;
    json_t *ids = json_object_get(payload, "ids");
    if (ids && json_is_null(ids))
        ids = NULL;
    if (all && ids) {
        chat__reply_error(req, "bad_request", "ids: give either ids or all:true, not both");
        return;
    }
    if (!all && !ids) {
        chat__reply_error(req, "bad_request",
                          "ids: required (an array of notification ids) unless all is true");
        return;
    }
    int64_t *list = NULL;
    size_t n = 0;
    if (!all) {
        n = json_array_size(ids);
        if (!json_is_array(ids) || n < 1 || n > READ_IDS_MAX) {
            chat__reply_error(req, "bad_request", "ids: expected an array of 1-%d notification ids",
                              READ_IDS_MAX);
            return;
        }
        list = xcalloc(n, sizeof *list);
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(ids, i);
            if (!json_is_integer(v) || json_integer_value(v) < 1) {
                chat__reply_error(req, "bad_request",
                                  "ids[%zu]: expected a notification id (an integer >= 1)", i);
                free(list);
                return;
            }
            list[i] = json_integer_value(v);
        }
    }
    chat_req_t *k = chat__req_keep(req);
    store_err_t err =
        store_notification_mark_read(cc->chat->store, cc->user->id, list, n, all, on_marked, k);
    free(list);
    if (err != STORE_OK) {
        chat__reply_store_error(k, err, "notifications");
        chat__req_free(k);
    }
}

void chat__notifications_init(chat_t *c)
{
    chat__on(c, "notification:list", on_list, false);
    chat__on(c, "notification:read", on_read, false);
}
