/* store.h — Parley's storage interface: users, channels, members, messages,
 * reactions, the per-channel event log, invites and notifications.
 *
 * What it is: the one API the chat domain uses to persist and read chat
 * state, with SQLite behind it (store/sqlite.c) and room for PostgreSQL
 * behind the same backend table (store/internal.h). It keeps the delivery
 * promise of DESIGN.md: a write's callback runs only after its transaction
 * has committed; every channel event gets the channel's next seq inside that
 * transaction (no gaps, no duplicates, across restarts); a retried send with
 * the same (author, clientId) returns the original message.
 *
 * What it is not: no protocol validation beyond sanity (lengths, required
 * fields), no membership or rate checks (the chat domain does those from its
 * in-memory state), no in-memory history tail (the chat domain keeps one).
 * The two permission rules that need stored data are checked here, inside
 * the write transaction: only the author edits a message; the author or a
 * channel owner/admin deletes one.
 *
 * Threads. Every function below is called on the loop thread given to
 * store_open, except store_load (any thread, before serving) and
 * store_strerror / store_*_name / store_message_to_json (pure). Writes are
 * queued to ONE writer thread that takes everything queued, runs it in one
 * transaction and commits once (group commit); reads run on reader threads,
 * each with its own connection. Every callback runs on the loop thread (from
 * a uv_async_t). Write callbacks run in submission order; read callbacks run
 * when their read finishes, in no particular order relative to writes. A
 * read sees every write whose callback has already run; it may or may not
 * see writes still queued.
 *
 * Calls and callbacks (libuv's rule): a function that takes a callback
 * returns STORE_OK when the request was queued, and then the callback runs
 * exactly once, later (never from inside the call). If it returns an error,
 * nothing was queued and the callback never runs.
 *
 * Ownership. Arguments: the store copies every string and array it is given
 * before the call returns; the caller keeps its own. Results: everything a
 * callback receives (structs, strings, arrays, json_t values) is owned by
 * the store and valid during the callback only; copy what you keep, or
 * json_incref a json_t. Sizes: ids at most STORE_MAX_ID bytes, message text
 * at most STORE_MAX_TEXT bytes; required strings non-NULL and non-empty.
 *
 * Errors. One enum, store_err_t; store_strerror describes each. Malformed
 * arguments are refused by the call itself (STORE_E_INVALID, nothing
 * queued); the errors listed under each function are those its callback
 * can get. Any callback can also get STORE_E_IO, which on a write means its
 * transaction did not commit: nothing of it is stored.
 */
#ifndef PARLEY_STORE_STORE_H
#define PARLEY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

typedef struct store store_t;

typedef enum {
    STORE_OK = 0,
    /* The channel, user, message, membership or invite does not exist (for
     * edits, also: the message was deleted). */
    STORE_E_NOT_FOUND,
    /* The thing to create exists already (channel id). */
    STORE_E_CONFLICT,
    /* The acting user may not do this (edit: not the author; delete: neither
     * author nor owner/admin of the channel). */
    STORE_E_FORBIDDEN,
    /* An argument is malformed: a required string NULL or empty, too long,
     * a bad enum value, a reply_to that is not a message of the channel. */
    STORE_E_INVALID,
    /* The store is closing or closed. */
    STORE_E_CLOSED,
    /* The database failed (disk full, I/O error, lock held too long): the
     * transaction did not commit. Logged with detail. */
    STORE_E_IO,
    /* At open: the file is not a database, is corrupt, or has a schema
     * newer than this build knows. */
    STORE_E_CORRUPT,
} store_err_t;

const char *store_strerror(store_err_t err);

#define STORE_MAX_ID 256
#define STORE_GROUP_WINDOW_US 1000
#define STORE_MAX_TEXT 65536

/* ---- Opening and closing ----------------------------------------------- */

