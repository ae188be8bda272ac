/* messages.c — message:send, message:edit, message:delete, reaction:add and
 * reaction:remove (PROTOCOL.md "Messages").
 *
 * Every request here follows the delivery promise: validate and check
 * permissions from the in-memory model, hand the write to the store, and only
 * in the store's callback (after the commit) move the channel's seq, broadcast
 * to the channel's other sockets, create notifications, and answer.
 *
 * Ack shapes (PROTOCOL.md leaves the last four open; decided here):
 *   message:send     {ok:true, message}                     a new message
 *                    {ok:true, message, duplicate:true}     a retry of a clientId
 *                                                           this user sent before:
 *                                                           the original, as it is
 *                                                           now; nothing broadcast
 *   message:edit     {ok:true, event:{type:"message:updated", channel, id, seq, text, editedAt}}
 *   message:delete   {ok:true, event:{type:"message:deleted", channel, id, seq}}
 *   reaction:add     {ok:true, event:{type:"reaction:updated", channel, id, seq, emoji, user,
 *   reaction:remove                   op}}
 *   `event` is exactly one channel:sync event: the broadcast payload with its
 *   event name as `type`. A delete of a deleted message, an add of a reaction
 *   already there and a remove of one not there change nothing:
 *   {ok:true, unchanged:true}, no seq taken, nothing broadcast.
 * When a send or a reaction notifies someone, the ack waits until those
 * notifications are committed too, so an ack means every effect is stored.
 *
 * Limits: text 1..cfg.max_text_chars characters (code points) and at most
 * cfg.max_text_bytes bytes — empty or not a string is bad_request, over
 * either limit is too_large; clientId 1-64 characters; message ids 1-64
 * characters; emoji 1-32 characters, at most 64 bytes, no whitespace or
 * control characters. message:send also takes a token from the user's
 * `sends` bucket (after validation: a refused request costs nothing).
 *
 * What it is not: no history reads (history.c), no notification requests
 * (notifications.c).
 */
#include "chat/internal.h"
#include "chat/notifications.h"
#include "chat/tail.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/utf8.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_ID_MAX 64
#define CLIENT_ID_MAX 64
#define EMOJI_MAX_CHARS 32
#define EMOJI_MAX_BYTES 64

/* ---- validation ---- */

static size_t count_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Message text: bad_request when absent, not a string, empty, with NUL or
 * not UTF-8; too_large when over the byte or character limit. */
static int field_text(chat_req_t *req, json_t *payload, const char *field, const char **out)
{
    const chat_config_t *cfg = &req->chat->cfg;
    json_t *v = json_object_get(payload, field);
    *out = NULL;
    if (!v || json_is_null(v)) {
        chat__reply_error(req, "bad_request", "%s: required, expected a string of 1-%zu characters",
                          field, cfg->max_text_chars);
        return -1;
    }
    if (!json_is_string(v)) {
        chat__reply_error(req, "bad_request", "%s: expected a string of 1-%zu characters", field,
                          cfg->max_text_chars);
        return -1;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0) {
        chat__reply_error(req, "bad_request", "%s: must not be empty", field);
        return -1;
    }
    if (strlen(s) != len) {
        chat__reply_error(req, "bad_request", "%s: must not contain NUL characters", field);
        return -1;
    }
    if (!utf8_valid(s, len)) {
        chat__reply_error(req, "bad_request", "%s: not valid UTF-8", field);
        return -1;
    }
    if (len > cfg->max_text_bytes) {
        chat__reply_error(req, "too_large", "%s: at most %zu bytes, got %zu", field,
                          cfg->max_text_bytes, len);
        return -1;
    }
    size_t chars = count_chars(s, len);
    if (chars > cfg->max_text_chars) {
        chat__reply_error(req, "too_large", "%s: at most %zu characters, got %zu", field,
                          cfg->max_text_chars, chars);
        return -1;
    }
    *out = s;
    return 0;
}

