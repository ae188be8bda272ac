/* server.c — the chat core: the in-memory model, connecting (auth, limits,
 * `ready`), request dispatch with rate limits, replies, broadcasts and field
 * validation. Feature handlers live in their own files (channels.c,
 * messages.c, ...) and register through chat__on.
 */
#include "chat/internal.h"
#include "chat/tail.h"
#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef struct {
    chat_handler_fn fn;
    bool no_ack;
} handler_t;

static map_t handlers; /* event name -> handler_t*; one chat per process */

int64_t chat__now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- model ---- */

chat_user_t *chat__user_get(chat_t *c, const char *id)
{
    return map_get(&c->users, id, strlen(id));
}

chat_user_t *chat__user_ensure(chat_t *c, const char *id, const char *name)
{
    chat_user_t *u = chat__user_get(c, id);
    if (u) {
        if (name && strcmp(name, u->name) != 0) {
            free(u->name);
            u->name = xstrdup(name);
        }
        return u;
    }
    u = xcalloc(1, sizeof *u);
    snprintf(u->id, sizeof u->id, "%s", id);
    u->name = xstrdup(name ? name : id);
    map_init(&u->channels);
    map_init(&u->typing);
    ratelimit_cfg_t rl = {c->cfg.send_rate, c->cfg.send_burst};
    ratelimit_init(&u->sends, &rl, uv_now(c->loop));
    ratelimit_cfg_t cl = {c->cfg.connect_rate, c->cfg.connect_burst};
    ratelimit_init(&u->connects, &cl, uv_now(c->loop));
    map_put(&c->users, u->id, strlen(u->id), u);
    return u;
}

chat_channel_t *chat__channel_get(chat_t *c, const char *id)
{
    return map_get(&c->channels, id, strlen(id));
}

chat_channel_t *chat__channel_add(chat_t *c, const store_channel_t *sc)
{
    chat_channel_t *ch = chat__channel_get(c, sc->id);
    if (!ch) {
        ch = xcalloc(1, sizeof *ch);
        snprintf(ch->id, sizeof ch->id, "%s", sc->id);
        map_init(&ch->members);
        map_put(&c->channels, ch->id, strlen(ch->id), ch);
    }
    free(ch->name);
    free(ch->topic);
    ch->name = xstrdup(sc->name ? sc->name : sc->id);
    ch->topic = xstrdup(sc->topic ? sc->topic : "");
    ch->kind = sc->kind;
    if (sc->seq > ch->seq)
        ch->seq = sc->seq;
    return ch;
}

chat_member_t *chat__member_get(const chat_channel_t *ch, const char *user)
{
    return map_get(&ch->members, user, strlen(user));
}

size_t chat__member_count(const chat_channel_t *ch)
{
    return map_count(&ch->members);
}

void chat__copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void room_name(char prefix, const char *id, char *out, size_t outsz)
{
    out[0] = prefix;
    out[1] = ':';
    chat__copy(out + 2, outsz - 2, id);
}

void chat__channel_room(const char *channel, char *out, size_t outsz)
{
    room_name('c', channel, out, outsz);
}

void chat__user_room(const char *user, char *out, size_t outsz)
{
    room_name('u', user, out, outsz);
}

void chat__member_set(chat_t *c, chat_channel_t *ch, chat_user_t *u, store_role_t role,
                      uint64_t last_read)
{
    chat_member_t *m = chat__member_get(ch, u->id);
    if (!m) {
        m = xcalloc(1, sizeof *m);
        map_put(&ch->members, u->id, strlen(u->id), m);
        map_put(&u->channels, ch->id, strlen(ch->id), ch);
        char room[CHAT_ROOM_MAX];
        chat__channel_room(ch->id, room, sizeof room);
        for (chat_conn_t *cc = u->conns; cc; cc = cc->next_of_user)
            sio_join(cc->sock, room);
        if (!c->loading)
            chat__presence_member_joined(c, ch, u);
    }
    m->role = role;
    if (last_read > m->last_read)
        m->last_read = last_read;
}