typedef struct {
    /* Database file; created if missing (its directory must exist). */
    const char *path;
    /* synchronous=FULL: durable across power loss (an fsync per commit).
     * Default NORMAL: durable across process crashes (kill -9). */
    bool sync_full;
    /* How long a connection waits for a lock held by another process
     * before STORE_E_IO. 0 = 5000 ms. */
    unsigned busy_timeout_ms;
    /* Most writes in one group transaction. 0 = 1024. */
    unsigned max_group;
    /* Reader threads (one connection each). 0 = 2. */
    unsigned readers;
    /* How long the writer lets a group gather after its first write came,
     * microseconds (when it is not busy: under load the queue fills while
     * it commits). 0 = STORE_GROUP_WINDOW_US. A commit costs about as much
     * for one message as for dozens (the pages it writes, the wake-ups on
     * the loop), so this is CPU saved against a bound on latency added. */
    unsigned group_window_us;
    /* WAL size, in pages, at which the checkpoint thread starts copying it
     * back (then the WAL starts again from its beginning, after a pause of
     * the writer of a few ms to copy the last frames). 0 = 32768 (128 MiB
     * of 4 KiB pages). */
    unsigned checkpoint_frames;
} store_config_t;

/* Opens (creating if needed) the store at cfg->path, applies pending schema
 * migrations in order, and starts the writer and reader threads. cfg is
 * copied. On error *out is NULL and err (if errsz > 0) says what failed.
 * Errors: STORE_E_INVALID (no path), STORE_E_IO (cannot open/create, or a
 * migration failed: the schema is left as it was), STORE_E_CORRUPT. */
store_err_t store_open(uv_loop_t *loop, const store_config_t *cfg, store_t **out, char *err,
                       size_t errsz);

/* Closes the store, on the loop thread. Queued writes are committed and
 * queued reads answered first: their callbacks run from inside this call,
 * in order (calls they make get STORE_E_CLOSED). Then the threads stop and
 * the connections close. The memory goes when the internal uv handle has
 * closed, so the loop must run afterwards (as for any uv handle). */
void store_close(store_t *s);

/* Counters, updated by the store's threads; read at any time. */
typedef struct {
    uint64_t writes;      /* write requests executed (committed or failed) */
    uint64_t write_txns;  /* write transactions committed */
    uint64_t write_retry; /* groups rolled back and re-run one by one */
    uint64_t max_group;   /* largest group committed at once */
    uint64_t reads;       /* read requests executed */
    uint64_t commit_us;   /* total time spent in COMMIT, microseconds */
} store_stats_t;
void store_stats(const store_t *s, store_stats_t *out);

/* ---- Values ------------------------------------------------------------ */

typedef enum { STORE_PUBLIC = 0, STORE_PRIVATE, STORE_DM } store_kind_t;
typedef enum { STORE_OWNER = 0, STORE_ADMIN, STORE_MEMBER } store_role_t;
typedef enum {
    STORE_N_MENTION = 0,
    STORE_N_DM,
    STORE_N_REPLY,
    STORE_N_REACTION
} store_notif_kind_t;

/* "public"/"private"/"dm", "owner"/"admin"/"member",
 * "mention"/"dm"/"reply"/"reaction"; NULL for a value out of range. */
const char *store_kind_name(store_kind_t k);
const char *store_role_name(store_role_t r);
const char *store_notif_kind_name(store_notif_kind_t k);
/* The reverse; -1 when the name is unknown. */
int store_kind_parse(const char *name);
int store_role_parse(const char *name);
int store_notif_kind_parse(const char *name);

typedef struct {
    const char *id;
    const char *name;
    int64_t created_at; /* ms since the epoch */
} store_user_t;

typedef struct {
    const char *id;
    const char *name;
    store_kind_t kind;
    const char *topic;      /* "" when none */
    const char *created_by; /* NULL for channels the server made */
    int64_t created_at;
    uint64_t seq;     /* seq of the channel's last event; 0 = none yet */
    uint32_t members; /* member count */
} store_channel_t;

typedef struct {
    const char *channel;
    const char *user;
    store_role_t role;
    uint64_t last_read; /* monotonic; starts at the seq of the user's member:joined */
    int64_t joined_at;
} store_member_t;

typedef struct {
    const char *id; /* server-made, unique across the store, 13 chars, time-ordered */
    const char *channel;
    uint64_t seq; /* seq of its message:new event */
    int64_t ts;   /* ms since the epoch, server clock, set at insert */
    const char *author;
    const char *author_name; /* the author's current name */
    const char *text;        /* "" once deleted */
    const char *client_id;   /* NULL when none */
    const char *reply_to;    /* NULL when none */
    /* Only filled by store_message_insert: the author of reply_to (for the
     * "reply" notification); NULL otherwise. */
    const char *reply_to_author;
    int64_t edited_at; /* 0 = never edited */
    bool deleted;
    /* object: emoji -> array of user ids, oldest first; NULL for none
     * (a message just inserted) */
    json_t *reactions;
} store_message_t;

