/* url.h — percent-decoding, safe static-file paths and query lookup.
 *
 * For request targets split by parser.h. These work on spans (pointer and
 * length, no NUL needed) and write only into the caller's buffers; nothing is
 * allocated. This is not a general URI parser: no scheme, authority or
 * fragment handling, and '+' is not a space (that is form encoding, not paths).
 */
#ifndef PARLEY_HTTP_URL_H
#define PARLEY_HTTP_URL_H

#include <stddef.h>
#include <sys/types.h>

/* Percent-decodes in[0..len) into out (outsz bytes) and NUL-terminates it.
 * Returns the decoded length (without the NUL), or -1 on a bad escape ("%zz",
 * a '%' with fewer than two hex digits after it), on an encoded ("%00") or raw
 * NUL, or when the result and its NUL do not fit in outsz. out may alias in
 * (decoding never grows). On -1, out's contents are unspecified. */
ssize_t http_url_decode(const char *in, size_t len, char *out, size_t outsz);

/* Turns a request path (not yet decoded, e.g. http_request_t.path) into a
 * relative file path that cannot leave the directory it is resolved against.
 *
 * Decodes first, so encoded tricks ("%2e%2e", "%2f", "%5c") are judged by what
 * they decode to, and decodes once only ("%252e" is the file name "%2e").
 * Then refuses: NUL, backslash, control characters (0x01-0x1f, 0x7f), any
 * ".." segment, and any other segment starting with '.' (dotfiles such as
 * .git or .env are never served). Empty and "." segments collapse, so leading
 * slashes are dropped ("//etc/passwd" is "etc/passwd" under the root). "/" and
 * any path ending in '/' (or "/.") get "index.html" appended.
 *
 * Returns 0 with a NUL-terminated path without a leading '/' in out, or -1
 * when the path is refused, badly encoded, or does not fit in outsz. out must
 * not alias path. */
int http_safe_relpath(const char *path, size_t len, char *out, size_t outsz);

/* Finds key in a query string such as "EIO=4&transport=polling" (without the
 * '?'). Keys are compared byte for byte with the encoded form. On the first
 * match returns 1 and sets *val and *vlen to the still-encoded value ("k" and
 * "k=" give an empty value); returns 0 when absent (*val, *vlen untouched). */
int http_query_get(const char *query, size_t qlen, const char *key, const char **val, size_t *vlen);

#endif
