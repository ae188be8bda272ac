/* log.h — structured logs: one JSON object per line on stderr.
 *
 * {"ts":"2026-11-24T17:31:43.123Z","level":"info","event":"listening","msg":"..."}
 * `event` is a stable machine-readable name; `msg` is for people. Messages
 * below the configured level are dropped before formatting.
 */
#ifndef PARLEY_CORE_LOG_H
#define PARLEY_CORE_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL } log_level_t;

void log_set_level(log_level_t level);
/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int log_level_parse(const char *name, log_level_t *out);
int log_enabled(log_level_t level);

void log_write(log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) (log_enabled(LOG_DEBUG) ? log_write(LOG_DEBUG, ev, __VA_ARGS__) : (void)0)
#define log_info(ev, ...) log_write(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_write(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_write(LOG_ERROR, ev, __VA_ARGS__)

#endif
