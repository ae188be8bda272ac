/* internal.h — what the store's files share: requests, their arenas, and the
 * backend table a database implementation fills in.
 *
 * What it is: the seam between the generic part (store.c: queues, threads,
 * group commit, delivery on the loop) and a backend (sqlite.c, later
 * postgres): a backend executes one request on one of its connections and
 * fills the request's results; it never sees threads or the loop.
 *
 * What it is not: public. Nothing here is for the chat domain.
 */
#ifndef PARLEY_STORE_INTERNAL_H
#define PARLEY_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

/* ---- Arena: per-request memory for copied arguments and results -------- */

typedef struct store__chunk store__chunk_t;

/* Bump allocation over an inline first block, then heap chunks. Reset keeps
 * the inline block and frees the chunks. */
typedef struct {
    char *base; /* current block */
    size_t cap, used;
    char *first; /* the inline block */
    size_t first_cap;
    store__chunk_t *chunks;
} store__arena_t;

void store__arena_init(store__arena_t *a, char *inline_buf, size_t cap);
void store__arena_reset(store__arena_t *a);
void *store__arena_alloc(store__arena_t *a, size_t n);
/* Copies s (NULL stays NULL). */
char *store__arena_strdup(store__arena_t *a, const char *s);
char *store__arena_strndup(store__arena_t *a, const char *s, size_t n);

/* ---- Requests ---------------------------------------------------------- */

typedef enum {
    /* writes */
    STORE__USER_UPSERT,
    STORE__CHANNEL_CREATE,
    STORE__MEMBER_ADD,
    STORE__MEMBER_REMOVE,
    STORE__MEMBER_ROLE,
    STORE__MESSAGE_INSERT,
    STORE__MESSAGE_EDIT,
    STORE__MESSAGE_DELETE,
    STORE__REACTION_ADD,
    STORE__REACTION_REMOVE,
    STORE__READ_MARK,
    STORE__INVITE_CREATE,
    STORE__NOTIF_INSERT,
    STORE__NOTIF_MARK_READ,
    /* reads */
    STORE__CHANNEL_GET,
    STORE__MESSAGE_GET,
    STORE__INVITE_GET,
    STORE__HISTORY,
    STORE__SYNC,
    STORE__UNREAD,
    STORE__USER_CHANNELS,
    STORE__CHANNELS_PUBLIC,
    STORE__NOTIF_LIST,
    STORE__NOTIF_UNREAD,
} store__op_t;

#define STORE__FIRST_READ STORE__CHANNEL_GET

/* Something a result holds that must be released with the request. */
typedef struct store__owned {
    struct store__owned *next;
    json_t *json;
    char *str; /* malloc'd (json_dumps) */
} store__owned_t;

typedef struct store__req store__req_t;

struct store__req {
    store__req_t *next;
    store__op_t op;
    store_err_t err;
    void (*cb)(void); /* the typed callback, cast back at delivery */
    void *arg;
    store_t *store;

    /* Arguments, copied into `in` at submission. Which fields are used
     * depends on op. */
    struct {
        const char *channel, *user, *id, *name, *text, *topic, *actor, *emoji;
        const char *client_id, *reply_to, *code;
        const char **list; /* channel create: members */
        size_t nlist;
        store_kind_t kind;
        store_role_t role;
        uint64_t seq; /* read mark seq, history before, sync after */
        int64_t before;
        unsigned limit;
        bool flag; /* mark read: all; notification list: unread only */
        store_notification_spec_t *specs;
        int64_t *ids;
        size_t n; /* specs or ids */
    } in;

    /* Results, in `out` memory, filled by the backend. Reset (with the
     * arena) when a group is rolled back and re-run. */
    struct {
        bool flag; /* created / duplicate / changed / has_more */
        uint64_t count;
        store_user_t user;
        store_channel_t channel;
        store_member_t member;
        store_message_t message;
        store_invite_t invite;
        store_event_t *events;
        size_t nevents;
        void *items; /* array of the op's item type */
        size_t nitems;
        json_t *json; /* sync: the events array (also in owned) */
        store__owned_t *owned;
    } out;

