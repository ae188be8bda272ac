/* voice.c — voice-channel state and WebRTC signalling (PROTOCOL.md "Voice
 * channels and WebRTC signalling"): voice:join, voice:update, voice:leave,
 * rtc:signal, and `voice:state` to the channel's members.
 *
 * Any channel the user is a member of can hold a voice session; a user is
 * in at most one (u->voice, with u->muted, u->deafened, u->speaking). The
 * participants of each channel are kept in `rooms` (channel id -> map of
 * user id -> chat_user_t*), so listing them does not walk the members.
 * A user who is no longer a member of their voice channel (channel:leave)
 * is taken out lazily, the next time the session is looked at.
 *
 * Also here: chat__user_free_modules, the shutdown hook of the ephemeral
 * modules (typing, presence, voice).
 *
 * What it is not: Parley carries no media; rtc:signal only relays offers,
 * answers, candidates and byes between participants of the same channel.
 */
#include "chat/ephemeral.h"
#include "chat/internal.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#define SIGNAL_DATA_MAX 16384 /* bytes of compact JSON */

static map_t rooms; /* channel id -> map_t* of participants; one chat per process */

static map_t *room_get(const char *channel)
{
    return map_get(&rooms, channel, strlen(channel));
}

static void room_add(chat_channel_t *ch, chat_user_t *u)
{
    map_t *r = room_get(ch->id);
    if (!r) {
        r = xcalloc(1, sizeof *r);
        map_init(r);
        map_put(&rooms, ch->id, strlen(ch->id), r);
    }
    map_put(r, u->id, strlen(u->id), u);
}

static void room_remove(chat_channel_t *ch, chat_user_t *u)
{
    map_t *r = room_get(ch->id);
    if (!r)
        return;
    map_del(r, u->id, strlen(u->id));
    if (map_count(r) > 0)
        return;
    map_del(&rooms, ch->id, strlen(ch->id));
    map_free(r);
    free(r);
    if (map_count(&rooms) == 0)
        map_free(&rooms); /* nothing left behind at shutdown */
}

/* {channel, user, joined, muted, deafened, speaking} */
static json_t *state_json(const chat_channel_t *ch, const chat_user_t *u, bool joined)
{
    return json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "channel", ch->id, "user", u->id, "joined",
                     joined, "muted", joined && u->muted, "deafened", joined && u->deafened,
                     "speaking", joined && u->speaking);
}

static void send_state(chat_t *c, const chat_channel_t *ch, const chat_user_t *u, bool joined,
                       const chat_req_t *req)
{
    json_t *state = state_json(ch, u, joined);
    chat__broadcast_channel(c, ch->id, "voice:state", state, req);
    json_decref(state);
}

/* Takes the user out of their voice channel, telling its members (all of
 * their sockets but req's). Returns the channel left, or NULL. */
static chat_channel_t *voice_leave(chat_t *c, chat_user_t *u, const chat_req_t *req)
{
    chat_channel_t *ch = u->voice;
    if (!ch)
        return NULL;
    room_remove(ch, u);
    u->voice = NULL;
    u->muted = u->deafened = u->speaking = false;
    send_state(c, ch, u, false, req);
    return ch;
}

/* The user's voice channel, after dropping a session in a channel they are
 * no longer a member of. */
static chat_channel_t *voice_current(chat_t *c, chat_user_t *u)
{
    if (u->voice && !chat__member_get(u->voice, u->id))
        voice_leave(c, u, NULL);
    return u->voice;
}

typedef struct {
    chat_user_t **users;
    size_t n;
} participants_t;

static int collect_user(const char *key, size_t klen, void *value, void *arg)
{
    participants_t *p = arg;
    p->users[p->n++] = value;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(chat_user_t *const *)a)->id, (*(chat_user_t *const *)b)->id);
}

/* {participants: [{user, muted, deafened, speaking}]} of the channel, by
 * user id; ch NULL gives an empty list. */
static json_t *participants_json(chat_t *c, chat_channel_t *ch)
{
    json_t *list = json_array();
    map_t *r = ch ? room_get(ch->id) : NULL;
    size_t n = r ? map_count(r) : 0;
    participants_t p = {n ? xcalloc(n, sizeof *p.users) : NULL, 0};
    if (r)
        map_each(r, collect_user, &p);
    /* members who left the channel since are dropped first (not listed) */
    for (size_t i = 0; i < p.n; i++)
        if (voice_current(c, p.users[i]) != ch)
            p.users[i] = NULL;
    size_t kept = 0;
    for (size_t i = 0; i < p.n; i++)
        if (p.users[i])
            p.users[kept++] = p.users[i];
    if (kept > 1)
        qsort(p.users, kept, sizeof *p.users, by_id);
    for (size_t i = 0; i < kept; i++)
        json_array_append_new(list,
                              json_pack("{s:s, s:b, s:b, s:b}", "user", p.users[i]->id, "muted",
                                        p.users[i]->muted, "deafened", p.users[i]->deafened,
                                        "speaking", p.users[i]->speaking));
    free(p.users);
    return json_pack("{s:o}", "participants", list);
}

