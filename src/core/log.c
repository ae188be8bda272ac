/* log.c — JSON-lines logger on stderr. */
#include "core/log.h"
#include "core/json_escape.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static log_level_t min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "fatal"};

void log_set_level(log_level_t level)
{
    min_level = level;
}

int log_enabled(log_level_t level)
{
    return level >= min_level;
}

int log_level_parse(const char *name, log_level_t *out)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void log_write(log_level_t level, const char *event, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);

    char esc[sizeof msg * 6 + 1];
    json_escape(msg, strlen(msg), esc, sizeof esc);
    /* One fprintf per line: stderr is unbuffered, so lines never interleave. */
    fprintf(stderr, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\",\"event\":\"%s\",\"msg\":\"%s\"}\n", ts,
            (int)(tv.tv_usec / 1000), level_names[level], event, esc);
}
