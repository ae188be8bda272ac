/* main.c — the `parley` command: `parley serve`, `--help`, `--version`.
 *
 * Wires the layers together for the chat server: settings, the listener,
 * the HTTP routes (/health, static web client) and the signal handling that
 * drains connections on SIGTERM/SIGINT.
 */
#include "chat/auth.h"
#include "chat/chat.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "http/server.h"
#include "http/static.h"
#include "net/net.h"
#include "sio/sio.h"
#include "store/store.h"

#include <errno.h>
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
    char *jwt_secret;
    char *jwt_alg;
    char *jwt_public_key;
    int insecure_open;
    char *default_channels;
    char *store_sync;
    int64_t store_group_window_us;
    int recovery;
    int64_t max_disconnection_ms;
    int64_t ping_interval_ms;
    int64_t ping_timeout_ms;
    size_t max_payload;
    int64_t connect_timeout_ms;
    int64_t max_sockets_per_user;
    int64_t send_rate, send_burst, event_rate, event_burst, connect_rate, connect_burst;
    int64_t max_text_chars, max_refusals;
    size_t max_text_bytes;
    char *client_dir;
    char *database_url;
    char *redis_url;
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
    {"jwt-secret", CFG_STRING, &S.jwt_secret, "",
     "HS256 secret; with it (or --jwt-public-key) clients sign in with a JWT", 0, 0},
    {"jwt-alg", CFG_STRING, &S.jwt_alg, "HS256", "the only JWT algorithm accepted: HS256, RS256 or ES256",
     0, 0},
    {"jwt-public-key", CFG_STRING, &S.jwt_public_key, "",
     "PEM file with the RS256/ES256 public key", 0, 0},
    {"insecure-open", CFG_BOOL, &S.insecure_open, "false",
     "allow open mode (sign-in by name, no JWT) on a non-loopback address", 0, 0},
    {"default-channels", CFG_STRING, &S.default_channels, "general",
     "comma-separated public channels every new user joins (empty: none)", 0, 0},
    {"store-sync", CFG_STRING, &S.store_sync, "normal",
     "normal (durable across crashes) or full (also across power loss)", 0, 0},
    {"store-group-window-us", CFG_INT, &S.store_group_window_us, "1000",
     "how long a group commit may wait for more writes after its first (CPU vs added latency)",
     1, 100000},
    {"recovery", CFG_BOOL, &S.recovery, "true",
     "Socket.IO connection state recovery (socket.recovered after short cuts)", 0, 0},
    {"max-disconnection-ms", CFG_INT, &S.max_disconnection_ms, "120000",
     "how long a dropped socket can be recovered", 1000, 86400000},
    {"ping-interval-ms", CFG_INT, &S.ping_interval_ms, "25000", "Engine.IO heartbeat interval",
     100, 3600000},
    {"ping-timeout-ms", CFG_INT, &S.ping_timeout_ms, "20000",
     "a session without a pong within this after a ping is closed", 100, 3600000},
    {"max-payload", CFG_SIZE, &S.max_payload, "1000000",
     "largest Engine.IO message or polling body (maxPayload)", 1024, 1LL << 30},
    {"connect-timeout-ms", CFG_INT, &S.connect_timeout_ms, "45000",
     "a session that joins no namespace within this is closed", 100, 3600000},
    {"max-sockets-per-user", CFG_INT, &S.max_sockets_per_user, "10",
     "connections one user may hold at once", 1, 1000},
    {"send-rate", CFG_INT, &S.send_rate, "10", "message:send per user per second", 1, 100000},
    {"send-burst", CFG_INT, &S.send_burst, "20", "message:send burst per user", 1, 100000},
    {"event-rate", CFG_INT, &S.event_rate, "50", "events per socket per second", 1, 100000},
    {"event-burst", CFG_INT, &S.event_burst, "100", "event burst per socket", 1, 100000},
    {"connect-rate", CFG_INT, &S.connect_rate, "5", "connection attempts per user per second", 1,
     100000},
    {"connect-burst", CFG_INT, &S.connect_burst, "20", "connection attempt burst per user", 1,
     100000},
    {"max-refusals", CFG_INT, &S.max_refusals, "100",
     "rate-limit refusals per socket within a minute before it is disconnected", 1, 1000000},
    {"max-text-chars", CFG_INT, &S.max_text_chars, "4000", "longest message text, in characters",
     1, 1000000},
    {"max-text-bytes", CFG_SIZE, &S.max_text_bytes, "10K", "longest message text, in UTF-8 bytes",
     1, 1LL << 20},
    {"client-dir", CFG_STRING, &S.client_dir, "./node_modules/socket.io-client/dist",
     "directory of the socket.io browser bundle served at /socket.io/socket.io.js", 0, 0},
    {"database-url", CFG_STRING, &S.database_url, "",
     "PostgreSQL URL for clusters (not available in this build yet)", 0, 0},
    {"redis-url", CFG_STRING, &S.redis_url, "",
     "Redis URL for clusters (not available in this build yet)", 0, 0},
};
#define NUM_SERVE_OPTIONS (sizeof serve_options / sizeof serve_options[0])

