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
    assert_int_equal(count_rows(f.path, "SELECT seq FROM channels WHERE id = 'general'"), 1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_twice_is_idempotent),
        cmocka_unit_test(test_newer_schema_is_refused),
        cmocka_unit_test(test_garbage_file_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
