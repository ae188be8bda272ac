/* packet.c — Socket.IO v5 packet codec. */
#include "sio/packet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"

const char *sio_strerror(sio_err_t err)
{
    switch (err) {
    case SIO_OK: return "ok";
    case SIO_ERR_EMPTY: return "empty packet";
    case SIO_ERR_BAD_TYPE: return "packet type must be a digit 0-6";
    case SIO_ERR_BAD_ATTACHMENTS:
        return "binary packet needs an attachment count \"N-\" with N >= 1";
    case SIO_ERR_TOO_MANY_ATTACHMENTS: return "more than 10 binary attachments";
    case SIO_ERR_BAD_NSP:
        return "namespace must start with '/', be at most 255 bytes and hold no "
               "control character, ',', '[', '{' or '\"'";
    case SIO_ERR_NSP_NO_COMMA: return "namespace must be followed by ','";
    case SIO_ERR_ID_OVERFLOW: return "ack id larger than 2^53-1";
    case SIO_ERR_UNEXPECTED_ID: return "only EVENT and ACK packets carry an ack id";
    case SIO_ERR_MISSING_ID: return "ACK packet without an ack id";
    case SIO_ERR_BAD_JSON: return "payload is not valid JSON";
    case SIO_ERR_MISSING_PAYLOAD: return "this packet type requires a payload";
    case SIO_ERR_UNEXPECTED_PAYLOAD: return "DISCONNECT takes no payload";
    case SIO_ERR_NOT_OBJECT: return "CONNECT and CONNECT_ERROR payloads must be objects";
    case SIO_ERR_NOT_ARRAY: return "EVENT and ACK payloads must be arrays";
    case SIO_ERR_EMPTY_EVENT: return "EVENT payload must not be empty";
    case SIO_ERR_EVENT_NAME: return "event name (first element) must be a string";
    case SIO_ERR_RESERVED_EVENT: return "event name is reserved by Socket.IO";
    case SIO_ERR_BAD_PLACEHOLDER:
        return "placeholder \"num\" must be an integer below the attachment count";
    case SIO_ERR_UNUSED_ATTACHMENT: return "attachment not referenced by any placeholder";
    case SIO_ERR_ATTACHMENT_COUNT: return "number of attachments differs from the announced count";
    case SIO_ERR_TOO_BIG: return "encoded packet exceeds the buffer limit";
    }
    return "unknown error";
}

const char *sio_type_name(sio_type_t type)
{
    static const char *const names[] = {"CONNECT", "DISCONNECT",   "EVENT",     "ACK",
                                        "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"};
    if ((unsigned)type < sizeof names / sizeof names[0])
        return names[type];
    return "?";
}

