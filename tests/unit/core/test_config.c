/* test_config.c — settings: defaults, environment, flags, and precise errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static char *host;
static int64_t port;
static size_t max_output;
static int open_mode;

static const config_option_t opts[] = {
    {"host", CFG_STRING, &host, "127.0.0.1", "address", 0, 0},
    {"port", CFG_INT, &port, "3000", "port", 0, 65535},
    {"max-output", CFG_SIZE, &max_output, "4M", "cap", 1024, 1 << 30},
    {"insecure-open", CFG_BOOL, &open_mode, "false", "open mode", 0, 0},
};
#define N (sizeof opts / sizeof opts[0])

static int load(int argc, char **argv, char *err)
{
    int rest, help;
    return config_load(opts, N, argc, argv, 1, &rest, &help, err, 256);
}

static void test_defaults(void **state)
{
    char err[256];
    unsetenv("PARLEY_PORT");
    unsetenv("PARLEY_HOST");
    char *argv[] = {"x", NULL};
    assert_int_equal(load(1, argv, err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 3000);
    assert_int_equal(max_output, 4 * 1024 * 1024);
    assert_int_equal(open_mode, 0);
    config_free(opts, N);
}

static void test_env_then_flags(void **state)
{
    char err[256];
    setenv("PARLEY_PORT", "4000", 1);
    setenv("PARLEY_MAX_OUTPUT", "512K", 1);
    char *argv[] = {"x", "--port", "5000", "--insecure-open", "--host=::1", NULL};
    assert_int_equal(load(5, argv, err), 0);
    assert_int_equal(port, 5000); /* the flag wins over the environment */
    assert_int_equal(max_output, 512 * 1024);
    assert_int_equal(open_mode, 1);
    assert_string_equal(host, "::1");
    config_free(opts, N);
    unsetenv("PARLEY_PORT");
    unsetenv("PARLEY_MAX_OUTPUT");
}

static void test_errors_name_the_option(void **state)
{
    char err[256];
    char *a1[] = {"x", "--port", "70000", NULL};
    assert_int_equal(load(3, a1, err), -1);
    assert_non_null(strstr(err, "--port"));
    assert_non_null(strstr(err, "0..65535"));
    config_free(opts, N);

    char *a2[] = {"x", "--port", "12ab", NULL};
    assert_int_equal(load(3, a2, err), -1);
    assert_non_null(strstr(err, "integer"));
    config_free(opts, N);

    char *a3[] = {"x", "--nope", NULL};
    assert_int_equal(load(2, a3, err), -1);
    assert_non_null(strstr(err, "--nope"));
    config_free(opts, N);

    char *a4[] = {"x", "--port", NULL};
    assert_int_equal(load(2, a4, err), -1);
    assert_non_null(strstr(err, "missing value"));
    config_free(opts, N);

    setenv("PARLEY_MAX_OUTPUT", "lots", 1);
    char *a5[] = {"x", NULL};
    assert_int_equal(load(1, a5, err), -1);
    assert_non_null(strstr(err, "PARLEY_MAX_OUTPUT"));
    config_free(opts, N);
    unsetenv("PARLEY_MAX_OUTPUT");

    char *a6[] = {"x", "--insecure-open=maybe", NULL};
    assert_int_equal(load(2, a6, err), -1);
    assert_non_null(strstr(err, "true or false"));
    config_free(opts, N);
}

static void test_sizes(void **state)
{
    uint64_t v;
    assert_int_equal(config_parse_size("1048576", &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(config_parse_size("1M", &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(config_parse_size("2KiB", &v), 0);
    assert_int_equal(v, 2048);
    assert_int_equal(config_parse_size("1G", &v), 0);
    assert_int_equal(v, 1073741824);
    assert_int_equal(config_parse_size("", &v), -1);
    assert_int_equal(config_parse_size("-1", &v), -1);
    assert_int_equal(config_parse_size("1X", &v), -1);
    assert_int_equal(config_parse_size("99999999999999999999G", &v), -1);
}

static void test_list_split(void **state)
{
    size_t n = 99;
    assert_null(config_list_split("", &n));
    assert_int_equal(n, 0);
    assert_null(config_list_split(" , ,", &n));
    assert_int_equal(n, 0);
    char **l = config_list_split("general, random ,,ops", &n);
    assert_int_equal(n, 3);
    assert_string_equal(l[0], "general");
    assert_string_equal(l[1], "random");
    assert_string_equal(l[2], "ops");
    assert_null(l[3]);
    config_list_free(l);
    l = config_list_split("a,b,c,d,e,f,g,h", &n); /* many short items fit */
    assert_int_equal(n, 8);
    assert_null(l[8]);
    config_list_free(l);
    config_list_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_then_flags),
        cmocka_unit_test(test_errors_name_the_option),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_list_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