/* A persisted channel event, or the report that a write changed nothing. */
typedef struct {
    const char *channel;
    /* true: the write was a no-op (reaction already there / not there,
     * already a member / not a member, already deleted); no seq was taken
     * and seq, type, payload are 0/NULL. */
    bool unchanged;
    uint64_t seq;
    const char *type; /* "message:new", "message:updated", "message:deleted",
                         "reaction:updated", "member:joined", "member:left" */
    /* The payload exactly as stored and as it must be broadcast (without
     * the type): its compact text, and as a JSON object — except for
     * message:new, whose payload is its message (`message`, and
     * store_message_to_json of it): payload is NULL there, and the text is
     * the one to send as it is (no tree is built on the hot path). */
    json_t *payload;
    const char *payload_json;
    size_t payload_len;
    /* Message events: the message after the change (with its reactions;
     * its author decides "reaction" notifications). Else NULL. */
    const store_message_t *message;
    /* Member events: the membership (for member:left, as it was). Else
     * NULL. */
    const store_member_t *member;
} store_event_t;

typedef struct {
    const char *code;
    const char *channel;
    const char *created_by;
    int64_t created_at;
} store_invite_t;

typedef struct {
    int64_t id; /* increasing over time */
    const char *user;
    store_notif_kind_t kind;
    const char *channel;
    const char *message_id;
    const char *from_user;
    const char *from_name;
    int64_t ts;
    bool read;
} store_notification_t;

/* A channel as one of a user's channels. */
typedef struct {
    store_channel_t channel;
    store_role_t role;
    uint64_t last_read;
    uint64_t unread; /* messages with seq > last_read, by others, not deleted */
} store_user_channel_t;

/* The protocol's `message` object:
 * {id, channel, seq, ts, author:{id,name}, text, clientId, replyTo?,
 *  editedAt?, deleted?, reactions}. A new reference owned by the caller.
 * (message:new payloads are made by this function.) */
json_t *store_message_to_json(const store_message_t *m);

/* ---- Startup ----------------------------------------------------------- */

/* Everything the chat domain keeps in memory, loaded once at start. */
typedef struct {
    store_user_t *users;
    size_t nusers;
    store_channel_t *channels; /* with seq and member count, ordered by id */
    size_t nchannels;
    store_member_t *members; /* ordered by channel, then user */
    size_t nmembers;
} store_snapshot_t;

/* Reads the snapshot synchronously on its own short-lived connection
 * (blocks: call it once before serving). *out is the caller's, freed with
 * store_snapshot_free. Errors: STORE_E_IO. */
store_err_t store_load(store_t *s, store_snapshot_t **out);
void store_snapshot_free(store_snapshot_t *snap);

/* ---- Writes (writer thread, group commit, callbacks in order) ---------- */

typedef void (*store_done_cb)(store_err_t err, void *arg);
typedef void (*store_count_cb)(store_err_t err, uint64_t count, void *arg);
/* member add/remove, message edit/delete, reaction add/remove. ev is NULL
 * when err != STORE_OK. */
typedef void (*store_event_cb)(store_err_t err, const store_event_t *ev, void *arg);

/* Creates the user, or updates the name of an existing one. name NULL:
 * keep the stored name (a new user is named after its id). created: the
 * user did not exist before. */
typedef void (*store_user_cb)(store_err_t err, const store_user_t *user, bool created, void *arg);
store_err_t store_user_upsert(store_t *s, const char *id, const char *name, store_user_cb cb,
                              void *arg);

typedef struct {
    const char *id;
    const char *name; /* NULL = id */
    store_kind_t kind;
    const char *topic; /* NULL = "" */
    /* The creator: becomes the owner and first member (seq 1 is their
     * member:joined). NULL: a server-made channel with no members. */
    const char *created_by;
    /* More members to add in the same transaction, with role member, each
     * with its member:joined (for DMs: the other user). May repeat
     * created_by (ignored then). */
    const char *const *members;
    size_t nmembers;
} store_channel_spec_t;

/* Creates a channel, its owner membership and the initial members, each
 * join an event (member:joined, seqs 1, 2, ...). events[i] are those
 * events in seq order; ch has the final seq and member count.
 * Errors: STORE_E_CONFLICT (id exists), STORE_E_NOT_FOUND (created_by or a
 * member is not a user), STORE_E_INVALID. */
