/* migrations.c — the SQLite schema, as an ordered list of migrations.
 *
 * The database's PRAGMA user_version is the number of migrations applied.
 * Opening a store applies the missing ones in order, in one transaction,
 * and sets user_version. To change the schema, append a migration; never
 * edit one that has shipped (docs/internals/store.md).
 *
 * Not here: statements used at run time (sqlite.c).
 */
#include "store/sqlite.h"

#include <stdio.h>

static const char *const migrations[] = {
    /* 1: the initial schema. */
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"

    "CREATE TABLE channels ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('public', 'private', 'dm')),"
    "  topic TEXT NOT NULL DEFAULT '',"
    "  created_by TEXT REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0 CHECK (seq >= 0)" /* last event's seq */
    ") WITHOUT ROWID;"
    "CREATE INDEX channels_kind ON channels(kind, id);"

    "CREATE TABLE members ("
    "  channel TEXT NOT NULL REFERENCES channels(id),"
    "  user TEXT NOT NULL REFERENCES users(id),"
    "  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),"
    "  last_read INTEGER NOT NULL DEFAULT 0,"
    "  joined_at INTEGER NOT NULL,"
    "  PRIMARY KEY (channel, user)"
    ") WITHOUT ROWID;"
    "CREATE INDEX members_user ON members(user, channel);"

    "CREATE TABLE messages ("
    "  channel TEXT NOT NULL REFERENCES channels(id),"
    "  seq INTEGER NOT NULL," /* the seq of its message:new event */
    "  id TEXT NOT NULL UNIQUE,"
    "  author TEXT NOT NULL REFERENCES users(id),"
    "  text TEXT NOT NULL,"
    "  client_id TEXT,"
    "  reply_to TEXT,"
    "  ts INTEGER NOT NULL,"
    "  edited_at INTEGER,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (channel, seq)"
    ") WITHOUT ROWID;"
    /* The idempotency key: NULLs are distinct, so messages without one
     * never collide. */
    "CREATE UNIQUE INDEX messages_client ON messages(author, client_id);"

    "CREATE TABLE reactions ("
    "  id INTEGER PRIMARY KEY," /* insertion order */
    "  message TEXT NOT NULL REFERENCES messages(id),"
    "  emoji TEXT NOT NULL,"
    "  user TEXT NOT NULL REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (message, emoji, user)"
    ");"

    /* One row per persisted channel event; payload is the broadcast JSON. */
    "CREATE TABLE events ("
    "  channel TEXT NOT NULL REFERENCES channels(id),"
    "  seq INTEGER NOT NULL CHECK (seq > 0),"
    "  type TEXT NOT NULL,"
    "  message_id TEXT,"
    "  payload TEXT NOT NULL,"
    "  PRIMARY KEY (channel, seq)"
    ") WITHOUT ROWID;"
    /* Found again when their message is deleted (to blank the text); the
     * partial index costs nothing for the far more common message:new. */
    "CREATE INDEX events_updates ON events(message_id) WHERE type = 'message:updated';"

    "CREATE TABLE invites ("
    "  code TEXT PRIMARY KEY,"
    "  channel TEXT NOT NULL REFERENCES channels(id),"
    "  created_by TEXT REFERENCES users(id),"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"

    "CREATE TABLE notifications ("
    "  id INTEGER PRIMARY KEY,"
    "  user TEXT NOT NULL REFERENCES users(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('mention', 'dm', 'reply', 'reaction')),"
    "  channel TEXT NOT NULL REFERENCES channels(id),"
    "  message_id TEXT REFERENCES messages(id),"
    "  from_user TEXT REFERENCES users(id),"
    "  ts INTEGER NOT NULL,"
    "  read INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX notifications_user ON notifications(user, id);"
    "CREATE INDEX notifications_unread ON notifications(user, id) WHERE read = 0;",

    /* 2: a message's row is its message:new event. The events table kept a
     * second copy of every message, and with it a send dirtied twice the
     * pages a commit writes; channel:sync now merges messages (the
     * message:new events) with events (all the others) by seq.
     * author_name: the author's name when sent, which the message:new
     * payload shows. new_payload: that payload when the row can no longer
     * give it — the message was edited (its first text is gone), or was
     * sent before this migration (its stored payload moves here); NULL
     * means it is made from the row. */
    "ALTER TABLE messages ADD COLUMN author_name TEXT;"
    "ALTER TABLE messages ADD COLUMN new_payload TEXT;"
    "UPDATE messages SET"
    "  new_payload = (SELECT e.payload FROM events e WHERE e.channel = messages.channel"
    "                 AND e.seq = messages.seq AND e.type = 'message:new'),"
    "  author_name = (SELECT u.name FROM users u WHERE u.id = messages.author);"
    "DELETE FROM events WHERE type = 'message:new';",

    /* 3: messages become a rowid table: rows are appended in time order at
     * the end of the table, and (channel, seq) is an index of small
     * entries. Keyed by (channel, seq), the rows of many channels written
     * in one commit each went into their channel's own leaf page, filled
     * it within a dozen rows and split it; with 100 channels that was a
     * quarter of the writer's time and of the pages a commit writes. */
    "CREATE TABLE messages_v3 ("
    "  channel TEXT NOT NULL REFERENCES channels(id),"
    "  seq INTEGER NOT NULL," /* the seq of its message:new event */
    "  id TEXT NOT NULL,"
    "  author TEXT NOT NULL REFERENCES users(id),"
    "  text TEXT NOT NULL,"
    "  client_id TEXT,"
    "  reply_to TEXT,"
    "  ts INTEGER NOT NULL,"
    "  edited_at INTEGER,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  author_name TEXT,"
    "  new_payload TEXT"
    ");"
    "INSERT INTO messages_v3 (channel, seq, id, author, text, client_id, reply_to, ts, edited_at,"
    "  deleted, author_name, new_payload)"
    "  SELECT channel, seq, id, author, text, client_id, reply_to, ts, edited_at, deleted,"
    "  author_name, new_payload FROM messages ORDER BY id;"
    "DROP TABLE messages;"
    "ALTER TABLE messages_v3 RENAME TO messages;"
    "CREATE UNIQUE INDEX messages_seq ON messages(channel, seq);"
    "CREATE UNIQUE INDEX messages_id ON messages(id);"
    /* The idempotency key: NULLs are distinct, so messages without one
     * never collide. */
    "CREATE UNIQUE INDEX messages_client ON messages(author, client_id);",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int store__sqlite_schema_version(void)
{
    return NMIGRATIONS;
}

static store_err_t fail(sqlite3 *db, const char *what, char *err, size_t errsz)
{
    int rc = sqlite3_errcode(db);
    if (errsz)
        snprintf(err, errsz, "%s: %s", what, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? STORE_E_CORRUPT : STORE_E_IO;
}

store_err_t store__sqlite_migrate(sqlite3 *db, char *err, size_t errsz)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(db, "begin migration", err, errsz);

    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < 0)
        return fail(db, "read schema version", err, errsz);
    if (version > NMIGRATIONS) {
        if (errsz)
            snprintf(err, errsz, "database schema version %d is newer than this build's (%d)",
                     version, NMIGRATIONS);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return STORE_E_CORRUPT;
    }
    for (int v = version; v < NMIGRATIONS; v++) {
        char what[64];
        snprintf(what, sizeof what, "migration %d", v + 1);
        if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, what, err, errsz);
    }
    if (version != NMIGRATIONS) {
        /* Foreign keys are not enforced during migrations (a table rebuild
         * needs that); nothing may point nowhere once they are done. */
        if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
            return fail(db, "check foreign keys", err, errsz);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            if (errsz)
                snprintf(err, errsz, "migration to version %d: %s", NMIGRATIONS,
                         rc == SQLITE_ROW ? "a foreign key points nowhere" : sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc == SQLITE_ROW ? STORE_E_CORRUPT : STORE_E_IO;
        }
        /* A pragma takes no parameters; the value is our own constant. */
        char set[48];
        snprintf(set, sizeof set, "PRAGMA user_version = %d", NMIGRATIONS);
        if (sqlite3_exec(db, set, NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, "set schema version", err, errsz);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return fail(db, "commit migration", err, errsz);
    return STORE_OK;
}