static int field_emoji(chat_req_t *req, json_t *payload, const char **out)
{
    if (chat__field_string(req, payload, "emoji", EMOJI_MAX_CHARS, false, out) != 0)
        return -1;
    size_t len = strlen(*out);
    if (len > EMOJI_MAX_BYTES) {
        chat__reply_error(req, "bad_request", "emoji: at most %d bytes, got %zu", EMOJI_MAX_BYTES,
                          len);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)(*out)[i];
        if (ch <= 0x20 || ch == 0x7F) {
            chat__reply_error(req, "bad_request",
                              "emoji: must not contain whitespace or control characters");
            return -1;
        }
    }
    return 0;
}

/* {ok:false, error:{code:"rate_limited", message, retryAfterMs}}: the
 * framework's chat__reply_error has no retryAfterMs, so it is built here. */
static void reply_rate_limited(chat_req_t *req, uint64_t wait, chat_t *c)
{
    c->stats.rate_limited++;
    c->stats.errors++;
    if (!req->ack)
        return;
    char msg[128];
    snprintf(msg, sizeof msg, "message:send: at most %.0f per second per user (burst %.0f)",
             c->cfg.send_rate, c->cfg.send_burst);
    json_t *args = json_pack("[{s:b, s:{s:s, s:s, s:I}}]", "ok", 0, "error", "code", "rate_limited",
                             "message", msg, "retryAfterMs", (json_int_t)wait);
    /* sio_ack_send releases the retained handle when it sends or finds the
     * socket gone; only a refusal leaves it to us (as server.c answers). */
    int r = sio_ack_send(req->ack, args, NULL, 0);
    if (r != SIO_OK && r != SIO_E_CLOSED)
        sio_ack_release(req->ack);
    json_decref(args);
    req->ack = NULL;
}

/* ---- shared pieces of the store callbacks ---- */

/* The channel's seq moves only after a commit, and only forwards (write
 * callbacks run in commit order, but a join elsewhere may have moved it). */
static chat_channel_t *advance_seq(chat_t *c, const store_event_t *ev)
{
    chat_channel_t *ch = chat__channel_get(c, ev->channel);
    if (ch && ev->seq > ch->seq)
        ch->seq = ev->seq;
    return ch;
}

/* {type, ...payload}: the shape of a channel:sync event. */
static json_t *event_json(const store_event_t *ev)
{
    json_t *o = json_pack("{s:s}", "type", ev->type);
    json_object_update(o, ev->payload);
    return o;
}

/* A request waiting for its write (and maybe its notifications). */
typedef struct op {
    struct op *next_free;
    chat_req_t *req; /* &kept */
    chat_req_t kept;
    json_t *answer;     /* the ok fields, once the write committed */
    char *message_json; /* or {message:<this text>} (a send waiting for notifications) */
    size_t message_len;
    bool has_reply;     /* message:send with replyTo */
    const char *action; /* "edit" / "delete" / ... for error messages */
    char channel[CHAT_ROOM_MAX];
    char id[MESSAGE_ID_MAX + 1];
} op_t;

/* Ops kept for reuse: one per request in flight, freed in another loop
 * turn than the one that made it, in bursts of hundreds under load, which
 * malloc's per-thread cache does not absorb. */
#define OPS_KEPT 4096
static op_t *free_ops;
static size_t nfree_ops;

static op_t *op_new(chat_req_t *req, const char *action, const char *channel, const char *id)
{
    op_t *op = free_ops;
    if (op) {
        free_ops = op->next_free;
        nfree_ops--;
    } else {
        op = xmalloc(sizeof *op);
    }
    memset(op, 0, offsetof(op_t, channel));
    op->channel[0] = op->id[0] = '\0';
    chat__req_move(req, &op->kept);
    op->req = &op->kept;
    op->action = action;
    chat__copy(op->channel, sizeof op->channel, channel);
    if (id)
        chat__copy(op->id, sizeof op->id, id);
    return op;
}