static bool is_binary_type(sio_type_t t)
{
    return t == SIO_BINARY_EVENT || t == SIO_BINARY_ACK;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Event names the reference server refuses: they have a meaning of their own
 * on one side or the other, and a peer emitting them is broken or hostile. */
static bool is_reserved_event(const char *name, size_t len)
{
    static const char *const reserved[] = {"connect",       "connect_error",  "disconnect",
                                           "disconnecting", "newListener",    "removeListener"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strlen(reserved[i]) == len && memcmp(reserved[i], name, len) == 0)
            return true;
    return false;
}

/* Characters that start a JSON payload: seeing one inside what would be the
 * namespace means the ',' before the payload is missing. */
static bool is_json_start(char c)
{
    return c == '[' || c == '{' || c == '"';
}

/* A namespace: "/" then no control characters, no ',' and nothing that
 * could be mistaken for the start of the payload; at most SIO_NSP_MAX. */
static bool nsp_valid(const char *nsp, size_t len)
{
    if (len == 0 || len > SIO_NSP_MAX || nsp[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)nsp[i];
        if (c < 0x20 || c == 0x7f || c == ',' || is_json_start((char)c))
            return false;
    }
    return true;
}

/* The payload rules per packet type (types on the wire). */
static sio_err_t check_shape(sio_type_t type, const json_t *data, bool has_id)
{
    switch (type) {
    case SIO_CONNECT:
    case SIO_DISCONNECT:
    case SIO_CONNECT_ERROR:
        if (has_id)
            return SIO_ERR_UNEXPECTED_ID;
        break;
    case SIO_ACK:
    case SIO_BINARY_ACK:
        if (!has_id)
            return SIO_ERR_MISSING_ID;
        break;
    case SIO_EVENT:
    case SIO_BINARY_EVENT:
        break;
    }
    switch (type) {
    case SIO_CONNECT:
        if (data && !json_is_object(data))
            return SIO_ERR_NOT_OBJECT;
        return SIO_OK;
    case SIO_DISCONNECT:
        return data ? SIO_ERR_UNEXPECTED_PAYLOAD : SIO_OK;
    case SIO_CONNECT_ERROR:
        if (!data)
            return SIO_ERR_MISSING_PAYLOAD;
        return json_is_object(data) ? SIO_OK : SIO_ERR_NOT_OBJECT;
    case SIO_EVENT:
    case SIO_BINARY_EVENT: {
        if (!data)
            return SIO_ERR_MISSING_PAYLOAD;
        if (!json_is_array(data))
            return SIO_ERR_NOT_ARRAY;
        if (json_array_size(data) == 0)
            return SIO_ERR_EMPTY_EVENT;
        const json_t *name = json_array_get(data, 0);
        if (!json_is_string(name))
            return SIO_ERR_EVENT_NAME;
        if (is_reserved_event(json_string_value(name), json_string_length(name)))
            return SIO_ERR_RESERVED_EVENT;
        return SIO_OK;
    }
    case SIO_ACK:
    case SIO_BINARY_ACK:
        if (!data)
            return SIO_ERR_MISSING_PAYLOAD;
        return json_is_array(data) ? SIO_OK : SIO_ERR_NOT_ARRAY;
    }
    return SIO_ERR_BAD_TYPE;
}

/* Placeholder test shared by validation and lookup: an object whose
 * "_placeholder" is true. Its num is returned through *num when it is an
 * integer in [0, n); otherwise *num_ok is false. */
static bool is_placeholder(const json_t *v, size_t n, size_t *num, bool *num_ok)
{
    if (!json_is_object(v) || !json_is_true(json_object_get(v, "_placeholder")))
        return false;
    const json_t *jn = json_object_get(v, "num");
    *num_ok = json_is_integer(jn) && json_integer_value(jn) >= 0 &&
              (uint64_t)json_integer_value(jn) < n;
    if (*num_ok)
        *num = (size_t)json_integer_value(jn);
    return true;
}

/* Walks v marking used[num] for each placeholder. Recursion depth is bounded
 * by jansson's parser depth limit for decoded trees. */
static sio_err_t walk_placeholders(const json_t *v, size_t n, bool *used)
{
    size_t num;
    bool ok;
    if (is_placeholder(v, n, &num, &ok)) {
        if (!ok)
            return SIO_ERR_BAD_PLACEHOLDER;
        used[num] = true;
        return SIO_OK;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            sio_err_t err = walk_placeholders(e, n, used);
            if (err != SIO_OK)
                return err;
        }
    } else if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            sio_err_t err = walk_placeholders(e, n, used);
            if (err != SIO_OK)
                return err;
        }
    }
    return SIO_OK;
}

/* Every placeholder in range and every one of the n attachments used. */
static sio_err_t check_placeholders(const json_t *data, size_t n)
{
    bool used[SIO_MAX_ATTACHMENTS] = {false};
    if (n > SIO_MAX_ATTACHMENTS)
        return SIO_ERR_TOO_MANY_ATTACHMENTS;
    sio_err_t err = walk_placeholders(data, n, used);
    if (err != SIO_OK)
        return err;
    for (size_t i = 0; i < n; i++)
        if (!used[i])
            return SIO_ERR_UNUSED_ATTACHMENT;
    return SIO_OK;
}

