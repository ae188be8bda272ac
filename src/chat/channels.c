/* channels.c — the channel requests of PROTOCOL.md "Channels": channel:create,
 * channel:join, channel:leave, channel:list, channel:browse, channel:invite,
 * invite:create, invite:accept and dm:open.
 *
 * What it is: validation, permission checks against the in-memory model, the
 * store write, and — only in the store's callback, after the commit — the
 * model update, the member:joined / member:left broadcast and the ack.
 *
 * What it is not: messages, history paging or sync (messages.c, history.c);
 * roles are never changed here beyond the creator becoming owner.
 *
 * Decisions the protocol leaves open:
 * - Membership events go to every socket in the channel room except the
 *   requesting socket: the requester's other sockets and, for invites and
 *   DMs, the added user's sockets (put in the room first) learn of the new
 *   membership and its seq. For channel:create and dm:open that means the
 *   member:joined events of the new channel (seq 1, 2) reach the creator's
 *   other sockets and the other DM user, so nobody sees a seq gap.
 * - channel:leave broadcasts member:left before the leaver's sockets drop out
 *   of the room, so the leaver's other sockets hear it too. Anyone may leave,
 *   the owner included; the channel stays (empty channels are kept). Direct
 *   message channels cannot be left (forbidden): their id is fixed by the two
 *   users, and dm:open must always find both in it.
 * - Joining or accepting an invite when already a member answers the channel
 *   and its messages without a new event; inviting an existing member
 *   answers {} without a new event (retries are harmless).
 * - channel:invite is for private channels only: on a public channel it is
 *   bad_request (anyone may channel:join it), on a DM too. Only the owner or
 *   an admin may invite.
 * - invite:create: any member of a public channel; owner/admin of a private
 *   one; never for a DM (bad_request). Codes do not expire.
 * - dm:open with yourself is bad_request; the other user must be known to
 *   the server (has connected at least once), else not_found.
 * - channel:join on a DM id answers like any channel for its two members and
 *   is forbidden for others.
 */
#include "chat/internal.h"
#include "chat/tail.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANNEL_NAME_MAX 64
#define CHANNEL_TOPIC_MAX 256
#define JOIN_HISTORY 50
#define INVITE_CODE_MAX 64

/* One request waiting for the store. Names only: a disconnect while the
 * store works must not leave dangling pointers. */
typedef struct {
    chat_t *c;
    chat_req_t *req;
    char channel[CHAT_ROOM_MAX];
    char user[CHAT_ID_MAX + 1]; /* the other user (channel:invite, dm:open) */
} op_t;

static op_t *op_new(chat_conn_t *cc, chat_req_t *req, const char *channel, const char *user)
{
    op_t *op = xcalloc(1, sizeof *op);
    op->c = cc->chat;
    op->req = chat__req_keep(req);
    snprintf(op->channel, sizeof op->channel, "%s", channel ? channel : "");
    snprintf(op->user, sizeof op->user, "%s", user ? user : "");
    return op;
}

static void op_free(op_t *op)
{
    chat__req_free(op->req);
    free(op);
}

/* A queued call that failed to queue: answer now, nothing happened. */
static void op_refused(op_t *op, store_err_t err, const char *what)
{
    chat__reply_store_error(op->req, err, what);
    op_free(op);
}

/* Applies a committed member:joined to the model: seq, membership, the
 * user's sockets into the room. */
static void apply_member(chat_t *c, const store_event_t *ev)
{
    chat_channel_t *ch = chat__channel_get(c, ev->channel);
    if (!ch || !ev->member)
        return;
    if (ev->seq > ch->seq)
        ch->seq = ev->seq;
    chat_user_t *u = chat__user_ensure(c, ev->member->user, NULL);
    chat__member_set(c, ch, u, ev->member->role, ev->member->last_read);
}

/* ... and then tells the room, the new member's other sockets included. */
static void apply_joined(chat_t *c, const store_event_t *ev, const chat_req_t *req)
{
    apply_member(c, ev);
    chat__broadcast_channel(c, ev->channel, ev->type, ev->payload, req);
}

/* ---- answering {channel, messages} ---- */

static void on_history(store_err_t err, json_t *messages, bool has_more, void *arg)
{
    op_t *op = arg;
    chat_channel_t *ch = chat__channel_get(op->c, op->channel);
    if (err != STORE_OK || !ch) {
        if (err == STORE_OK)
            err = STORE_E_NOT_FOUND;
        chat__reply_store_error(op->req, err, "channel history");
        op_free(op);
        return;
    }
    chat__reply_ok(
        op->req, json_pack("{s:o, s:O}", "channel", chat__channel_json(ch), "messages", messages));
    op_free(op);
}

