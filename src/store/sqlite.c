/* sqlite.c — the SQLite backend of the store: connections, prepared
 * statements, and every operation as SQL.
 *
 * Each connection belongs to one thread (opened NOMUTEX) and keeps its
 * statements prepared for its whole life. All SQL is constant text; values
 * are bound. The writer connection runs inside the transactions store.c
 * opens; each read runs in a read transaction of its own, so it sees one
 * committed state.
 *
 * Not here: threads, queues, group commit (store.c); the schema
 * (migrations.c); JSON shapes (payload.c).
 */
#include "store/sqlite.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/map.h"
#include "store/internal.h"

/* ---- Statements -------------------------------------------------------- */

/* A channel's seq: that of its last event, a message (messages) or any
 * other (events); two index look-ups. (channels.seq is no longer kept up
 * to date: writing it back at every commit cost an UPDATE per channel.) */
#define SEQ_OF(ch)                                                                                 \
    "max(coalesce((SELECT max(seq) FROM messages WHERE channel = " ch "), 0), "                     \
    "coalesce((SELECT max(seq) FROM events WHERE channel = " ch "), 0))"
#define CHANNEL_COLS                                                                               \
    "c.id, c.name, c.kind, c.topic, c.created_by, c.created_at, " SEQ_OF("c.id") ", "             \
    "(SELECT count(*) FROM members x WHERE x.channel = c.id)"
#define MESSAGE_COLS                                                                               \
    "m.channel, m.seq, m.id, m.author, u.name, m.text, m.client_id, m.reply_to, m.ts, "            \
    "m.edited_at, m.deleted"
/* What a message:new payload is made of (read_new). */
#define NEW_COLS                                                                                   \
    "m.channel, m.seq, m.id, m.author, coalesce(m.author_name, m.author), m.text, m.client_id, "   \
    "m.reply_to, m.ts, m.deleted, m.new_payload"
#define UNREAD_EXPR                                                                                \
    "(SELECT count(*) FROM messages z WHERE z.channel = mb.channel AND z.seq > mb.last_read "      \
    "AND z.author <> mb.user AND z.deleted = 0)"

typedef enum {
    Q_BEGIN,
    Q_BEGIN_WRITE,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_USER_GET,
    Q_USER_INSERT,
    Q_USER_RENAME,
    Q_CHAN_INSERT,
    Q_CHAN_GET,
    Q_CHAN_SEQ,
    Q_DATA_VERSION,
    Q_MEMBER_GET,
    Q_MEMBER_INSERT,
    Q_MEMBER_DELETE,
    Q_MEMBER_ROLE,
    Q_EVENT_INSERT,
    Q_EVENT_PAYLOAD,
    Q_EVENT_UPDATES,
    Q_EVENT_SET_PAYLOAD,
    Q_MSG_BY_CLIENT,
    Q_MSG_GET,
    Q_MSG_BRIEF,
    Q_MSG_INSERT,
    Q_MSG_EDIT,
    Q_MSG_DELETE,
    Q_MSG_MAX_ID,
    Q_MSG_ORIGINAL,
    Q_MSG_NEW_PAYLOAD,
    Q_MSG_SET_NEW_PAYLOAD,
    Q_REACTIONS,
    Q_REACT_ADD,
    Q_REACT_DEL,
    Q_REACT_CLEAR,
    Q_READ_GET,
    Q_READ_SET,
    Q_INVITE_INSERT,
    Q_INVITE_GET,
    Q_NOTIF_INSERT,
    Q_NOTIF_READ_ONE,
    Q_NOTIF_READ_ALL,
    Q_NOTIF_UNREAD,
    Q_NOTIF_LIST,
    Q_HISTORY,
    Q_SYNC,
    Q_SYNC_NEW,
    Q_UNREAD,
    Q_USER_CHANNELS,
    Q_PUBLIC,
    Q_COUNT
} query_t;

static const char *const sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN",
    [Q_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_USER_GET] = "SELECT name, created_at FROM users WHERE id = ?1",
    [Q_USER_INSERT] = "INSERT INTO users (id, name, created_at) VALUES (?1, ?2, ?3)",
    [Q_USER_RENAME] = "UPDATE users SET name = ?2 WHERE id = ?1",
    [Q_CHAN_INSERT] = "INSERT INTO channels (id, name, kind, topic, created_by, created_at, seq) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
    [Q_CHAN_GET] = "SELECT " CHANNEL_COLS " FROM channels c WHERE c.id = ?1",
    [Q_CHAN_SEQ] = "SELECT " SEQ_OF("c.id") " FROM channels c WHERE c.id = ?1",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_MEMBER_GET] = "SELECT role, last_read, joined_at FROM members "
                     "WHERE channel = ?1 AND user = ?2",
    [Q_MEMBER_INSERT] = "INSERT INTO members (channel, user, role, last_read, joined_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_MEMBER_DELETE] = "DELETE FROM members WHERE channel = ?1 AND user = ?2",
    [Q_MEMBER_ROLE] = "UPDATE members SET role = ?3 WHERE channel = ?1 AND user = ?2",
    [Q_EVENT_INSERT] = "INSERT INTO events (channel, seq, type, message_id, payload) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_EVENT_PAYLOAD] = "SELECT payload FROM events WHERE channel = ?1 AND seq = ?2",
    [Q_EVENT_UPDATES] = "SELECT seq FROM events "
                        "WHERE message_id = ?1 AND type = 'message:updated' AND channel = ?2",
    [Q_EVENT_SET_PAYLOAD] = "UPDATE events SET payload = ?3 WHERE channel = ?1 AND seq = ?2",
    [Q_MSG_BY_CLIENT] = "SELECT id FROM messages WHERE author = ?1 AND client_id = ?2",
    [Q_MSG_GET] = "SELECT " MESSAGE_COLS " FROM messages m JOIN users u ON u.id = m.author "
                  "WHERE m.id = ?1",
    [Q_MSG_BRIEF] = "SELECT author, deleted, seq FROM messages WHERE id = ?1 AND channel = ?2",
    [Q_MSG_INSERT] = "INSERT INTO messages "
                     "(channel, seq, id, author, text, client_id, reply_to, ts, deleted, "
                     "author_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
    [Q_MSG_EDIT] = "UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1",
    [Q_MSG_DELETE] = "UPDATE messages SET text = '', deleted = 1 WHERE id = ?1",
    [Q_MSG_MAX_ID] = "SELECT max(id) FROM messages",
    /* A message's message:new payload is its row (NEW_COLS) until an edit
     * replaces the text: then it is written out to new_payload first. */
    [Q_MSG_ORIGINAL] = "SELECT " NEW_COLS " FROM messages m WHERE m.id = ?1",
    [Q_MSG_NEW_PAYLOAD] = "SELECT new_payload FROM messages WHERE id = ?1",
    [Q_MSG_SET_NEW_PAYLOAD] = "UPDATE messages SET new_payload = ?2 WHERE id = ?1",
    [Q_REACTIONS] = "SELECT emoji, user FROM reactions WHERE message = ?1 ORDER BY id",
    [Q_REACT_ADD] = "INSERT INTO reactions (message, emoji, user, created_at) "
                    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    [Q_REACT_DEL] = "DELETE FROM reactions WHERE message = ?1 AND emoji = ?2 AND user = ?3",
    [Q_REACT_CLEAR] = "DELETE FROM reactions WHERE message = ?1",
    [Q_READ_GET] = "SELECT mb.last_read, " SEQ_OF("mb.channel") " FROM members mb "
                   "WHERE mb.channel = ?1 AND mb.user = ?2",
    [Q_READ_SET] = "UPDATE members SET last_read = ?3 WHERE channel = ?1 AND user = ?2",
    [Q_INVITE_INSERT] = "INSERT INTO invites (code, channel, created_by, created_at) "
                        "VALUES (?1, ?2, ?3, ?4)",
    [Q_INVITE_GET] = "SELECT code, channel, created_by, created_at FROM invites WHERE code = ?1",
    [Q_NOTIF_INSERT] = "INSERT INTO notifications "
                       "(user, kind, channel, message_id, from_user, ts, read) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0) RETURNING id",
    [Q_NOTIF_READ_ONE] = "UPDATE notifications SET read = 1 "
                         "WHERE id = ?1 AND user = ?2 AND read = 0",
    [Q_NOTIF_READ_ALL] = "UPDATE notifications SET read = 1 WHERE user = ?1 AND read = 0",
    [Q_NOTIF_UNREAD] = "SELECT count(*) FROM notifications WHERE user = ?1 AND read = 0",
    [Q_NOTIF_LIST] = "SELECT n.id, n.user, n.kind, n.channel, n.message_id, n.from_user, u.name, "
                     "n.ts, n.read FROM notifications n LEFT JOIN users u ON u.id = n.from_user "
                     "WHERE n.user = ?1 AND (?2 = 0 OR n.read = 0) AND n.id < ?3 "
                     "ORDER BY n.id DESC LIMIT ?4",
    [Q_HISTORY] = "SELECT " MESSAGE_COLS " FROM messages m JOIN users u ON u.id = m.author "
                  "WHERE m.channel = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3",
    [Q_SYNC] = "SELECT seq, type, payload FROM events WHERE channel = ?1 AND seq > ?2 "
               "ORDER BY seq LIMIT ?3",
    [Q_SYNC_NEW] = "SELECT " NEW_COLS " FROM messages m WHERE m.channel = ?1 AND m.seq > ?2 "
                   "ORDER BY m.seq LIMIT ?3",
    [Q_UNREAD] = "SELECT " UNREAD_EXPR " FROM members mb WHERE mb.channel = ?1 AND mb.user = ?2",
    [Q_USER_CHANNELS] = "SELECT " CHANNEL_COLS ", mb.role, mb.last_read, " UNREAD_EXPR
                        " FROM members mb JOIN channels c ON c.id = mb.channel "
                        "WHERE mb.user = ?1 ORDER BY c.id",
    [Q_PUBLIC] = "SELECT " CHANNEL_COLS " FROM channels c WHERE c.kind = 'public' ORDER BY c.id",
};

