/* sqlite.h — what the SQLite backend's files share (not public).
 *
 * sqlite.c holds connections, statements and the operations; migrations.c
 * holds the schema as an ordered list of migrations.
 */
#ifndef PARLEY_STORE_SQLITE_H
#define PARLEY_STORE_SQLITE_H

#include <sqlite3.h>
#include <stddef.h>

#include "store/store.h"

/* Brings the schema of db up to the newest version, in one transaction:
 * nothing changes when it fails. Safe to run on every open (a database
 * already at the newest version is left alone) and from several processes
 * at once (BEGIN IMMEDIATE serialises them). STORE_E_CORRUPT when the
 * database is newer than this build. */
store_err_t store__sqlite_migrate(sqlite3 *db, char *err, size_t errsz);

/* The name of the VFS the store opens its files with (walbuf.c: WAL
 * frames of a commit written at once), registered on first call; NULL
 * (the default VFS) if it could not be. Thread-safe. */
const char *store__sqlite_vfs(void);

/* The schema version this build writes. */
int store__sqlite_schema_version(void);

#endif
