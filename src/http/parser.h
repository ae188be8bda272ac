/* parser.h — the HTTP/1.1 request-head parser (RFC 9112 §2-§6).
 *
 * Incremental and zero-copy: the caller keeps the bytes received so far in
 * one buffer and calls http_parse_request after each read; every pointer in
 * the result points into that buffer. No allocation, no state outside the
 * caller's http_request_t. Strict, as a server facing the internet should be:
 *
 *   - lines end in CRLF; a bare LF or bare CR is a 400 (no lone-LF leniency,
 *     so there is one way to frame a head and no smuggling by disagreement);
 *   - empty lines (CRLF) before the request line are skipped (RFC 9112 §2.2)
 *     and counted in the head length;
 *   - request line is exactly `METHOD SP target SP HTTP/d.d CRLF`; method and
 *     header names are tokens; methods are case-sensitive;
 *   - the target is origin-form ("/..."), or "*" for OPTIONS; absolute-form
 *     and authority-form are refused (400); raw bytes outside 0x21-0x7e and
 *     '#' are refused;
 *   - HTTP/1.0 and HTTP/1.1 are accepted; HTTP/1.x with x > 1 is served as
 *     1.1 (RFC 9110 §2.5); any other major version is BAD_VERSION (505);
 *   - obs-fold, whitespace before ':', empty names, NUL and other control
 *     characters (HTAB excepted) in values are 400; OWS around values is
 *     trimmed;
 *   - HTTP/1.1 needs exactly one Host; Content-Length must be digits, and
 *     repeated Content-Length headers must agree; Transfer-Encoding must be a
 *     single "chunked" (the only coding we decode), never with
 *     Content-Length, never in HTTP/1.0. Each of these is a 400.
 *
 * It parses the head only: reading the body (Content-Length or chunked) is
 * the caller's business. It does not decode the target: see url.h.
 */
#ifndef PARLEY_HTTP_PARSER_H
#define PARLEY_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_HEAD_BYTES 8192
/* Longer methods are refused early (400) so garbage is rejected on sight. */
#define HTTP_MAX_METHOD_LEN 32

typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* OWS-trimmed; may be empty */
    size_t value_len;
} http_header_t;

typedef enum {
    HTTP_METHOD_OTHER = 0, /* a valid token we do not name: the router answers 405/501 */
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH
} http_method_t;

typedef struct {
    http_method_t method;
    const char *method_str;
    size_t method_len;
    const char *target; /* request-target as sent, e.g. "/socket.io/?EIO=4&transport=polling" */
    size_t target_len;
    const char *path; /* target up to '?' (not decoded) */
    size_t path_len;
    const char *query; /* after '?', without it; NULL/0 if none ("/?" gives "" and 0) */
    size_t query_len;
    int version_minor; /* 0 or 1 (HTTP/1.x) */
    http_header_t headers[HTTP_MAX_HEADERS];
    size_t num_headers;
} http_request_t;

typedef enum {
    HTTP_PARSE_INCOMPLETE = -1,  /* need more bytes */
    HTTP_PARSE_BAD_REQUEST = -2, /* malformed -> 400 */
    HTTP_PARSE_TOO_LARGE = -3,   /* head > max bytes or > 100 headers -> 431 */
    HTTP_PARSE_BAD_VERSION = -4, /* not HTTP/1.0 or 1.x -> 505 */
} http_parse_result_t;

/* Parses a request head from buf[0..len).
 *
 * Returns the head length (> 0: bytes consumed, including any skipped leading
 * CRLFs and the final CRLFCRLF) when the head is complete and valid; the next
 * pipelined request, or the body, starts at buf + that length. Otherwise one of
 * the negative http_parse_result_t values. Errors are final: once one is
 * returned, answer it and close; do not call again on the same bytes.
 *
 * prev_len is the len passed in the previous call on the same buffer (0 the
 * first time, and again for the next request after consuming a head): bytes
 * before it are not scanned again for the end of the head. A prev_len > len
 * is treated as 0.
 *
 * max_head caps the head length (pass HTTP_MAX_HEAD_BYTES; values above
 * INT_MAX are clamped). A head of exactly max_head bytes is accepted; once len
 * reaches max_head without a complete head the result is HTTP_PARSE_TOO_LARGE,
 * even though the head is incomplete. More than HTTP_MAX_HEADERS header lines
 * is HTTP_PARSE_TOO_LARGE as well.
 *
 * Some malformations are reported before the head is complete (a bare LF, a
 * non-token byte in the method), so garbage such as a TLS ClientHello on the
 * plain port is refused at once. Whatever the split of the bytes across calls,
 * the first result other than INCOMPLETE is the one a single call on all of
 * them gives.
 *
 * *req is written only in part unless the result is > 0; then its pointers
 * point into buf and stay valid as long as those bytes do. */
int http_parse_request(const char *buf, size_t len, size_t prev_len, size_t max_head,
                       http_request_t *req);

/* Case-insensitive header lookup (name is NUL-terminated); returns the first
 * match or NULL. */
const http_header_t *http_find_header(const http_request_t *req, const char *name);

/* True when the comma-separated list in h's value contains token, compared
 * case-insensitively with OWS around list elements ignored, e.g.
 * "Connection: keep-alive, Upgrade" has "upgrade". h may be NULL (false). */
int http_header_has_token(const http_header_t *h, const char *token);

/* Reads Content-Length. Returns 0 with *out set (0 when absent), or -1 when
 * invalid: empty, a non-digit (signs and lists included), a value above
 * INT64_MAX, or repeated headers that differ. A request that
 * http_parse_request accepted never gives -1. */
int http_content_length(const http_request_t *req, int64_t *out);

/* True when the request carries Transfer-Encoding: chunked (the parser refuses
 * every other transfer coding, so for an accepted request: a chunked body
 * follows the head). */
int http_is_chunked(const http_request_t *req);

/* Whether the connection stays open after this request: HTTP/1.1 unless some
 * Connection header lists "close"; HTTP/1.0 only when one lists "keep-alive"
 * and none lists "close". */
int http_keep_alive(const http_request_t *req);

/* A short English name for an http_parse_result_t, for logs ("incomplete",
 * "bad request", ...); "?" for anything else. */
const char *http_parse_result_str(int result);

#endif
