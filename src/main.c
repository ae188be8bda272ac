/* main.c — the `parley` command: `parley serve`, `--help`, `--version`.
 *
 * Wires the layers together for the chat server: settings, the listener,
 * the HTTP routes (/health, static web client) and the signal handling that
 * drains connections on SIGTERM/SIGINT.
 */
#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "http/server.h"
#include "http/static.h"
#include "net/net.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char *host;
    int64_t port;
    char *data_dir;
    char *web_root;
    char *log_level;
    int64_t drain_timeout_ms;
    size_t max_output;
    size_t max_body;
    int64_t head_timeout_ms;
    char *allowed_origins;
} serve_settings_t;

static serve_settings_t S;

static const config_option_t serve_options[] = {
    {"host", CFG_STRING, &S.host, "127.0.0.1", "address to listen on", 0, 0},
    {"port", CFG_INT, &S.port, "3000", "TCP port to listen on (0 picks a free one)", 0, 65535},
    {"data", CFG_STRING, &S.data_dir, "./data", "directory of the SQLite store", 0, 0},
    {"web-root", CFG_STRING, &S.web_root, "./web", "directory served at / (the web client)", 0,
     0},
    {"log-level", CFG_STRING, &S.log_level, "info", "debug, info, warn or error", 0, 0},
    {"drain-timeout-ms", CFG_INT, &S.drain_timeout_ms, "5000",
     "on SIGTERM/SIGINT, how long connections get to close before they are cut", 0, 600000},
    {"max-output", CFG_SIZE, &S.max_output, "4M",
     "cap on one connection's queued output; a slower reader is disconnected", 4096,
     1LL << 32},
    {"http-max-body", CFG_SIZE, &S.max_body, "1M", "largest HTTP request body (413 beyond)", 1,
     1LL << 30},
    {"http-head-timeout-ms", CFG_INT, &S.head_timeout_ms, "10000",
     "a request head must arrive within this (slowloris guard)", 100, 3600000},
    {"allowed-origins", CFG_STRING, &S.allowed_origins, "",
     "comma-separated Origin allowlist for WebSocket and CORS (empty: any)", 0, 0},
};
#define NUM_SERVE_OPTIONS (sizeof serve_options / sizeof serve_options[0])

typedef struct {
    uv_loop_t *loop;
    net_server_t *net;
    http_config_t http;
    uv_signal_t sigterm, sigint;
    uint64_t started_ms;
    int stopping;
} app_t;

static void on_health(http_exchange_t *ex, app_t *app)
{
    char body[256];
    uint64_t uptime = (uv_now(app->loop) - app->started_ms) / 1000;
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_s\":%llu,\"connections\":%zu}",
                     app->stopping ? "stopping" : "ok", PARLEY_VERSION,
                     (unsigned long long)uptime, net_server_conn_count(app->net));
    static const http_kv_t headers[] = {{"Cache-Control", "no-store"}};
    http_respond(ex, app->stopping ? 503 : 200, "application/json", headers, 1, body, (size_t)n);
}

static int path_is(const http_request_t *req, const char *path)
{
    size_t n = strlen(path);
    return req->path_len == n && memcmp(req->path, path, n) == 0;
}

static void on_request(http_exchange_t *ex, void *ud)
{
    app_t *app = ud;
    const http_request_t *req = http_ex_request(ex);
    if (path_is(req, "/health")) {
        if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
            static const http_kv_t allow[] = {{"Allow", "GET, HEAD"}};
            http_respond(ex, 405, "application/json", allow, 1,
                         "{\"error\":\"method not allowed\"}", 30);
            return;
        }
        on_health(ex, app);
        return;
    }
    http_serve_static(ex, S.web_root);
}

static void on_accept(net_conn_t *c, void *ud)
{
    app_t *app = ud;
    http_conn_start(c, &app->http);
}

static void on_drained(net_server_t *s, void *ud)
{
    app_t *app = ud;
    app->net = NULL;
    log_info("stopped", "all connections closed");
    uv_close((uv_handle_t *)&app->sigterm, NULL);
    uv_close((uv_handle_t *)&app->sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app_t *app = h->data;
    if (app->stopping) {
        log_warn("signal", "second signal %d: exiting now", signum);
        exit(1);
    }
    app->stopping = 1;
    log_info("draining", "signal %d: closing %zu connections (timeout %lld ms)", signum,
             net_server_conn_count(app->net), (long long)S.drain_timeout_ms);
    net_server_drain(app->net, (uint64_t)S.drain_timeout_ms, on_drained, app);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: parley <command> [options]\n\n"
                 "commands:\n"
                 "  serve       run the chat server (see parley serve --help)\n\n"
                 "options:\n"
                 "  --help      this text\n"
                 "  --version   print the version\n");
}

static int cmd_serve(int argc, char **argv)
{
    char err[256];
    int rest = 0, help = 0;
    if (config_load(serve_options, NUM_SERVE_OPTIONS, argc, argv, 2, &rest, &help, err,
                    sizeof err) != 0) {
        fprintf(stderr, "parley serve: %s\n", err);
        return 2;
    }
    if (help) {
        printf("usage: parley serve [options]\n\n"
               "Every option can also be set with the environment variable shown;\n"
               "a flag overrides the environment, which overrides the default.\n\n");
        config_print_help(stdout, serve_options, NUM_SERVE_OPTIONS);
        config_free(serve_options, NUM_SERVE_OPTIONS);
        return 0;
    }
    if (rest > 0) {
        fprintf(stderr, "parley serve: unexpected argument \"%s\"\n", argv[2]);
        config_free(serve_options, NUM_SERVE_OPTIONS);
        return 2;
    }
    log_level_t level;
    if (log_level_parse(S.log_level, &level) != 0) {
        fprintf(stderr, "parley serve: --log-level: expected debug, info, warn or error\n");
        config_free(serve_options, NUM_SERVE_OPTIONS);
        return 2;
    }
    log_set_level(level);
    signal(SIGPIPE, SIG_IGN);

    app_t app = {0};
    app.loop = uv_default_loop();
    app.started_ms = uv_now(app.loop);
    app.http = (http_config_t){
        .handler = on_request,
        .ud = &app,
        .max_body = S.max_body,
        .head_timeout_ms = (uint64_t)S.head_timeout_ms,
    };
    net_server_config_t ncfg = {
        .host = S.host,
        .port = (int)S.port,
        .max_output = S.max_output,
        .tcp_nodelay = 1,
        .on_accept = on_accept,
        .ud = &app,
    };
    int r = net_server_start(app.loop, &ncfg, &app.net);
    if (r != 0) {
        log_error("listen_failed", "cannot listen on %s:%lld: %s", S.host, (long long)S.port,
                  uv_strerror(r));
        config_free(serve_options, NUM_SERVE_OPTIONS);
        return 1;
    }
    uv_signal_init(app.loop, &app.sigterm);
    uv_signal_init(app.loop, &app.sigint);
    app.sigterm.data = app.sigint.data = &app;
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    log_info("listening", "parley %s on http://%s:%d (web root %s)", PARLEY_VERSION, S.host,
             net_server_port(app.net), S.web_root);

    uv_run(app.loop, UV_RUN_DEFAULT);
    uv_loop_close(app.loop);
    config_free(serve_options, NUM_SERVE_OPTIONS);
    log_info("exit", "bye");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("parley %s\n", PARLEY_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc, argv);
    fprintf(stderr, "parley: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