/* A channel's seq as the writer last left it. */
typedef struct seq_entry {
    struct seq_entry *next;
    uint64_t seq;
} seq_entry_t;

typedef struct checkpointer checkpointer_t;

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *st[Q_COUNT];
    bool writer;
    uint64_t last_id; /* writer: the largest message id number handed out */
    int64_t now;      /* writer: the clock for the request being run */
    /* writer: each channel's seq, read once and then kept from transaction
     * to transaction; forgotten on rollback and when another connection
     * has written to the file meanwhile (data_version moved). */
    map_t seqs;
    seq_entry_t *seq_list;
    int64_t data_version;
    checkpointer_t *ckpt; /* writer: the WAL checkpoint thread */
    buf_t scratch;        /* payload text */
    /* writer: user id -> name (malloc'd), as this connection last read or
     * wrote it; a send needs its author's name. Forgotten on rollback and
     * when it grows past NAMES_MAX. (A rename by another process on the
     * same file is not seen: one server owns a database.) */
    map_t names;
} conn_t;

#define NAMES_MAX 4096

static sqlite3_stmt *stmt(conn_t *c, query_t q)
{
    if (!c->st[q] && sqlite3_prepare_v3(c->db, sql[q], -1, SQLITE_PREPARE_PERSISTENT, &c->st[q],
                                        NULL) != SQLITE_OK) {
        log_error("store_prepare", "cannot prepare statement %d: %s", (int)q,
                  sqlite3_errmsg(c->db));
        c->st[q] = NULL;
    }
    return c->st[q];
}

/* Maps a failed step to the store's error; unexpected ones are logged. */
static store_err_t db_error(conn_t *c, int rc)
{
    int ext = sqlite3_extended_errcode(c->db);
    switch (ext) {
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return STORE_E_NOT_FOUND;
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return STORE_E_CONFLICT;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return STORE_E_INVALID;
    default:
        break;
    }
    log_error("store_sql", "sqlite error %d (%d): %s", rc, ext, sqlite3_errmsg(c->db));
    return STORE_E_IO;
}

static void bt(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bi(sqlite3_stmt *st, int i, int64_t v)
{
    sqlite3_bind_int64(st, i, v);
}

/* Runs a statement that returns no row. */
static store_err_t exec(conn_t *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    store_err_t e = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : db_error(c, rc);
    sqlite3_reset(st);
    return e;
}

/* Steps once: STORE_OK with a row (caller resets), STORE_E_NOT_FOUND
 * without one (reset done), or an error (reset done). */
static store_err_t row(conn_t *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    store_err_t e = rc == SQLITE_DONE ? STORE_E_NOT_FOUND : db_error(c, rc);
    sqlite3_reset(st);
    return e;
}

static const char *col_str(store__arena_t *a, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? store__arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);
    return v > 0 ? (uint64_t)v : 0;
}

static void read_channel(store__arena_t *a, sqlite3_stmt *st, store_channel_t *ch)
{
    ch->id = col_str(a, st, 0);
    ch->name = col_str(a, st, 1);
    int k = store_kind_parse((const char *)sqlite3_column_text(st, 2));
    ch->kind = k < 0 ? STORE_PRIVATE : (store_kind_t)k;
    ch->topic = col_str(a, st, 3);
    if (!ch->topic)
        ch->topic = "";
    ch->created_by = col_str(a, st, 4);
    ch->created_at = sqlite3_column_int64(st, 5);
    ch->seq = col_u64(st, 6);
    ch->members = (uint32_t)sqlite3_column_int64(st, 7);
}

static store_role_t col_role(sqlite3_stmt *st, int i)
{
    int r = store_role_parse((const char *)sqlite3_column_text(st, i));
    return r < 0 ? STORE_MEMBER : (store_role_t)r;
}

static void read_message(store__arena_t *a, sqlite3_stmt *st, store_message_t *m)
{
    memset(m, 0, sizeof *m);
    m->channel = col_str(a, st, 0);
    m->seq = col_u64(st, 1);
    m->id = col_str(a, st, 2);
    m->author = col_str(a, st, 3);
    m->author_name = col_str(a, st, 4);
    m->text = col_str(a, st, 5);
    m->client_id = col_str(a, st, 6);
    m->reply_to = col_str(a, st, 7);
    m->ts = sqlite3_column_int64(st, 8);
    m->edited_at = sqlite3_column_int64(st, 9);
    m->deleted = sqlite3_column_int(st, 10) != 0;
}

/* m->reactions := {emoji: [users]} from the reactions table. */
static store_err_t load_reactions(conn_t *c, store__req_t *r, store_message_t *m)
{
    sqlite3_stmt *st = stmt(c, Q_REACTIONS);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, m->id);
    json_t *obj = json_object();
    store__req_own(r, obj, NULL);
    m->reactions = obj;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *emoji = (const char *)sqlite3_column_text(st, 0);
        const char *user = (const char *)sqlite3_column_text(st, 1);
        json_t *users = json_object_get(obj, emoji);
        if (!users) {
            users = json_array();
            json_object_set_new(obj, emoji, users);
        }
        json_array_append_new(users, json_string(user));
    }
    store_err_t e = rc == SQLITE_DONE ? STORE_OK : db_error(c, rc);
    sqlite3_reset(st);
    return e;
}

/* The message by id, as it is now; NOT_FOUND unless it is in channel
 * (channel NULL: any). */
static store_err_t load_message(conn_t *c, store__req_t *r, const char *id, const char *channel,
                                store_message_t *m)
{
    sqlite3_stmt *st = stmt(c, Q_MSG_GET);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, id);
    store_err_t e = row(c, st);
    if (e)
        return e;
    read_message(&r->out_arena, st, m);
    sqlite3_reset(st);
    if (channel && strcmp(channel, m->channel) != 0)
        return STORE_E_NOT_FOUND;
    return load_reactions(c, r, m);
}

/* ---- Writes ------------------------------------------------------------ */

static int free_name(const char *key, size_t klen, void *name, void *arg)
{
    free(name);
    return 0;
}

static void names_forget(conn_t *c)
{
    map_each(&c->names, free_name, NULL);
    map_free(&c->names);
}

static void names_drop(conn_t *c, const char *user)
{
    free(map_del(&c->names, user, strlen(user)));
}

static store_err_t user_name(conn_t *c, store__req_t *r, const char *user, const char **name)
{
    size_t len = strlen(user);
    const char *known = map_get(&c->names, user, len);
    if (known) {
        *name = store__arena_strdup(&r->out_arena, known);
        return STORE_OK;
    }
    sqlite3_stmt *st = stmt(c, Q_USER_GET);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, user);
    store_err_t e = row(c, st);
    if (e)
        return e;
    *name = col_str(&r->out_arena, st, 0);
    sqlite3_reset(st);
    if (map_count(&c->names) >= NAMES_MAX)
        names_forget(c);
    map_put(&c->names, user, len, xstrdup(*name));
    return STORE_OK;
}

/* The channel's seq in the open transaction (cached after the first
 * look); NOT_FOUND if there is no such channel. */