void chat__member_drop(chat_t *c, chat_channel_t *ch, chat_user_t *u)
{
    chat_member_t *m = map_del(&ch->members, u->id, strlen(u->id));
    if (!m)
        return;
    free(m);
    map_del(&u->channels, ch->id, strlen(ch->id));
    chat__voice_member_left(c, ch, u);
    char room[CHAT_ROOM_MAX];
    chat__channel_room(ch->id, room, sizeof room);
    for (chat_conn_t *cc = u->conns; cc; cc = cc->next_of_user)
        sio_leave(cc->sock, room);
}

json_t *chat__channel_json(const chat_channel_t *ch)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", ch->id, "name", ch->name, "kind",
                     store_kind_name(ch->kind), "topic", ch->topic, "seq", (json_int_t)ch->seq,
                     "members", (json_int_t)chat__member_count(ch));
}

json_t *chat__user_json(const chat_user_t *u)
{
    return json_pack("{s:s, s:s}", "id", u->id, "name", u->name);
}

/* ---- replies and broadcasts ---- */

void chat__req_move(chat_req_t *req, chat_req_t *into)
{
    *into = *req;
    if (into->ack)
        into->ack = sio_ack_retain(into->ack);
    req->ack = NULL; /* the kept copy answers */
}

void chat__req_drop(chat_req_t *req)
{
    if (req->ack)
        sio_ack_release(req->ack);
    req->ack = NULL;
}

chat_req_t *chat__req_keep(chat_req_t *req)
{
    chat_req_t *k = xmalloc(sizeof *k);
    chat__req_move(req, k);
    return k;
}

void chat__req_free(chat_req_t *req)
{
    chat__req_drop(req);
    free(req);
}

static void answer(chat_req_t *req, json_t *obj)
{
    if (req->ack) {
        json_t *args = json_pack("[o]", obj);
        /* sio_ack_send releases the retained handle when it sends (or finds
         * the socket gone); only a refusal leaves it to us. */
        int r = sio_ack_send(req->ack, args, NULL, 0);
        if (r != SIO_OK && r != SIO_E_CLOSED)
            sio_ack_release(req->ack);
        json_decref(args);
        req->ack = NULL;
    } else {
        json_decref(obj);
    }
}

void chat__reply_ok(chat_req_t *req, json_t *fields)
{
    json_t *obj = fields && json_is_object(fields) ? fields : json_object();
    if (fields && !json_is_object(fields))
        json_decref(fields);
    json_object_set_new(obj, "ok", json_true());
    answer(req, obj);
}

static void reply_error_v(chat_req_t *req, const char *code, uint64_t retry_after,
                          const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    req->chat->stats.errors++;
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", msg);
    if (retry_after)
        json_object_set_new(err, "retryAfterMs", json_integer((json_int_t)retry_after));
    answer(req, json_pack("{s:b, s:o}", "ok", 0, "error", err));
}

void chat__reply_error(chat_req_t *req, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(req, code, 0, fmt, ap);
    va_end(ap);
}

static void reply_rate_limited(chat_req_t *req, uint64_t retry_after, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(req, "rate_limited", retry_after, fmt, ap);
    va_end(ap);
}

void chat__reply_store_error(chat_req_t *req, store_err_t err, const char *what)
{
    switch (err) {
    case STORE_E_NOT_FOUND: chat__reply_error(req, "not_found", "%s not found", what); break;
    case STORE_E_CONFLICT: chat__reply_error(req, "conflict", "%s already exists", what); break;
    case STORE_E_FORBIDDEN: chat__reply_error(req, "forbidden", "not allowed on %s", what); break;
    case STORE_E_INVALID: chat__reply_error(req, "bad_request", "invalid %s", what); break;
    default:
        log_error("store_failed", "%s: %s", what, store_strerror(err));
        chat__reply_error(req, "internal", "the store failed; nothing was changed");
    }
}

void chat__broadcast_channel(chat_t *c, const char *channel, const char *event, json_t *payload,
                             const chat_req_t *req)
{
    char room[CHAT_ROOM_MAX];
    chat__channel_room(channel, room, sizeof room);
    const char *rooms[] = {room};
    const char *except[] = {req ? req->socket_id : NULL};
    sio_target_t t = {.rooms = rooms, .num_rooms = 1, .except = except,
                      .num_except = req && req->socket_id[0] ? 1 : 0};
    json_t *args = json_pack("[O]", payload);
    sio_broadcast(c->nsp, &t, event, args, NULL, 0);
    json_decref(args);
    c->stats.events_out++;
}