/* Reads the last messages (from the channel's tail when cached; may answer
 * at once) and answers; takes op. Runs after the joining member's commit,
 * so a store read sees it. */
static void answer_with_history(op_t *op)
{
    store_err_t err = chat__tail_page(op->c, op->channel, 0, JOIN_HISTORY, on_history, op);
    if (err != STORE_OK)
        op_refused(op, err, "channel history");
}

static void on_joined(store_err_t err, const store_event_t *ev, void *arg)
{
    op_t *op = arg;
    if (err != STORE_OK) {
        chat__reply_store_error(op->req, err, "channel");
        op_free(op);
        return;
    }
    /* Unchanged: already a member (a concurrent request got there first);
     * the model may lag behind the store, so record it anyway. */
    if (ev->unchanged)
        apply_member(op->c, ev);
    else
        apply_joined(op->c, ev, op->req);
    answer_with_history(op);
}

/* Makes the sender a member (if not yet) and answers {channel, messages};
 * permissions are the caller's. */
static void join_as_member(chat_conn_t *cc, chat_req_t *req, chat_channel_t *ch)
{
    op_t *op = op_new(cc, req, ch->id, NULL);
    if (chat__member_get(ch, cc->user->id)) {
        answer_with_history(op);
        return;
    }
    store_err_t err =
        store_member_add(cc->chat->store, ch->id, cc->user->id, STORE_MEMBER, on_joined, op);
    if (err != STORE_OK)
        op_refused(op, err, "channel");
}

/* ---- channel:create ---- */

/* topic: absent/null -> "", else a string of 0..256 characters. */
static int field_topic(chat_req_t *req, json_t *payload, const char **out)
{
    json_t *v = json_object_get(payload, "topic");
    if (json_is_string(v) && json_string_length(v) == 0) {
        *out = "";
        return 0;
    }
    if (chat__field_string(req, payload, "topic", CHANNEL_TOPIC_MAX, true, out) != 0)
        return -1;
    if (!*out)
        *out = "";
    return 0;
}

static int field_kind(chat_req_t *req, json_t *payload, store_kind_t *out)
{
    json_t *v = json_object_get(payload, "kind");
    const char *s = json_string_value(v);
    if (s && strcmp(s, "public") == 0) {
        *out = STORE_PUBLIC;
        return 0;
    }
    if (s && strcmp(s, "private") == 0) {
        *out = STORE_PRIVATE;
        return 0;
    }
    if (!v || json_is_null(v))
        chat__reply_error(req, "bad_request", "kind: required, expected \"public\" or \"private\"");
    else
        chat__reply_error(req, "bad_request",
                          "kind: expected \"public\" or \"private\" (direct messages are "
                          "opened with dm:open)");
    return -1;
}

/* The member:joined events of a channel made by store_channel_create. All
 * members are in the room before the first event goes out, so the other
 * user of a DM hears seq 1 (the creator's join) too. */
static void apply_created(chat_t *c, const store_channel_t *sc, const store_event_t *events,
                          size_t nevents, const chat_req_t *req)
{
    chat__channel_add(c, sc);
    for (size_t i = 0; i < nevents; i++)
        apply_member(c, &events[i]);
    for (size_t i = 0; i < nevents; i++)
        chat__broadcast_channel(c, events[i].channel, events[i].type, events[i].payload, req);
}

static void on_created(store_err_t err, const store_channel_t *sc, const store_event_t *events,
                       size_t nevents, void *arg)
{
    op_t *op = arg;
    if (err != STORE_OK) {
        if (err == STORE_E_CONFLICT)
            chat__reply_error(op->req, "conflict", "channel %s already exists", op->channel);
        else
            chat__reply_store_error(op->req, err, "channel");
        op_free(op);
        return;
    }
    apply_created(op->c, sc, events, nevents, op->req);
    chat_channel_t *ch = chat__channel_get(op->c, sc->id);
    chat__reply_ok(op->req, json_pack("{s:o}", "channel", chat__channel_json(ch)));
    op_free(op);
}