static void op_free(op_t *op)
{
    chat__req_drop(op->req);
    json_decref(op->answer);
    free(op->message_json);
    if (nfree_ops >= OPS_KEPT) {
        free(op);
        return;
    }
    op->next_free = free_ops;
    free_ops = op;
    nfree_ops++;
}

/* Answers with the prepared fields; the notifications (if any) are in. */
static void op_finish(void *arg)
{
    op_t *op = arg;
    if (op->message_json) {
        chat__reply_ok_json(op->req, "message", op->message_json, op->message_len);
    } else {
        chat__reply_ok(op->req, op->answer);
        op->answer = NULL;
    }
    op_free(op);
}

/* The store refused to queue the write (closing, or an argument it finds
 * invalid that our validation let through). */
static void op_refused(op_t *op, store_err_t err)
{
    chat__reply_store_error(op->req, err, "message");
    op_free(op);
}

/* ---- message:send ---- */

static void on_inserted(store_err_t err, const store_message_t *msg, const store_event_t *ev,
                        bool duplicate, void *arg)
{
    op_t *op = arg;
    chat_t *c = op->req->chat;
    if (err == STORE_E_INVALID && op->has_reply) {
        chat__reply_error(op->req, "not_found", "replyTo: message %s not found in channel %s",
                          op->id, op->channel);
        op_free(op);
        return;
    }
    if (err == STORE_E_NOT_FOUND) {
        chat__reply_error(op->req, "not_found", "channel %s not found", op->channel);
        op_free(op);
        return;
    }
    if (err != STORE_OK) {
        chat__reply_store_error(op->req, err, "message");
        op_free(op);
        return;
    }
    if (duplicate) {
        op->answer = json_pack("{s:o, s:b}", "message", store_message_to_json(msg), "duplicate", 1);
        op_finish(op);
        return;
    }
    chat_channel_t *ch = advance_seq(c, ev);
    chat__tail_event(c, ev);
    c->stats.messages++;
    /* The store's text of the message goes out as it is, in the broadcast
     * and in the ack: no JSON work here (DESIGN.md "encode once"). */
    chat__broadcast_channel_json(c, ev->channel, ev->type, ev->payload_json, ev->payload_len,
                                 op->req);
    chat_user_t *u = chat__user_get(c, op->req->user);
    if (u)
        chat__typing_user_sent(c, u, ev->channel);
    if (chat__notify_message(c, ch, msg, op_finish, op)) {
        /* The ack waits for the notifications; the store's text does not. */
        op->message_json = xmemdup(ev->payload_json, ev->payload_len);
        op->message_len = ev->payload_len;
        return;
    }
    chat__reply_ok_json(op->req, "message", ev->payload_json, ev->payload_len);
    op_free(op);
}

static void on_send(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    chat_t *c = cc->chat;
    const char *channel, *client_id, *text, *reply_to;
    if (chat__field_channel_id(req, payload, "channel", true, &channel) != 0 ||
        chat__field_string(req, payload, "clientId", CLIENT_ID_MAX, false, &client_id) != 0 ||
        field_text(req, payload, "text", &text) != 0 ||
        chat__field_string(req, payload, "replyTo", MESSAGE_ID_MAX, true, &reply_to) != 0)
        return;
    if (!chat__require_member(cc, req, channel))
        return;
    ratelimit_cfg_t rl = {c->cfg.send_rate, c->cfg.send_burst};
    uint64_t wait = ratelimit_take(&cc->user->sends, &rl, uv_now(c->loop));
    if (wait) {
        reply_rate_limited(req, wait, c);
        return;
    }
    op_t *op = op_new(req, "send", channel, reply_to);
    op->has_reply = reply_to != NULL;
    store_message_spec_t spec = {
        .channel = channel,
        .author = cc->user->id,
        .text = text,
        .client_id = client_id,
        .reply_to = reply_to,
    };
    store_err_t err = store_message_insert(c->store, &spec, on_inserted, op);
    if (err != STORE_OK)
        op_refused(op, err);
}