/* c->text := "[" value "]" or "[{"key":value,"ok":true}]"; false when it
 * does not fit (never for a store payload: both are far below the cap). */
static bool wrap_json(chat_t *c, const char *key, const char *value, size_t len)
{
    buf_t *b = &c->text;
    buf_reset(b);
    buf_err_t e = buf_append_str(b, key ? "[{\"" : "[");
    if (e == BUF_OK && key) {
        e = buf_append_str(b, key);
        if (e == BUF_OK)
            e = buf_append_str(b, "\":");
    }
    if (e == BUF_OK)
        e = buf_append(b, value, len);
    if (e == BUF_OK)
        e = buf_append_str(b, key ? ",\"ok\":true}]" : "]");
    return e == BUF_OK;
}

void chat__broadcast_channel_json(chat_t *c, const char *channel, const char *event,
                                  const char *payload_json, size_t len, const chat_req_t *req)
{
    char room[CHAT_ROOM_MAX];
    chat__channel_room(channel, room, sizeof room);
    const char *rooms[] = {room};
    const char *except[] = {req ? req->socket_id : NULL};
    sio_target_t t = {.rooms = rooms, .num_rooms = 1, .except = except,
                      .num_except = req && req->socket_id[0] ? 1 : 0};
    if (!wrap_json(c, NULL, payload_json, len)) {
        log_error("broadcast_failed", "%s on %s: %zu bytes of payload", event, channel, len);
        return;
    }
    sio_broadcast_json(c->nsp, &t, event, c->text.data, c->text.len);
    c->stats.events_out++;
}

void chat__reply_ok_json(chat_req_t *req, const char *key, const char *value_json, size_t len)
{
    if (!req->ack)
        return;
    int r = SIO_E_TOO_BIG;
    if (wrap_json(req->chat, key, value_json, len))
        r = sio_ack_send_json(req->ack, req->chat->text.data, req->chat->text.len);
    if (r != SIO_OK && r != SIO_E_CLOSED)
        sio_ack_release(req->ack);
    req->ack = NULL;
}

void chat__emit_user(chat_t *c, const char *user, const char *event, json_t *payload)
{
    char room[CHAT_ROOM_MAX];
    chat__user_room(user, room, sizeof room);
    const char *rooms[] = {room};
    sio_target_t t = {.rooms = rooms, .num_rooms = 1};
    json_t *args = json_pack("[O]", payload);
    sio_broadcast(c->nsp, &t, event, args, NULL, 0);
    json_decref(args);
    c->stats.events_out++;
}

/* ---- validation ---- */