typedef struct {
    uv_loop_t *loop;
    net_server_t *net;
    store_t *store;
    chat_auth_t *auth;
    sio_server_t *sio;
    chat_t *chat;
    char **origins;
    size_t num_origins;
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

static void on_metrics(http_exchange_t *ex, app_t *app)
{
    buf_t b;
    buf_init(&b, 64 * 1024);
    const chat_stats_t *cs = chat_stats(app->chat);
    store_stats_t ss;
    store_stats(app->store, &ss);
#define METRIC(name, type, help, fmt, value)                                                       \
    buf_printf(&b, "# HELP parley_" name " " help "\n# TYPE parley_" name " " type                \
                   "\nparley_" name " " fmt "\n",                                                \
               value)
    METRIC("uptime_seconds", "gauge", "Seconds since start.", "%llu",
           (unsigned long long)((uv_now(app->loop) - app->started_ms) / 1000));
    METRIC("connections", "gauge", "Open TCP connections.", "%zu", net_server_conn_count(app->net));
    METRIC("accepted_total", "counter", "TCP connections accepted.", "%llu",
           (unsigned long long)net_server_accepted(app->net));
    METRIC("accept_errors_total", "counter", "Accepts refused (EMFILE and the like).", "%llu",
           (unsigned long long)net_server_accept_errors(app->net));
    METRIC("sessions", "gauge", "Open Engine.IO sessions.", "%zu",
           eio_server_count(sio_server_eio(app->sio)));
    METRIC("chat_connects_total", "counter", "Chat sockets connected.", "%llu",
           (unsigned long long)cs->connects);
    METRIC("chat_disconnects_total", "counter", "Chat sockets disconnected.", "%llu",
           (unsigned long long)cs->disconnects);
    METRIC("chat_refused_total", "counter", "Chat connections refused (auth, limits).", "%llu",
           (unsigned long long)cs->refused);
    METRIC("events_in_total", "counter", "Client events received.", "%llu",
           (unsigned long long)cs->events_in);
    METRIC("events_out_total", "counter", "Events emitted (one per broadcast).", "%llu",
           (unsigned long long)cs->events_out);
    METRIC("errors_total", "counter", "Requests answered with an error.", "%llu",
           (unsigned long long)cs->errors);
    METRIC("rate_limited_total", "counter", "Requests refused by a rate limit.", "%llu",
           (unsigned long long)cs->rate_limited);
    METRIC("store_writes_total", "counter", "Store writes executed.", "%llu",
           (unsigned long long)ss.writes);
    METRIC("store_commits_total", "counter", "Store group commits.", "%llu",
           (unsigned long long)ss.write_txns);
    METRIC("store_commit_seconds_total", "counter", "Time spent committing.", "%.6f",
           (double)ss.commit_us / 1e6);
    METRIC("store_reads_total", "counter", "Store reads executed.", "%llu",
           (unsigned long long)ss.reads);
#undef METRIC
    static const http_kv_t headers[] = {{"Cache-Control", "no-store"}};
    http_respond(ex, 200, "text/plain; version=0.0.4", headers, 1, b.data, b.len);
    buf_free(&b);
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
            static const char body[] = "{\"error\":\"method not allowed\"}";
            http_respond(ex, 405, "application/json", allow, 1, body, sizeof body - 1);
            return;
        }
        on_health(ex, app);
        return;
    }
    if (path_is(req, "/metrics")) {
        on_metrics(ex, app);
        return;
    }
    if (path_is(req, "/ready")) {
        int ok = app->store && !app->stopping;
        const char *body =
            ok ? "{\"status\":\"ready\",\"store\":\"ok\"}" : "{\"status\":\"unavailable\"}";
        http_respond(ex, ok ? 200 : 503, "application/json", NULL, 0, body, strlen(body));
        return;
    }
    static const char *const bundle[] = {
        "socket.io.js",        "socket.io.js.map",        "socket.io.min.js",
        "socket.io.min.js.map", "socket.io.esm.min.js",   "socket.io.esm.min.js.map",
        "socket.io.msgpack.min.js", "socket.io.msgpack.min.js.map",
    };
    if (req->path_len > 11 && memcmp(req->path, "/socket.io/", 11) == 0) {
        for (size_t i = 0; i < sizeof bundle / sizeof bundle[0]; i++) {
            if (req->path_len - 11 == strlen(bundle[i]) &&
                memcmp(req->path + 11, bundle[i], req->path_len - 11) == 0) {
                http_serve_file(ex, S.client_dir, bundle[i]);
                return;
            }
        }
    }
    eio_server_t *eio = sio_server_eio(app->sio);
    if (eio_server_matches(eio, req)) {
        eio_server_handle(eio, ex);
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
    /* Every acknowledged write is committed already. Closing the store
     * finishes what is queued and runs those callbacks, which still use the
     * chat and Socket.IO objects: so it goes first. */
    store_close(app->store);
    app->store = NULL;
    chat_free(app->chat);
    app->chat = NULL;
    sio_server_free(app->sio);
    chat_auth_free(app->auth);
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
    sio_server_close_all(app->sio); /* WebSocket 1001, polling close packets */
    net_server_drain(app->net, (uint64_t)S.drain_timeout_ms, on_drained, app);
}