static store_err_t seq_entry(conn_t *c, const char *channel, seq_entry_t **out)
{
    size_t len = strlen(channel);
    seq_entry_t *e = map_get(&c->seqs, channel, len);
    if (!e) {
        sqlite3_stmt *st = stmt(c, Q_CHAN_SEQ);
        if (!st)
            return STORE_E_IO;
        bt(st, 1, channel);
        store_err_t err = row(c, st);
        if (err)
            return err;
        e = xcalloc(1, sizeof *e);
        e->seq = col_u64(st, 0);
        sqlite3_reset(st);
        map_put(&c->seqs, channel, len, e);
        e->next = c->seq_list;
        c->seq_list = e;
    }
    *out = e;
    return STORE_OK;
}

/* Takes the channel's next seq inside the write transaction: the last
 * one + 1. A rollback forgets it with everything else, so seqs have no
 * gaps and never repeat; the event row written with it is what later
 * reads derive the seq from. */
static store_err_t next_seq(conn_t *c, const char *channel, uint64_t *seq)
{
    seq_entry_t *e;
    store_err_t err = seq_entry(c, channel, &e);
    if (err)
        return err;
    *seq = ++e->seq;
    return STORE_OK;
}

static void seqs_forget(conn_t *c)
{
    while (c->seq_list) {
        seq_entry_t *e = c->seq_list;
        c->seq_list = e->next;
        free(e);
    }
    map_free(&c->seqs);
}

/* Fills ev with the payload and stores it as the channel's event seq. */
static store_err_t append_event(conn_t *c, store__req_t *r, store_event_t *ev, const char *type,
                                const char *channel, uint64_t seq, const char *message_id,
                                json_t *payload)
{
    store_err_t e = store__event_fill(r, ev, type, channel, seq, payload, &c->scratch);
    if (e)
        return e;
    sqlite3_stmt *st = stmt(c, Q_EVENT_INSERT);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, channel);
    bi(st, 2, (int64_t)seq);
    bt(st, 3, type);
    bt(st, 4, message_id);
    sqlite3_bind_text(st, 5, ev->payload_json, (int)ev->payload_len, SQLITE_STATIC);
    return exec(c, st);
}

static store_event_t *one_event(store__req_t *r, const char *channel)
{
    store_event_t *ev = store__arena_alloc(&r->out_arena, sizeof *ev);
    memset(ev, 0, sizeof *ev);
    ev->channel = channel;
    r->out.events = ev;
    r->out.nevents = 1;
    return ev;
}

static store_err_t w_user_upsert(conn_t *c, store__req_t *r, bool *dirty)
{
    store_user_t *u = &r->out.user;
    u->id = r->in.id;
    sqlite3_stmt *st = stmt(c, Q_USER_GET);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.id);
    store_err_t e = row(c, st);
    if (e == STORE_OK) {
        u->name = col_str(&r->out_arena, st, 0);
        u->created_at = sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
        if (!r->in.name || strcmp(r->in.name, u->name) == 0)
            return STORE_OK;
        u->name = r->in.name;
        names_drop(c, r->in.id);
        st = stmt(c, Q_USER_RENAME);
        if (!st)
            return STORE_E_IO;
        bt(st, 1, r->in.id);
        bt(st, 2, r->in.name);
        return exec(c, st);
    }
    if (e != STORE_E_NOT_FOUND)
        return e;
    u->name = r->in.name ? r->in.name : r->in.id;
    u->created_at = c->now;
    r->out.flag = true;
    st = stmt(c, Q_USER_INSERT);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, u->id);
    bt(st, 2, u->name);
    bi(st, 3, c->now);
    return exec(c, st);
}

static store_err_t get_member(conn_t *c, store__req_t *r, const char *channel, const char *user,
                              store_member_t *m)
{
    sqlite3_stmt *st = stmt(c, Q_MEMBER_GET);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, channel);
    bt(st, 2, user);
    store_err_t e = row(c, st);
    if (e)
        return e;
    m->channel = channel;
    m->user = user;
    m->role = col_role(st, 0);
    m->last_read = col_u64(st, 1);
    m->joined_at = sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    return STORE_OK;
}

static store_err_t channel_exists(conn_t *c, const char *channel)
{
    sqlite3_stmt *st = stmt(c, Q_CHAN_SEQ);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, channel);
    store_err_t e = row(c, st);
    if (e == STORE_OK)
        sqlite3_reset(st);
    return e;
}

/* Adds one member and its member:joined; an existing member is reported
 * unchanged. */
static store_err_t add_member(conn_t *c, store__req_t *r, const char *channel, const char *user,
                              store_role_t role, store_event_t *ev, store_member_t *m, bool *dirty)
{
    memset(ev, 0, sizeof *ev);
    ev->channel = channel;
    ev->member = m;
    store_err_t e = get_member(c, r, channel, user, m);
    if (e == STORE_OK) {
        ev->unchanged = true;
        return STORE_OK;
    }
    if (e != STORE_E_NOT_FOUND)
        return e;
    const char *name;
    if ((e = user_name(c, r, user, &name)) != STORE_OK)
        return e;
    uint64_t seq;
    if ((e = next_seq(c, channel, &seq)) != STORE_OK)
        return e;
    *dirty = true;
    m->channel = channel;
    m->user = user;
    m->role = role;
    m->last_read = seq;
    m->joined_at = c->now;
    sqlite3_stmt *st = stmt(c, Q_MEMBER_INSERT);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, channel);
    bt(st, 2, user);
    bt(st, 3, store_role_name(role));
    bi(st, 4, (int64_t)seq);
    bi(st, 5, c->now);
    if ((e = exec(c, st)) != STORE_OK)
        return e;
    return append_event(c, r, ev, "member:joined", channel, seq, NULL,
                        store__payload_member(channel, seq, user, name));
}

static store_err_t get_channel(conn_t *c, store__req_t *r, const char *id, store_channel_t *ch)
{
    sqlite3_stmt *st = stmt(c, Q_CHAN_GET);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, id);
    store_err_t e = row(c, st);
    if (e)
        return e;
    read_channel(&r->out_arena, st, ch);
    sqlite3_reset(st);
    seq_entry_t *se = c->writer ? map_get(&c->seqs, id, strlen(id)) : NULL;
    if (se)
        ch->seq = se->seq;
    return STORE_OK;
}

static store_err_t w_channel_create(conn_t *c, store__req_t *r, bool *dirty)
{
    const char *creator = r->in.user;
    const char *name;
    store_err_t e;
    if (creator && (e = user_name(c, r, creator, &name)) != STORE_OK)
        return e;
    sqlite3_stmt *st = stmt(c, Q_CHAN_INSERT);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.id);
    bt(st, 2, r->in.name);
    bt(st, 3, store_kind_name(r->in.kind));
    bt(st, 4, r->in.topic);
    bt(st, 5, creator);
    bi(st, 6, c->now);
    if ((e = exec(c, st)) != STORE_OK)
        return e;
    *dirty = true;

    size_t max = r->in.nlist + (creator ? 1 : 0);
    store_event_t *evs = max ? store__arena_alloc(&r->out_arena, max * sizeof *evs) : NULL;
    store_member_t *ms = max ? store__arena_alloc(&r->out_arena, max * sizeof *ms) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < max; i++) {
        const char *user = creator ? (i == 0 ? creator : r->in.list[i - 1]) : r->in.list[i];
        /* A DM has no owner: neither side may moderate the other. */
        store_role_t role = creator && i == 0 && r->in.kind != STORE_DM ? STORE_OWNER : STORE_MEMBER;
        if ((e = add_member(c, r, r->in.id, user, role, &evs[n], &ms[n], dirty)) != STORE_OK)
            return e;
        if (!evs[n].unchanged) {
            evs[n].member = &ms[n];
            n++;
        }
    }
    r->out.events = evs;
    r->out.nevents = n;
    return get_channel(c, r, r->in.id, &r->out.channel);
}

static store_err_t w_member_add(conn_t *c, store__req_t *r, bool *dirty)
{
    store_event_t *ev = one_event(r, r->in.channel);
    return add_member(c, r, r->in.channel, r->in.user, r->in.role, ev, &r->out.member, dirty);
}

static store_err_t w_member_remove(conn_t *c, store__req_t *r, bool *dirty)
{
    store_event_t *ev = one_event(r, r->in.channel);
    ev->member = &r->out.member;
    store_err_t e = get_member(c, r, r->in.channel, r->in.user, &r->out.member);
    if (e == STORE_E_NOT_FOUND) {
        if ((e = channel_exists(c, r->in.channel)) != STORE_OK)
            return e;
        ev->unchanged = true;
        ev->member = NULL;
        return STORE_OK;
    }
    if (e)
        return e;
    const char *name;
    if ((e = user_name(c, r, r->in.user, &name)) != STORE_OK)
        return e;
    sqlite3_stmt *st = stmt(c, Q_MEMBER_DELETE);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.channel);
    bt(st, 2, r->in.user);
    if ((e = exec(c, st)) != STORE_OK)
        return e;
    *dirty = true;
    uint64_t seq;
    if ((e = next_seq(c, r->in.channel, &seq)) != STORE_OK)
        return e;
    return append_event(c, r, ev, "member:left", r->in.channel, seq, NULL,
                        store__payload_member(r->in.channel, seq, r->in.user, name));
}