static void on_join(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    chat_t *c = cc->chat;
    chat_user_t *u = cc->user;
    const char *channel;
    if (chat__field_channel_id(req, payload, "channel", true, &channel) != 0)
        return;
    chat_channel_t *cur = voice_current(c, u);
    bool same = cur && strcmp(cur->id, channel) == 0;
    bool muted, deafened;
    /* joining the channel one is in again keeps what is not said */
    if (chat__field_bool(req, payload, "muted", same && u->muted, &muted) != 0 ||
        chat__field_bool(req, payload, "deafened", same && u->deafened, &deafened) != 0)
        return;
    chat_channel_t *ch = chat__require_member(cc, req, channel);
    if (!ch)
        return;
    if (cur && cur != ch)
        voice_leave(c, u, req);
    if (!same) {
        u->speaking = false;
        u->voice = ch;
        room_add(ch, u);
    }
    u->muted = muted;
    u->deafened = deafened;
    send_state(c, ch, u, true, req);
    chat__reply_ok(req, participants_json(c, ch));
}

static void on_update(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    chat_t *c = cc->chat;
    chat_user_t *u = cc->user;
    bool muted, deafened, speaking;
    if (chat__field_bool(req, payload, "muted", u->muted, &muted) != 0 ||
        chat__field_bool(req, payload, "deafened", u->deafened, &deafened) != 0 ||
        chat__field_bool(req, payload, "speaking", u->speaking, &speaking) != 0)
        return;
    chat_channel_t *ch = voice_current(c, u);
    if (!ch) {
        chat__reply_error(req, "conflict", "not in a voice channel: voice:join first");
        return;
    }
    if (muted != u->muted || deafened != u->deafened || speaking != u->speaking) {
        u->muted = muted;
        u->deafened = deafened;
        u->speaking = speaking;
        send_state(c, ch, u, true, req);
    }
    chat__reply_ok(req, participants_json(c, ch));
}

/* Leaving when in no voice channel is not an error: the result is the same. */
static void on_leave(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    chat_t *c = cc->chat;
    voice_current(c, cc->user);
    chat_channel_t *left = voice_leave(c, cc->user, req);
    chat__reply_ok(req, participants_json(c, left));
}

static void on_signal(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    static const char *const types[] = {"offer", "answer", "candidate", "bye"};
    chat_t *c = cc->chat;
    chat_user_t *u = cc->user;
    const char *to;
    if (chat__field_user_id(req, payload, "to", &to) != 0)
        return;
    json_t *tv = json_object_get(payload, "type");
    const char *type = json_string_value(tv);
    size_t i = 0;
    while (type && i < sizeof types / sizeof types[0] &&
           (strlen(types[i]) != json_string_length(tv) || strcmp(types[i], type) != 0))
        i++;
    if (!type || i == sizeof types / sizeof types[0]) {
        chat__reply_error(req, "bad_request",
                          "type: expected \"offer\", \"answer\", \"candidate\" or \"bye\"");
        return;
    }
    json_t *data = json_object_get(payload, "data");
    size_t size = data ? json_dumpb(data, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) : 0;
    if (size > SIGNAL_DATA_MAX) {
        chat__reply_error(req, "too_large", "data: at most %d bytes of JSON, got %zu",
                          SIGNAL_DATA_MAX, size);
        return;
    }
    if (strcmp(to, u->id) == 0) {
        chat__reply_error(req, "bad_request", "to: cannot signal yourself");
        return;
    }
    chat_channel_t *ch = voice_current(c, u);
    if (!ch) {
        chat__reply_error(req, "forbidden", "not in a voice channel: voice:join first");
        return;
    }
    chat_user_t *peer = chat__user_get(c, to);
    if (!peer || voice_current(c, peer) != ch) {
        chat__reply_error(req, "forbidden", "to: user %s is not in your voice channel %s", to,
                          ch->id);
        return;
    }
    json_t *relay = json_pack("{s:s, s:s, s:O}", "from", u->id, "type", types[i], "data",
                              data ? data : json_null());
    chat__emit_user(c, peer->id, "rtc:signal", relay);
    json_decref(relay);
    chat__reply_ok(req, NULL);
}

void chat__voice_init(chat_t *c)
{
    map_init(&rooms);
    chat__on(c, "voice:join", on_join, false);
    chat__on(c, "voice:update", on_update, false);
    chat__on(c, "voice:leave", on_leave, false);
    chat__on(c, "rtc:signal", on_signal, false);
}

void chat__voice_member_left(chat_t *c, chat_channel_t *ch, chat_user_t *u)
{
    if (u->voice == ch)
        voice_leave(c, u, NULL);
}

void chat__voice_disconnected(chat_t *c, chat_user_t *u)
{
    voice_leave(c, u, NULL);
}

void chat__user_free_modules(chat_t *c, chat_user_t *u)
{
    chat__typing_free_user(u);
    chat__presence_free_user(u);
    if (u->voice) {
        room_remove(u->voice, u);
        u->voice = NULL;
    }
}
