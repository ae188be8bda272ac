/* static.c — files from the web root; see static.h. */
#include "http/static.h"
#include "core/alloc.h"
#include "http/url.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STATIC_FILE (16 * 1024 * 1024)

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},
    {"webmanifest", "application/manifest+json"},
};

const char *http_mime_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (dot && (!slash || dot > slash)) {
        for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    }
    return "application/octet-stream";
}

/* Whether If-None-Match lists etag (or is "*"). */
static int etag_matches(const http_header_t *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm->value, *end = inm->value + inm->value_len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        const char *t = q;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == 1 && *p == '*')
            return 1;
        if ((size_t)(t - p) == elen && memcmp(p, etag, elen) == 0)
            return 1;
        p = q;
    }
    return 0;
}

void http_serve_static(http_exchange_t *ex, const char *root)
{
    const http_request_t *req = http_ex_request(ex);
    char rel[PATH_MAX];
    if (http_safe_relpath(req->path, req->path_len, rel, sizeof rel) != 0) {
        http_respond_error(ex, 400, "bad path", 0);
        return;
    }
    http_serve_file(ex, root, rel);
}

void http_serve_file(http_exchange_t *ex, const char *root, const char *rel)
{
    const http_request_t *req = http_ex_request(ex);
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        static const http_kv_t allow[] = {{"Allow", "GET, HEAD"}};
        static const char body[] = "{\"error\":\"method not allowed\"}";
        http_respond(ex, 405, "application/json", allow, 1, body, sizeof body - 1);
        return;
    }
    char real_root[PATH_MAX], full[PATH_MAX * 2], real_file[PATH_MAX];
    if (!realpath(root, real_root)) {
        http_respond_error(ex, 404, "not found", 0);
        return;
    }
    snprintf(full, sizeof full, "%s/%s", real_root, rel);
    size_t rootlen = strlen(real_root);
    /* Symlinks may not lead outside the root. */
    if (!realpath(full, real_file) || strncmp(real_file, real_root, rootlen) != 0 ||
        real_file[rootlen] != '/') {
        http_respond_error(ex, 404, "not found", 0);
        return;
    }
    int fd = open(real_file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_STATIC_FILE) {
        if (fd >= 0)
            close(fd);
        http_respond_error(ex, 404, "not found", 0);
        return;
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    http_kv_t headers[] = {{"ETag", etag}, {"Cache-Control", "no-cache"},
                           {"X-Content-Type-Options", "nosniff"}};
    const http_header_t *inm = http_find_header(req, "If-None-Match");
    if (inm && etag_matches(inm, etag)) {
        close(fd);
        http_respond(ex, 304, NULL, headers, 2, NULL, 0);
        return;
    }
    size_t size = (size_t)st.st_size;
    char *body = xmalloc(size ? size : 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, body + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != size) {
        free(body);
        http_respond_error(ex, 500, "read failed", 1);
        return;
    }
    http_respond(ex, 200, http_mime_type(real_file), headers, 3, body, size);
    free(body);
}