/* Characters in a string jansson has already checked to be valid UTF-8:
 * every byte that is not a continuation byte starts one. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int bad_request(chat_req_t *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bad_request(chat_req_t *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(req, "bad_request", 0, fmt, ap);
    va_end(ap);
    return -1;
}

int chat__field_string(chat_req_t *req, json_t *payload, const char *field, size_t max,
                       bool optional, const char **out)
{
    json_t *v = json_object_get(payload, field);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (optional)
            return 0;
        return bad_request(req, "%s: required, expected a string of 1-%zu characters", field,
                           max);
    }
    if (!json_is_string(v))
        return bad_request(req, "%s: expected a string of 1-%zu characters", field, max);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len)
        return bad_request(req, "%s: must not contain NUL characters", field);
    size_t chars = utf8_chars(s, len);
    if (chars == 0 || chars > max)
        return bad_request(req, "%s: expected 1-%zu characters, got %zu", field, max, chars);
    *out = s;
    return 0;
}

static int id_chars_ok(const char *s, size_t len, const char *extra)
{
    if (len < 1 || len > CHAT_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
              (extra && strchr(extra, ch))))
            return 0;
    }
    return 1;
}

int chat__field_channel_id(chat_req_t *req, json_t *payload, const char *field, bool allow_dm,
                           const char **out)
{
    json_t *v = json_object_get(payload, field);
    *out = NULL;
    if (!json_is_string(v))
        return bad_request(req, "%s: expected a channel id matching ^[a-z0-9_-]{1,64}$", field);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (allow_dm && len > 3 && strncmp(s, "dm:", 3) == 0) {
        const char *colon = memchr(s + 3, ':', len - 3);
        if (colon && chat_auth_user_id_valid(s + 3, (size_t)(colon - s - 3)) &&
            chat_auth_user_id_valid(colon + 1, len - (size_t)(colon + 1 - s))) {
            *out = s;
            return 0;
        }
        return bad_request(req, "%s: expected dm:<user>:<user>", field);
    }
    if (!id_chars_ok(s, len, NULL))
        return bad_request(req, "%s: expected a channel id matching ^[a-z0-9_-]{1,64}$", field);
    *out = s;
    return 0;
}

int chat__field_user_id(chat_req_t *req, json_t *payload, const char *field, const char **out)
{
    json_t *v = json_object_get(payload, field);
    *out = NULL;
    if (!json_is_string(v) || !chat_auth_user_id_valid(json_string_value(v), json_string_length(v)))
        return bad_request(req, "%s: expected a user id matching ^[a-z0-9_.@-]{1,64}$", field);
    *out = json_string_value(v);
    return 0;
}

int chat__field_uint_range(chat_req_t *req, json_t *payload, const char *field, uint64_t min,
                           uint64_t max, bool optional, uint64_t dflt, uint64_t *out)
{
    json_t *v = json_object_get(payload, field);
    if (!v || json_is_null(v)) {
        if (optional) {
            *out = dflt;
            return 0;
        }
        return bad_request(req, "%s: required, expected an integer %llu-%llu", field,
                           (unsigned long long)min, (unsigned long long)max);
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max)
        return bad_request(req, "%s: expected an integer %llu-%llu", field,
                           (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int chat__field_uint(chat_req_t *req, json_t *payload, const char *field, uint64_t max,
                     bool optional, uint64_t dflt, uint64_t *out)
{
    return chat__field_uint_range(req, payload, field, 0, max, optional, dflt, out);
}

int chat__field_bool(chat_req_t *req, json_t *payload, const char *field, bool dflt, bool *out)
{
    json_t *v = json_object_get(payload, field);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v))
        return bad_request(req, "%s: expected true or false", field);
    *out = json_is_true(v);
    return 0;
}

chat_channel_t *chat__require_member(chat_conn_t *cc, chat_req_t *req, const char *channel)
{
    chat_channel_t *ch = chat__channel_get(cc->chat, channel);
    if (!ch) {
        chat__reply_error(req, "not_found", "channel %s not found", channel);
        return NULL;
    }
    if (!chat__member_get(ch, cc->user->id)) {
        chat__reply_error(req, "forbidden", "not a member of channel %s", channel);
        return NULL;
    }
    return ch;
}

/* ---- dispatch ---- */

void chat__on(chat_t *c, const char *event, chat_handler_fn fn, bool no_ack)
{
    handler_t *h = xcalloc(1, sizeof *h);
    h->fn = fn;
    h->no_ack = no_ack;
    free(map_put(&handlers, event, strlen(event), h));
}

static void on_event(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                     size_t nbins, sio_ack_t *ack, void *ud)
{
    chat_t *c = ud;
    chat_conn_t *cc = sio_socket_data(s);
    if (!cc || !cc->user)
        return;
    c->stats.events_in++;
    chat_req_t req = {.chat = c, .ack = ack ? sio_ack_retain(ack) : NULL};
    chat__copy(req.socket_id, sizeof req.socket_id, sio_socket_id(s));
    chat__copy(req.user, sizeof req.user, cc->user->id);

    handler_t *h = map_get(&handlers, event, strlen(event));
    uint64_t now = uv_now(c->loop);
    ratelimit_cfg_t rl = {c->cfg.event_rate, c->cfg.event_burst};
    uint64_t wait = ratelimit_take(&cc->events, &rl, now);
    if (wait) {
        c->stats.rate_limited++;
        if (now - cc->refusal_window_ms >= 60000) {
            cc->refusal_window_ms = now;
            cc->refusals = 0;
        }
        if (++cc->refusals > c->cfg.max_refusals) {
            log_warn("abuse_disconnect", "user %s: %u refused events within a minute",
                     cc->user->id, cc->refusals);
            if (req.ack)
                sio_ack_release(req.ack);
            sio_disconnect(s, 1);
            return;
        }
        if (h && !h->no_ack)
            reply_rate_limited(&req, wait, "too many events: at most %.0f/s (burst %.0f)",
                               c->cfg.event_rate, c->cfg.event_burst);
        else if (req.ack)
            sio_ack_release(req.ack);
        return;
    }
    if (!h) {
        chat__reply_error(&req, "bad_request", "unknown event \"%s\"", event);
        return;
    }
    json_t *payload = json_array_get(args, 0);
    if (!payload)
        payload = json_object();
    else
        json_incref(payload);
    if (!json_is_object(payload) || (json_array_size(args) > 1 && !ack)) {
        if (!json_is_object(payload))
            chat__reply_error(&req, "bad_request", "%s: the payload must be an object", event);
        else
            h->fn(cc, payload, &req);
    } else {
        h->fn(cc, payload, &req);
    }
    json_decref(payload);
    if (req.ack) /* the handler neither answered nor kept the request */
        sio_ack_release(req.ack);
}

