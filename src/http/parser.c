/* parser.c — the HTTP/1.1 request-head parser; see parser.h for the rules.
 *
 * Two phases. The framing phase looks for the end of the head, resuming where
 * the previous call stopped (memchr over new bytes only) and checking each LF
 * has its CR, so a bare LF fails at once instead of waiting for the cap. Once
 * the head is complete, the grammar phase walks it a single time. Only the first
 * phase runs per partial read, which keeps slow clients cheap.
 */
#include "http/parser.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#define T_ALPHA(v)                                                                                 \
    ['A'] = v, ['B'] = v, ['C'] = v, ['D'] = v, ['E'] = v, ['F'] = v, ['G'] = v, ['H'] = v,        \
    ['I'] = v, ['J'] = v, ['K'] = v, ['L'] = v, ['M'] = v, ['N'] = v, ['O'] = v, ['P'] = v,        \
    ['Q'] = v, ['R'] = v, ['S'] = v, ['T'] = v, ['U'] = v, ['V'] = v, ['W'] = v, ['X'] = v,        \
    ['Y'] = v, ['Z'] = v, ['a'] = v, ['b'] = v, ['c'] = v, ['d'] = v, ['e'] = v, ['f'] = v,        \
    ['g'] = v, ['h'] = v, ['i'] = v, ['j'] = v, ['k'] = v, ['l'] = v, ['m'] = v, ['n'] = v,        \
    ['o'] = v, ['p'] = v, ['q'] = v, ['r'] = v, ['s'] = v, ['t'] = v, ['u'] = v, ['v'] = v,        \
    ['w'] = v, ['x'] = v, ['y'] = v, ['z'] = v
#define T_DIGIT(v)                                                                                 \
    ['0'] = v, ['1'] = v, ['2'] = v, ['3'] = v, ['4'] = v, ['5'] = v, ['6'] = v, ['7'] = v,        \
    ['8'] = v, ['9'] = v

/* RFC 9110 §5.6.2 tchar. */
static const unsigned char tchar_table[256] = {
    T_ALPHA(1), T_DIGIT(1), ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,
    ['&'] = 1,  ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
    ['^'] = 1,  ['_'] = 1,  ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

static inline int is_tchar(unsigned char c)
{
    return tchar_table[c];
}

/* Request-target bytes: visible ASCII; '#' never belongs in a request. */
static inline int is_target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

/* field-content bytes plus the SP/HTAB inside values (RFC 9110 §5.5). */
static inline int is_value_char(unsigned char c)
{
    return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/* Word-at-a-time checks: these spans are most of a head's bytes. has_less
 * is non-zero exactly when some byte of x is below n (n <= 128), has_byte when
 * some byte equals b; both may mark extra bytes above the first hit, so a
 * marked word is re-checked byte by byte. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load64(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

static inline uint64_t has_less(uint64_t x, unsigned n)
{
    return (x - ONES * n) & ~x & HIGHS;
}

static inline uint64_t has_byte(uint64_t x, unsigned char b)
{
    return has_less(x ^ (ONES * b), 1);
}

/* First byte in [p, end) that is not a target byte, or end. */
static const char *scan_target(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t x = load64(p);
        if (has_less(x, 0x21) | (x & HIGHS) | has_byte(x, 0x7f) | has_byte(x, '#'))
            break;
        p += 8;
    }
    while (p < end && is_target_char((unsigned char)*p))
        p++;
    return p;
}

/* First byte in [p, end) that may not appear in a field value, or end. */
static const char *scan_value(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t x = load64(p);
        if (has_less(x, 0x20) | has_byte(x, 0x7f)) {
            /* Usually an HTAB; anything else ends the scan here. */
            for (int i = 0; i < 8; i++) {
                if (!is_value_char((unsigned char)p[i]))
                    return p + i;
            }
        }
        p += 8;
    }
    while (p < end && is_value_char((unsigned char)*p))
        p++;
    return p;
}

static inline unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Locale-free case-insensitive equality of a span and a NUL-free span. */
static int span_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return 0;
    }
    return 1;
}

static int header_is(const http_header_t *h, const char *name, size_t name_len)
{
    return span_ieq(h->name, h->name_len, name, name_len);
}

#define NAME_IS(h, lit) header_is((h), lit, sizeof(lit) - 1)

static http_method_t method_from(const char *m, size_t len)
{
    switch (len) {
    case 3:
        if (memcmp(m, "GET", 3) == 0)
            return HTTP_GET;
        if (memcmp(m, "PUT", 3) == 0)
            return HTTP_PUT;
        break;
    case 4:
        if (memcmp(m, "POST", 4) == 0)
            return HTTP_POST;
        if (memcmp(m, "HEAD", 4) == 0)
            return HTTP_HEAD;
        break;
    case 5:
        if (memcmp(m, "PATCH", 5) == 0)
            return HTTP_PATCH;
        break;
    case 6:
        if (memcmp(m, "DELETE", 6) == 0)
            return HTTP_DELETE;
        break;
    case 7:
        if (memcmp(m, "OPTIONS", 7) == 0)
            return HTTP_OPTIONS;
        break;
    }
    return HTTP_METHOD_OTHER;
}

