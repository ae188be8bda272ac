/* internal.h — what the chat modules share: the in-memory model, request
 * dispatch, replies and validation.
 *
 * The model lives on the loop thread and mirrors what the store holds about
 * users, channels and memberships, so permission checks and fan-out never
 * wait for the disk. It is loaded from the store at start and changed only
 * after the store has committed the change (the delivery promise: commit,
 * then broadcast, then ack).
 *
 * Rooms: every socket of a user is in the Socket.IO room "u:<user>" and in
 * "c:<channel>" for each channel the user is a member of. A channel event
 * goes to "c:<channel>" except the sending socket.
 */
#ifndef PARLEY_CHAT_INTERNAL_H
#define PARLEY_CHAT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "chat/auth.h"
#include "chat/chat.h"
#include "core/buf.h"
#include "core/map.h"
#include "core/ratelimit.h"
#include "sio/sio.h"
#include "store/store.h"

#define CHAT_ID_MAX 64
#define CHAT_ROOM_MAX (CHAT_ID_MAX * 2 + 16) /* "c:" + the longest channel id (dm:a:b) */

typedef struct chat_user chat_user_t;
typedef struct chat_channel chat_channel_t;
typedef struct chat_conn chat_conn_t;

/* Presence of one device, and the status others see. */
typedef enum {
    CHAT_OFFLINE = 0,
    CHAT_INVISIBLE,
    CHAT_DND,
    CHAT_IDLE,
    CHAT_ONLINE,
} chat_status_t;

typedef struct {
    store_role_t role;
    uint64_t last_read;
} chat_member_t;

/* One connected socket (sio socket data). */
struct chat_conn {
    chat_t *chat;
    sio_socket_t *sock;
    chat_user_t *user;
    chat_device_t device;
    chat_status_t status;       /* set by presence:set; online at connect */
    ratelimit_t events;         /* all events from this socket */
    uint64_t refusal_window_ms; /* start of the current minute of refusals */
    unsigned refusals;
    chat_conn_t *next_of_user;
    bool ready_sent;
};

struct chat_user {
    char id[CHAT_ID_MAX + 1];
    char *name;
    chat_conn_t *conns; /* connected sockets */
    unsigned nconns;
    map_t channels;     /* channel id -> chat_channel_t* (member of) */
    ratelimit_t sends;  /* message:send, per user */
    ratelimit_t connects; /* connection attempts, per user */
    /* presence */
    chat_status_t shown;   /* last status broadcast to others */
    uv_timer_t *offline_timer; /* the 5 s grace after the last socket */
    /* voice: at most one channel */
    chat_channel_t *voice;
    bool muted, deafened, speaking;
    /* typing: channel id -> typing_state (typing.c) */
    map_t typing;
};

struct chat_channel {
    char id[CHAT_ID_MAX * 2 + 8]; /* dm:<a>:<b> is longer than a plain id */
    char *name;
    store_kind_t kind;
    char *topic;
    uint64_t seq;
    map_t members; /* user id -> chat_member_t* */
};

struct chat {
    uv_loop_t *loop;
    chat_config_t cfg;
    sio_server_t *sio;
    sio_nsp_t *nsp;
    store_t *store;
    chat_auth_t *auth;
    map_t users;    /* id -> chat_user_t* (everyone the store knows) */
    map_t channels; /* id -> chat_channel_t* */
    chat_stats_t stats;
    bool loading; /* filling the model from the store: no events */
    char **defaults; /* the default channels, from cfg.default_channels */
    size_t num_defaults;
    buf_t text; /* scratch for JSON text sent as it is (the *_json calls) */
};

/* ---- model ---- */

chat_user_t *chat__user_get(chat_t *c, const char *id);
/* Gets or creates the in-memory user (name NULL keeps the id as name). */
chat_user_t *chat__user_ensure(chat_t *c, const char *id, const char *name);
chat_channel_t *chat__channel_get(chat_t *c, const char *id);
chat_channel_t *chat__channel_add(chat_t *c, const store_channel_t *ch);
chat_member_t *chat__member_get(const chat_channel_t *ch, const char *user);
/* Records a membership in memory and puts the user's sockets in the room. */
void chat__member_set(chat_t *c, chat_channel_t *ch, chat_user_t *u, store_role_t role,
                      uint64_t last_read);
/* Forgets a membership and takes the user's sockets out of the room. */
void chat__member_drop(chat_t *c, chat_channel_t *ch, chat_user_t *u);
size_t chat__member_count(const chat_channel_t *ch);

/* Copies src into dst[cap] (cap > 0), cut short if it does not fit: the
 * hot path's snprintf("%s") without the format machinery. */
void chat__copy(char *dst, size_t cap, const char *src);

/* "c:<channel>" and "u:<user>" room names. */
void chat__channel_room(const char *channel, char *out, size_t outsz);
void chat__user_room(const char *user, char *out, size_t outsz);

/* ---- JSON shapes of PROTOCOL.md ---- */

/* {id, name, kind, topic, seq, members} */
json_t *chat__channel_json(const chat_channel_t *ch);
/* {id, name} */
json_t *chat__user_json(const chat_user_t *u);

/* ---- requests ---- */

