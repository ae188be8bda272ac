/* walbuf.c — a VFS over the default one whose WAL files gather the frames
 * of a commit into one write.
 *
 * SQLite writes a WAL frame as two pwrite calls, its 24-byte header and
 * then its page, each on an offset that is not page-aligned, so the file
 * system handles some three page-cache pages per frame; a commit of a few
 * hundred frames made a few hundred system calls, and on the chat writer
 * that was a third of its time. Here the writes that follow one another
 * in the file are kept in a buffer and handed to the file system in a few
 * large writes when the commit frame is complete (its header is the one whose
 * "database size after commit" field is not zero: the WAL file format),
 * before SQLite publishes the commit to other connections and before
 * sqlite3_step returns. Any other access to the file — a read, a write
 * elsewhere, a sync, a truncation, its size, closing it — writes the
 * buffer first, so the file is never seen without it.
 *
 * Durability is unchanged: when COMMIT returns the frames are in the
 * operating system, as they were with one pwrite each (kill -9 loses
 * nothing acknowledged); an fsync (synchronous=FULL, checkpoints) comes
 * after the buffer is written.
 *
 * Not here: anything for other files (the database, its -shm, journals):
 * they are opened by the underlying VFS with its own methods, untouched.
 */
#include "store/sqlite.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WALBUF_NAME "parley-walbuf"
#define WALBUF_CAP (4u << 20) /* a commit of ~1000 pages of 4 KiB in one write */
#define FRAME_HEADER 24
#define WRITE_MAX ((size_t)64 << 10)

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; /* the underlying VFS's file, right after this struct */
    unsigned char *buf;
    size_t len;
    sqlite3_int64 off;  /* file offset of buf[0] */
    bool commit_next;   /* the last write was a commit frame's header */
} walbuf_file_t;

static sqlite3_vfs walbuf_vfs;
static sqlite3_vfs *real_vfs;
static sqlite3_io_methods walbuf_methods;

/* Writes the buffer out, in pieces of WRITE_MAX: the unix VFS takes at
 * most 128 KiB - 1 per write (it masks the length to 17 bits). */
static int flush(walbuf_file_t *f)
{
    int rc = SQLITE_OK;
    for (size_t at = 0; at < f->len && rc == SQLITE_OK; at += WRITE_MAX) {
        size_t n = f->len - at < WRITE_MAX ? f->len - at : WRITE_MAX;
        rc = f->real->pMethods->xWrite(f->real, f->buf + at, (int)n,
                                       f->off + (sqlite3_int64)at);
    }
    f->len = 0;
    return rc;
}