    store__arena_t in_arena, out_arena;
    char in_buf[320];
    char out_buf[1024];
};

/* Resets the results (frees what they own) so the request can run again. */
void store__req_reset_out(store__req_t *r);
/* Makes j (a new reference) and str (malloc'd) the request's to release. */
void store__req_own(store__req_t *r, json_t *j, char *str);

/* ---- Payloads (payload.c) ---------------------------------------------- */

json_t *store__payload_member(const char *channel, uint64_t seq, const char *user,
                              const char *name);
json_t *store__payload_updated(const char *channel, const char *id, uint64_t seq, const char *text,
                               int64_t edited_at);
json_t *store__payload_deleted(const char *channel, const char *id, uint64_t seq);
json_t *store__payload_reaction(const char *channel, const char *id, uint64_t seq,
                                const char *emoji, const char *user, bool add);
/* Appends the compact JSON text of store_message_to_json(m) to out: the
 * same object, written straight from the struct (no tree; on the writer's
 * hot path the tree and its frees showed). The strings must be valid UTF-8
 * (the store checks them on the way in). redacted: the form a message:new
 * payload takes once its message is deleted — text "", no editedAt, empty
 * reactions, and "deleted":true after them. Returns false when out's cap
 * was reached (out then holds a partial text). */
bool store__message_write(buf_t *out, const store_message_t *m, bool redacted);
/* Fills ev (type, seq, channel) with payload (a reference the request takes
 * over) and its compact text, made in scratch (a buffer the caller reuses;
 * its cap bounds the text). Returns STORE_E_INVALID if payload is NULL (a
 * string was not valid UTF-8) or its text does not fit. */
store_err_t store__event_fill(store__req_t *r, store_event_t *ev, const char *type,
                              const char *channel, uint64_t seq, json_t *payload, buf_t *scratch);

/* ---- Ids and clocks (payload.c) ---------------------------------------- */

int64_t store__now_ms(void);
/* Message ids: 13 characters of Crockford base32 (lowercase) of a 64-bit
 * number, ms << 16 | counter, so they sort by time and never repeat while
 * numbers only grow. */
#define STORE__ID_LEN 13
void store__id_encode(uint64_t v, char out[STORE__ID_LEN + 1]);
/* -1 if s is not such an id. */
int store__id_decode(const char *s, uint64_t *v);
/* n random characters of [0-9a-z] (base32 alphabet) plus NUL. */
void store__random_code(char *out, size_t n);

/* ---- Backends ---------------------------------------------------------- */

typedef struct {
    const char *name;
    /* Opens one connection. The writer's open also applies migrations.
     * err receives a message on failure. */
    store_err_t (*open)(const store_config_t *cfg, bool writer, void **conn, char *err,
                        size_t errsz);
    void (*close)(void *conn);
    /* Write transactions, on the writer connection. */
    store_err_t (*begin)(void *conn);
    store_err_t (*commit)(void *conn);
    void (*rollback)(void *conn);
    /* Runs a write request inside the open transaction, filling r->out.
     * Returns its result. A request that fails must leave the database as
     * it found it unless it sets *dirty (then the caller rolls back the
     * whole transaction). */
    store_err_t (*write)(void *conn, store__req_t *r, bool *dirty);
    /* Runs a read request on a reader connection. */
    store_err_t (*read)(void *conn, store__req_t *r);
    /* The startup snapshot, on a connection of its own. */
    store_err_t (*load)(const store_config_t *cfg, store_snapshot_t **out);
} store__backend_t;

extern const store__backend_t store__sqlite;

/* Snapshot memory: the public struct plus an arena holding its strings. */
typedef struct {
    store_snapshot_t pub;
    store__arena_t arena;
} store__snapshot_t;

#endif