/* ---- connecting ---- */

static int authenticate(sio_socket_t *s, const json_t *auth, sio_refusal_t *refusal, void *ud)
{
    chat_t *c = ud;
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;
    if (chat_auth_handshake(c->auth, auth, chat__now_ms() / 1000, &id, &ref) != CHAT_AUTH_OK) {
        c->stats.refused++;
        refusal->message = "unauthorized";
        refusal->data = chat_auth_refusal_json(&ref);
        return -1;
    }
    chat_user_t *u = chat__user_ensure(c, id.user, NULL); /* a new user's first try counts too */
    ratelimit_cfg_t cl = {c->cfg.connect_rate, c->cfg.connect_burst};
    uint64_t wait = ratelimit_take(&u->connects, &cl, uv_now(c->loop));
    if (wait) {
        c->stats.refused++;
        c->stats.rate_limited++;
        refusal->message = "rate_limited";
        refusal->data = json_pack("{s:s, s:s, s:I}", "code", "rate_limited", "message",
                                  "too many connection attempts for this user; retry later",
                                  "retryAfterMs", (json_int_t)wait);
        return -1;
    }
    if (u->nconns >= c->cfg.max_sockets_per_user) {
        c->stats.refused++;
        refusal->message = "too_many_connections";
        refusal->data = json_pack("{s:s, s:s}", "code", "too_many_connections", "message",
                                  "too many connections for this user");
        return -1;
    }
    chat_conn_t *cc = xcalloc(1, sizeof *cc);
    cc->chat = c;
    cc->device = id.device;
    cc->status = CHAT_ONLINE;
    /* The user is linked at connect, when the socket exists for sure; keep
     * the identity until then. */
    cc->user = chat__user_ensure(c, id.user, id.name[0] ? id.name : NULL);
    ratelimit_cfg_t rl = {c->cfg.event_rate, c->cfg.event_burst};
    ratelimit_init(&cc->events, &rl, uv_now(c->loop));
    sio_socket_set_data(s, cc);
    return 0;
}

typedef struct {
    chat_t *c;
    char socket_id[32];
    char user[CHAT_ID_MAX + 1];
    json_t *channels;
    int pending;
    uint64_t unread_notifications;
} ready_ctx_t;

static void ready_finish(ready_ctx_t *r)
{
    if (--r->pending > 0)
        return;
    sio_socket_t *s = sio_nsp_socket(r->c->nsp, r->socket_id);
    chat_conn_t *cc = s ? sio_socket_data(s) : NULL;
    if (cc && cc->user && r->channels) {
        json_t *ready = json_pack("{s:O, s:s, s:O, s:{s:I}}", "user",
                                  chat__user_json(cc->user), "sessionId", r->socket_id, "channels",
                                  r->channels, "notifications", "unread",
                                  (json_int_t)r->unread_notifications);
        /* chat__user_json made a new reference that "O" increfed again */
        json_decref(json_object_get(ready, "user"));
        json_t *args = json_pack("[o]", ready);
        sio_emit(s, "ready", args, NULL, 0);
        json_decref(args);
        cc->ready_sent = true;
    }
    json_decref(r->channels);
    free(r);
}

