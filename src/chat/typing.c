/* typing.c — typing indicators (PROTOCOL.md "Typing"): typing:start and
 * typing:stop from a client become `typing {channel, user, typing}` for the
 * other members of the channel.
 *
 * A user typing in a channel has one typing_t in u->typing (channel id ->
 * typing_t) holding the expiry timer; it exists only while the user is
 * shown as typing there, and is closed (uv_close, freed in the close
 * callback) when the user stops, sends a message, goes quiet for
 * typing_expiry_ms, or loses their last socket.
 *
 * What it is not: nothing here is persisted or acknowledged. typing:* carry
 * no ack, so invalid input (bad channel id, not a member) is dropped
 * without an answer.
 */
#include "chat/ephemeral.h"
#include "chat/internal.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uv_timer_t timer; /* expiry: typing:false after the last start */
    chat_t *chat;
    chat_user_t *user;
    uint64_t last_sent_ms; /* when a start was last rebroadcast */
    char channel[sizeof((chat_channel_t *)0)->id];
} typing_t;

/* To the other users in the channel: the typist's own sockets are left out
 * (another tab of the same user has no use for its own indicator). */
static void send_typing(chat_t *c, const chat_user_t *u, const char *channel, bool typing)
{
    char room[CHAT_ROOM_MAX], self[CHAT_ROOM_MAX];
    chat__channel_room(channel, room, sizeof room);
    chat__user_room(u->id, self, sizeof self);
    const char *rooms[] = {room};
    const char *except[] = {self};
    sio_target_t t = {.rooms = rooms, .num_rooms = 1, .except = except, .num_except = 1};
    json_t *args = json_pack("[{s:s, s:o, s:b}]", "channel", channel, "user", chat__user_json(u),
                             "typing", typing);
    sio_broadcast(c->nsp, &t, "typing", args, NULL, 0);
    json_decref(args);
    c->stats.events_out++;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Forgets the state (the caller has already taken it out of u->typing). */
static void typing_close(typing_t *t)
{
    uv_close((uv_handle_t *)&t->timer, on_closed);
}

/* Shows the user as no longer typing there, if they were. */
static void typing_end(chat_t *c, chat_user_t *u, const char *channel)
{
    typing_t *t = map_del(&u->typing, channel, strlen(channel));
    if (!t)
        return;
    send_typing(c, u, t->channel, false);
    typing_close(t);
}

static void on_expired(uv_timer_t *timer)
{
    typing_t *t = timer->data;
    typing_end(t->chat, t->user, t->channel);
}

/* The channel of a typing:* payload, or NULL when the payload is invalid or
 * the sender is not a member. Nothing is answered: typing has no ack. */
static const char *typing_channel(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    chat_req_t quiet = *req;
    quiet.ack = NULL;
    const char *channel;
    if (chat__field_channel_id(&quiet, payload, "channel", true, &channel) != 0)
        return NULL;
    chat_channel_t *ch = chat__channel_get(cc->chat, channel);
    if (!ch || !chat__member_get(ch, cc->user->id))
        return NULL;
    return ch->id;
}

static void on_start(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    chat_t *c = cc->chat;
    chat_user_t *u = cc->user;
    const char *channel = typing_channel(cc, payload, req);
    if (!channel)
        return;
    uint64_t now = uv_now(c->loop);
    typing_t *t = map_get(&u->typing, channel, strlen(channel));
    if (!t) {
        t = xcalloc(1, sizeof *t);
        t->chat = c;
        t->user = u;
        snprintf(t->channel, sizeof t->channel, "%s", channel);
        uv_timer_init(c->loop, &t->timer);
        t->timer.data = t;
        map_put(&u->typing, t->channel, strlen(t->channel), t);
        t->last_sent_ms = now;
        send_typing(c, u, channel, true);
    } else if (now - t->last_sent_ms >= c->cfg.typing_throttle_ms) {
        /* a refresh for receivers that time indicators out themselves */
        t->last_sent_ms = now;
        send_typing(c, u, channel, true);
    }
    uv_timer_start(&t->timer, on_expired, c->cfg.typing_expiry_ms, 0);
}

static void on_stop(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    const char *channel = typing_channel(cc, payload, req);
    if (channel)
        typing_end(cc->chat, cc->user, channel);
}

void chat__typing_init(chat_t *c)
{
    chat__on(c, "typing:start", on_start, true);
    chat__on(c, "typing:stop", on_stop, true);
}

void chat__typing_user_sent(chat_t *c, chat_user_t *u, const char *channel)
{
    typing_end(c, u, channel);
}

static int end_each(const char *key, size_t klen, void *value, void *arg)
{
    typing_t *t = value;
    map_del(&t->user->typing, t->channel, strlen(t->channel));
    send_typing(t->chat, t->user, t->channel, false);
    typing_close(t);
    return 0;
}

void chat__typing_disconnected(chat_t *c, chat_user_t *u)
{
    map_each(&u->typing, end_each, NULL);
}

static int close_each(const char *key, size_t klen, void *value, void *arg)
{
    typing_t *t = value;
    map_del(&t->user->typing, t->channel, strlen(t->channel));
    typing_close(t);
    return 0;
}

/* At shutdown: closes the timers without telling anyone. */
void chat__typing_free_user(chat_user_t *u)
{
    map_each(&u->typing, close_each, NULL);
}
