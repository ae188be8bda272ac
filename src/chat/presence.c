/* presence.c — who is online (PROTOCOL.md "Presence"): presence:set and
 * presence:get, and `presence {user, status, devices}` to the users who
 * share a channel with the user whenever what they see changes.
 *
 * Each socket has a status (cc->status: online at connect, then whatever
 * presence:set said); a device shows the most present status of its
 * sockets, the user the most present of their devices (online > idle >
 * dnd), "offline" when none is left. An invisible socket counts as no
 * socket at all.
 *
 * The grace: when a socket closes, its device keeps showing the socket's
 * status ("lingers") for presence_grace_ms, or until that device connects
 * or sets a status again. So a reload or a network blip changes nothing
 * others can see, and a user goes offline only once the grace after their
 * last socket has passed.
 *
 * The per-user state is a presence_t made at the user's first connection;
 * u->offline_timer points at its timer (timer.data is the presence_t) and
 * u->shown mirrors its last broadcast status.
 *
 * What it is not: nothing is persisted; presence across nodes comes with
 * the cluster layer. When a membership is created, presence flows both
 * ways (chat__presence_member_joined); a connecting client learns the
 * presence of those already online with presence:get.
 */
#include "chat/ephemeral.h"
#include "chat/internal.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NDEVICES (CHAT_DEVICE_BOT + 1)
#define PRESENCE_GET_MAX 100

typedef struct {
    uv_timer_t timer; /* fires when the earliest lingering device expires */
    chat_t *chat;
    chat_user_t *user;
    chat_status_t shown[NDEVICES];  /* per device, as others were last told */
    chat_status_t linger[NDEVICES]; /* a closed socket's status, until ... */
    uint64_t linger_until[NDEVICES];
} presence_t;

static const char *status_name(chat_status_t s)
{
    switch (s) {
    case CHAT_ONLINE:
        return "online";
    case CHAT_IDLE:
        return "idle";
    case CHAT_DND:
        return "dnd";
    case CHAT_INVISIBLE:
        return "invisible";
    default:
        return "offline";
    }
}

/* What others may see of a socket's status. */
static chat_status_t visible(chat_status_t s)
{
    return s == CHAT_INVISIBLE ? CHAT_OFFLINE : s;
}

static chat_status_t overall(const chat_status_t dev[NDEVICES])
{
    chat_status_t best = CHAT_OFFLINE;
    for (int d = 0; d < NDEVICES; d++)
        if (dev[d] > best)
            best = dev[d];
    return best;
}

/* {user, status, devices} from per-device statuses. */
static json_t *presence_json(const char *user, const chat_status_t dev[NDEVICES])
{
    json_t *devices = json_object();
    for (int d = 0; d < NDEVICES; d++)
        if (dev[d] != CHAT_OFFLINE)
            json_object_set_new(devices, chat_auth_device_name((chat_device_t)d),
                                json_string(status_name(dev[d])));
    return json_pack("{s:s, s:s, s:o}", "user", user, "status", status_name(overall(dev)),
                     "devices", devices);
}

static presence_t *presence_of(chat_t *c, chat_user_t *u)
{
    if (u->offline_timer)
        return u->offline_timer->data;
    presence_t *p = xcalloc(1, sizeof *p);
    p->chat = c;
    p->user = u;
    uv_timer_init(c->loop, &p->timer);
    p->timer.data = p;
    u->offline_timer = &p->timer;
    u->shown = CHAT_OFFLINE;
    return p;
}

static void device_heard(presence_t *p, chat_device_t d)
{
    if ((int)d < NDEVICES) {
        p->linger[d] = CHAT_OFFLINE;
        p->linger_until[d] = 0;
    }
}

/* The statuses others should see now; forgets lingering that expired. */
static void compute(presence_t *p, uint64_t now, chat_status_t dev[NDEVICES])
{
    for (int d = 0; d < NDEVICES; d++)
        dev[d] = CHAT_OFFLINE;
    for (chat_conn_t *cc = p->user->conns; cc; cc = cc->next_of_user) {
        chat_status_t s = visible(cc->status);
        if ((int)cc->device < NDEVICES && s > dev[cc->device])
            dev[cc->device] = s;
    }
    for (int d = 0; d < NDEVICES; d++) {
        if (p->linger_until[d] > now) {
            if (p->linger[d] > dev[d])
                dev[d] = p->linger[d];
        } else {
            p->linger[d] = CHAT_OFFLINE;
            p->linger_until[d] = 0;
        }
    }
}