typedef void (*store_channel_create_cb)(store_err_t err, const store_channel_t *ch,
                                        const store_event_t *events, size_t nevents, void *arg);
store_err_t store_channel_create(store_t *s, const store_channel_spec_t *spec,
                                 store_channel_create_cb cb, void *arg);

/* Adds user to channel with role, appending member:joined
 * {channel, seq, user:{id,name}}; the new member's last_read is that seq.
 * Already a member: unchanged (role untouched; ev->member is the existing
 * membership). Errors: STORE_E_NOT_FOUND (channel or user). */
store_err_t store_member_add(store_t *s, const char *channel, const char *user, store_role_t role,
                             store_event_cb cb, void *arg);

/* Removes user from channel, appending member:left {channel, seq,
 * user:{id,name}}. Not a member: unchanged. Errors: STORE_E_NOT_FOUND
 * (channel). */
store_err_t store_member_remove(store_t *s, const char *channel, const char *user,
                                store_event_cb cb, void *arg);

/* Changes a member's role (no event). Errors: STORE_E_NOT_FOUND (not a
 * member). */
store_err_t store_member_set_role(store_t *s, const char *channel, const char *user,
                                  store_role_t role, store_done_cb cb, void *arg);

typedef struct {
    const char *channel;
    const char *author;
    const char *text;
    const char *client_id; /* NULL: no idempotency key */
    const char *reply_to;  /* NULL: not a reply */
} store_message_spec_t;

/* Inserts a message with the channel's next seq and its message:new event
 * (payload_json = the text of store_message_to_json of the message; payload
 * NULL, see store_event_t). If the author already
 * sent a message with this client_id (in any channel), nothing is written:
 * duplicate is true, msg is the original as it is now, ev is NULL.
 * Errors: STORE_E_NOT_FOUND (channel, author), STORE_E_INVALID (reply_to
 * not a message of this channel). */
typedef void (*store_message_cb)(store_err_t err, const store_message_t *msg,
                                 const store_event_t *ev, bool duplicate, void *arg);
store_err_t store_message_insert(store_t *s, const store_message_spec_t *spec, store_message_cb cb,
                                 void *arg);

/* Replaces the text, appending message:updated {channel, id, seq, text,
 * editedAt}. actor: must be the author (NULL: no check).
 * Errors: STORE_E_NOT_FOUND (no such message in channel, or deleted),
 * STORE_E_FORBIDDEN. */
store_err_t store_message_edit(store_t *s, const char *channel, const char *id, const char *actor,
                               const char *text, store_event_cb cb, void *arg);

/* Marks the message deleted, appending message:deleted {channel, id, seq}.
 * Its text and reactions are dropped, and its text is blanked in the stored
 * message:new / message:updated events too (so channel:sync does not
 * resurrect deleted words; those payloads then carry "deleted":true).
 * actor: the author or an owner/admin of the channel (NULL: no check).
 * Already deleted: unchanged. Errors: STORE_E_NOT_FOUND,
 * STORE_E_FORBIDDEN. */
store_err_t store_message_delete(store_t *s, const char *channel, const char *id, const char *actor,
                                 store_event_cb cb, void *arg);

/* Adds / removes user's emoji reaction, appending reaction:updated
 * {channel, id, seq, emoji, user, op:"add"|"remove"}. Already there (add) or
 * not there (remove): unchanged, no seq. Errors: STORE_E_NOT_FOUND (message
 * absent or deleted, user unknown). emoji at most 64 bytes. */
store_err_t store_reaction_add(store_t *s, const char *channel, const char *id, const char *user,
                               const char *emoji, store_event_cb cb, void *arg);
store_err_t store_reaction_remove(store_t *s, const char *channel, const char *id, const char *user,
                                  const char *emoji, store_event_cb cb, void *arg);

/* Moves user's last_read in channel to min(seq, channel seq) unless that is
 * lower than where it is: it never moves backwards. Reports the resulting
 * last_read; changed says whether it moved. Errors: STORE_E_NOT_FOUND (not a
 * member). */
typedef void (*store_read_mark_cb)(store_err_t err, uint64_t last_read, bool changed, void *arg);
store_err_t store_read_mark(store_t *s, const char *channel, const char *user, uint64_t seq,
                            store_read_mark_cb cb, void *arg);

/* Makes a new random share code (12 characters [0-9a-z]) for channel.
 * Errors: STORE_E_NOT_FOUND (channel or created_by). */