static int wb_close(sqlite3_file *file)
{
    walbuf_file_t *f = (walbuf_file_t *)file;
    int rc = flush(f);
    int rc2 = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *file, void *p, int n, sqlite3_int64 off)
{
    walbuf_file_t *f = (walbuf_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, p, n, off);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int wb_write(sqlite3_file *file, const void *p, int n, sqlite3_int64 off)
{
    walbuf_file_t *f = (walbuf_file_t *)file;
    size_t len = (size_t)n;
    bool follows = f->len && off == f->off + (sqlite3_int64)f->len;
    if (!follows || f->len + len > WALBUF_CAP) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (len > WRITE_MAX || !f->buf) {
        f->commit_next = false;
        return f->real->pMethods->xWrite(f->real, p, n, off);
    }
    if (!f->len)
        f->off = off;
    memcpy(f->buf + f->len, p, len);
    f->len += len;
    /* The page after a commit frame's header completes the transaction. */
    bool commit = f->commit_next;
    f->commit_next = len == FRAME_HEADER && be32((const unsigned char *)p + 4) != 0;
    return commit ? flush(f) : SQLITE_OK;
}

static int wb_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    walbuf_file_t *f = (walbuf_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *file, int flags)
{
    walbuf_file_t *f = (walbuf_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    walbuf_file_t *f = (walbuf_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

/* The rest goes straight to the underlying file. */
#define REAL(file) (((walbuf_file_t *)(file))->real)

static int wb_lock(sqlite3_file *file, int lock)
{
    return REAL(file)->pMethods->xLock(REAL(file), lock);
}

static int wb_unlock(sqlite3_file *file, int lock)
{
    return REAL(file)->pMethods->xUnlock(REAL(file), lock);
}

static int wb_check_reserved(sqlite3_file *file, int *out)
{
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}

static int wb_file_control(sqlite3_file *file, int op, void *arg)
{
    walbuf_file_t *f = (walbuf_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wb_sector_size(sqlite3_file *file)
{
    return REAL(file)->pMethods->xSectorSize(REAL(file));
}

static int wb_device_characteristics(sqlite3_file *file)
{
    return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}

static int wb_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **p)
{
    return REAL(file)->pMethods->xShmMap(REAL(file), region, size, extend, p);
}

static int wb_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}

static void wb_shm_barrier(sqlite3_file *file)
{
    REAL(file)->pMethods->xShmBarrier(REAL(file));
}

static int wb_shm_unmap(sqlite3_file *file, int delete_flag)
{
    return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}

static int wb_fetch(sqlite3_file *file, sqlite3_int64 off, int n, void **p)
{
    walbuf_file_t *f = (walbuf_file_t *)file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, off, n, p);
}

static int wb_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
    return REAL(file)->pMethods->xUnfetch(REAL(file), off, p);
}

static int wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                   int *out_flags)
{
    if (!(flags & SQLITE_OPEN_WAL))
        return real_vfs->xOpen(real_vfs, name, file, flags, out_flags);
    walbuf_file_t *f = (walbuf_file_t *)file;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    /* SQLite calls xClose even after a failed open when pMethods is set:
     * then the underlying file gets its own xClose through ours. */
    if (rc == SQLITE_OK || f->real->pMethods)
        f->base.pMethods = &walbuf_methods;
    /* Without a buffer (no memory) every write goes straight through. */
    if (rc == SQLITE_OK)
        f->buf = malloc(WALBUF_CAP);
    return rc;
}

/* The VFS calls that are not about one file. */
static int wb_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int wb_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int wb_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *wb_dl_open(sqlite3_vfs *vfs, const char *name)
{
    return real_vfs->xDlOpen(real_vfs, name);
}

static void wb_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    real_vfs->xDlError(real_vfs, n, msg);
}

static void (*wb_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void wb_dl_close(sqlite3_vfs *vfs, void *h)
{
    real_vfs->xDlClose(real_vfs, h);
}

static int wb_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int wb_sleep(sqlite3_vfs *vfs, int us)
{
    return real_vfs->xSleep(real_vfs, us);
}

static int wb_current_time(sqlite3_vfs *vfs, double *out)
{
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int wb_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int wb_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static bool registered;

static void walbuf_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 2 || !real_vfs->xCurrentTimeInt64)
        return;
    walbuf_methods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = wb_close,
        .xRead = wb_read,
        .xWrite = wb_write,
        .xTruncate = wb_truncate,
        .xSync = wb_sync,
        .xFileSize = wb_file_size,
        .xLock = wb_lock,
        .xUnlock = wb_unlock,
        .xCheckReservedLock = wb_check_reserved,
        .xFileControl = wb_file_control,
        .xSectorSize = wb_sector_size,
        .xDeviceCharacteristics = wb_device_characteristics,
        .xShmMap = wb_shm_map,
        .xShmLock = wb_shm_lock,
        .xShmBarrier = wb_shm_barrier,
        .xShmUnmap = wb_shm_unmap,
        .xFetch = wb_fetch,
        .xUnfetch = wb_unfetch,
    };
    int size = (int)sizeof(walbuf_file_t) + real_vfs->szOsFile;
    walbuf_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = size > real_vfs->szOsFile ? size : real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = WALBUF_NAME,
        .xOpen = wb_open,
        .xDelete = wb_delete,
        .xAccess = wb_access,
        .xFullPathname = wb_full_pathname,
        .xDlOpen = wb_dl_open,
        .xDlError = wb_dl_error,
        .xDlSym = wb_dl_sym,
        .xDlClose = wb_dl_close,
        .xRandomness = wb_randomness,
        .xSleep = wb_sleep,
        .xCurrentTime = wb_current_time,
        .xGetLastError = wb_last_error,
        .xCurrentTimeInt64 = wb_current_time64,
    };
    registered = sqlite3_vfs_register(&walbuf_vfs, 0) == SQLITE_OK;
}

const char *store__sqlite_vfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, walbuf_register);
    return registered ? WALBUF_NAME : NULL;
}
