/* test_migrations.c — schema migrations: applied once, idempotent on every
 * open, refused when the file is newer than the build or not a database. */
#include "fixture.h"

#include <fcntl.h>
#include <sqlite3.h>

#include "store/sqlite.h"

static int user_version(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void exec_sql(const char *path, const char *text)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, text, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int count_rows(const char *path, const char *query)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_open_twice_is_idempotent(void **state)
{
    fx_t f;
    fx_init(&f);
    assert_int_equal(fx_user(&f, "alice", NULL), STORE_OK);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    fx_close(&f);
    int v = user_version(f.path);
    assert_int_equal(v, store__sqlite_schema_version());
    assert_true(v >= 1);
    int tables = count_rows(f.path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'");
    int indexes = count_rows(f.path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'");
    assert_int_equal(tables, 8);
    /* Opening again (twice) changes nothing and keeps the data. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx_open_cfg(&f, NULL), STORE_OK);
        fx_close(&f);
    }
    assert_int_equal(user_version(f.path), v);
    assert_int_equal(count_rows(f.path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"),
                     tables);
    assert_int_equal(count_rows(f.path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"),
                     indexes);
    assert_int_equal(count_rows(f.path, "SELECT max(seq) FROM events WHERE channel = 'general'"), 1);
    /* WAL is on and stays on. */
    assert_int_equal(count_rows(f.path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
    /* Two stores on one file at once (another process, say) both open. */
    assert_int_equal(fx_open_cfg(&f, NULL), STORE_OK);
    store_t *first = f.s;
    assert_int_equal(fx_open_cfg(&f, NULL), STORE_OK);
    store_close(first);
    fx_destroy(&f);
}

static void test_newer_schema_is_refused(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_close(&f);
    char set[64];
    snprintf(set, sizeof set, "PRAGMA user_version = %d", store__sqlite_schema_version() + 1);
    exec_sql(f.path, set);
    store_config_t cfg = {.path = f.path};
    char err[256];
    store_t *s = (store_t *)1;
    assert_int_equal(store_open(&f.loop, &cfg, &s, err, sizeof err), STORE_E_CORRUPT);
    assert_null(s);
    assert_non_null(strstr(err, "newer"));
    /* Nothing was touched. */
    assert_int_equal(user_version(f.path), store__sqlite_schema_version() + 1);
    fx_destroy(&f);
}

static void test_garbage_file_is_refused(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_close(&f);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", f.path, suffix[i]);
        unlink(p);
    }
    int fd = open(f.path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    store_config_t cfg = {.path = f.path};
    char err[256];
    store_t *s;
    assert_int_equal(store_open(&f.loop, &cfg, &s, err, sizeof err), STORE_E_CORRUPT);
    assert_true(err[0] != '\0');
    /* A directory that does not exist. */
    cfg.path = "/nonexistent-parley-dir/x.db";
    assert_int_equal(store_open(&f.loop, &cfg, &s, err, sizeof err), STORE_E_IO);
    cfg.path = "";
    assert_int_equal(store_open(&f.loop, &cfg, &s, err, sizeof err), STORE_E_INVALID);
    fx_destroy(&f);
}

static json_t *sync_all(fx_t *f)
{
    fx_res_t r = {0};
    FX_EVENT(f, r, store_sync_range(f->s, "general", 0, 1000, fx_sync_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    return r.json;
}

/* Migrations 2 and 3 move each message:new payload from events to its
 * message row and rebuild the messages table: a database written by schema
 * 1 (made here by undoing them on a current one) syncs exactly as before
 * once migrated, renames, edits and deletes included. */
static void test_message_payloads_migrate(void **state)
{
    fx_t f;
    fx_init(&f);
    assert_int_equal(fx_user(&f, "alice", "Alice"), STORE_OK);
    assert_int_equal(fx_channel(&f, "general", STORE_PUBLIC, "alice"), STORE_OK);
    fx_res_t a = {0}, b = {0}, c = {0}, r = {0};
    assert_int_equal(fx_send(&f, "general", "alice", "c-1", "one", NULL, &a), STORE_OK);
    assert_int_equal(fx_send(&f, "general", "alice", "c-2", "two", a.id, &b), STORE_OK);
    assert_int_equal(fx_send(&f, "general", "alice", NULL, "three", NULL, &c), STORE_OK);
    FX_EVENT(&f, r, store_message_edit(f.s, "general", a.id, "alice", "one!", fx_event_cb, &r));
    FX_EVENT(&f, r, store_message_delete(f.s, "general", c.id, "alice", fx_event_cb, &r));
    FX_EVENT(&f, r, store_reaction_add(f.s, "general", b.id, "alice", "+1", fx_event_cb, &r));
    assert_int_equal(r.err, STORE_OK);
    fx_res_free(&r);
    assert_int_equal(fx_user(&f, "alice", "Alicia"), STORE_OK);
    json_t *before = sync_all(&f);
    assert_int_equal(json_array_size(before), 7);
    fx_close(&f);

    /* Back to schema 1: every message:new payload in events, no new columns. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f.path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO events (channel, seq, type, message_id, "
                                        "payload) VALUES ('general', ?1, 'message:new', ?2, ?3)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    size_t i;
    json_t *ev;
    json_array_foreach(before, i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "type")), "message:new") != 0)
            continue;
        json_t *p = json_deep_copy(ev);
        json_object_del(p, "type");
        char *text = json_dumps(p, JSON_COMPACT);
        sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(p, "seq")));
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(p, "id")), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
        free(text);
        json_decref(p);
    }
    sqlite3_finalize(st);
    /* The messages table as schema 1 made it. */
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE m1 ("
                     "  channel TEXT NOT NULL REFERENCES channels(id),"
                     "  seq INTEGER NOT NULL,"
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
                     "INSERT INTO m1 SELECT channel, seq, id, author, text, client_id, reply_to, ts,"
                     "  edited_at, deleted FROM messages;"
                     "DROP TABLE messages;"
                     "ALTER TABLE m1 RENAME TO messages;"
                     "CREATE UNIQUE INDEX messages_client ON messages(author, client_id);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(count_rows(f.path, "SELECT count(*) FROM events WHERE type = 'message:new'"),
                     3);

    assert_int_equal(fx_open_cfg(&f, NULL), STORE_OK);
    assert_int_equal(user_version(f.path), store__sqlite_schema_version());
    assert_int_equal(count_rows(f.path, "SELECT count(*) FROM events WHERE type = 'message:new'"),
                     0);
    /* Schema 3: a rowid table, in time order, with its three indexes; the
     * reactions still point at it. */
    assert_int_equal(count_rows(f.path, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                        "'messages' AND sql LIKE '%WITHOUT ROWID%'"),
                     0);
    assert_int_equal(count_rows(f.path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                                        "AND tbl_name = 'messages'"),
                     3);
    assert_int_equal(count_rows(f.path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert_int_equal(count_rows(f.path, "SELECT min(rowid) = (SELECT rowid FROM messages "
                                        "ORDER BY id LIMIT 1) FROM messages"),
                     1);
    json_t *after = sync_all(&f);
    char *x = json_dumps(before, JSON_COMPACT), *y = json_dumps(after, JSON_COMPACT);
    assert_string_equal(y, x);
    free(x);
    free(y);
    json_decref(after);
    /* Writes go on where they stopped. */
    fx_res_t d = {0};
    assert_int_equal(fx_send(&f, "general", "alice", "c-2", "again", NULL, &d), STORE_OK);
    assert_true(d.flag);
    fx_res_free(&d);
    assert_int_equal(fx_send(&f, "general", "alice", "c-4", "four", NULL, &d), STORE_OK);
    assert_int_equal(d.seq, 8);
    fx_res_free(&d);
    /* The reaction is still on its message. */
    FX_EVENT(&f, d, store_reaction_add(f.s, "general", b.id, "alice", "+1", fx_event_cb, &d));
    assert_true(d.flag);
    fx_res_free(&d);
    json_decref(before);
    fx_res_free(&a);
    fx_res_free(&b);
    fx_res_free(&c);
    fx_destroy(&f);
}

/* A migration leaves no foreign key pointing nowhere: a database that
 * had one (written with keys off by some other tool) is refused, as it
 * was. */
static void test_dangling_key_refused(void **state)
{
    fx_t f;
    fx_init(&f);
    assert_int_equal(fx_user(&f, "alice", NULL), STORE_OK);
    fx_close(&f);
    char set[160];
    snprintf(set, sizeof set,
             "INSERT INTO reactions (message, emoji, user, created_at) VALUES ('nope', 'x', "
             "'alice', 1); PRAGMA user_version = %d;",
             store__sqlite_schema_version() - 1);
    exec_sql(f.path, set);
    store_config_t cfg = {.path = f.path};
    char err[256];
    store_t *s;
    assert_int_equal(store_open(&f.loop, &cfg, &s, err, sizeof err), STORE_E_CORRUPT);
    assert_non_null(strstr(err, "foreign key"));
    assert_int_equal(user_version(f.path), store__sqlite_schema_version() - 1);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_twice_is_idempotent),
        cmocka_unit_test(test_newer_schema_is_refused),
        cmocka_unit_test(test_garbage_file_is_refused),
        cmocka_unit_test(test_message_payloads_migrate),
        cmocka_unit_test(test_dangling_key_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