static const char *trim_ows_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

/* Request line: p points at the method, eol at the line's CR. */
static int parse_request_line(const char *p, const char *eol, http_request_t *req)
{
    const char *m = p;
    while (p < eol && is_tchar((unsigned char)*p))
        p++;
    if (p == m || p == eol || *p != ' ')
        return HTTP_PARSE_BAD_REQUEST;
    req->method_str = m;
    req->method_len = (size_t)(p - m);
    req->method = method_from(m, req->method_len);
    p++;

    const char *t = p;
    p = scan_target(p, eol);
    if (p == t || p == eol || *p != ' ')
        return HTTP_PARSE_BAD_REQUEST;
    req->target = t;
    req->target_len = (size_t)(p - t);
    p++;

    if (t[0] == '*') {
        if (req->target_len != 1 || req->method != HTTP_OPTIONS)
            return HTTP_PARSE_BAD_REQUEST;
        req->path = t;
        req->path_len = 1;
        req->query = NULL;
        req->query_len = 0;
    } else if (t[0] == '/') {
        const char *q = memchr(t, '?', req->target_len);
        req->path = t;
        if (q) {
            req->path_len = (size_t)(q - t);
            req->query = q + 1;
            req->query_len = req->target_len - req->path_len - 1;
        } else {
            req->path_len = req->target_len;
            req->query = NULL;
            req->query_len = 0;
        }
    } else {
        return HTTP_PARSE_BAD_REQUEST; /* absolute-form, authority-form, junk */
    }

    /* "HTTP/" DIGIT "." DIGIT, then the line ends. */
    if (eol - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.')
        return HTTP_PARSE_BAD_REQUEST;
    unsigned char major = (unsigned char)p[5], minor = (unsigned char)p[7];
    if (major < '0' || major > '9' || minor < '0' || minor > '9')
        return HTTP_PARSE_BAD_REQUEST;
    if (major != '1')
        return HTTP_PARSE_BAD_VERSION;
    req->version_minor = minor == '0' ? 0 : 1;
    return 0;
}

/* Header line at *pp, which is before last (the CR of the empty line that
 * ends the head). On success *pp moves to the next line. One pass: the value
 * scan stops at the first byte a value may not hold, which must be the CR. */
static int parse_header_line(const char **pp, const char *last, http_request_t *req)
{
    const char *p = *pp, *n = p;
    while (p < last && is_tchar((unsigned char)*p))
        p++;
    /* Catches obs-fold (line starts with SP/HTAB), "Name :", ": value", no ':'. */
    if (p == n || *p != ':')
        return HTTP_PARSE_BAD_REQUEST;
    if (req->num_headers == HTTP_MAX_HEADERS)
        return HTTP_PARSE_TOO_LARGE;
    http_header_t *h = &req->headers[req->num_headers++];
    h->name = n;
    h->name_len = (size_t)(p - n);
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *v = p;
    /* Every line ends in CRLF before last, so the scan stops before it. */
    const char *eol = scan_value(p, last);
    if (*eol != '\r' || eol[1] != '\n')
        return HTTP_PARSE_BAD_REQUEST;
    h->value = v;
    h->value_len = (size_t)(trim_ows_end(v, eol) - v);
    *pp = eol + 2;
    return 0;
}

/* Content-Length value: digits only, no overflow. 0 or -1. */
static int parse_length(const http_header_t *h, int64_t *out)
{
    if (h->value_len == 0)
        return -1;
    int64_t v = 0;
    for (size_t j = 0; j < h->value_len; j++) {
        unsigned char c = (unsigned char)h->value[j];
        if (c < '0' || c > '9')
            return -1;
        if (v > (INT64_MAX - (c - '0')) / 10)
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

/* Framing rules that need the whole header set (RFC 9112 §3.2, §6), in one
 * pass; names are told apart by length before any comparison. */
static int check_framing(const http_request_t *req)
{
    size_t hosts = 0, tes = 0, lengths = 0;
    const http_header_t *te = NULL;
    int64_t first_len = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const http_header_t *h = &req->headers[i];
        if (NAME_IS(h, "host")) {
            hosts++;
        } else if (NAME_IS(h, "content-length")) {
            int64_t v;
            if (parse_length(h, &v) != 0 || (lengths && v != first_len))
                return HTTP_PARSE_BAD_REQUEST;
            first_len = v;
            lengths++;
        } else if (NAME_IS(h, "transfer-encoding")) {
            tes++;
            te = h;
        }
    }
    if (hosts > 1 || (req->version_minor == 1 && hosts == 0))
        return HTTP_PARSE_BAD_REQUEST;
    if (tes && (tes != 1 || lengths || req->version_minor == 0 ||
                !span_ieq(te->value, te->value_len, "chunked", 7)))
        return HTTP_PARSE_BAD_REQUEST;
    return 0;
}

static int parse_head(const char *start, const char *end, http_request_t *req)
{
    /* end points just past the final LF; every LF in [start, end) has its CR. */
    const char *last = end - 2; /* CR of the empty line */
    const char *lf = memchr(start, '\n', (size_t)(end - start));
    int rc = parse_request_line(start, lf - 1, req);
    if (rc != 0)
        return rc;
    const char *p = lf + 1;
    while (p < last) {
        rc = parse_header_line(&p, last, req);
        if (rc != 0)
            return rc;
    }
    return check_framing(req);
}

int http_parse_request(const char *buf, size_t len, size_t prev_len, size_t max_head,
                       http_request_t *req)
{
    if (max_head > INT_MAX)
        max_head = INT_MAX;
    if (prev_len > len)
        prev_len = 0;
    req->num_headers = 0;
    size_t limit = len < max_head ? len : max_head;

    /* Leading empty lines. */
    size_t s = 0;
    while (s < limit && buf[s] == '\r') {
        if (s + 1 == limit)
            goto need_more;
        if (buf[s + 1] != '\n')
            return HTTP_PARSE_BAD_REQUEST;
        s += 2;
    }

    /* Judge the method on sight: cheap, since it is short or refused. */
    for (size_t i = s; i < limit; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == ' ') {
            if (i == s)
                return HTTP_PARSE_BAD_REQUEST;
            break;
        }
        if (!is_tchar(c) || i - s == HTTP_MAX_METHOD_LEN)
            return HTTP_PARSE_BAD_REQUEST;
    }

    /* Find the empty line, scanning only bytes not seen before. Every LF in
     * [s, prev_len) was checked by an earlier call that returned INCOMPLETE. */
    size_t from = prev_len > s ? prev_len : s;
    while (from < limit) {
        const char *lf = memchr(buf + from, '\n', limit - from);
        if (!lf)
            break;
        size_t i = (size_t)(lf - buf);
        /* i >= s + 2: buf[s] is a tchar after the checks above, so neither
         * LF nor CR. "\r\r\n" is a bare CR that no grammar rule allows. */
        if (buf[i - 1] != '\r' || buf[i - 2] == '\r')
            return HTTP_PARSE_BAD_REQUEST;
        if (buf[i - 2] == '\n') {
            int rc = parse_head(buf + s, lf + 1, req);
            return rc != 0 ? rc : (int)(i + 1);
        }
        from = i + 1;
    }

need_more:
    return len >= max_head ? HTTP_PARSE_TOO_LARGE : HTTP_PARSE_INCOMPLETE;
}

const http_header_t *http_find_header(const http_request_t *req, const char *name)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; i < req->num_headers; i++) {
        if (header_is(&req->headers[i], name, name_len))
            return &req->headers[i];
    }
    return NULL;
}