/* A request being answered, possibly after the store replies. Holds the
 * ack (retained) and names, never pointers that a disconnect could free. */
typedef struct {
    chat_t *chat;
    sio_ack_t *ack;         /* NULL when the client asked for no ack */
    char socket_id[32];     /* the sender's socket, excluded from broadcasts */
    char user[CHAT_ID_MAX + 1];
} chat_req_t;

typedef void (*chat_handler_fn)(chat_conn_t *cc, json_t *payload, chat_req_t *req);

/* Registers a handler for a client event. The dispatcher checks the rate
 * limits and that the payload is an object before calling it; typing:* are
 * registered with no_ack (no rate-limit ack is possible there). */
void chat__on(chat_t *c, const char *event, chat_handler_fn fn, bool no_ack);

/* A chat_req_t that outlives the handler (for store callbacks); free with
 * chat__req_free after answering. */
chat_req_t *chat__req_keep(chat_req_t *req);
void chat__req_free(chat_req_t *req);
/* The same into storage of the caller's (a context struct that holds the
 * request); chat__req_drop then releases what it holds, not the storage. */
void chat__req_move(chat_req_t *req, chat_req_t *into);
void chat__req_drop(chat_req_t *req);

/* Answers {ok:true, ...fields} (fields stolen, may be NULL). */
void chat__reply_ok(chat_req_t *req, json_t *fields);
/* Answers {"<key>":<value_json>,"ok":true}, with value_json the compact
 * JSON text of a value (the store's payload text): sent as it is, never
 * re-encoded. key is a plain name (no escaping). */
void chat__reply_ok_json(chat_req_t *req, const char *key, const char *value_json, size_t len);
/* Answers {ok:false, error:{code, message}}; code is one of PROTOCOL.md's. */
void chat__reply_error(chat_req_t *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a store error to a protocol error answer (what names the thing). */
void chat__reply_store_error(chat_req_t *req, store_err_t err, const char *what);

/* Broadcasts event(payload) to every member socket of the channel except
 * the request's socket (req may be NULL: no exception). payload borrowed. */
void chat__broadcast_channel(chat_t *c, const char *channel, const char *event, json_t *payload,
                             const chat_req_t *req);
/* chat__broadcast_channel with the payload as compact JSON text (the
 * store's payload_json): encoded once, never parsed. */
void chat__broadcast_channel_json(chat_t *c, const char *channel, const char *event,
                                  const char *payload_json, size_t len, const chat_req_t *req);
/* Emits event(payload) to every socket of the user. payload borrowed. */
void chat__emit_user(chat_t *c, const char *user, const char *event, json_t *payload);

/* ---- validation: each returns 0, or -1 after answering bad_request with
 * the field and what was expected ---- */

/* A required (or, with optional, possibly absent -> *out NULL) string field
 * of 1..max characters that is valid UTF-8. */
int chat__field_string(chat_req_t *req, json_t *payload, const char *field, size_t max,
                       bool optional, const char **out);
/* A channel id field (^[a-z0-9_-]{1,64}$, or a dm:a:b id when allow_dm). */
int chat__field_channel_id(chat_req_t *req, json_t *payload, const char *field, bool allow_dm,
                           const char **out);
/* A user id field (^[a-z0-9_.@-]{1,64}$). */
int chat__field_user_id(chat_req_t *req, json_t *payload, const char *field, const char **out);
/* An optional non-negative integer field within [0, max]. */
int chat__field_uint(chat_req_t *req, json_t *payload, const char *field, uint64_t max,
                     bool optional, uint64_t dflt, uint64_t *out);
/* The same within [min, max]. */
int chat__field_uint_range(chat_req_t *req, json_t *payload, const char *field, uint64_t min,
                           uint64_t max, bool optional, uint64_t dflt, uint64_t *out);
/* An optional boolean field. */
int chat__field_bool(chat_req_t *req, json_t *payload, const char *field, bool dflt, bool *out);
/* Looks up a channel the sender is a member of: not_found / forbidden
 * answers when it is not. */
chat_channel_t *chat__require_member(chat_conn_t *cc, chat_req_t *req, const char *channel);

int64_t chat__now_ms(void);

/* ---- modules: each registers its handlers ---- */

void chat__channels_init(chat_t *c);
void chat__messages_init(chat_t *c);
void chat__history_init(chat_t *c);
void chat__receipts_init(chat_t *c);
void chat__notifications_init(chat_t *c);
void chat__typing_init(chat_t *c);
void chat__presence_init(chat_t *c);
void chat__voice_init(chat_t *c);

/* Module hooks the core calls. */
void chat__presence_connected(chat_t *c, chat_conn_t *cc);
void chat__presence_disconnected(chat_t *c, chat_conn_t *cc);
void chat__typing_user_sent(chat_t *c, chat_user_t *u, const char *channel);
void chat__typing_disconnected(chat_t *c, chat_user_t *u);
void chat__voice_disconnected(chat_t *c, chat_user_t *u);
/* A membership was created (not at load) / dropped. */
void chat__presence_member_joined(chat_t *c, chat_channel_t *ch, chat_user_t *u);
void chat__voice_member_left(chat_t *c, chat_channel_t *ch, chat_user_t *u);
void chat__user_free_modules(chat_t *c, chat_user_t *u);

#endif