static sio_err_t fail(sio_err_t err, size_t offset, sio_decode_error_t *detail)
{
    if (detail) {
        detail->offset = offset;
        snprintf(detail->text, sizeof detail->text, "%s", sio_strerror(err));
    }
    return err;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Rewrites every lone UTF-16 surrogate escape (\ud800 without its pair)
 * in p[0..n) to \ufffd, in place; returns how many it rewrote. JavaScript
 * clients send such strings (JSON.stringify keeps them), and jansson refuses
 * them; turning them into U+FFFD is what a browser's own UTF-8 encoder does,
 * and keeps a broken string from costing the client its connection. */
static size_t replace_lone_surrogates(char *p, size_t n)
{
    size_t fixed = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] != '\\')
            continue;
        if (p[i + 1] != 'u' || i + 6 > n) {
            i++; /* skip the escaped character */
            continue;
        }
        unsigned v;
        if (hex4(p + i + 2, &v) != 0) {
            i++;
            continue;
        }
        if (v >= 0xD800 && v <= 0xDBFF) {
            unsigned lo;
            if (i + 12 <= n && p[i + 6] == '\\' && p[i + 7] == 'u' && hex4(p + i + 8, &lo) == 0 &&
                lo >= 0xDC00 && lo <= 0xDFFF) {
                i += 11; /* a proper pair */
                continue;
            }
        } else if (!(v >= 0xDC00 && v <= 0xDFFF)) {
            i += 5;
            continue;
        }
        memcpy(p + i + 2, "fffd", 4);
        fixed++;
        i += 5;
    }
    return fixed;
}

/* ---- The fast path of payload parsing ---------------------------------
 *
 * jansson's reader goes through its input a character at a time, through a
 * stream and a growing string buffer; on a chat server that was the largest
 * single cost of a message:send (a quarter of the loop thread). This
 * reader covers the common shapes in one pass and builds the very same
 * tree with jansson's own constructors. Whatever it is not sure about — a
 * real number, an integer of more than 18 digits, a lone surrogate, a NUL
 * in a key, deep nesting, any syntax error — it declines, and json_loadb
 * decides (errors and their messages stay jansson's). */

#define FAST_DEPTH 32

typedef struct {
    const char *p, *end;
    int depth;
} fast_t;

static void fast_ws(fast_t *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\t' || *f->p == '\r'))
        f->p++;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool fast_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return false;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return true;
}

/* The string whose body starts at f->p (after its quote): *s, *n are its
 * bytes, in the input when it has no escapes, else in *heap (the caller
 * frees it). */
static bool fast_string(fast_t *f, const char **s, size_t *n, char **heap)
{
    const char *start = f->p, *p = f->p, *end = f->end;
    bool ascii = true;
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) {
        ascii &= (unsigned char)*p < 0x80;
        p++;
    }
    if (p == end || (unsigned char)*p < 0x20)
        return false;
    *heap = NULL;
    if (*p == '"') {
        if (!ascii && !utf8_valid(start, (size_t)(p - start)))
            return false;
        *s = start;
        *n = (size_t)(p - start);
        f->p = p + 1;
        return true;
    }
    /* Escapes: the decoded text is never longer than its source. */
    char *out = xmalloc((size_t)(end - start));
    char *o = out;
    memcpy(o, start, (size_t)(p - start));
    o += p - start;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            goto decline;
        if (c != '\\') {
            *o++ = (char)c;
            p++;
            continue;
        }
        if (++p == end)
            goto decline;
        char e = *p++;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned v, lo;
            if (!fast_hex4(p, end, &v))
                goto decline;
            p += 4;
            if (v >= 0xDC00 && v <= 0xDFFF)
                goto decline;
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !fast_hex4(p + 2, end, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    goto decline;
                p += 6;
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (v < 0x80) {
                *o++ = (char)v;
            } else if (v < 0x800) {
                *o++ = (char)(0xC0 | v >> 6);
                *o++ = (char)(0x80 | (v & 0x3F));
            } else if (v < 0x10000) {
                *o++ = (char)(0xE0 | v >> 12);
                *o++ = (char)(0x80 | (v >> 6 & 0x3F));
                *o++ = (char)(0x80 | (v & 0x3F));
            } else {
                *o++ = (char)(0xF0 | v >> 18);
                *o++ = (char)(0x80 | (v >> 12 & 0x3F));
                *o++ = (char)(0x80 | (v >> 6 & 0x3F));
                *o++ = (char)(0x80 | (v & 0x3F));
            }
            break;
        }
        default:
            goto decline;
        }
    }
    if (p == end || !utf8_valid(out, (size_t)(o - out)))
        goto decline;
    f->p = p + 1;
    *s = out;
    *n = (size_t)(o - out);
    *heap = out;
    return true;