static void on_channel_create(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *id, *name, *topic;
    store_kind_t kind;
    if (chat__field_channel_id(req, payload, "id", false, &id) != 0 ||
        chat__field_string(req, payload, "name", CHANNEL_NAME_MAX, true, &name) != 0 ||
        field_kind(req, payload, &kind) != 0 || field_topic(req, payload, &topic) != 0)
        return;
    if (chat__channel_get(cc->chat, id)) {
        chat__reply_error(req, "conflict", "channel %s already exists", id);
        return;
    }
    store_channel_spec_t spec = {
        .id = id,
        .name = name ? name : id,
        .kind = kind,
        .topic = topic,
        .created_by = cc->user->id,
    };
    op_t *op = op_new(cc, req, id, NULL);
    store_err_t err = store_channel_create(cc->chat->store, &spec, on_created, op);
    if (err != STORE_OK)
        op_refused(op, err, "channel");
}

/* ---- channel:join ---- */

static void on_channel_join(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *id;
    if (chat__field_channel_id(req, payload, "channel", true, &id) != 0)
        return;
    chat_channel_t *ch = chat__channel_get(cc->chat, id);
    if (!ch) {
        chat__reply_error(req, "not_found", "channel %s not found", id);
        return;
    }
    if (ch->kind != STORE_PUBLIC && !chat__member_get(ch, cc->user->id)) {
        if (ch->kind == STORE_DM)
            chat__reply_error(req, "forbidden", "channel %s is a direct message of two others", id);
        else
            chat__reply_error(req, "forbidden", "channel %s is private: join it through an invite",
                              id);
        return;
    }
    join_as_member(cc, req, ch);
}

/* ---- channel:leave ---- */

static void on_left(store_err_t err, const store_event_t *ev, void *arg)
{
    op_t *op = arg;
    if (err != STORE_OK) {
        chat__reply_store_error(op->req, err, "channel");
        op_free(op);
        return;
    }
    chat_t *c = op->c;
    chat_channel_t *ch = chat__channel_get(c, op->channel);
    chat_user_t *u = chat__user_get(c, op->req->user);
    if (ch && !ev->unchanged) {
        if (ev->seq > ch->seq)
            ch->seq = ev->seq;
        /* Before the drop, so the leaver's other sockets hear it too. */
        chat__broadcast_channel(c, ch->id, ev->type, ev->payload, op->req);
    }
    if (ch && u)
        chat__member_drop(c, ch, u);
    chat__reply_ok(op->req, NULL);
    op_free(op);
}

static void on_channel_leave(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *id;
    if (chat__field_channel_id(req, payload, "channel", true, &id) != 0)
        return;
    chat_channel_t *ch = chat__require_member(cc, req, id);
    if (!ch)
        return;
    if (ch->kind == STORE_DM) {
        chat__reply_error(req, "forbidden", "channel %s is a direct message and cannot be left",
                          id);
        return;
    }
    op_t *op = op_new(cc, req, id, NULL);
    store_err_t err = store_member_remove(cc->chat->store, id, cc->user->id, on_left, op);
    if (err != STORE_OK)
        op_refused(op, err, "channel");
}

/* ---- channel:list ---- */

static void on_user_channels(store_err_t err, const store_user_channel_t *items, size_t n,
                             void *arg)
{
    op_t *op = arg;
    if (err != STORE_OK) {
        chat__reply_store_error(op->req, err, "channels");
        op_free(op);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const store_user_channel_t *it = &items[i];
        /* The model may be ahead of what the read saw, never behind. */
        chat_channel_t *ch = chat__channel_get(op->c, it->channel.id);
        chat_member_t *m = ch ? chat__member_get(ch, op->req->user) : NULL;
        uint64_t seq = ch && ch->seq > it->channel.seq ? ch->seq : it->channel.seq;
        uint64_t last_read = m && m->last_read > it->last_read ? m->last_read : it->last_read;
        uint64_t members = ch ? chat__member_count(ch) : it->channel.members;
        store_role_t role = m ? m->role : it->role;
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "id", it->channel.id,
                            "name", it->channel.name, "kind", store_kind_name(it->channel.kind),
                            "topic", it->channel.topic ? it->channel.topic : "", "seq",
                            (json_int_t)seq, "lastRead", (json_int_t)last_read, "unread",
                            (json_int_t)it->unread, "members", (json_int_t)members, "role",
                            store_role_name(role)));
    }
    chat__reply_ok(op->req, json_pack("{s:o}", "channels", list));
    op_free(op);
}

static void on_channel_list(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    op_t *op = op_new(cc, req, NULL, NULL);
    store_err_t err = store_user_channels(cc->chat->store, cc->user->id, on_user_channels, op);
    if (err != STORE_OK)
        op_refused(op, err, "channels");
}