static void on_user_channels(store_err_t err, const store_user_channel_t *items, size_t n,
                             void *arg)
{
    ready_ctx_t *r = arg;
    r->channels = json_array();
    for (size_t i = 0; err == STORE_OK && i < n; i++) {
        const store_user_channel_t *it = &items[i];
        chat_channel_t *ch = chat__channel_get(r->c, it->channel.id);
        uint64_t seq = ch && ch->seq > it->channel.seq ? ch->seq : it->channel.seq;
        chat_member_t *m = ch ? chat__member_get(ch, r->user) : NULL;
        json_array_append_new(
            r->channels,
            json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "id", it->channel.id, "name",
                      it->channel.name, "kind", store_kind_name(it->channel.kind), "topic",
                      it->channel.topic ? it->channel.topic : "", "seq", (json_int_t)seq,
                      "lastRead", (json_int_t)it->last_read, "unread", (json_int_t)it->unread,
                      "role", store_role_name(m ? m->role : it->role)));
    }
    if (err != STORE_OK)
        log_error("ready_failed", "channels of %s: %s", r->user, store_strerror(err));
    ready_finish(r);
}

static void on_notif_unread(store_err_t err, uint64_t count, void *arg)
{
    ready_ctx_t *r = arg;
    r->unread_notifications = err == STORE_OK ? count : 0;
    ready_finish(r);
}

static void send_ready(chat_t *c, chat_conn_t *cc)
{
    ready_ctx_t *r = xcalloc(1, sizeof *r);
    r->c = c;
    snprintf(r->socket_id, sizeof r->socket_id, "%s", sio_socket_id(cc->sock));
    snprintf(r->user, sizeof r->user, "%s", cc->user->id);
    r->pending = 2;
    if (store_user_channels(c->store, cc->user->id, on_user_channels, r) != STORE_OK)
        on_user_channels(STORE_E_CLOSED, NULL, 0, r);
    if (store_notification_unread(c->store, cc->user->id, on_notif_unread, r) != STORE_OK)
        on_notif_unread(STORE_E_CLOSED, 0, r);
}

typedef struct {
    chat_t *c;
    char socket_id[32];
    char user[CHAT_ID_MAX + 1];
    int pending;
} join_defaults_ctx_t;

static void after_defaults(join_defaults_ctx_t *j)
{
    if (--j->pending > 0)
        return;
    sio_socket_t *s = sio_nsp_socket(j->c->nsp, j->socket_id);
    chat_conn_t *cc = s ? sio_socket_data(s) : NULL;
    if (cc && cc->user)
        send_ready(j->c, cc);
    free(j);
}

static void on_default_joined(store_err_t err, const store_event_t *ev, void *arg)
{
    join_defaults_ctx_t *j = arg;
    if (err == STORE_OK && !ev->unchanged) {
        chat_channel_t *ch = chat__channel_get(j->c, ev->channel);
        chat_user_t *u = chat__user_get(j->c, j->user);
        if (ch && u) {
            if (ev->seq > ch->seq)
                ch->seq = ev->seq;
            chat__member_set(j->c, ch, u, STORE_MEMBER, ev->member ? ev->member->last_read : 0);
            chat__broadcast_channel(j->c, ch->id, ev->type, ev->payload, NULL);
        }
    } else if (err != STORE_OK) {
        log_warn("default_join_failed", "%s into %s: %s", j->user, ev ? ev->channel : "?",
                 store_strerror(err));
    }
    after_defaults(j);
}

/* After the user is stored: a first-time user joins the default channels
 * (each a member:joined event), then everyone gets `ready`. */
static void on_user_stored(store_err_t err, const store_user_t *user, bool created, void *arg)
{
    join_defaults_ctx_t *j = arg;
    if (err != STORE_OK)
        log_error("user_store_failed", "%s: %s", j->user, store_strerror(err));
    for (size_t i = 0; err == STORE_OK && created && i < j->c->num_defaults; i++) {
        const char *id = j->c->defaults[i];
        if (!chat__channel_get(j->c, id))
            continue;
        j->pending++;
        if (store_member_add(j->c->store, id, j->user, STORE_MEMBER, on_default_joined, j) !=
            STORE_OK)
            j->pending--;
    }
    after_defaults(j);
}

