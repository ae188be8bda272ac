/* ws-echo — a raw WebSocket echo server on Parley's net, http and ws layers.
 *
 * The testee of the WebSocket conformance suite (tests/js/02-*): every text
 * or binary message comes back as it was sent, on any path. Plain HTTP
 * requests get 426. Settings are flags (or PARLEY_* variables), like
 * `parley serve`.
 */
#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "http/server.h"
#include "net/net.h"
#include "ws/ws.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    char *host;
    int64_t port;
    size_t max_message;
    int64_t max_fragments;
    int64_t idle_timeout_ms;
    char *allowed_origins;
    int no_deflate;
} S;

static const config_option_t options[] = {
    {"host", CFG_STRING, &S.host, "127.0.0.1", "address to listen on", 0, 0},
    {"port", CFG_INT, &S.port, "9001", "TCP port (0 picks a free one)", 0, 65535},
    {"max-message", CFG_SIZE, &S.max_message, "16M", "largest message, after inflation (1009)",
     1, 1LL << 30},
    {"max-fragments", CFG_INT, &S.max_fragments, "4096", "most frames in one message (1009)", 1,
     1 << 24},
    {"idle-timeout-ms", CFG_INT, &S.idle_timeout_ms, "0",
     "close a connection silent for this long (0: never)", 0, 86400000},
    {"allowed-origins", CFG_STRING, &S.allowed_origins, "",
     "comma-separated Origin allowlist (empty: any)", 0, 0},
    {"no-deflate", CFG_BOOL, &S.no_deflate, "false", "refuse permessage-deflate", 0, 0},
};
#define NUM_OPTIONS (sizeof options / sizeof options[0])

static ws_config_t ws_cfg;
static http_config_t http_cfg;
static net_server_t *server;
static uv_signal_t sigterm, sigint;

static void on_message(ws_conn_t *ws, int binary, const char *data, size_t len, void *ud)
{
    ws_send(ws, binary, data, len);
}

static void on_close(ws_conn_t *ws, uint16_t code, void *ud)
{
}

static const ws_callbacks_t callbacks = {.on_message = on_message, .on_close = on_close};

static void on_request(http_exchange_t *ex, void *ud)
{
    const http_request_t *req = http_ex_request(ex);
    const http_header_t *upgrade = http_find_header(req, "Upgrade");
    if (!upgrade) {
        static const http_kv_t h[] = {{"Upgrade", "websocket"}};
        http_respond(ex, 426, "application/json", h, 1, "{\"error\":\"websocket only\"}", 26);
        return;
    }
    int status = 0;
    if (!ws_accept(http_ex_conn(ex), req, &ws_cfg, &callbacks, NULL, &status))
        net_conn_close(http_ex_conn(ex), 1);
}

static void on_accept(net_conn_t *c, void *ud)
{
    http_conn_start(c, &http_cfg);
}

static void on_drained(net_server_t *s, void *ud)
{
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    uv_signal_stop(&sigterm);
    uv_signal_stop(&sigint);
    net_server_drain(server, 3000, on_drained, NULL);
}

int main(int argc, char **argv)
{
    char err[256];
    int rest = 0, help = 0;
    if (config_load(options, NUM_OPTIONS, argc, argv, 1, &rest, &help, err, sizeof err) != 0) {
        fprintf(stderr, "ws-echo: %s\n", err);
        return 2;
    }
    if (help) {
        printf("usage: ws-echo [options]\n\n");
        config_print_help(stdout, options, NUM_OPTIONS);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    size_t norigins = 0;
    char **origins = config_list_split(S.allowed_origins, &norigins);
    ws_cfg = (ws_config_t){
        .max_message = S.max_message,
        .max_fragments = (size_t)S.max_fragments,
        .allow_deflate = !S.no_deflate,
        .idle_timeout_ms = (uint64_t)S.idle_timeout_ms,
        .allowed_origins = (const char *const *)origins,
        .num_allowed_origins = norigins,
    };
    http_cfg = (http_config_t){.handler = on_request};
    uv_loop_t *loop = uv_default_loop();
    net_server_config_t ncfg = {
        .host = S.host,
        .port = (int)S.port,
        .max_output = 64 * 1024 * 1024,
        .tcp_nodelay = 1,
        .on_accept = on_accept,
    };
    int r = net_server_start(loop, &ncfg, &server);
    if (r != 0) {
        log_error("listen_failed", "%s:%lld: %s", S.host, (long long)S.port, uv_strerror(r));
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    log_info("listening", "ws-echo on ws://%s:%d", S.host, net_server_port(server));
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    config_list_free(origins);
    config_free(options, NUM_OPTIONS);
    return 0;
}