static store_err_t w_member_role(conn_t *c, store__req_t *r, bool *dirty)
{
    sqlite3_stmt *st = stmt(c, Q_MEMBER_ROLE);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.channel);
    bt(st, 2, r->in.user);
    bt(st, 3, store_role_name(r->in.role));
    store_err_t e = exec(c, st);
    if (e == STORE_OK && sqlite3_changes(c->db) == 0)
        e = STORE_E_NOT_FOUND;
    return e;
}

static void new_message_id(conn_t *c, char out[STORE__ID_LEN + 1])
{
    uint64_t v = (uint64_t)c->now << 16;
    if (v <= c->last_id)
        v = c->last_id + 1;
    c->last_id = v;
    store__id_encode(v, out);
}

/* Brief facts about a message of a channel: NOT_FOUND when absent. */
static store_err_t message_brief(conn_t *c, store__req_t *r, const char *id, const char *channel,
                                 const char **author, bool *deleted, uint64_t *seq)
{
    sqlite3_stmt *st = stmt(c, Q_MSG_BRIEF);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, id);
    bt(st, 2, channel);
    store_err_t e = row(c, st);
    if (e)
        return e;
    *author = col_str(&r->out_arena, st, 0);
    *deleted = sqlite3_column_int(st, 1) != 0;
    *seq = col_u64(st, 2);
    sqlite3_reset(st);
    return STORE_OK;
}

/* The message (author, client_id) names, if any: a retry. */
static store_err_t find_duplicate(conn_t *c, store__req_t *r)
{
    sqlite3_stmt *st = stmt(c, Q_MSG_BY_CLIENT);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.user);
    bt(st, 2, r->in.client_id);
    store_err_t e = row(c, st);
    if (e)
        return e;
    const char *id = col_str(&r->out_arena, st, 0);
    sqlite3_reset(st);
    r->out.flag = true; /* duplicate */
    return load_message(c, r, id, NULL, &r->out.message);
}

/* A message is one row: its message:new event is that row (channel:sync
 * makes the payload from it), so a send writes no events row. The
 * idempotency key is checked by the insert itself (the unique index on
 * (author, client_id)): a retry is the rare case, and a look-up first would
 * search the same index on every send. */
static store_err_t w_message_insert(conn_t *c, store__req_t *r, bool *dirty)
{
    store_message_t *m = &r->out.message;
    memset(m, 0, sizeof *m);
    store_err_t e;
    sqlite3_stmt *st;
    if ((e = user_name(c, r, r->in.user, &m->author_name)) != STORE_OK)
        return e;
    if (r->in.reply_to) {
        bool deleted;
        uint64_t rseq;
        e = message_brief(c, r, r->in.reply_to, r->in.channel, &m->reply_to_author, &deleted,
                          &rseq);
        if (e == STORE_E_NOT_FOUND && r->in.client_id && find_duplicate(c, r) == STORE_OK)
            return STORE_OK;
        if (e)
            return e == STORE_E_NOT_FOUND ? STORE_E_INVALID : e;
    }
    seq_entry_t *se;
    if ((e = seq_entry(c, r->in.channel, &se)) != STORE_OK)
        return e;
    uint64_t seq = se->seq + 1;
    char *id = store__arena_alloc(&r->out_arena, STORE__ID_LEN + 1);
    new_message_id(c, id);
    m->id = id;
    m->channel = r->in.channel;
    m->seq = seq;
    m->ts = c->now;
    m->author = r->in.user;
    m->text = r->in.text;
    m->client_id = r->in.client_id;
    m->reply_to = r->in.reply_to;

    if (!(st = stmt(c, Q_MSG_INSERT)))
        return STORE_E_IO;
    bt(st, 1, m->channel);
    bi(st, 2, (int64_t)seq);
    bt(st, 3, m->id);
    bt(st, 4, m->author);
    bt(st, 5, m->text);
    bt(st, 6, m->client_id);
    bt(st, 7, m->reply_to);
    bi(st, 8, m->ts);
    bt(st, 9, m->author_name);
    e = exec(c, st);
    if (e == STORE_E_CONFLICT && r->in.client_id) {
        /* The failed statement changed nothing; the seq was not taken. */
        e = find_duplicate(c, r);
        return e == STORE_E_NOT_FOUND ? STORE_E_CONFLICT : e;
    }
    if (e)
        return e;
    se->seq = seq;
    *dirty = true;

    buf_reset(&c->scratch);
    if (!store__message_write(&c->scratch, m, false))
        return STORE_E_INVALID;
    store_event_t *ev = one_event(r, m->channel);
    ev->message = m;
    ev->seq = seq;
    ev->type = "message:new";
    ev->payload_json = store__arena_strndup(&r->out_arena, c->scratch.data, c->scratch.len);
    ev->payload_len = c->scratch.len;
    return STORE_OK;
}

/* The message as its NEW_COLS row gives it (strings borrowed from st). */
static const char *read_new(sqlite3_stmt *st, store_message_t *m)
{
    memset(m, 0, sizeof *m);
    m->channel = (const char *)sqlite3_column_text(st, 0);
    m->seq = col_u64(st, 1);
    m->id = (const char *)sqlite3_column_text(st, 2);
    m->author = (const char *)sqlite3_column_text(st, 3);
    m->author_name = (const char *)sqlite3_column_text(st, 4);
    m->text = (const char *)sqlite3_column_text(st, 5);
    m->client_id = (const char *)sqlite3_column_text(st, 6);
    m->reply_to = (const char *)sqlite3_column_text(st, 7);
    m->ts = sqlite3_column_int64(st, 8);
    m->deleted = sqlite3_column_int(st, 9) != 0;
    return (const char *)sqlite3_column_text(st, 10);
}

/* Before the first edit replaces a message's text, its message:new
 * payload (until then derived from the row) is written out. */
static store_err_t keep_original(conn_t *c, const char *id)
{
    sqlite3_stmt *st = stmt(c, Q_MSG_ORIGINAL);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, id);
    store_err_t e = row(c, st);
    if (e)
        return e;
    store_message_t m;
    bool stored = read_new(st, &m) != NULL;
    buf_reset(&c->scratch);
    bool ok = stored || store__message_write(&c->scratch, &m, false);
    sqlite3_reset(st);
    if (stored)
        return STORE_OK;
    if (!ok)
        return STORE_E_INVALID;
    if (!(st = stmt(c, Q_MSG_SET_NEW_PAYLOAD)))
        return STORE_E_IO;
    bt(st, 1, id);
    sqlite3_bind_text(st, 2, c->scratch.data, (int)c->scratch.len, SQLITE_STATIC);
    return exec(c, st);
}

static store_err_t w_message_edit(conn_t *c, store__req_t *r, bool *dirty)
{
    const char *author;
    bool deleted;
    uint64_t mseq, seq;
    store_err_t e = message_brief(c, r, r->in.id, r->in.channel, &author, &deleted, &mseq);
    if (e)
        return e;
    if (deleted)
        return STORE_E_NOT_FOUND;
    if (r->in.user && strcmp(r->in.user, author) != 0)
        return STORE_E_FORBIDDEN;
    if ((e = next_seq(c, r->in.channel, &seq)) != STORE_OK)
        return e;
    *dirty = true;
    if ((e = keep_original(c, r->in.id)) != STORE_OK)
        return e;
    sqlite3_stmt *st = stmt(c, Q_MSG_EDIT);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.id);
    bt(st, 2, r->in.text);
    bi(st, 3, c->now);
    if ((e = exec(c, st)) != STORE_OK)
        return e;
    store_event_t *ev = one_event(r, r->in.channel);
    ev->message = &r->out.message;
    if ((e = append_event(
             c, r, ev, "message:updated", r->in.channel, seq, r->in.id,
             store__payload_updated(r->in.channel, r->in.id, seq, r->in.text, c->now))) != STORE_OK)
        return e;
    return load_message(c, r, r->in.id, NULL, &r->out.message);
}

/* text (a stored payload) with its words blanked: a malloc'd string, NULL
 * when it is not an object (left as it is then). is_new: a message:new
 * payload, whose reactions go too. */
static char *redacted(const char *text, size_t len, bool is_new)
{
    json_t *p = json_loadb(text, len, 0, NULL);
    if (!json_is_object(p)) {
        json_decref(p);
        return NULL;
    }
    json_object_set_new(p, "text", json_string(""));
    json_object_set_new(p, "deleted", json_true());
    if (is_new)
        json_object_set_new(p, "reactions", json_object());
    char *out = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return out;
}