/* ---- channel:browse ---- */

typedef struct {
    chat_channel_t **v;
    size_t n, cap;
} channel_vec_t;

static int collect_public(const char *key, size_t klen, void *value, void *arg)
{
    chat_channel_t *ch = value;
    channel_vec_t *vec = arg;
    if (ch->kind != STORE_PUBLIC)
        return 0;
    if (vec->n == vec->cap) {
        vec->cap = vec->cap ? vec->cap * 2 : 16;
        vec->v = xrealloc(vec->v, vec->cap * sizeof *vec->v);
    }
    vec->v[vec->n++] = ch;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(chat_channel_t *const *)a)->id, (*(chat_channel_t *const *)b)->id);
}

/* From the model: it holds every committed channel, and answers without a
 * round trip to a reader thread. */
static void on_channel_browse(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    channel_vec_t vec = {0};
    map_each(&cc->chat->channels, collect_public, &vec);
    if (vec.n > 1)
        qsort(vec.v, vec.n, sizeof *vec.v, by_id);
    json_t *list = json_array();
    for (size_t i = 0; i < vec.n; i++)
        json_array_append_new(list, chat__channel_json(vec.v[i]));
    free(vec.v);
    chat__reply_ok(req, json_pack("{s:o}", "channels", list));
}

/* ---- channel:invite ---- */

static void on_invited(store_err_t err, const store_event_t *ev, void *arg)
{
    op_t *op = arg;
    if (err == STORE_E_NOT_FOUND && chat__channel_get(op->c, op->channel)) {
        chat__reply_error(op->req, "not_found", "user %s not found", op->user);
    } else if (err != STORE_OK) {
        chat__reply_store_error(op->req, err, "channel");
    } else {
        if (ev->unchanged)
            apply_member(op->c, ev);
        else
            apply_joined(op->c, ev, op->req);
        chat__reply_ok(op->req, NULL);
    }
    op_free(op);
}

/* True when the sender may manage the channel's members. */
static bool is_manager(const chat_channel_t *ch, const char *user)
{
    chat_member_t *m = chat__member_get(ch, user);
    return m && (m->role == STORE_OWNER || m->role == STORE_ADMIN);
}

static void on_channel_invite(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *id, *user;
    if (chat__field_channel_id(req, payload, "channel", true, &id) != 0 ||
        chat__field_user_id(req, payload, "user", &user) != 0)
        return;
    chat_channel_t *ch = chat__require_member(cc, req, id);
    if (!ch)
        return;
    if (ch->kind == STORE_PUBLIC) {
        chat__reply_error(req, "bad_request",
                          "channel: %s is public; anyone can join it with channel:join", id);
        return;
    }
    if (ch->kind == STORE_DM) {
        chat__reply_error(req, "bad_request",
                          "channel: %s is a direct message; nobody can be invited to it", id);
        return;
    }
    if (!is_manager(ch, cc->user->id)) {
        chat__reply_error(req, "forbidden", "only an owner or admin of %s may invite to it", id);
        return;
    }
    if (!chat__user_get(cc->chat, user)) {
        chat__reply_error(req, "not_found", "user %s not found", user);
        return;
    }
    if (chat__member_get(ch, user)) {
        chat__reply_ok(req, NULL);
        return;
    }
    op_t *op = op_new(cc, req, id, user);
    store_err_t err = store_member_add(cc->chat->store, id, user, STORE_MEMBER, on_invited, op);
    if (err != STORE_OK)
        op_refused(op, err, "channel");
}

/* ---- invite:create ---- */

static void on_invite_created(store_err_t err, const store_invite_t *inv, void *arg)
{
    op_t *op = arg;
    if (err != STORE_OK)
        chat__reply_store_error(op->req, err, "channel");
    else
        chat__reply_ok(op->req, json_pack("{s:s}", "code", inv->code));
    op_free(op);
}

static void on_invite_create(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *id;
    if (chat__field_channel_id(req, payload, "channel", true, &id) != 0)
        return;
    chat_channel_t *ch = chat__require_member(cc, req, id);
    if (!ch)
        return;
    if (ch->kind == STORE_DM) {
        chat__reply_error(req, "bad_request",
                          "channel: %s is a direct message; it has no invite codes", id);
        return;
    }
    if (ch->kind == STORE_PRIVATE && !is_manager(ch, cc->user->id)) {
        chat__reply_error(req, "forbidden",
                          "only an owner or admin of %s may create invite codes for it", id);
        return;
    }
    op_t *op = op_new(cc, req, id, NULL);
    store_err_t err = store_invite_create(cc->chat->store, id, cc->user->id, on_invite_created, op);
    if (err != STORE_OK)
        op_refused(op, err, "channel");
}

