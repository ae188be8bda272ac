/* receipts.c — read:mark (PROTOCOL.md "Read receipts").
 *
 * The store moves last_read inside its write transaction and never
 * backwards; after the commit the model's member record follows, and only
 * when it moved do the channel's other sockets (the user's other devices
 * included) get `read {channel, user, seq}`. The ack is {lastRead}: where it
 * is now, also when this request did not move it.
 *
 * Decisions: seq is an integer 0..the channel's current seq (bad_request
 * beyond: a client cannot have read what does not exist yet); membership is
 * required (not_found / forbidden).
 *
 * What it is not: unread counts (the store computes them for channel:list
 * and `ready`).
 */
#include "chat/internal.h"
#include "core/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    chat_req_t *req;
    char channel[CHAT_ROOM_MAX];
} mark_t;

static void on_marked(store_err_t err, uint64_t last_read, bool changed, void *arg)
{
    mark_t *mk = arg;
    chat_req_t *req = mk->req;
    chat_t *c = req->chat;
    if (err == STORE_E_NOT_FOUND) {
        chat__reply_error(req, "forbidden", "not a member of channel %s", mk->channel);
    } else if (err != STORE_OK) {
        chat__reply_store_error(req, err, "read mark");
    } else {
        chat_channel_t *ch = chat__channel_get(c, mk->channel);
        chat_member_t *m = ch ? chat__member_get(ch, req->user) : NULL;
        if (m && last_read > m->last_read)
            m->last_read = last_read;
        if (changed) {
            json_t *ev = json_pack("{s:s, s:s, s:I}", "channel", mk->channel, "user", req->user,
                                   "seq", (json_int_t)last_read);
            chat__broadcast_channel(c, mk->channel, "read", ev, req);
            json_decref(ev);
        }
        chat__reply_ok(req, json_pack("{s:I}", "lastRead", (json_int_t)last_read));
    }
    chat__req_free(req);
    free(mk);
}

static void on_mark(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *channel;
    uint64_t seq;
    if (chat__field_channel_id(req, payload, "channel", true, &channel) != 0 ||
        chat__field_uint(req, payload, "seq", (uint64_t)INT64_MAX, false, 0, &seq) != 0)
        return;
    chat_channel_t *ch = chat__require_member(cc, req, channel);
    if (!ch)
        return;
    if (seq > ch->seq) {
        chat__reply_error(req, "bad_request", "seq: %llu is beyond the channel's last seq %llu",
                          (unsigned long long)seq, (unsigned long long)ch->seq);
        return;
    }
    mark_t *mk = xcalloc(1, sizeof *mk);
    mk->req = chat__req_keep(req);
    snprintf(mk->channel, sizeof mk->channel, "%s", channel);
    store_err_t err = store_read_mark(cc->chat->store, channel, cc->user->id, seq, on_marked, mk);
    if (err != STORE_OK) {
        chat__reply_store_error(mk->req, err, "read mark");
        chat__req_free(mk->req);
        free(mk);
    }
}

void chat__receipts_init(chat_t *c)
{
    chat__on(c, "read:mark", on_mark, false);
}