/* Blanks the text of one stored message:updated event of a deleted
 * message. */
static store_err_t redact_event(conn_t *c, const char *channel, uint64_t seq)
{
    sqlite3_stmt *st = stmt(c, Q_EVENT_PAYLOAD);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, channel);
    bi(st, 2, (int64_t)seq);
    store_err_t e = row(c, st);
    if (e)
        return e == STORE_E_NOT_FOUND ? STORE_OK : e;
    char *text = redacted((const char *)sqlite3_column_text(st, 0),
                          (size_t)sqlite3_column_bytes(st, 0), false);
    sqlite3_reset(st);
    if (!text)
        return STORE_OK;
    if ((st = stmt(c, Q_EVENT_SET_PAYLOAD))) {
        bt(st, 1, channel);
        bi(st, 2, (int64_t)seq);
        bt(st, 3, text);
        e = exec(c, st);
    } else {
        e = STORE_E_IO;
    }
    free(text);
    return e;
}

/* Blanks a deleted message's message:new payload where it is stored; a
 * payload derived from the row is blanked by the row's own delete. */
static store_err_t redact_new(conn_t *c, const char *id)
{
    sqlite3_stmt *st = stmt(c, Q_MSG_NEW_PAYLOAD);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, id);
    store_err_t e = row(c, st);
    if (e)
        return e == STORE_E_NOT_FOUND ? STORE_OK : e;
    const char *stored = (const char *)sqlite3_column_text(st, 0);
    char *text = stored ? redacted(stored, (size_t)sqlite3_column_bytes(st, 0), true) : NULL;
    sqlite3_reset(st);
    if (!text)
        return STORE_OK;
    if ((st = stmt(c, Q_MSG_SET_NEW_PAYLOAD))) {
        bt(st, 1, id);
        bt(st, 2, text);
        e = exec(c, st);
    } else {
        e = STORE_E_IO;
    }
    free(text);
    return e;
}

static store_err_t redact_message_events(conn_t *c, store__req_t *r)
{
    store_err_t e = redact_new(c, r->in.id);
    if (e)
        return e;
    /* Collect first, then update: no writes under an open SELECT. */
    sqlite3_stmt *st = stmt(c, Q_EVENT_UPDATES);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.id);
    bt(st, 2, r->in.channel);
    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            seqs = xrealloc(seqs, cap * sizeof *seqs);
        }
        seqs[n++] = col_u64(st, 0);
    }
    e = rc == SQLITE_DONE ? STORE_OK : db_error(c, rc);
    sqlite3_reset(st);
    for (size_t i = 0; i < n && e == STORE_OK; i++)
        e = redact_event(c, r->in.channel, seqs[i]);
    free(seqs);
    return e;
}

static store_err_t w_message_delete(conn_t *c, store__req_t *r, bool *dirty)
{
    const char *author;
    bool deleted;
    uint64_t mseq, seq;
    store_err_t e = message_brief(c, r, r->in.id, r->in.channel, &author, &deleted, &mseq);
    if (e)
        return e;
    if (r->in.user && strcmp(r->in.user, author) != 0) {
        store_member_t m;
        e = get_member(c, r, r->in.channel, r->in.user, &m);
        if (e == STORE_E_NOT_FOUND || (e == STORE_OK && m.role == STORE_MEMBER))
            return STORE_E_FORBIDDEN;
        if (e)
            return e;
    }
    store_event_t *ev = one_event(r, r->in.channel);
    ev->message = &r->out.message;
    if (deleted) {
        ev->unchanged = true;
        return load_message(c, r, r->in.id, NULL, &r->out.message);
    }
    if ((e = next_seq(c, r->in.channel, &seq)) != STORE_OK)
        return e;
    *dirty = true;
    sqlite3_stmt *st = stmt(c, Q_MSG_DELETE);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.id);
    if ((e = exec(c, st)) != STORE_OK)
        return e;
    if (!(st = stmt(c, Q_REACT_CLEAR)))
        return STORE_E_IO;
    bt(st, 1, r->in.id);
    if ((e = exec(c, st)) != STORE_OK)
        return e;
    if ((e = redact_message_events(c, r)) != STORE_OK)
        return e;
    if ((e = append_event(c, r, ev, "message:deleted", r->in.channel, seq, r->in.id,
                          store__payload_deleted(r->in.channel, r->in.id, seq))) != STORE_OK)
        return e;
    return load_message(c, r, r->in.id, NULL, &r->out.message);
}

static store_err_t w_reaction(conn_t *c, store__req_t *r, bool *dirty, bool add)
{
    const char *author;
    bool deleted;
    uint64_t mseq, seq;
    store_err_t e = message_brief(c, r, r->in.id, r->in.channel, &author, &deleted, &mseq);
    if (e)
        return e;
    if (deleted)
        return STORE_E_NOT_FOUND;
    sqlite3_stmt *st = stmt(c, add ? Q_REACT_ADD : Q_REACT_DEL);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.id);
    bt(st, 2, r->in.emoji);
    bt(st, 3, r->in.user);
    if (add)
        bi(st, 4, c->now);
    if ((e = exec(c, st)) != STORE_OK)
        return e;
    store_event_t *ev = one_event(r, r->in.channel);
    ev->message = &r->out.message;
    if (sqlite3_changes(c->db) == 0) {
        ev->unchanged = true;
        return load_message(c, r, r->in.id, NULL, &r->out.message);
    }
    *dirty = true;
    if ((e = next_seq(c, r->in.channel, &seq)) != STORE_OK)
        return e;
    if ((e = append_event(c, r, ev, "reaction:updated", r->in.channel, seq, r->in.id,
                          store__payload_reaction(r->in.channel, r->in.id, seq, r->in.emoji,
                                                  r->in.user, add))) != STORE_OK)
        return e;
    return load_message(c, r, r->in.id, NULL, &r->out.message);
}

static store_err_t w_read_mark(conn_t *c, store__req_t *r, bool *dirty)
{
    sqlite3_stmt *st = stmt(c, Q_READ_GET);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.channel);
    bt(st, 2, r->in.user);
    store_err_t e = row(c, st);
    if (e)
        return e;
    uint64_t cur = col_u64(st, 0), top = col_u64(st, 1);
    sqlite3_reset(st);
    seq_entry_t *se = map_get(&c->seqs, r->in.channel, strlen(r->in.channel));
    if (se)
        top = se->seq;
    uint64_t want = r->in.seq < top ? r->in.seq : top;
    r->out.count = cur;
    if (want <= cur)
        return STORE_OK;
    if (!(st = stmt(c, Q_READ_SET)))
        return STORE_E_IO;
    bt(st, 1, r->in.channel);
    bt(st, 2, r->in.user);
    bi(st, 3, (int64_t)want);
    if ((e = exec(c, st)) != STORE_OK)
        return e;
    r->out.count = want;
    r->out.flag = true;
    return STORE_OK;
}

static store_err_t w_invite_create(conn_t *c, store__req_t *r, bool *dirty)
{
    sqlite3_stmt *st = stmt(c, Q_INVITE_INSERT);
    if (!st)
        return STORE_E_IO;
    char *code = store__arena_alloc(&r->out_arena, 13);
    store_err_t e = STORE_E_CONFLICT;
    /* 60 random bits: a collision is all but impossible; retry anyway. */
    for (int attempt = 0; attempt < 4 && e == STORE_E_CONFLICT; attempt++) {
        store__random_code(code, 12);
        bt(st, 1, code);
        bt(st, 2, r->in.channel);
        bt(st, 3, r->in.user);
        bi(st, 4, c->now);
        e = exec(c, st);
    }
    if (e)
        return e;
    r->out.invite = (store_invite_t){code, r->in.channel, r->in.user, c->now};
    return STORE_OK;
}

