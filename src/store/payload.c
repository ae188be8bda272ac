/* payload.c — the JSON the store persists and hands back (message objects,
 * event payloads), message ids, share codes, and the names of enum values.
 *
 * Not here: SQL (sqlite.c) and threads (store.c). Payload shapes are the
 * ones PROTOCOL.md broadcasts; key order follows the protocol's text.
 */
#include "store/internal.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/alloc.h"

static const char *const kind_names[] = {"public", "private", "dm"};
static const char *const role_names[] = {"owner", "admin", "member"};
static const char *const notif_names[] = {"mention", "dm", "reply", "reaction"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

static int parse_name(const char *const *names, size_t n, const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

const char *store_kind_name(store_kind_t k)
{
    return name_of(kind_names, COUNT(kind_names), (int)k);
}

const char *store_role_name(store_role_t r)
{
    return name_of(role_names, COUNT(role_names), (int)r);
}

const char *store_notif_kind_name(store_notif_kind_t k)
{
    return name_of(notif_names, COUNT(notif_names), (int)k);
}

int store_kind_parse(const char *name)
{
    return parse_name(kind_names, COUNT(kind_names), name);
}

int store_role_parse(const char *name)
{
    return parse_name(role_names, COUNT(role_names), name);
}

int store_notif_kind_parse(const char *name)
{
    return parse_name(notif_names, COUNT(notif_names), name);
}

const char *store_strerror(store_err_t err)
{
    switch (err) {
    case STORE_OK:
        return "ok";
    case STORE_E_NOT_FOUND:
        return "not found";
    case STORE_E_CONFLICT:
        return "already exists";
    case STORE_E_FORBIDDEN:
        return "not allowed for this user";
    case STORE_E_INVALID:
        return "invalid argument";
    case STORE_E_CLOSED:
        return "store is closed";
    case STORE_E_IO:
        return "database error; nothing was stored";
    case STORE_E_CORRUPT:
        return "database is corrupt or from a newer version";
    }
    return "unknown store error";
}

/* ---- JSON -------------------------------------------------------------- */

/* jansson refuses invalid UTF-8 by returning NULL; set_new then fails and
 * the object is dropped, so one bad string makes the whole value NULL. */
static bool put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) == 0;
}