static int join_channel_room(const char *id, size_t len, void *ch, void *arg)
{
    char room[CHAT_ROOM_MAX];
    chat__channel_room(((chat_channel_t *)ch)->id, room, sizeof room);
    sio_join(arg, room);
    return 0;
}

static void on_connect(sio_socket_t *s, void *ud)
{
    chat_t *c = ud;
    chat_conn_t *cc = sio_socket_data(s);
    if (!cc)
        return;
    c->stats.connects++;
    cc->sock = s;
    chat_user_t *u = cc->user;
    cc->next_of_user = u->conns;
    u->conns = cc;
    u->nconns++;
    /* Membership lives on the server: the socket is in every channel room
     * at once, without re-joining. */
    char room[CHAT_ROOM_MAX];
    chat__user_room(u->id, room, sizeof room);
    sio_join(s, room);
    map_each(&u->channels, join_channel_room, s);
    chat__presence_connected(c, cc);

    join_defaults_ctx_t *j = xcalloc(1, sizeof *j);
    j->c = c;
    snprintf(j->socket_id, sizeof j->socket_id, "%s", sio_socket_id(s));
    snprintf(j->user, sizeof j->user, "%s", u->id);
    j->pending = 1;
    if (store_user_upsert(c->store, u->id, u->name, on_user_stored, j) != STORE_OK)
        on_user_stored(STORE_E_CLOSED, NULL, false, j);
}

static void unlink_conn(chat_t *c, chat_conn_t *cc)
{
    chat_user_t *u = cc->user;
    if (!u || !cc->sock)
        return;
    for (chat_conn_t **pp = &u->conns; *pp; pp = &(*pp)->next_of_user) {
        if (*pp == cc) {
            *pp = cc->next_of_user;
            u->nconns--;
            break;
        }
    }
    cc->next_of_user = NULL;
    chat__presence_disconnected(c, cc);
    if (u->nconns == 0) {
        chat__typing_disconnected(c, u);
        chat__voice_disconnected(c, u);
    }
    cc->sock = NULL;
}

static void on_disconnect(sio_socket_t *s, const char *reason, void *ud)
{
    chat_t *c = ud;
    chat_conn_t *cc = sio_socket_data(s);
    if (!cc)
        return;
    c->stats.disconnects++;
    unlink_conn(c, cc);
}

static void on_free_data(void *data, void *ud)
{
    chat_conn_t *cc = data;
    unlink_conn(cc->chat, cc);
    free(cc);
}

/* ---- lifecycle ---- */

static void config_defaults(chat_config_t *cfg)
{
    if (!cfg->default_channels)
        cfg->default_channels = "general";
    if (!cfg->max_sockets_per_user)
        cfg->max_sockets_per_user = 10;
    if (cfg->send_rate == 0)
        cfg->send_rate = 10, cfg->send_burst = 20;
    if (cfg->event_rate == 0)
        cfg->event_rate = 50, cfg->event_burst = 100;
    if (cfg->connect_rate == 0)
        cfg->connect_rate = 5, cfg->connect_burst = 20;
    if (!cfg->max_refusals)
        cfg->max_refusals = 100;
    if (!cfg->max_text_chars)
        cfg->max_text_chars = 4000;
    if (!cfg->max_text_bytes)
        cfg->max_text_bytes = 10240;
    if (!cfg->presence_grace_ms)
        cfg->presence_grace_ms = 5000;
    if (!cfg->typing_throttle_ms)
        cfg->typing_throttle_ms = 3000;
    if (!cfg->typing_expiry_ms)
        cfg->typing_expiry_ms = 10000;
    if (!cfg->max_reply_bytes)
        cfg->max_reply_bytes = 1024 * 1024;
}