static store_err_t w_notif_insert(conn_t *c, store__req_t *r, bool *dirty)
{
    store_notification_t *items = store__arena_alloc(&r->out_arena, r->in.n * sizeof *items);
    for (size_t i = 0; i < r->in.n; i++) {
        const store_notification_spec_t *p = &r->in.specs[i];
        store_notification_t *n = &items[i];
        memset(n, 0, sizeof *n);
        n->user = p->user;
        n->kind = p->kind;
        n->channel = p->channel;
        n->message_id = p->message_id;
        n->from_user = p->from_user;
        n->ts = c->now;
        store_err_t e;
        if (p->from_user && (e = user_name(c, r, p->from_user, &n->from_name)) != STORE_OK)
            return e;
        sqlite3_stmt *st = stmt(c, Q_NOTIF_INSERT);
        if (!st)
            return STORE_E_IO;
        bt(st, 1, p->user);
        bt(st, 2, store_notif_kind_name(p->kind));
        bt(st, 3, p->channel);
        bt(st, 4, p->message_id);
        bt(st, 5, p->from_user);
        bi(st, 6, c->now);
        /* RETURNING: the first step makes the change (or fails with the
         * constraint) and yields the row; the second ends the statement. */
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            n->id = sqlite3_column_int64(st, 0);
            rc = sqlite3_step(st);
        }
        e = rc == SQLITE_DONE ? STORE_OK : db_error(c, rc);
        sqlite3_reset(st);
        if (e)
            return e;
        *dirty = true;
    }
    r->out.items = items;
    r->out.nitems = r->in.n;
    return STORE_OK;
}

static store_err_t count_unread_notifs(conn_t *c, const char *user, uint64_t *count)
{
    sqlite3_stmt *st = stmt(c, Q_NOTIF_UNREAD);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, user);
    store_err_t e = row(c, st);
    if (e)
        return e;
    *count = col_u64(st, 0);
    sqlite3_reset(st);
    return STORE_OK;
}

static store_err_t w_notif_mark_read(conn_t *c, store__req_t *r, bool *dirty)
{
    store_err_t e = STORE_OK;
    sqlite3_stmt *st;
    if (r->in.flag) {
        if (!(st = stmt(c, Q_NOTIF_READ_ALL)))
            return STORE_E_IO;
        bt(st, 1, r->in.user);
        e = exec(c, st);
    }
    for (size_t i = 0; i < r->in.n && e == STORE_OK; i++) {
        if (!(st = stmt(c, Q_NOTIF_READ_ONE)))
            return STORE_E_IO;
        bi(st, 1, r->in.ids[i]);
        bt(st, 2, r->in.user);
        if ((e = exec(c, st)) == STORE_OK)
            *dirty = true;
    }
    if (e)
        return e;
    *dirty = true;
    return count_unread_notifs(c, r->in.user, &r->out.count);
}

static store_err_t sq_write(void *conn, store__req_t *r, bool *dirty)
{
    conn_t *c = conn;
    c->now = store__now_ms();
    switch (r->op) {
    case STORE__USER_UPSERT:
        return w_user_upsert(c, r, dirty);
    case STORE__CHANNEL_CREATE:
        return w_channel_create(c, r, dirty);
    case STORE__MEMBER_ADD:
        return w_member_add(c, r, dirty);
    case STORE__MEMBER_REMOVE:
        return w_member_remove(c, r, dirty);
    case STORE__MEMBER_ROLE:
        return w_member_role(c, r, dirty);
    case STORE__MESSAGE_INSERT:
        return w_message_insert(c, r, dirty);
    case STORE__MESSAGE_EDIT:
        return w_message_edit(c, r, dirty);
    case STORE__MESSAGE_DELETE:
        return w_message_delete(c, r, dirty);
    case STORE__REACTION_ADD:
        return w_reaction(c, r, dirty, true);
    case STORE__REACTION_REMOVE:
        return w_reaction(c, r, dirty, false);
    case STORE__READ_MARK:
        return w_read_mark(c, r, dirty);
    case STORE__INVITE_CREATE:
        return w_invite_create(c, r, dirty);
    case STORE__NOTIF_INSERT:
        return w_notif_insert(c, r, dirty);
    case STORE__NOTIF_MARK_READ:
        return w_notif_mark_read(c, r, dirty);
    default:
        return STORE_E_INVALID;
    }
}

/* ---- Reads ------------------------------------------------------------- */

/* A growable array of items in heap memory the request will free. */
typedef struct {
    char *data;
    size_t n, cap, size;
} vec_t;

static void *vec_push(vec_t *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->data = xrealloc(v->data, v->cap * v->size);
    }
    void *p = v->data + v->n++ * v->size;
    memset(p, 0, v->size);
    return p;
}

static void vec_give(store__req_t *r, vec_t *v)
{
    r->out.items = v->data;
    r->out.nitems = v->n;
    if (v->data)
        store__req_own(r, NULL, v->data);
}

static store_err_t r_history(conn_t *c, store__req_t *r)
{
    store_err_t e = channel_exists(c, r->in.channel);
    if (e)
        return e;
    sqlite3_stmt *st = stmt(c, Q_HISTORY);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.channel);
    bi(st, 2, r->in.seq ? (int64_t)r->in.seq : INT64_MAX);
    bi(st, 3, (int64_t)r->in.limit + 1);
    vec_t v = {.size = sizeof(store_message_t)};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (v.n == r->in.limit) {
            r->out.flag = true;
            break;
        }
        read_message(&r->out_arena, st, vec_push(&v));
    }
    e = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : db_error(c, rc);
    sqlite3_reset(st);
    vec_give(r, &v);
    if (e)
        return e;
    /* Newest first from the index; the protocol wants oldest first. */
    store_message_t *m = r->out.items;
    for (size_t i = 0, j = v.n ? v.n - 1 : 0; i < j; i++, j--) {
        store_message_t t = m[i];
        m[i] = m[j];
        m[j] = t;
    }
    for (size_t i = 0; i < v.n && e == STORE_OK; i++)
        e = load_reactions(c, r, &m[i]);
    return e;
}

/* {type, ...payload} from a payload's text. */
static json_t *sync_event(const char *type, const char *payload, size_t len)
{
    json_t *ev = json_object();
    json_object_set_new(ev, "type", json_string(type));
    json_t *p = json_loadb(payload, len, 0, NULL);
    if (json_is_object(p))
        json_object_update(ev, p);
    json_decref(p);
    return ev;
}

/* The message:new event of a NEW_COLS row: its stored payload, or the one
 * made from the row, in the very form a send produced (blanked as a
 * delete blanks it). */
static json_t *sync_new_event(conn_t *c, sqlite3_stmt *st)
{
    store_message_t m;
    const char *stored = read_new(st, &m);
    if (stored)
        return sync_event("message:new", stored, (size_t)sqlite3_column_bytes(st, 10));
    buf_reset(&c->scratch);
    if (!store__message_write(&c->scratch, &m, m.deleted))
        return sync_event("message:new", "", 0);
    return sync_event("message:new", c->scratch.data, c->scratch.len);
}

/* The channel's events merged by seq from the two places they live:
 * messages (each row a message:new) and events (everything else). */
static store_err_t r_sync(conn_t *c, store__req_t *r)
{
    store_err_t e = channel_exists(c, r->in.channel);
    if (e)
        return e;
    sqlite3_stmt *st = stmt(c, Q_SYNC), *sn = stmt(c, Q_SYNC_NEW);
    if (!st || !sn)
        return STORE_E_IO;
    sqlite3_stmt *both[] = {st, sn};
    for (int i = 0; i < 2; i++) {
        bt(both[i], 1, r->in.channel);
        bi(both[i], 2, (int64_t)r->in.seq);
        bi(both[i], 3, (int64_t)r->in.limit + 1);
    }
    json_t *arr = json_array();
    store__req_own(r, arr, NULL);
    r->out.json = arr;
    int rc = sqlite3_step(st), rn = sqlite3_step(sn);
    while (rc == SQLITE_ROW || rn == SQLITE_ROW) {
        if (json_array_size(arr) == r->in.limit) {
            r->out.flag = true;
            break;
        }
        if (rn == SQLITE_ROW && (rc != SQLITE_ROW || col_u64(sn, 1) < col_u64(st, 0))) {
            json_array_append_new(arr, sync_new_event(c, sn));
            rn = sqlite3_step(sn);
        } else {
            json_array_append_new(arr, sync_event((const char *)sqlite3_column_text(st, 1),
                                                  (const char *)sqlite3_column_blob(st, 2),
                                                  (size_t)sqlite3_column_bytes(st, 2)));
            rc = sqlite3_step(st);
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = db_error(c, rc);
    else if (rn != SQLITE_ROW && rn != SQLITE_DONE)
        e = db_error(c, rn);
    sqlite3_reset(st);
    sqlite3_reset(sn);
    return e;
}

static store_err_t r_channel_list(conn_t *c, store__req_t *r, query_t q)
{
    sqlite3_stmt *st = stmt(c, q);
    if (!st)
        return STORE_E_IO;
    bool mine = q == Q_USER_CHANNELS;
    if (mine)
        bt(st, 1, r->in.user);
    vec_t v = {.size = mine ? sizeof(store_user_channel_t) : sizeof(store_channel_t)};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (mine) {
            store_user_channel_t *uc = vec_push(&v);
            read_channel(&r->out_arena, st, &uc->channel);
            uc->role = col_role(st, 8);
            uc->last_read = col_u64(st, 9);
            uc->unread = col_u64(st, 10);
        } else {
            read_channel(&r->out_arena, st, vec_push(&v));
        }
    }
    store_err_t e = rc == SQLITE_DONE ? STORE_OK : db_error(c, rc);
    sqlite3_reset(st);
    vec_give(r, &v);
    return e;
}

static store_err_t r_notif_list(conn_t *c, store__req_t *r)
{
    sqlite3_stmt *st = stmt(c, Q_NOTIF_LIST);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.user);
    bi(st, 2, r->in.flag ? 1 : 0);
    bi(st, 3, r->in.before > 0 ? r->in.before : INT64_MAX);
    bi(st, 4, (int64_t)r->in.limit + 1);
    vec_t v = {.size = sizeof(store_notification_t)};
    store__arena_t *a = &r->out_arena;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (v.n == r->in.limit) {
            r->out.flag = true;
            break;
        }
        store_notification_t *n = vec_push(&v);
        n->id = sqlite3_column_int64(st, 0);
        n->user = col_str(a, st, 1);
        int k = store_notif_kind_parse((const char *)sqlite3_column_text(st, 2));
        n->kind = k < 0 ? STORE_N_MENTION : (store_notif_kind_t)k;
        n->channel = col_str(a, st, 3);
        n->message_id = col_str(a, st, 4);
        n->from_user = col_str(a, st, 5);
        n->from_name = col_str(a, st, 6);
        n->ts = sqlite3_column_int64(st, 7);
        n->read = sqlite3_column_int(st, 8) != 0;
    }
    store_err_t e = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : db_error(c, rc);
    sqlite3_reset(st);
    vec_give(r, &v);
    return e;
}