json_t *store_message_to_json(const store_message_t *m)
{
    json_t *o = json_object();
    json_t *author = json_object();
    bool ok = put(author, "id", json_string(m->author)) &&
              put(author, "name", json_string(m->author_name ? m->author_name : m->author));
    ok = put(o, "id", json_string(m->id)) && ok;
    ok = put(o, "channel", json_string(m->channel)) && ok;
    ok = put(o, "seq", json_integer((json_int_t)m->seq)) && ok;
    ok = put(o, "ts", json_integer(m->ts)) && ok;
    ok = put(o, "author", author) && ok;
    ok = put(o, "text", json_string(m->text)) && ok;
    if (m->client_id)
        ok = put(o, "clientId", json_string(m->client_id)) && ok;
    if (m->reply_to)
        ok = put(o, "replyTo", json_string(m->reply_to)) && ok;
    if (m->edited_at)
        ok = put(o, "editedAt", json_integer(m->edited_at)) && ok;
    if (m->deleted)
        ok = put(o, "deleted", json_true()) && ok;
    ok = put(o, "reactions", m->reactions ? json_incref(m->reactions) : json_object()) && ok;
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *store__payload_member(const char *channel, uint64_t seq, const char *user, const char *name)
{
    json_t *o = json_object();
    json_t *u = json_object();
    bool ok = put(u, "id", json_string(user)) && put(u, "name", json_string(name ? name : user));
    ok = put(o, "channel", json_string(channel)) && ok;
    ok = put(o, "seq", json_integer((json_int_t)seq)) && ok;
    ok = put(o, "user", u) && ok;
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *msg_ref(const char *channel, const char *id, uint64_t seq)
{
    json_t *o = json_object();
    bool ok = put(o, "channel", json_string(channel)) && put(o, "id", json_string(id)) &&
              put(o, "seq", json_integer((json_int_t)seq));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *store__payload_updated(const char *channel, const char *id, uint64_t seq, const char *text,
                               int64_t edited_at)
{
    json_t *o = msg_ref(channel, id, seq);
    if (o && !(put(o, "text", json_string(text)) && put(o, "editedAt", json_integer(edited_at)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *store__payload_deleted(const char *channel, const char *id, uint64_t seq)
{
    return msg_ref(channel, id, seq);
}

json_t *store__payload_reaction(const char *channel, const char *id, uint64_t seq,
                                const char *emoji, const char *user, bool add)
{
    json_t *o = msg_ref(channel, id, seq);
    if (o && !(put(o, "emoji", json_string(emoji)) && put(o, "user", json_string(user)) &&
               put(o, "op", json_string(add ? "add" : "remove")))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Compact JSON text of a value, written straight into a reused buffer:
 * on the writer's hot path json_dumps' many small reallocations showed. */
typedef struct {
    buf_t *b;
    bool full; /* an append did not fit: the text is incomplete */
} writer_t;

static void emit(writer_t *w, const void *p, size_t n)
{
    if (buf_append(w->b, p, n) != BUF_OK)
        w->full = true;
}

static void write_string(writer_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
    emit(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        emit(w, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            emit(w, esc, 2);
            break;
        case '\b':
            emit(w, "\\b", 2);
            break;
        case '\f':
            emit(w, "\\f", 2);
            break;
        case '\n':
            emit(w, "\\n", 2);
            break;
        case '\r':
            emit(w, "\\r", 2);
            break;
        case '\t':
            emit(w, "\\t", 2);
            break;
        default:
            emit(w, esc, 6);
        }
    }
    emit(w, s + run, n - run);
    emit(w, "\"", 1);
}

static void write_value(writer_t *w, const json_t *v)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        bool first = true;
        emit(w, "{", 1);
        json_object_foreach((json_t *)v, key, item)
        {
            if (!first)
                emit(w, ",", 1);
            first = false;
            write_string(w, key, strlen(key));
            emit(w, ":", 1);
            write_value(w, item);
        }
        emit(w, "}", 1);
        break;
    }
    case JSON_ARRAY:
        emit(w, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                emit(w, ",", 1);
            write_value(w, json_array_get(v, i));
        }
        emit(w, "]", 1);
        break;
    case JSON_STRING:
        write_string(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        emit(w, num,
             (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)));
        break;
    case JSON_REAL:
        emit(w, num, (size_t)snprintf(num, sizeof num, "%.17g", json_real_value(v)));
        break;
    case JSON_TRUE:
        emit(w, "true", 4);
        break;
    case JSON_FALSE:
        emit(w, "false", 5);
        break;
    case JSON_NULL:
        emit(w, "null", 4);
        break;
    }
}

/* ---- Message text, straight from the struct ----------------------------
 *
 * A message with no reactions (every send) is written with plain pointer
 * stores into a stack block whose size bounds the output (a character
 * escapes to at most 6), then appended once; anything else goes through
 * write_value above. */

#define FAST_MAX 4096

static char *put_bytes(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT(p, lit) put_bytes(p, lit, sizeof lit - 1)

static char *put_string(char *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
    *p++ = '"';
    for (;;) {
        const char *run = s;
        while ((unsigned char)*s >= 0x20 && *s != '"' && *s != '\\')
            s++;
        p = put_bytes(p, run, (size_t)(s - run));
        unsigned char c = (unsigned char)*s;
        if (!c)
            break;
        s++;
        *p++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *p++ = (char)c;
            break;
        case '\b':
            *p++ = 'b';
            break;
        case '\f':
            *p++ = 'f';
            break;
        case '\n':
            *p++ = 'n';
            break;
        case '\r':
            *p++ = 'r';
            break;
        case '\t':
            *p++ = 't';
            break;
        default:
            p = PUT(p, "u00");
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p++ = '"';
    return p;
}

static char *put_int(char *p, int64_t v)
{
    char num[24];
    char *q = num + sizeof num;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    return put_bytes(p, q, (size_t)(num + sizeof num - q));
}

static size_t len0(const char *s)
{
    return s ? strlen(s) : 0;
}

bool store__message_write(buf_t *out, const store_message_t *m, bool redacted)
{
    const char *name = m->author_name ? m->author_name : m->author;
    const char *text = redacted ? "" : m->text;
    bool reactions = m->reactions && !redacted && json_object_size(m->reactions) > 0;
    size_t bound = 200 + 6 * (len0(m->id) + len0(m->channel) + len0(m->author) + len0(name) +
                              len0(text) + len0(m->client_id) + len0(m->reply_to));
    char stack[FAST_MAX];
    char *big = NULL;
    char *start = bound <= sizeof stack ? stack : (big = xmalloc(bound));
    char *p = PUT(start, "{\"id\":");
    p = put_string(p, m->id);
    p = PUT(p, ",\"channel\":");
    p = put_string(p, m->channel);
    p = PUT(p, ",\"seq\":");
    p = put_int(p, (int64_t)m->seq);
    p = PUT(p, ",\"ts\":");
    p = put_int(p, m->ts);
    p = PUT(p, ",\"author\":{\"id\":");
    p = put_string(p, m->author);
    p = PUT(p, ",\"name\":");
    p = put_string(p, name);
    p = PUT(p, "},\"text\":");
    p = put_string(p, text);
    if (m->client_id) {
        p = PUT(p, ",\"clientId\":");
        p = put_string(p, m->client_id);
    }
    if (m->reply_to) {
        p = PUT(p, ",\"replyTo\":");
        p = put_string(p, m->reply_to);
    }
    if (m->edited_at && !redacted) {
        p = PUT(p, ",\"editedAt\":");
        p = put_int(p, m->edited_at);
    }
    if (m->deleted && !redacted)
        p = PUT(p, ",\"deleted\":true");
    p = PUT(p, ",\"reactions\":");
    writer_t w = {out, false};
    if (reactions) {
        emit(&w, start, (size_t)(p - start));
        write_value(&w, m->reactions);
        p = start;
    } else {
        p = PUT(p, "{}");
    }
    if (redacted)
        p = PUT(p, ",\"deleted\":true");
    *p++ = '}';
    emit(&w, start, (size_t)(p - start));
    free(big);
    return !w.full;
}

store_err_t store__event_fill(store__req_t *r, store_event_t *ev, const char *type,
                              const char *channel, uint64_t seq, json_t *payload, buf_t *scratch)
{
    if (!payload)
        return STORE_E_INVALID;
    store__req_own(r, payload, NULL);
    buf_reset(scratch);
    writer_t w = {scratch, false};
    write_value(&w, payload);
    if (w.full)
        return STORE_E_INVALID;
    ev->channel = channel;
    ev->unchanged = false;
    ev->seq = seq;
    ev->type = type;
    ev->payload = payload;
    ev->payload_json = store__arena_strndup(&r->out_arena, scratch->data, scratch->len);
    ev->payload_len = scratch->len;
    return STORE_OK;
}

/* ---- Ids, codes, clock ------------------------------------------------- */

/* Crockford's base32 without the look-alikes i, l, o, u. */
static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

int64_t store__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store__id_encode(uint64_t v, char out[STORE__ID_LEN + 1])
{
    /* 13 digits of 5 bits = 65 bits: the first digit carries the top 4. */
    for (int i = STORE__ID_LEN - 1; i >= 0; i--) {
        out[i] = b32[v & 31];
        v >>= 5;
    }
    out[STORE__ID_LEN] = '\0';
}

int store__id_decode(const char *s, uint64_t *v)
{
    if (!s || strlen(s) != STORE__ID_LEN)
        return -1;
    uint64_t x = 0;
    for (int i = 0; i < STORE__ID_LEN; i++) {
        const char *p = strchr(b32, s[i]);
        if (!p || !s[i] || (i == 0 && p - b32 > 15))
            return -1;
        x = x << 5 | (uint64_t)(p - b32);
    }
    *v = x;
    return 0;
}

void store__random_code(char *out, size_t n)
{
    unsigned char rnd[64];
    if (n > sizeof rnd)
        n = sizeof rnd;
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(rnd + got, n - got, 0);
        if (k > 0)
            got += (size_t)k;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = b32[rnd[i] & 31];
    out[n] = '\0';
}