decline:
    free(out);
    return false;
}

static json_t *fast_value(fast_t *f);

static json_t *fast_object(fast_t *f)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    fast_ws(f);
    if (f->p < f->end && *f->p == '}') {
        f->p++;
        return obj;
    }
    for (;;) {
        if (f->p == f->end || *f->p != '"')
            break;
        f->p++;
        const char *key;
        size_t klen;
        char *heap;
        if (!fast_string(f, &key, &klen, &heap))
            break;
        json_t *v = NULL;
        fast_ws(f);
        if (!memchr(key, '\0', klen) && f->p < f->end && *f->p == ':') {
            f->p++;
            v = fast_value(f);
        }
        if (v && json_object_setn_new_nocheck(obj, key, klen, v) != 0)
            v = NULL;
        free(heap);
        if (!v)
            break;
        fast_ws(f);
        if (f->p == f->end)
            break;
        if (*f->p == '}') {
            f->p++;
            return obj;
        }
        if (*f->p != ',')
            break;
        f->p++;
        fast_ws(f);
    }
    json_decref(obj);
    return NULL;
}

static json_t *fast_array(fast_t *f)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    fast_ws(f);
    if (f->p < f->end && *f->p == ']') {
        f->p++;
        return arr;
    }
    for (;;) {
        json_t *v = fast_value(f);
        if (!v || json_array_append_new(arr, v) != 0)
            break;
        fast_ws(f);
        if (f->p == f->end)
            break;
        if (*f->p == ']') {
            f->p++;
            return arr;
        }
        if (*f->p != ',')
            break;
        f->p++;
    }
    json_decref(arr);
    return NULL;
}

/* An integer of at most 18 digits (no overflow possible); reals and longer
 * integers are declined. */