int http_header_has_token(const http_header_t *h, const char *token)
{
    if (!h)
        return 0;
    size_t tlen = strlen(token);
    const char *p = h->value, *end = h->value + h->value_len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *te = trim_ows_end(p, e);
        if (span_ieq(p, (size_t)(te - p), token, tlen))
            return 1;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

int http_content_length(const http_request_t *req, int64_t *out)
{
    int found = 0;
    int64_t value = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const http_header_t *h = &req->headers[i];
        if (!NAME_IS(h, "content-length"))
            continue;
        int64_t v;
        if (parse_length(h, &v) != 0 || (found && v != value))
            return -1;
        found = 1;
        value = v;
    }
    *out = value;
    return 0;
}

int http_is_chunked(const http_request_t *req)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const http_header_t *h = &req->headers[i];
        if (NAME_IS(h, "transfer-encoding") && http_header_has_token(h, "chunked"))
            return 1;
    }
    return 0;
}

int http_keep_alive(const http_request_t *req)
{
    int close = 0, keep = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const http_header_t *h = &req->headers[i];
        if (!NAME_IS(h, "connection"))
            continue;
        close |= http_header_has_token(h, "close");
        keep |= http_header_has_token(h, "keep-alive");
    }
    if (close)
        return 0;
    return req->version_minor >= 1 || keep;
}

const char *http_parse_result_str(int result)
{
    switch (result) {
    case HTTP_PARSE_INCOMPLETE:
        return "incomplete";
    case HTTP_PARSE_BAD_REQUEST:
        return "bad request";
    case HTTP_PARSE_TOO_LARGE:
        return "request header fields too large";
    case HTTP_PARSE_BAD_VERSION:
        return "http version not supported";
    }
    return "?";
}