static store_err_t r_unread(conn_t *c, store__req_t *r)
{
    sqlite3_stmt *st = stmt(c, Q_UNREAD);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.channel);
    bt(st, 2, r->in.user);
    store_err_t e = row(c, st);
    if (e)
        return e;
    r->out.count = col_u64(st, 0);
    sqlite3_reset(st);
    return STORE_OK;
}

static store_err_t r_invite_get(conn_t *c, store__req_t *r)
{
    sqlite3_stmt *st = stmt(c, Q_INVITE_GET);
    if (!st)
        return STORE_E_IO;
    bt(st, 1, r->in.code);
    store_err_t e = row(c, st);
    if (e)
        return e;
    store__arena_t *a = &r->out_arena;
    r->out.invite = (store_invite_t){col_str(a, st, 0), col_str(a, st, 1), col_str(a, st, 2),
                                     sqlite3_column_int64(st, 3)};
    sqlite3_reset(st);
    return STORE_OK;
}

static store_err_t read_op(conn_t *c, store__req_t *r)
{
    switch (r->op) {
    case STORE__CHANNEL_GET:
        return get_channel(c, r, r->in.channel, &r->out.channel);
    case STORE__MESSAGE_GET:
        return load_message(c, r, r->in.id, r->in.channel, &r->out.message);
    case STORE__INVITE_GET:
        return r_invite_get(c, r);
    case STORE__HISTORY:
        return r_history(c, r);
    case STORE__SYNC:
        return r_sync(c, r);
    case STORE__UNREAD:
        return r_unread(c, r);
    case STORE__USER_CHANNELS:
        return r_channel_list(c, r, Q_USER_CHANNELS);
    case STORE__CHANNELS_PUBLIC:
        return r_channel_list(c, r, Q_PUBLIC);
    case STORE__NOTIF_LIST:
        return r_notif_list(c, r);
    case STORE__NOTIF_UNREAD:
        return count_unread_notifs(c, r->in.user, &r->out.count);
    default:
        return STORE_E_INVALID;
    }
}

static store_err_t simple(conn_t *c, query_t q)
{
    sqlite3_stmt *st = stmt(c, q);
    return st ? exec(c, st) : STORE_E_IO;
}

static store_err_t sq_read(void *conn, store__req_t *r)
{
    conn_t *c = conn;
    /* One read transaction: the page and its reactions see one state. */
    store_err_t e = simple(c, Q_BEGIN);
    if (e)
        return e;
    e = read_op(c, r);
    if (e != STORE_OK)
        store__req_reset_out(r);
    simple(c, Q_COMMIT);
    return e;
}

/* ---- Connections ------------------------------------------------------- */

static store_err_t pragma(sqlite3 *db, const char *text, char *err, size_t errsz)
{
    char *msg = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &msg) == SQLITE_OK)
        return STORE_OK;
    if (errsz)
        snprintf(err, errsz, "%s: %s", text, msg ? msg : "failed");
    int rc = sqlite3_errcode(db);
    sqlite3_free(msg);
    return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? STORE_E_CORRUPT : STORE_E_IO;
}

/* ---- Checkpoints ------------------------------------------------------ */

/* The WAL is copied back into the database by a thread of its own, so that
 * the copy and its fsyncs never stall the writer (SQLite would otherwise
 * run them inside a COMMIT every 1000 pages). A passive checkpoint never
 * waits for the writer or the readers.
 *
 * The WAL only starts again from its beginning when a write transaction
 * begins with every frame copied back; under a steady load the writer
 * appends while the checkpointer copies, that never happens by itself, and
 * the WAL would grow without bound (each frame then also costs the file
 * system a new block). So once the WAL holds checkpoint_frames (default
 * CHECKPOINT_FRAMES), the checkpointer copies, again and again, until
 * fewer than a 256th of that were added during its last pass; then the
 * writer copies that remainder itself before its next transaction, and
 * that transaction restarts the WAL. The pause is short in pages (a few
 * hundred) but holds the two fsyncs of a checkpoint: 7-20 ms on the bench
 * machine under load, hence a large WAL (128 MiB by default: a pause
 * every second or so at 40,000 messages/s). */
#define CHECKPOINT_FRAMES 32768

struct checkpointer {
    sqlite3 *db;
    uv_thread_t tid;
    uv_mutex_t mu;
    uv_cond_t cond;
    int start_frames;  /* cfg.checkpoint_frames */
    int finish_frames; /* a 256th of it */
    bool wanted, stop, busy;
    /* set by the thread when the writer should finish the copy */
    _Atomic bool finish;
};

static void checkpoint_main(void *arg)
{
    checkpointer_t *k = arg;
    pthread_setname_np(pthread_self(), "store-ckpt");
    for (;;) {
        uv_mutex_lock(&k->mu);
        k->busy = false;
        while (!k->wanted && !k->stop)
            uv_cond_wait(&k->cond, &k->mu);
        bool stop = k->stop;
        k->wanted = false;
        k->busy = !stop;
        uv_mutex_unlock(&k->mu);
        if (stop)
            break;
        int log = 0, done = 0, prev_log = 0;
        for (int pass = 0; pass < 32; pass++) {
            int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
            if (rc != SQLITE_OK) {
                if (rc != SQLITE_BUSY)
                    log_warn("store_checkpoint", "WAL checkpoint failed: %s",
                             sqlite3_errmsg(k->db));
                break;
            }
            /* Little was added during the last pass (the writer does not
             * wait for the checkpointer, so frames are added all along). */
            if (log - prev_log < k->finish_frames)
                break;
            prev_log = log;
        }
        atomic_store(&k->finish, true);
    }
}

/* Runs on the writer after each commit with the WAL's size in frames. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    checkpointer_t *k = arg;
    if (frames >= k->start_frames && !atomic_load(&k->finish)) {
        uv_mutex_lock(&k->mu);
        if (!k->busy && !k->wanted) {
            k->wanted = true;
            uv_cond_signal(&k->cond);
        }
        uv_mutex_unlock(&k->mu);
    }
    return SQLITE_OK;
}

/* On the writer, between transactions: copies what the checkpointer left,
 * so that the next transaction restarts the WAL. */
static void checkpoint_finish(conn_t *c)
{
    checkpointer_t *k = c->ckpt;
    if (!k || !atomic_load(&k->finish))
        return;
    atomic_store(&k->finish, false);
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warn("store_checkpoint", "WAL checkpoint failed: %s", sqlite3_errmsg(c->db));
}

static void checkpointer_stop(checkpointer_t *k)
{
    if (!k)
        return;
    uv_mutex_lock(&k->mu);
    k->stop = true;
    uv_cond_signal(&k->cond);
    uv_mutex_unlock(&k->mu);
    uv_thread_join(&k->tid);
    uv_mutex_destroy(&k->mu);
    uv_cond_destroy(&k->cond);
    sqlite3_close(k->db);
    free(k);
}

