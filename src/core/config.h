/* config.h — settings from flags, environment and defaults.
 *
 * A program describes its settings once, as a table of config_option_t.
 * For an option named "max-output" the flag is --max-output VALUE (or
 * --max-output=VALUE) and the environment variable PARLEY_MAX_OUTPUT.
 * Precedence: flag, then environment, then the default. The same table
 * prints --help, so the documentation cannot drift from the code.
 */
#ifndef PARLEY_CORE_CONFIG_H
#define PARLEY_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CFG_STRING, /* char ** (heap string, owned by the config; free with config_free) */
    CFG_INT,    /* int64_t *, decimal, within [min, max] */
    CFG_BOOL,   /* int *: 1/0, true/false, yes/no, on/off; a bare flag means 1 */
    CFG_SIZE,   /* size_t *: bytes, with optional K/M/G suffix (binary) */
} config_type_t;

typedef struct {
    const char *name; /* "port" */
    config_type_t type;
    void *target;
    const char *def;  /* default as text; NULL = unset (empty string) */
    const char *help;
    int64_t min, max; /* for CFG_INT and CFG_SIZE; min == max == 0: no bounds */
} config_option_t;

/* Applies defaults, then PARLEY_* variables, then flags from argv[first..argc).
 * Arguments that are not options are left in order at argv[first..] and
 * their count is stored in *rest. Returns 0, or -1 with a precise message in
 * err (which option, what was expected). "--help" sets *help to 1. */
int config_load(const config_option_t *opts, size_t n, int argc, char **argv, int first,
                int *rest, int *help, char *err, size_t errsz);

/* Prints "  --name VALUE  (PARLEY_NAME, default X)  help" lines. */
void config_print_help(FILE *out, const config_option_t *opts, size_t n);

/* Frees the strings config_load stored. */
void config_free(const config_option_t *opts, size_t n);

/* Splits a comma-separated list ("a, b,,c") into its non-empty items,
 * trimmed of spaces. Returns a NULL-terminated array (NULL when the list
 * is empty) and the count; free it with config_list_free. */
char **config_list_split(const char *csv, size_t *count);
void config_list_free(char **list);

/* Parses a size like "4M", "512K", "1048576"; -1 on error. */
int config_parse_size(const char *s, uint64_t *out);

#endif
