/* config.c — flags > PARLEY_* environment > defaults; see config.h. */
#include "core/config.h"
#include "core/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void env_name(const char *name, char *out, size_t outsz)
{
    size_t o = 0;
    const char *prefix = "PARLEY_";
    for (const char *p = prefix; *p && o + 1 < outsz; p++)
        out[o++] = *p;
    for (const char *p = name; *p && o + 1 < outsz; p++)
        out[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[o] = '\0';
}

int config_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    uint64_t mul = 1;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mul = 1024ull; break;
        case 'M': mul = 1024ull * 1024; break;
        case 'G': mul = 1024ull * 1024 * 1024; break;
        default: return -1;
        }
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return -1;
    }
    if (v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int set_value(const config_option_t *o, const char *v, const char *source, char *err,
                     size_t errsz)
{
    switch (o->type) {
    case CFG_STRING: {
        char **t = o->target;
        free(*t);
        *t = xstrdup(v ? v : "");
        return 0;
    }
    case CFG_BOOL: {
        int *t = o->target;
        if (!v || !strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
            !strcasecmp(v, "on")) {
            *t = 1;
            return 0;
        }
        if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
            !strcasecmp(v, "off") || !*v) {
            *t = 0;
            return 0;
        }
        snprintf(err, errsz, "%s: expected true or false, got \"%s\"", source, v);
        return -1;
    }
    case CFG_INT: {
        char *end;
        errno = 0;
        long long x = v ? strtoll(v, &end, 10) : 0;
        if (!v || !*v || *end || errno) {
            snprintf(err, errsz, "%s: expected an integer, got \"%s\"", source, v ? v : "");
            return -1;
        }
        if ((o->min || o->max) && (x < o->min || x > o->max)) {
            snprintf(err, errsz, "%s: expected %" PRId64 "..%" PRId64 ", got %lld", source,
                     o->min, o->max, x);
            return -1;
        }
        *(int64_t *)o->target = x;
        return 0;
    }
    case CFG_SIZE: {
        uint64_t x;
        if (config_parse_size(v, &x) != 0) {
            snprintf(err, errsz, "%s: expected a size in bytes (e.g. 4M, 512K), got \"%s\"",
                     source, v ? v : "");
            return -1;
        }
        if ((o->min || o->max) && (x < (uint64_t)o->min || x > (uint64_t)o->max)) {
            snprintf(err, errsz, "%s: expected %" PRId64 "..%" PRId64 " bytes, got %" PRIu64,
                     source, o->min, o->max, x);
            return -1;
        }
        *(size_t *)o->target = (size_t)x;
        return 0;
    }
    }
    return -1;
}

int config_load(const config_option_t *opts, size_t n, int argc, char **argv, int first,
                int *rest, int *help, char *err, size_t errsz)
{
    char source[128];
    *help = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(source, sizeof source, "default of --%s", opts[i].name);
        if (set_value(&opts[i], opts[i].def ? opts[i].def : "", source, err, errsz) != 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char env[96];
        env_name(opts[i].name, env, sizeof env);
        const char *v = getenv(env);
        if (v && set_value(&opts[i], v, env, err, errsz) != 0)
            return -1;
    }
    int out = first;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            argv[out++] = argv[i];
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const config_option_t *o = NULL;
        for (size_t k = 0; k < n; k++)
            if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0)
                o = &opts[k];
        if (!o) {
            snprintf(err, errsz, "unknown option %.*s (see --help)", (int)(nlen + 2), a);
            return -1;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v && o->type != CFG_BOOL) {
            if (i + 1 >= argc) {
                snprintf(err, errsz, "--%s: missing value", o->name);
                return -1;
            }
            v = argv[++i];
        }
        snprintf(source, sizeof source, "--%s", o->name);
        if (set_value(o, v, source, err, errsz) != 0)
            return -1;
    }
    *rest = out - first;
    return 0;
}

void config_print_help(FILE *out, const config_option_t *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char env[96], flag[96];
        env_name(opts[i].name, env, sizeof env);
        snprintf(flag, sizeof flag, "--%s%s", opts[i].name,
                 opts[i].type == CFG_BOOL ? "" : " VALUE");
        fprintf(out, "  %-28s %s\n  %-28s (%s; default: %s)\n", flag, opts[i].help, "", env,
                opts[i].def && *opts[i].def ? opts[i].def : "unset");
    }
}

void config_free(const config_option_t *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (opts[i].type == CFG_STRING) {
            char **t = opts[i].target;
            free(*t);
            *t = NULL;
        }
    }
}

char **config_list_split(const char *csv, size_t *count)
{
    *count = 0;
    if (!csv || !*csv)
        return NULL;
    char **out = xcalloc(strlen(csv) / 2 + 2, sizeof *out);
    const char *p = csv;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if (n)
            out[(*count)++] = xstrndup(p, n);
        if (!comma)
            break;
        p = comma + 1;
    }
    if (*count == 0) {
        free(out);
        return NULL;
    }
    return out;
}

void config_list_free(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}