/* The rooms of a user's channels, gathered for one broadcast. */
typedef struct {
    char (*names)[CHAT_ROOM_MAX];
    const char **rooms;
    size_t n;
} rooms_t;

static int collect_room(const char *key, size_t klen, void *value, void *arg)
{
    rooms_t *r = arg;
    chat__channel_room(((chat_channel_t *)value)->id, r->names[r->n], CHAT_ROOM_MAX);
    r->rooms[r->n] = r->names[r->n];
    r->n++;
    return 0;
}

/* Sends to every socket in any of the user's channels, except the user's
 * own: presence is news about someone else. */
static void broadcast(chat_t *c, chat_user_t *u, json_t *payload)
{
    size_t n = map_count(&u->channels);
    if (n == 0) /* no rooms at all would mean the whole namespace */
        return;
    rooms_t r = {xcalloc(n, sizeof *r.names), xcalloc(n, sizeof *r.rooms), 0};
    map_each(&u->channels, collect_room, &r);
    char self[CHAT_ROOM_MAX];
    chat__user_room(u->id, self, sizeof self);
    const char *except[] = {self};
    sio_target_t t = {.rooms = r.rooms, .num_rooms = r.n, .except = except, .num_except = 1};
    json_t *args = json_pack("[O]", payload);
    sio_broadcast(c->nsp, &t, "presence", args, NULL, 0);
    json_decref(args);
    c->stats.events_out++;
    free(r.names);
    free(r.rooms);
}

static void on_grace(uv_timer_t *timer);

/* Recomputes what others see, tells them if it changed, and sets the timer
 * for the next lingering device to expire. */
static void update(presence_t *p)
{
    chat_t *c = p->chat;
    uint64_t now = uv_now(c->loop);
    chat_status_t dev[NDEVICES];
    compute(p, now, dev);
    if (memcmp(dev, p->shown, sizeof dev) != 0) {
        memcpy(p->shown, dev, sizeof dev);
        p->user->shown = overall(dev);
        json_t *payload = presence_json(p->user->id, dev);
        broadcast(c, p->user, payload);
        json_decref(payload);
    }
    uint64_t next = 0;
    for (int d = 0; d < NDEVICES; d++)
        if (p->linger_until[d] && (!next || p->linger_until[d] < next))
            next = p->linger_until[d];
    if (next)
        uv_timer_start(&p->timer, on_grace, next - now, 0);
    else
        uv_timer_stop(&p->timer);
}

static void on_grace(uv_timer_t *timer)
{
    update(timer->data);
}

/* The statuses others see of u, or NULL-equivalent (all offline). */
static int visible_now(chat_t *c, chat_user_t *u, chat_status_t dev[NDEVICES])
{
    if (!u->offline_timer)
        return 0;
    compute(u->offline_timer->data, uv_now(c->loop), dev);
    return overall(dev) != CHAT_OFFLINE;
}

typedef struct {
    chat_t *c;
    chat_user_t *newcomer;
} joined_ctx_t;

static int tell_newcomer(const char *key, size_t klen, void *value, void *arg)
{
    joined_ctx_t *j = arg;
    chat_user_t *m = chat__user_get(j->c, key);
    chat_status_t dev[NDEVICES];
    if (!m || m == j->newcomer || !visible_now(j->c, m, dev))
        return 0;
    json_t *payload = presence_json(m->id, dev);
    chat__emit_user(j->c, j->newcomer->id, "presence", payload);
    json_decref(payload);
    return 0;
}

void chat__presence_member_joined(chat_t *c, chat_channel_t *ch, chat_user_t *u)
{
    /* Now they share a channel: the members learn the newcomer's presence,
     * and the newcomer the members'. */
    chat_status_t dev[NDEVICES];
    if (visible_now(c, u, dev)) {
        char room[CHAT_ROOM_MAX], self[CHAT_ROOM_MAX];
        chat__channel_room(ch->id, room, sizeof room);
        chat__user_room(u->id, self, sizeof self);
        const char *rooms[] = {room}, *except[] = {self};
        sio_target_t t = {.rooms = rooms, .num_rooms = 1, .except = except, .num_except = 1};
        json_t *payload = presence_json(u->id, dev);
        json_t *args = json_pack("[o]", payload);
        sio_broadcast(c->nsp, &t, "presence", args, NULL, 0);
        json_decref(args);
        c->stats.events_out++;
    }
    if (u->conns) {
        joined_ctx_t j = {c, u};
        map_each(&ch->members, tell_newcomer, &j);
    }
}