/* ---- invite:accept ---- */

static void on_invite_got(store_err_t err, const store_invite_t *inv, void *arg)
{
    op_t *op = arg;
    if (err == STORE_E_NOT_FOUND) {
        chat__reply_error(op->req, "not_found", "invite code not found");
        op_free(op);
        return;
    }
    if (err != STORE_OK) {
        op_refused(op, err, "invite");
        return;
    }
    chat_t *c = op->c;
    chat_channel_t *ch = chat__channel_get(c, inv->channel);
    chat_user_t *u = chat__user_get(c, op->req->user);
    if (!ch || !u) {
        chat__reply_error(op->req, "not_found", "the invite's channel %s not found", inv->channel);
        op_free(op);
        return;
    }
    snprintf(op->channel, sizeof op->channel, "%s", ch->id);
    if (chat__member_get(ch, u->id)) {
        answer_with_history(op);
        return;
    }
    store_err_t e = store_member_add(c->store, ch->id, u->id, STORE_MEMBER, on_joined, op);
    if (e != STORE_OK)
        op_refused(op, e, "channel");
}

static void on_invite_accept(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *code;
    if (chat__field_string(req, payload, "code", INVITE_CODE_MAX, false, &code) != 0)
        return;
    op_t *op = op_new(cc, req, NULL, NULL);
    store_err_t err = store_invite_get(cc->chat->store, code, on_invite_got, op);
    if (err != STORE_OK)
        op_refused(op, err, "invite");
}

/* ---- dm:open ---- */

static void on_dm_created(store_err_t err, const store_channel_t *sc, const store_event_t *events,
                          size_t nevents, void *arg)
{
    op_t *op = arg;
    chat_channel_t *ch;
    if (err == STORE_OK) {
        apply_created(op->c, sc, events, nevents, op->req);
        ch = chat__channel_get(op->c, sc->id);
    } else {
        /* Both users opened it at once: the first write's callback ran
         * before ours (callbacks follow submission order). */
        ch = err == STORE_E_CONFLICT ? chat__channel_get(op->c, op->channel) : NULL;
    }
    if (ch)
        chat__reply_ok(op->req, json_pack("{s:o}", "channel", chat__channel_json(ch)));
    else if (err == STORE_E_NOT_FOUND)
        chat__reply_error(op->req, "not_found", "user %s not found", op->user);
    else
        chat__reply_store_error(op->req, err, "channel");
    op_free(op);
}

static void on_dm_open(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *user;
    if (chat__field_user_id(req, payload, "user", &user) != 0)
        return;
    const char *me = cc->user->id;
    if (strcmp(user, me) == 0) {
        chat__reply_error(req, "bad_request", "user: a direct message needs another user");
        return;
    }
    if (!chat__user_get(cc->chat, user)) {
        chat__reply_error(req, "not_found", "user %s not found", user);
        return;
    }
    bool me_first = strcmp(me, user) < 0;
    char id[CHAT_ROOM_MAX];
    snprintf(id, sizeof id, "dm:%s:%s", me_first ? me : user, me_first ? user : me);
    chat_channel_t *ch = chat__channel_get(cc->chat, id);
    if (ch) {
        chat__reply_ok(req, json_pack("{s:o}", "channel", chat__channel_json(ch)));
        return;
    }
    const char *members[] = {user};
    store_channel_spec_t spec = {
        .id = id,
        .kind = STORE_DM,
        .created_by = me,
        .members = members,
        .nmembers = 1,
    };
    op_t *op = op_new(cc, req, id, user);
    store_err_t err = store_channel_create(cc->chat->store, &spec, on_dm_created, op);
    if (err != STORE_OK)
        op_refused(op, err, "channel");
}

void chat__channels_init(chat_t *c)
{
    chat__on(c, "channel:create", on_channel_create, false);
    chat__on(c, "channel:join", on_channel_join, false);
    chat__on(c, "channel:leave", on_channel_leave, false);
    chat__on(c, "channel:list", on_channel_list, false);
    chat__on(c, "channel:browse", on_channel_browse, false);
    chat__on(c, "channel:invite", on_channel_invite, false);
    chat__on(c, "invite:create", on_invite_create, false);
    chat__on(c, "invite:accept", on_invite_accept, false);
    chat__on(c, "dm:open", on_dm_open, false);
}