typedef void (*store_invite_cb)(store_err_t err, const store_invite_t *inv, void *arg);
store_err_t store_invite_create(store_t *s, const char *channel, const char *created_by,
                                store_invite_cb cb, void *arg);

typedef struct {
    const char *user; /* who is notified */
    store_notif_kind_t kind;
    const char *channel;
    const char *message_id;
    const char *from_user;
} store_notification_spec_t;

/* Stores n notifications (unread, ts = now) in one go; items[i] matches
 * specs[i], with its id. has_more is always false here. Errors:
 * STORE_E_NOT_FOUND (a user, channel or message): then none is stored. The
 * call refuses n == 0 and n > 1000. */
typedef void (*store_notifications_cb)(store_err_t err, const store_notification_t *items, size_t n,
                                       bool has_more, void *arg);
store_err_t store_notification_insert(store_t *s, const store_notification_spec_t *specs, size_t n,
                                      store_notifications_cb cb, void *arg);

/* Marks user's notifications read: those in ids (others' ids and unknown
 * ids are ignored), or all of them when all is true. count = the user's
 * unread notifications afterwards. */
store_err_t store_notification_mark_read(store_t *s, const char *user, const int64_t *ids,
                                         size_t nids, bool all, store_count_cb cb, void *arg);

/* ---- Reads (reader threads) -------------------------------------------- */

/* Errors: STORE_E_NOT_FOUND. */
typedef void (*store_channel_cb)(store_err_t err, const store_channel_t *ch, void *arg);
store_err_t store_channel_get(store_t *s, const char *id, store_channel_cb cb, void *arg);

/* The message as it is now, with reactions. Errors: STORE_E_NOT_FOUND. */
typedef void (*store_message_get_cb)(store_err_t err, const store_message_t *msg, void *arg);
store_err_t store_message_get(store_t *s, const char *channel, const char *id,
                              store_message_get_cb cb, void *arg);

/* Errors: STORE_E_NOT_FOUND. */
store_err_t store_invite_get(store_t *s, const char *code, store_invite_cb cb, void *arg);

/* Up to limit messages (1..1000) of channel with seq < before (0 = no
 * bound), oldest first, with reactions; deleted ones included (deleted,
 * text ""). has_more: older messages exist. Errors: STORE_E_NOT_FOUND
 * (channel). */
typedef void (*store_messages_cb)(store_err_t err, const store_message_t *msgs, size_t n,
                                  bool has_more, void *arg);
store_err_t store_history_page(store_t *s, const char *channel, uint64_t before, unsigned limit,
                               store_messages_cb cb, void *arg);

/* Up to limit events (1..1000) of channel with seq > after, in seq order,
 * as a JSON array of {type, ...payload}: exactly what channel:sync answers.
 * has_more: events after the last one exist. Errors: STORE_E_NOT_FOUND
 * (channel). */
typedef void (*store_sync_cb)(store_err_t err, json_t *events, bool has_more, void *arg);
store_err_t store_sync_range(store_t *s, const char *channel, uint64_t after, unsigned limit,
                             store_sync_cb cb, void *arg);

/* Messages in channel after user's last_read, by others, not deleted.
 * Errors: STORE_E_NOT_FOUND (not a member). */
store_err_t store_unread_count(store_t *s, const char *channel, const char *user, store_count_cb cb,
                               void *arg);

/* The user's channels (ordered by id) with role, last_read, unread. */
typedef void (*store_user_channels_cb)(store_err_t err, const store_user_channel_t *items, size_t n,
                                       void *arg);
store_err_t store_user_channels(store_t *s, const char *user, store_user_channels_cb cb, void *arg);

/* Every public channel, ordered by id. */
typedef void (*store_channels_cb)(store_err_t err, const store_channel_t *chs, size_t n, void *arg);
store_err_t store_channels_public(store_t *s, store_channels_cb cb, void *arg);

/* The user's notifications, newest first: only unread ones if unread_only,
 * only with id < before if before > 0, at most limit (1..1000). has_more:
 * more match after the last one. */
store_err_t store_notification_list(store_t *s, const char *user, bool unread_only, int64_t before,
                                    unsigned limit, store_notifications_cb cb, void *arg);

/* The user's unread notification count. */
store_err_t store_notification_unread(store_t *s, const char *user, store_count_cb cb, void *arg);

#endif
