/* static.h — serving files from one directory (the web client).
 *
 * GET and HEAD only. The request path is decoded and checked by
 * http_safe_relpath (no "..", no NUL, no absolute paths), and the resolved
 * file must still lie inside the root after symlinks are followed. Answers
 * carry a MIME type from the file name, an ETag, and 304 for a matching
 * If-None-Match.
 */
#ifndef PARLEY_HTTP_STATIC_H
#define PARLEY_HTTP_STATIC_H

#include "http/server.h"

/* Answers the exchange from files under root (always answers: 200, 304,
 * 400, 404, 405). */
void http_serve_static(http_exchange_t *ex, const char *root);

/* Answers with the file rel (already a safe relative path, e.g. from
 * http_safe_relpath or a constant) under root, with the same checks. */
void http_serve_file(http_exchange_t *ex, const char *root, const char *rel);

/* MIME type for a file name, by extension; "application/octet-stream" when
 * unknown. */
const char *http_mime_type(const char *name);

#endif