static int load_model(chat_t *c, char *err, size_t errsz)
{
    store_snapshot_t *snap = NULL;
    c->loading = true;
    store_err_t r = store_load(c->store, &snap);
    if (r != STORE_OK) {
        snprintf(err, errsz, "loading the store: %s", store_strerror(r));
        return -1;
    }
    for (size_t i = 0; i < snap->nusers; i++)
        chat__user_ensure(c, snap->users[i].id, snap->users[i].name);
    for (size_t i = 0; i < snap->nchannels; i++)
        chat__channel_add(c, &snap->channels[i]);
    for (size_t i = 0; i < snap->nmembers; i++) {
        const store_member_t *m = &snap->members[i];
        chat_channel_t *ch = chat__channel_get(c, m->channel);
        chat_user_t *u = chat__user_ensure(c, m->user, NULL);
        if (ch)
            chat__member_set(c, ch, u, m->role, m->last_read);
    }
    log_info("store_loaded", "%zu users, %zu channels, %zu memberships", snap->nusers,
             snap->nchannels, snap->nmembers);
    store_snapshot_free(snap);
    c->loading = false;
    return 0;
}

static void on_default_created(store_err_t err, const store_channel_t *ch,
                               const store_event_t *events, size_t nevents, void *arg)
{
    chat_t *c = arg;
    if (err == STORE_OK)
        chat__channel_add(c, ch);
    else if (err != STORE_E_CONFLICT)
        log_error("default_channel_failed", "%s", store_strerror(err));
}

/* The default channels exist on a fresh store. */
static void ensure_default_channels(chat_t *c)
{
    for (size_t i = 0; i < c->num_defaults; i++) {
        const char *id = c->defaults[i];
        if (strlen(id) > CHAT_ID_MAX) {
            log_warn("default_channel_skipped", "\"%s\": longer than %d characters", id,
                     CHAT_ID_MAX);
            continue;
        }
        if (!chat__channel_get(c, id)) {
            store_channel_spec_t spec = {.id = id, .name = id, .kind = STORE_PUBLIC};
            store_channel_create(c->store, &spec, on_default_created, c);
        }
    }
}

chat_t *chat_new(uv_loop_t *loop, sio_server_t *sio, store_t *store, chat_auth_t *auth,
                 const chat_config_t *cfg, char *err, size_t errsz)
{
    chat_t *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->cfg = *cfg;
    config_defaults(&c->cfg);
    c->sio = sio;
    c->store = store;
    c->auth = auth;
    map_init(&c->users);
    map_init(&c->channels);
    map_init(&handlers);
    buf_init(&c->text, SIO_MAX_PACKET);
    if (load_model(c, err, errsz) != 0) {
        buf_free(&c->text);
        free(c);
        return NULL;
    }
    c->defaults = config_list_split(c->cfg.default_channels, &c->num_defaults);
    ensure_default_channels(c);
    c->nsp = sio_of(sio, "/");
    sio_use(c->nsp, authenticate, c);
    sio_on_connect(c->nsp, on_connect, c);
    sio_on_disconnect(c->nsp, on_disconnect, c);
    sio_on_free_data(c->nsp, on_free_data, c);
    sio_on_any(c->nsp, on_event, c);
    chat__channels_init(c);
    chat__messages_init(c);
    chat__history_init(c);
    chat__receipts_init(c);
    chat__notifications_init(c);
    chat__typing_init(c);
    chat__presence_init(c);
    chat__voice_init(c);
    return c;
}

const chat_stats_t *chat_stats(const chat_t *c)
{
    return &c->stats;
}

static int free_user(const char *k, size_t kl, void *v, void *arg)
{
    chat_user_t *u = v;
    chat__user_free_modules(arg, u);
    map_free(&u->channels);
    map_free(&u->typing);
    free(u->name);
    free(u);
    return 0;
}

static int free_member(const char *k, size_t kl, void *v, void *arg)
{
    free(v);
    return 0;
}

static int free_channel(const char *k, size_t kl, void *v, void *arg)
{
    chat_channel_t *ch = v;
    map_each(&ch->members, free_member, NULL);
    map_free(&ch->members);
    free(ch->name);
    free(ch->topic);
    free(ch);
    return 0;
}

static int free_handler(const char *k, size_t kl, void *v, void *arg)
{
    free(v);
    return 0;
}

void chat_free(chat_t *c)
{
    map_each(&c->users, free_user, c);
    map_free(&c->users);
    map_each(&c->channels, free_channel, NULL);
    map_free(&c->channels);
    map_each(&handlers, free_handler, NULL);
    map_free(&handlers);
    config_list_free(c->defaults);
    chat__tail_free(c);
    buf_free(&c->text);
    free(c);
}
