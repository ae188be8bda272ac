/* url.c — percent-decoding, safe static-file paths and query lookup.
 *
 * The path check works on the decoded bytes in the caller's buffer, compacting
 * segments in place, so the judgement and the result are the same bytes: there
 * is no second decoding step for a trick to hide behind.
 */
#include "http/url.h"

#include <string.h>

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

ssize_t http_url_decode(const char *in, size_t len, char *out, size_t outsz)
{
    size_t w = 0;
    for (size_t r = 0; r < len; r++) {
        unsigned char c = (unsigned char)in[r];
        if (c == '%') {
            if (len - r < 3)
                return -1;
            int hi = hex_value((unsigned char)in[r + 1]);
            int lo = hex_value((unsigned char)in[r + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi << 4 | lo);
            r += 2;
        }
        if (c == '\0' || w + 1 >= outsz)
            return -1;
        out[w++] = (char)c;
    }
    if (w >= outsz)
        return -1;
    out[w] = '\0';
    return (ssize_t)w;
}

static const char index_name[] = "index.html";

int http_safe_relpath(const char *path, size_t len, char *out, size_t outsz)
{
    ssize_t n = http_url_decode(path, len, out, outsz);
    if (n < 0)
        return -1;
    for (ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return -1;
    }

    size_t w = 0, r = 0, end = (size_t)n;
    int dir = 1; /* the last segment named a directory ("", ".") */
    while (r <= end) {
        const char *slash = memchr(out + r, '/', end - r);
        size_t seg_end = slash ? (size_t)(slash - out) : end;
        size_t seg_len = seg_end - r;
        if (seg_len == 0 || (seg_len == 1 && out[r] == '.')) {
            dir = 1;
        } else if (out[r] == '.') {
            return -1; /* "..", and dotfiles */
        } else {
            /* w + 1 <= r whenever w > 0: a '/' preceded this segment. */
            if (w > 0)
                out[w++] = '/';
            memmove(out + w, out + r, seg_len);
            w += seg_len;
            dir = 0;
        }
        r = seg_end + 1;
    }

    if (dir) {
        size_t need = w + (w > 0) + sizeof(index_name); /* sizeof counts the NUL */
        if (need > outsz)
            return -1;
        if (w > 0)
            out[w++] = '/';
        memcpy(out + w, index_name, sizeof(index_name) - 1);
        w += sizeof(index_name) - 1;
    }
    out[w] = '\0';
    return 0;
}

int http_query_get(const char *query, size_t qlen, const char *key, const char **val, size_t *vlen)
{
    if (!query)
        return 0;
    size_t klen = strlen(key);
    const char *p = query, *end = query + qlen;
    while (p <= end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - p) == klen && memcmp(p, key, klen) == 0) {
            *val = eq ? eq + 1 : pe;
            *vlen = (size_t)(pe - *val);
            return 1;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return 0;
}