void chat__presence_connected(chat_t *c, chat_conn_t *cc)
{
    presence_t *p = presence_of(c, cc->user);
    device_heard(p, cc->device);
    update(p);
}

void chat__presence_disconnected(chat_t *c, chat_conn_t *cc)
{
    presence_t *p = presence_of(c, cc->user);
    chat_status_t s = visible(cc->status);
    chat_device_t d = cc->device;
    if (s != CHAT_OFFLINE && (int)d < NDEVICES) {
        uint64_t now = uv_now(c->loop);
        if (p->linger_until[d] <= now || s > p->linger[d])
            p->linger[d] = s;
        p->linger_until[d] = now + c->cfg.presence_grace_ms;
    }
    update(p);
}

static void on_set(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    static const struct {
        const char *name;
        chat_status_t status;
    } statuses[] = {
        {"online", CHAT_ONLINE},
        {"idle", CHAT_IDLE},
        {"dnd", CHAT_DND},
        {"invisible", CHAT_INVISIBLE},
    };
    json_t *v = json_object_get(payload, "status");
    const char *name = json_string_value(v);
    size_t i = 0;
    while (name && i < sizeof statuses / sizeof statuses[0] &&
           (strlen(statuses[i].name) != json_string_length(v) ||
            memcmp(statuses[i].name, name, json_string_length(v)) != 0))
        i++;
    if (!name || i == sizeof statuses / sizeof statuses[0]) {
        chat__reply_error(req, "bad_request",
                          "status: expected \"online\", \"idle\", \"dnd\" or \"invisible\"");
        return;
    }
    presence_t *p = presence_of(cc->chat, cc->user);
    cc->status = statuses[i].status;
    device_heard(p, cc->device);
    update(p);
    chat__reply_ok(req, NULL);
}

typedef struct {
    const chat_user_t *other;
    int found;
} share_probe_t;

static int probe_channel(const char *key, size_t klen, void *value, void *arg)
{
    share_probe_t *q = arg;
    q->found = map_get(&q->other->channels, key, klen) != NULL;
    return q->found;
}

/* Whether a may see b's presence: b is a, or they share a channel. */
static int may_see(chat_user_t *a, chat_user_t *b)
{
    if (a == b)
        return 1;
    if (map_count(&a->channels) > map_count(&b->channels)) {
        chat_user_t *t = a;
        a = b;
        b = t;
    }
    share_probe_t q = {b, 0};
    map_each(&a->channels, probe_channel, &q);
    return q.found;
}

/* Answers what others see of each user asked for. A user who shares no
 * channel with the asker, or is unknown, reads "offline": presence is not
 * a way to watch strangers, nor to learn which ids exist. */
static void on_get(chat_conn_t *cc, json_t *payload, chat_req_t *req)
{
    static const chat_status_t nothing[NDEVICES];
    json_t *users = json_object_get(payload, "users");
    if (!json_is_array(users)) {
        chat__reply_error(req, "bad_request", "users: expected an array of at most %d user ids",
                          PRESENCE_GET_MAX);
        return;
    }
    size_t n = json_array_size(users);
    if (n > PRESENCE_GET_MAX) {
        chat__reply_error(req, "bad_request", "users: at most %d user ids, got %zu",
                          PRESENCE_GET_MAX, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(users, i);
        if (!json_is_string(v) ||
            !chat_auth_user_id_valid(json_string_value(v), json_string_length(v))) {
            chat__reply_error(req, "bad_request",
                              "users[%zu]: expected a user id matching ^[a-z0-9_.@-]{1,64}$", i);
            return;
        }
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(users, i));
        chat_user_t *u = chat__user_get(cc->chat, id);
        const chat_status_t *dev = nothing;
        if (u && u->offline_timer && may_see(cc->user, u))
            dev = ((presence_t *)u->offline_timer->data)->shown;
        json_array_append_new(list, presence_json(id, dev));
    }
    chat__reply_ok(req, json_pack("{s:o}", "presence", list));
}

void chat__presence_init(chat_t *c)
{
    chat__on(c, "presence:set", on_set, false);
    chat__on(c, "presence:get", on_get, false);
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void chat__presence_free_user(chat_user_t *u)
{
    if (!u->offline_timer)
        return;
    uv_close((uv_handle_t *)u->offline_timer, on_closed);
    u->offline_timer = NULL;
}