static json_t *fast_number(fast_t *f)
{
    const char *p = f->p;
    bool neg = *p == '-';
    if (neg)
        p++;
    const char *digits = p;
    int64_t v = 0;
    while (p < f->end && *p >= '0' && *p <= '9') {
        if (p - digits == 18)
            return NULL; /* might not fit: jansson decides */
        v = v * 10 + (*p++ - '0');
    }
    size_t n = (size_t)(p - digits);
    if (n == 0 || (n > 1 && digits[0] == '0'))
        return NULL;
    if (p < f->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return NULL;
    f->p = p;
    return json_integer(neg ? -v : v);
}

static bool fast_word(fast_t *f, const char *w, size_t n)
{
    if ((size_t)(f->end - f->p) < n || memcmp(f->p, w, n) != 0)
        return false;
    f->p += n;
    return true;
}

static json_t *fast_value(fast_t *f)
{
    fast_ws(f);
    if (f->p == f->end)
        return NULL;
    switch (*f->p) {
    case '{':
    case '[': {
        if (++f->depth > FAST_DEPTH)
            return NULL;
        bool obj = *f->p++ == '{';
        json_t *v = obj ? fast_object(f) : fast_array(f);
        f->depth--;
        return v;
    }
    case '"': {
        f->p++;
        const char *s;
        size_t n;
        char *heap;
        if (!fast_string(f, &s, &n, &heap))
            return NULL;
        json_t *v = json_stringn_nocheck(s, n);
        free(heap);
        return v;
    }
    case 't':
        return fast_word(f, "true", 4) ? json_true() : NULL;
    case 'f':
        return fast_word(f, "false", 5) ? json_false() : NULL;
    case 'n':
        return fast_word(f, "null", 4) ? json_null() : NULL;
    default:
        return *f->p == '-' || (*f->p >= '0' && *f->p <= '9') ? fast_number(f) : NULL;
    }
}

json_t *sio_packet_json_fast(const char *s, size_t len)
{
    fast_t f = {s, s + len, 0};
    json_t *v = fast_value(&f);
    if (!v)
        return NULL;
    fast_ws(&f);
    if (f.p != f.end) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* The fast reader, then json_loadb, retried once with lone surrogates
 * replaced when it fails on input that has \u escapes (only then: the
 * common path pays nothing). */
static json_t *load_json(const char *p, size_t n, json_error_t *jerr)
{
    json_t *j = sio_packet_json_fast(p, n);
    if (j)
        return j;
    j = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, jerr);
    if (j || !memmem(p, n, "\\u", 2))
        return j;
    char *copy = xmemdup(p, n);
    json_error_t again;
    if (replace_lone_surrogates(copy, n) > 0)
        j = json_loadb(copy, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &again);
    free(copy);
    return j;
}

sio_err_t sio_packet_decode(const char *s, size_t len, sio_packet_t *out,
                            sio_decode_error_t *detail)
{
    *out = (sio_packet_t){.nsp = "/", .nsp_len = 1};
    if (len == 0)
        return fail(SIO_ERR_EMPTY, 0, detail);
    if (s[0] < '0' || s[0] > '6')
        return fail(SIO_ERR_BAD_TYPE, 0, detail);
    sio_type_t type = (sio_type_t)(s[0] - '0');
    size_t i = 1;

    unsigned attachments = 0;
    if (is_binary_type(type)) {
        size_t start = i;
        unsigned v = 0;
        /* Saturate instead of overflowing: anything above the limit is
         * refused the same way however many digits it has. */
        for (; i < len && is_digit(s[i]); i++)
            if (v <= SIO_MAX_ATTACHMENTS)
                v = v * 10 + (unsigned)(s[i] - '0');
        if (i == start || i == len || s[i] != '-' || v == 0)
            return fail(SIO_ERR_BAD_ATTACHMENTS, start, detail);
        if (v > SIO_MAX_ATTACHMENTS)
            return fail(SIO_ERR_TOO_MANY_ATTACHMENTS, start, detail);
        attachments = v;
        i++; /* the '-' */
    }

    const char *nsp = "/";
    size_t nsp_len = 1;
    if (i < len && s[i] == '/') {
        /* The namespace runs to the first ','; it may also end the packet
         * without one ("40/chat", as the reference client and the suites
         * send). JSON inside it means the comma was forgotten. */
        const char *comma = memchr(s + i, ',', len - i);
        nsp = s + i;
        nsp_len = comma ? (size_t)(comma - nsp) : len - i;
        for (size_t k = 0; k < nsp_len; k++)
            if (is_json_start(nsp[k]))
                return fail(SIO_ERR_NSP_NO_COMMA, i + k, detail);
        if (!nsp_valid(nsp, nsp_len))
            return fail(SIO_ERR_BAD_NSP, i, detail);
        i += nsp_len + (comma != NULL);
    }

    bool has_id = false;
    uint64_t id = 0;
    if (i < len && is_digit(s[i])) {
        size_t start = i;
        for (; i < len && is_digit(s[i]); i++) {
            id = id * 10 + (uint64_t)(s[i] - '0');
            if (id > SIO_ACK_ID_MAX)
                return fail(SIO_ERR_ID_OVERFLOW, start, detail);
        }
        has_id = true;
    }

    json_t *data = NULL;
    size_t payload_at = i;
    if (i < len) {
        json_error_t jerr;
        data = load_json(s + i, len - i, &jerr);
        if (!data) {
            if (detail) {
                /* jansson's position counts the byte it stopped on. */
                detail->offset = i + (jerr.position > 0 ? (size_t)jerr.position - 1 : 0);
                snprintf(detail->text, sizeof detail->text, "payload is not valid JSON: %s",
                         jerr.text);
            }
            return SIO_ERR_BAD_JSON;
        }
    }

    sio_err_t err = check_shape(type, data, has_id);
    if (err == SIO_OK && attachments)
        err = check_placeholders(data, attachments);
    if (err != SIO_OK) {
        json_decref(data);
        return fail(err, payload_at, detail);
    }

    out->type = type;
    out->nsp = nsp;
    out->nsp_len = nsp_len;
    out->has_id = has_id;
    out->id = id;
    out->attachments = attachments;
    out->data = data;
    return SIO_OK;
}

sio_err_t sio_packet_attach(sio_packet_t *p, refbuf_t *const *bins, size_t n)
{
    if (p->nbins != 0 || p->attachments == 0 || n != p->attachments)
        return SIO_ERR_ATTACHMENT_COUNT;
    sio_err_t err = check_placeholders(p->data, n);
    if (err != SIO_OK)
        return err;
    p->bins = xmalloc(n * sizeof *p->bins);
    for (size_t i = 0; i < n; i++)
        p->bins[i] = refbuf_ref(bins[i]);
    p->nbins = (unsigned)n;
    return SIO_OK;
}

refbuf_t *sio_packet_binary(const sio_packet_t *p, const json_t *v)
{
    size_t num;
    bool ok;
    if (is_placeholder(v, p->nbins, &num, &ok) && ok)
        return p->bins[num];
    return NULL;
}

json_t *sio_placeholder_new(unsigned num)
{
    json_t *o = json_object();
    json_object_set_new(o, "_placeholder", json_true());
    json_object_set_new(o, "num", json_integer((json_int_t)num));
    return o;
}

void sio_packet_free(sio_packet_t *p)
{
    if (!p)
        return;
    json_decref(p->data);
    for (unsigned i = 0; i < p->nbins; i++)
        refbuf_unref(p->bins[i]);
    free(p->bins);
    *p = (sio_packet_t){.nsp = "/", .nsp_len = 1};
}

static int dump_to_buf(const char *chunk, size_t size, void *arg)
{
    return buf_append(arg, chunk, size) == BUF_OK ? 0 : -1;
}

sio_err_t sio_packet_encode(buf_t *out, const sio_packet_t *p)
{
    if ((unsigned)p->type > SIO_BINARY_ACK)
        return SIO_ERR_BAD_TYPE;
    bool default_nsp = !p->nsp || p->nsp_len == 0 || (p->nsp_len == 1 && p->nsp[0] == '/');
    if (!default_nsp && !nsp_valid(p->nsp, p->nsp_len))
        return SIO_ERR_BAD_NSP;

    unsigned n = p->nbins ? p->nbins : p->attachments;
    sio_type_t type = p->type;
    if (n > 0) {
        if (type == SIO_EVENT)
            type = SIO_BINARY_EVENT;
        else if (type == SIO_ACK)
            type = SIO_BINARY_ACK;
        else if (!is_binary_type(type))
            return SIO_ERR_BAD_ATTACHMENTS;
        if (n > SIO_MAX_ATTACHMENTS)
            return SIO_ERR_TOO_MANY_ATTACHMENTS;
    } else if (is_binary_type(type)) {
        return SIO_ERR_BAD_ATTACHMENTS;
    }
    if (p->has_id && p->id > SIO_ACK_ID_MAX)
        return SIO_ERR_ID_OVERFLOW;
    sio_err_t err = check_shape(type, p->data, p->has_id);
    if (err == SIO_OK && n > 0)
        err = check_placeholders(p->data, n);
    if (err != SIO_OK)
        return err;

    size_t mark = out->len;
    buf_err_t be = buf_append_byte(out, (unsigned char)('0' + type));
    if (be == BUF_OK && n > 0)
        be = buf_printf(out, "%u-", n);
    if (be == BUF_OK && !default_nsp) {
        be = buf_append(out, p->nsp, p->nsp_len);
        if (be == BUF_OK)
            be = buf_append_byte(out, ',');
    }
    if (be == BUF_OK && p->has_id)
        be = buf_printf(out, "%llu", (unsigned long long)p->id);
    if (be == BUF_OK && p->data &&
        json_dump_callback(p->data, dump_to_buf, out, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        be = BUF_TOO_BIG;
    if (be != BUF_OK) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return SIO_ERR_TOO_BIG;
    }
    return SIO_OK;
}

/* Appends s as a JSON string literal. */
static buf_err_t append_json_string(buf_t *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_err_t be = buf_append_byte(out, '"');
    const char *run = s;
    for (const char *p = s; be == BUF_OK && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        be = buf_append(out, run, (size_t)(p - run));
        run = p + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (be == BUF_OK && (c == '"' || c == '\\')) {
            esc[1] = (char)c;
            be = buf_append(out, esc, 2);
        } else if (be == BUF_OK) {
            be = buf_append(out, esc, 6);
        }
    }
    if (be == BUF_OK)
        be = buf_append_str(out, run);
    if (be == BUF_OK)
        be = buf_append_byte(out, '"');
    return be;
}

sio_err_t sio_packet_encode_json(buf_t *out, sio_type_t type, const char *nsp, size_t nsp_len,
                                 bool has_id, uint64_t id, const char *event,
                                 const char *args_json, size_t args_len, const char *extra)
{
    if (type != SIO_EVENT && type != SIO_ACK)
        return SIO_ERR_BAD_TYPE;
    bool default_nsp = !nsp || nsp_len == 0 || (nsp_len == 1 && nsp[0] == '/');
    if (!default_nsp && !nsp_valid(nsp, nsp_len))
        return SIO_ERR_BAD_NSP;
    if (type == SIO_ACK && !has_id)
        return SIO_ERR_MISSING_ID;
    if (has_id && id > SIO_ACK_ID_MAX)
        return SIO_ERR_ID_OVERFLOW;
    if ((type == SIO_EVENT) != (event != NULL))
        return SIO_ERR_EVENT_NAME;
    if (!args_json || args_len < 2 || args_json[0] != '[' || args_json[args_len - 1] != ']')
        return SIO_ERR_NOT_ARRAY;
    /* The elements between the brackets; none when only blanks are. */
    const char *inner = args_json + 1;
    size_t inner_len = args_len - 2;
    while (inner_len && (inner[0] == ' ' || inner[0] == '\n' || inner[0] == '\t' ||
                         inner[0] == '\r'))
        inner++, inner_len--;

    size_t mark = out->len;
    buf_err_t be = buf_append_byte(out, (unsigned char)('0' + type));
    if (be == BUF_OK && !default_nsp) {
        be = buf_append(out, nsp, nsp_len);
        if (be == BUF_OK)
            be = buf_append_byte(out, ',');
    }
    if (be == BUF_OK && has_id) {
        char num[24];
        char *p = num + sizeof num;
        do {
            *--p = (char)('0' + id % 10);
            id /= 10;
        } while (id);
        be = buf_append(out, p, (size_t)(num + sizeof num - p));
    }
    if (be == BUF_OK)
        be = buf_append_byte(out, '[');
    bool any = false;
    if (be == BUF_OK && event) {
        be = append_json_string(out, event);
        any = true;
    }
    if (be == BUF_OK && inner_len) {
        if (any)
            be = buf_append_byte(out, ',');
        if (be == BUF_OK)
            be = buf_append(out, inner, inner_len);
        any = true;
    }
    if (be == BUF_OK && extra) {
        if (any)
            be = buf_append_byte(out, ',');
        if (be == BUF_OK)
            be = append_json_string(out, extra);
    }
    if (be == BUF_OK)
        be = buf_append_byte(out, ']');
    if (be != BUF_OK) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return SIO_ERR_TOO_BIG;
    }
    return SIO_OK;
}

size_t sio_packet_attachments(const sio_packet_t *p, refbuf_t *const **bins)
{
    *bins = p->bins;
    return p->nbins;
}