/* Store, authentication, Socket.IO and the chat, before the listener. */
static int setup_chat(app_t *app)
{
    char err[512];
    if (*S.database_url || *S.redis_url) {
        log_error("config", "--database-url/--redis-url: clustering over PostgreSQL and Redis is "
                            "not available in this build yet; unset them");
        return -1;
    }
    chat_auth_config_t acfg;
    chat_auth_config_init(&acfg);
    if (*S.jwt_secret || *S.jwt_public_key) {
        acfg.mode = CHAT_AUTH_MODE_JWT;
        if (chat_auth_alg_parse(S.jwt_alg, &acfg.alg) != 0) {
            log_error("config", "--jwt-alg: expected HS256, RS256 or ES256, got \"%s\"", S.jwt_alg);
            return -1;
        }
        if (*S.jwt_secret) {
            acfg.secret = S.jwt_secret;
            acfg.secret_len = strlen(S.jwt_secret);
        }
        if (*S.jwt_public_key)
            acfg.public_key_path = S.jwt_public_key;
    } else if (!chat_auth_host_is_loopback(S.host) && !S.insecure_open) {
        log_error("config", "no --jwt-secret or --jwt-public-key: open mode (sign-in by name) is "
                            "only allowed on loopback; listening on %s needs --insecure-open",
                  S.host);
        return -1;
    }
    if (chat_auth_new(&acfg, &app->auth, err, sizeof err) != CHAT_AUTH_OK) {
        log_error("config", "authentication: %s", err);
        return -1;
    }
    if (acfg.mode != CHAT_AUTH_MODE_JWT)
        log_warn("open_mode", "no JWT configured: users sign in by name (open mode)");

    char path[4096];
    snprintf(path, sizeof path, "%s/parley.db", S.data_dir);
    if (mkdir(S.data_dir, 0700) != 0 && errno != EEXIST) {
        log_error("config", "--data %s: cannot create: %s", S.data_dir, strerror(errno));
        return -1;
    }
    if (strcmp(S.store_sync, "normal") != 0 && strcmp(S.store_sync, "full") != 0) {
        log_error("config", "--store-sync: expected normal or full, got \"%s\"", S.store_sync);
        return -1;
    }
    store_config_t scfg = {.path = path,
                           .sync_full = strcmp(S.store_sync, "full") == 0,
                           .group_window_us = (unsigned)S.store_group_window_us};
    if (store_open(app->loop, &scfg, &app->store, err, sizeof err) != STORE_OK) {
        log_error("store_open_failed", "%s: %s", path, err);
        return -1;
    }
    app->origins = config_list_split(S.allowed_origins, &app->num_origins);
    sio_config_t sc = {
        .eio = {.path = "/socket.io/",
                .ping_interval_ms = (uint64_t)S.ping_interval_ms,
                .ping_timeout_ms = (uint64_t)S.ping_timeout_ms,
                .max_payload = S.max_payload,
                .allow_deflate = 1,
                .allowed_origins = (const char *const *)app->origins,
                .num_allowed_origins = app->num_origins,
                .cors_credentials = app->num_origins > 0},
        .connect_timeout_ms = (uint64_t)S.connect_timeout_ms,
        .recovery = S.recovery,
        .max_disconnection_ms = (uint64_t)S.max_disconnection_ms,
        /* A recovered socket gets what it missed in one go: keep that below
         * the slow-consumer cap, or the replay itself would close the
         * connection on every reconnect. Past it the client gets a fresh
         * socket and resyncs with channel:sync. */
        .recovery_max_bytes = S.max_output / 2,
    };
    app->sio = sio_server_new(app->loop, &sc);
    chat_config_t cc = {
        .default_channels = S.default_channels,
        .max_sockets_per_user = (unsigned)S.max_sockets_per_user,
        .send_rate = (double)S.send_rate,
        .send_burst = (double)S.send_burst,
        .event_rate = (double)S.event_rate,
        .event_burst = (double)S.event_burst,
        .connect_rate = (double)S.connect_rate,
        .connect_burst = (double)S.connect_burst,
        .max_refusals = (unsigned)S.max_refusals,
        .max_text_chars = (size_t)S.max_text_chars,
        .max_text_bytes = S.max_text_bytes,
        .max_reply_bytes = S.max_output / 4,
    };
    app->chat = chat_new(app->loop, app->sio, app->store, app->auth, &cc, err, sizeof err);
    if (!app->chat) {
        log_error("chat_failed", "%s", err);
        return -1;
    }
    return 0;
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
    if (setup_chat(&app) != 0) {
        config_free(serve_options, NUM_SERVE_OPTIONS);
        return 1;
    }
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
    config_list_free(app.origins);
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