static void sq_close(void *conn)
{
    conn_t *c = conn;
    if (!c)
        return;
    /* The writer closes last: SQLite then checkpoints and removes the WAL. */
    checkpointer_stop(c->ckpt);
    seqs_forget(c);
    names_forget(c);
    buf_free(&c->scratch);
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

typedef enum { ROLE_WRITER, ROLE_READER, ROLE_CHECKPOINT } role_t;

static store_err_t open_db(const store_config_t *cfg, role_t role, sqlite3 **out, char *err,
                           size_t errsz)
{
    bool writer = role == ROLE_WRITER;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(cfg->path, &db, flags, store__sqlite_vfs());
    if (rc != SQLITE_OK) {
        if (errsz)
            snprintf(err, errsz, "cannot open %s: %s", cfg->path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return STORE_E_IO;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, (int)cfg->busy_timeout_ms);
    store_err_t e = STORE_OK;
    if (writer) {
        /* WAL: readers never block the writer nor it them; checked because
         * some filesystems refuse it silently. */
        sqlite3_stmt *st = NULL;
        bool wal = false;
        if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
        sqlite3_finalize(st);
        if (!wal) {
            e = pragma(db, "SELECT 1 FROM sqlite_schema LIMIT 1", err, errsz);
            if (e == STORE_OK) {
                if (errsz)
                    snprintf(err, errsz, "%s: cannot switch to WAL mode", cfg->path);
                e = STORE_E_IO;
            }
        }
        if (e == STORE_OK)
            e = pragma(db, "PRAGMA wal_autocheckpoint = 0", err, errsz);
        if (e == STORE_OK)
            e = pragma(db, "PRAGMA journal_size_limit = 268435456", err, errsz);
        if (e == STORE_OK)
            e = pragma(db, "PRAGMA cache_size = -16384", err, errsz);
    } else if (role == ROLE_READER) {
        e = pragma(db, "PRAGMA query_only = ON", err, errsz);
    }
    /* The writer's commits and the checkpointer's copies share the
     * durability setting. */
    if (e == STORE_OK && role != ROLE_READER)
        e = pragma(db, cfg->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                   err, errsz);
    /* Migrations run before foreign keys are enforced: one that rebuilds a
     * table drops the old one while others still point at it (the
     * migration checks the keys itself before it commits). */
    if (e == STORE_OK && writer)
        e = store__sqlite_migrate(db, err, errsz);
    if (e == STORE_OK)
        e = pragma(db, "PRAGMA foreign_keys = ON", err, errsz);
    if (e != STORE_OK) {
        sqlite3_close(db);
        return e;
    }
    *out = db;
    return STORE_OK;
}

/* New ids continue above the largest one stored, whatever the clock did
 * meanwhile (or another writer of the file). */
static void ids_catch_up(conn_t *c)
{
    sqlite3_stmt *st = stmt(c, Q_MSG_MAX_ID);
    uint64_t top = 0;
    if (st && sqlite3_step(st) == SQLITE_ROW &&
        store__id_decode((const char *)sqlite3_column_text(st, 0), &top) == 0 && top > c->last_id)
        c->last_id = top;
    if (st)
        sqlite3_reset(st);
}

static store_err_t sq_open(const store_config_t *cfg, bool writer, void **out, char *err,
                           size_t errsz)
{
    *out = NULL;
    sqlite3 *db;
    store_err_t e = open_db(cfg, writer ? ROLE_WRITER : ROLE_READER, &db, err, errsz);
    if (e)
        return e;
    conn_t *c = xcalloc(1, sizeof *c);
    c->db = db;
    c->writer = writer;
    map_init(&c->seqs);
    map_init(&c->names);
    /* An event payload holds at most a message: text plus a little. */
    buf_init(&c->scratch, 4 * STORE_MAX_TEXT);
    if (writer) {
        checkpointer_t *k = xcalloc(1, sizeof *k);
        if ((e = open_db(cfg, ROLE_CHECKPOINT, &k->db, err, errsz)) != STORE_OK) {
            free(k);
            sq_close(c);
            return e;
        }
        k->start_frames = cfg->checkpoint_frames ? (int)cfg->checkpoint_frames : CHECKPOINT_FRAMES;
        k->finish_frames = k->start_frames / 256 > 32 ? k->start_frames / 256 : 32;
        uv_mutex_init(&k->mu);
        uv_cond_init(&k->cond);
        uv_thread_create(&k->tid, checkpoint_main, k);
        c->ckpt = k;
        sqlite3_wal_hook(db, wal_hook, k);
        ids_catch_up(c);
    }
    *out = c;
    return STORE_OK;
}

static store_err_t sq_begin(void *conn)
{
    conn_t *c = conn;
    checkpoint_finish(c);
    store_err_t e = simple(c, Q_BEGIN_WRITE);
    if (e)
        return e;
    /* Someone else wrote to the file since our last transaction: what we
     * kept from it may be stale. */
    sqlite3_stmt *st = stmt(c, Q_DATA_VERSION);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        if (st)
            sqlite3_reset(st);
        seqs_forget(c);
        names_forget(c);
        return STORE_OK;
    }
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (v != c->data_version) {
        seqs_forget(c);
        names_forget(c);
        ids_catch_up(c);
        c->data_version = v;
    }
    return STORE_OK;
}

static store_err_t sq_commit(void *conn)
{
    return simple(conn, Q_COMMIT);
}

static void sq_rollback(void *conn)
{
    conn_t *c = conn;
    seqs_forget(c);
    names_forget(c);
    if (!sqlite3_get_autocommit(c->db))
        simple(c, Q_ROLLBACK);
}

/* ---- Startup snapshot -------------------------------------------------- */

static store_err_t load_all(conn_t *c, store__snapshot_t *p)
{
    store__arena_t *a = &p->arena;
    store_snapshot_t *s = &p->pub;
    static const char *const counts =
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM channels), "
        "(SELECT count(*) FROM members)";
    static const char *const q_users = "SELECT id, name, created_at FROM users ORDER BY id";
    static const char *const q_channels = "SELECT " CHANNEL_COLS " FROM channels c ORDER BY c.id";
    static const char *const q_members = "SELECT channel, user, role, last_read, joined_at "
                                         "FROM members ORDER BY channel, user";
    sqlite3_stmt *st = NULL;
    store_err_t e = STORE_E_IO;
    size_t nu = 0, nc = 0, nm = 0;
    if (sqlite3_prepare_v2(c->db, counts, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        goto out;
    nu = (size_t)sqlite3_column_int64(st, 0);
    nc = (size_t)sqlite3_column_int64(st, 1);
    nm = (size_t)sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    s->users = store__arena_alloc(a, (nu ? nu : 1) * sizeof *s->users);
    s->channels = store__arena_alloc(a, (nc ? nc : 1) * sizeof *s->channels);
    s->members = store__arena_alloc(a, (nm ? nm : 1) * sizeof *s->members);

    if (sqlite3_prepare_v2(c->db, q_users, -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (s->nusers < nu && sqlite3_step(st) == SQLITE_ROW) {
        store_user_t *u = &s->users[s->nusers++];
        u->id = col_str(a, st, 0);
        u->name = col_str(a, st, 1);
        u->created_at = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(c->db, q_channels, -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (s->nchannels < nc && sqlite3_step(st) == SQLITE_ROW)
        read_channel(a, st, &s->channels[s->nchannels++]);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(c->db, q_members, -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (s->nmembers < nm && sqlite3_step(st) == SQLITE_ROW) {
        store_member_t *m = &s->members[s->nmembers++];
        m->channel = col_str(a, st, 0);
        m->user = col_str(a, st, 1);
        m->role = col_role(st, 2);
        m->last_read = col_u64(st, 3);
        m->joined_at = sqlite3_column_int64(st, 4);
    }
    e = STORE_OK;
out:
    if (e)
        log_error("store_load", "cannot load the snapshot: %s", sqlite3_errmsg(c->db));
    sqlite3_finalize(st);
    return e;
}

static store_err_t sq_load(const store_config_t *cfg, store_snapshot_t **out)
{
    *out = NULL;
    void *conn;
    char err[256];
    store_err_t e = sq_open(cfg, false, &conn, err, sizeof err);
    if (e) {
        log_error("store_load", "%s", err);
        return e;
    }
    conn_t *c = conn;
    store__snapshot_t *p = xcalloc(1, sizeof *p);
    store__arena_init(&p->arena, NULL, 0);
    if ((e = simple(c, Q_BEGIN)) == STORE_OK) {
        e = load_all(c, p);
        simple(c, Q_COMMIT);
    }
    sq_close(c);
    if (e) {
        store_snapshot_free(&p->pub);
        return e;
    }
    *out = &p->pub;
    return STORE_OK;
}

const store__backend_t store__sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .write = sq_write,
    .read = sq_read,
    .load = sq_load,
};