/* ---- edit, delete, reactions ---- */

static void on_event_written(store_err_t err, const store_event_t *ev, void *arg)
{
    op_t *op = arg;
    chat_t *c = op->req->chat;
    if (err == STORE_E_NOT_FOUND) {
        chat__reply_error(op->req, "not_found", "message %s not found in channel %s", op->id,
                          op->channel);
        op_free(op);
        return;
    }
    if (err == STORE_E_FORBIDDEN) {
        if (strcmp(op->action, "edit") == 0)
            chat__reply_error(op->req, "forbidden", "only its author may edit message %s", op->id);
        else
            chat__reply_error(op->req, "forbidden",
                              "only its author or a channel owner/admin may delete message %s",
                              op->id);
        op_free(op);
        return;
    }
    if (err != STORE_OK) {
        chat__reply_store_error(op->req, err, "message");
        op_free(op);
        return;
    }
    if (ev->unchanged) {
        op->answer = json_pack("{s:b}", "unchanged", 1);
        op_finish(op);
        return;
    }
    chat_channel_t *ch = advance_seq(c, ev);
    chat__tail_event(c, ev);
    chat__broadcast_channel(c, ev->channel, ev->type, ev->payload, op->req);
    op->answer = json_pack("{s:o}", "event", event_json(ev));
    if (strcmp(op->action, "react") == 0 && ev->message &&
        chat__notify_reaction(c, ch, ev->message, op->req->user, op_finish, op))
        return;
    op_finish(op);
}

/* The fields every request on an existing message has: channel and id. */
static int message_target(json_t *payload, chat_req_t *req, const char **channel, const char **id)
{
    if (chat__field_channel_id(req, payload, "channel", true, channel) != 0 ||
        chat__field_string(req, payload, "id", MESSAGE_ID_MAX, false, id) != 0)
        return -1;
    return 0;
}

static void on_edit(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *channel, *id, *text;
    if (message_target(payload, req, &channel, &id) != 0 ||
        field_text(req, payload, "text", &text) != 0 || !chat__require_member(cc, req, channel))
        return;
    op_t *op = op_new(req, "edit", channel, id);
    store_err_t err =
        store_message_edit(cc->chat->store, channel, id, cc->user->id, text, on_event_written, op);
    if (err != STORE_OK)
        op_refused(op, err);
}

static void on_delete(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *channel, *id;
    if (message_target(payload, req, &channel, &id) != 0 || !chat__require_member(cc, req, channel))
        return;
    op_t *op = op_new(req, "delete", channel, id);
    store_err_t err =
        store_message_delete(cc->chat->store, channel, id, cc->user->id, on_event_written, op);
    if (err != STORE_OK)
        op_refused(op, err);
}

static void reaction(chat_conn_t *cc, json_t *payload, chat_req_t *req, bool add)
{
    const char *channel, *id, *emoji;
    if (message_target(payload, req, &channel, &id) != 0 ||
        field_emoji(req, payload, &emoji) != 0 || !chat__require_member(cc, req, channel))
        return;
    op_t *op = op_new(req, add ? "react" : "unreact", channel, id);
    store_err_t err = add ? store_reaction_add(cc->chat->store, channel, id, cc->user->id, emoji,
                                               on_event_written, op)
                          : store_reaction_remove(cc->chat->store, channel, id, cc->user->id, emoji,
                                                  on_event_written, op);
    if (err != STORE_OK)
        op_refused(op, err);
}

static void on_reaction_add(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    reaction(cc, payload, req, true);
}

static void on_reaction_remove(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    reaction(cc, payload, req, false);
}

void chat__messages_init(chat_t *c)
{
    chat__on(c, "message:send", on_send, false);
    chat__on(c, "message:edit", on_edit, false);
    chat__on(c, "message:delete", on_delete, false);
    chat__on(c, "reaction:add", on_reaction_add, false);
    chat__on(c, "reaction:remove", on_reaction_remove, false);
}
