/* fuzz_http.c — libFuzzer target for the HTTP request-head parser and the
 * static-file path guard.
 *
 * Properties checked (abort on violation), beyond ASan/UBSan staying quiet:
 *   - incremental == whole: the input fed in three pieces, split at points
 *     derived from the data, gives the same first non-INCOMPLETE result and
 *     the same parsed request as one call on all of it;
 *   - every span in an accepted request lies inside the consumed head;
 *   - http_safe_relpath on the path never yields a leading '/', a backslash,
 *     a control byte, or a segment starting with '.' (so no "..").
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "http/url.h"

static http_request_t whole_req, split_req;

static size_t span_off(const char *base, const char *p)
{
    return p ? (size_t)(p - base) : (size_t)-1;
}

static void check_span(const char *base, size_t head, const char *p, size_t len)
{
    if (!p)
        return;
    if (p < base || (size_t)(p - base) > head || len > head - (size_t)(p - base))
        abort();
}

static void check_same(const char *a, const http_request_t *x, const char *b,
                       const http_request_t *y)
{
    if (x->method != y->method || x->method_len != y->method_len ||
        span_off(a, x->method_str) != span_off(b, y->method_str) ||
        span_off(a, x->target) != span_off(b, y->target) || x->target_len != y->target_len ||
        span_off(a, x->path) != span_off(b, y->path) || x->path_len != y->path_len ||
        span_off(a, x->query) != span_off(b, y->query) || x->query_len != y->query_len ||
        x->version_minor != y->version_minor || x->num_headers != y->num_headers)
        abort();
    for (size_t i = 0; i < x->num_headers; i++) {
        const http_header_t *h = &x->headers[i], *k = &y->headers[i];
        if (span_off(a, h->name) != span_off(b, k->name) || h->name_len != k->name_len ||
            span_off(a, h->value) != span_off(b, k->value) || h->value_len != k->value_len)
            abort();
    }
}

static void check_relpath(const char *path, size_t len)
{
    char out[HTTP_MAX_HEAD_BYTES + 16];
    if (http_safe_relpath(path, len, out, sizeof(out)) != 0)
        return;
    size_t n = strlen(out);
    if (n == 0 || out[0] == '/')
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            abort();
        if (c == '.' && (i == 0 || out[i - 1] == '/'))
            abort();
        if (c == '/' && (i + 1 == n || out[i + 1] == '/'))
            abort(); /* empty segment */
    }
}

/* Feeds data[0..size) in pieces ending at cut1, cut2 and size; returns the
 * first result that is not INCOMPLETE. */
static int parse_split(const char *data, size_t size, size_t cut1, size_t cut2)
{
    size_t cuts[3] = {cut1, cut2, size};
    size_t prev = 0;
    int rc = HTTP_PARSE_INCOMPLETE;
    for (int i = 0; i < 3 && rc == HTTP_PARSE_INCOMPLETE; i++) {
        rc = http_parse_request(data, cuts[i], prev, HTTP_MAX_HEAD_BYTES, &split_req);
        prev = cuts[i];
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
    const char *data = (const char *)bytes;
    int whole = http_parse_request(data, size, 0, HTTP_MAX_HEAD_BYTES, &whole_req);
    if (whole == 0 || whole < HTTP_PARSE_BAD_VERSION || (whole > 0 && (size_t)whole > size) ||
        whole > HTTP_MAX_HEAD_BYTES)
        abort();

    /* Split points from the last bytes, so they vary as the fuzzer mutates
     * without steering the head that usually sits at the start. */
    size_t cut1 = 0, cut2 = 0;
    if (size >= 2) {
        cut1 = ((size_t)bytes[size - 1] * 131u + (size_t)bytes[size - 2]) % (size + 1);
        cut2 = cut1 + ((size_t)bytes[size - 2] * 257u + (size_t)bytes[0]) % (size - cut1 + 1);
    }
    int split = parse_split(data, size, cut1, cut2);
    if (split != whole)
        abort();

    if (whole > 0) {
        check_same(data, &whole_req, data, &split_req);
        const char *b = data;
        size_t head = (size_t)whole;
        check_span(b, head, whole_req.method_str, whole_req.method_len);
        check_span(b, head, whole_req.target, whole_req.target_len);
        check_span(b, head, whole_req.path, whole_req.path_len);
        check_span(b, head, whole_req.query, whole_req.query_len);
        for (size_t i = 0; i < whole_req.num_headers; i++) {
            check_span(b, head, whole_req.headers[i].name, whole_req.headers[i].name_len);
            check_span(b, head, whole_req.headers[i].value, whole_req.headers[i].value_len);
        }
        check_relpath(whole_req.path, whole_req.path_len);

        /* Exercise the helpers under the sanitizers. */
        int64_t cl;
        if (http_content_length(&whole_req, &cl) != 0)
            abort(); /* the parser refuses invalid lengths */
        if (http_is_chunked(&whole_req) && http_find_header(&whole_req, "content-length"))
            abort();
        (void)http_keep_alive(&whole_req);
        (void)http_header_has_token(http_find_header(&whole_req, "connection"), "upgrade");
        const char *v;
        size_t vlen;
        (void)http_query_get(whole_req.query, whole_req.query_len, "sid", &v, &vlen);
    }

    /* The path guard on raw bytes too, not only on targets the parser let through. */
    check_relpath(data, size > HTTP_MAX_HEAD_BYTES ? HTTP_MAX_HEAD_BYTES : size);
    return 0;
}
