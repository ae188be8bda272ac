/* echo — the test application of the official Socket.IO compliance suites,
 * on Parley's net, http, eio and sio layers.
 *
 * Default mode (the socket.io-protocol suite's server): namespaces "/" and
 * "/custom"; on connection the socket is sent `auth` with its handshake
 * auth; on "/", `message` comes back as `message-back` with the same
 * arguments (binary included) and `message-with-ack` is acknowledged with
 * the same arguments. pingInterval 300 ms, pingTimeout 200 ms, maxPayload
 * 1000000, connectTimeout 1000 ms, any origin, port 3000.
 *
 * --engine-only (the engine.io-protocol suite's server): bare Engine.IO on
 * /engine.io/, every message echoed back as it came (text or binary).
 *
 * --test-hooks adds what the integration tests (tests/js/10-sio-*) need and
 * the suites must not see: room, broadcast, ack-request and disconnect
 * events on "/" and "/custom", a "/private" namespace whose middleware
 * refuses clients without auth {token:"letmein"}, and per-socket user data
 * (a connection serial number) to observe recovery. Its events:
 *   join(room) / leave(room)              ack(true)
 *   to({rooms, except, event, args})      broadcast; ack(true)
 *   room-size(room)                       ack(n)
 *   whoami()                              ack({id, recovered, serial, auth})
 *   ask(timeout_ms, ...args)              emits `question`(...args) with an
 *                                         ack; then emits `answer`(err|null,
 *                                         ...reply) with what came back
 *   disconnect-me(close_session)          sio_disconnect
 * --recovery turns on connection state recovery.
 */
#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "eio/eio.h"
#include "http/server.h"
#include "net/net.h"
#include "sio/sio.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    char *host;
    int64_t port;
    int engine_only;
    int test_hooks;
    int recovery;
    int64_t max_disconnection_ms;
    int64_t ping_interval_ms;
    int64_t ping_timeout_ms;
    int64_t upgrade_timeout_ms;
    int64_t connect_timeout_ms;
    size_t max_payload;
    char *transports;
    char *log_level;
} S;

static const config_option_t options[] = {
    {"host", CFG_STRING, &S.host, "127.0.0.1", "address to listen on", 0, 0},
    {"port", CFG_INT, &S.port, "3000", "TCP port (0 picks a free one)", 0, 65535},
    {"engine-only", CFG_BOOL, &S.engine_only, "false",
     "bare Engine.IO echo on /engine.io/ (the engine.io-protocol suite's server)", 0, 0},
    {"test-hooks", CFG_BOOL, &S.test_hooks, "false",
     "extra events and the /private namespace for the integration tests", 0, 0},
    {"recovery", CFG_BOOL, &S.recovery, "false", "connection state recovery", 0, 0},
    {"max-disconnection-ms", CFG_INT, &S.max_disconnection_ms, "120000",
     "how long a disconnected socket stays recoverable", 1, 86400000},
    {"ping-interval-ms", CFG_INT, &S.ping_interval_ms, "300", "Engine.IO pingInterval", 1, 3600000},
    {"ping-timeout-ms", CFG_INT, &S.ping_timeout_ms, "200", "Engine.IO pingTimeout", 1, 3600000},
    {"upgrade-timeout-ms", CFG_INT, &S.upgrade_timeout_ms, "10000",
     "an upgrade probe must complete within this", 1, 3600000},
    {"connect-timeout-ms", CFG_INT, &S.connect_timeout_ms, "1000",
     "a session must join a namespace within this", 1, 3600000},
    {"max-payload", CFG_SIZE, &S.max_payload, "1000000", "Engine.IO maxPayload", 1024, 1LL << 30},
    {"transports", CFG_STRING, &S.transports, "polling,websocket",
     "allowed transports: polling, websocket or both", 0, 0},
    {"log-level", CFG_STRING, &S.log_level, "info", "debug, info, warn or error", 0, 0},
};
#define NUM_OPTIONS (sizeof options / sizeof options[0])

static uv_loop_t *loop;
static net_server_t *net;
static http_config_t http_cfg;
static eio_server_t *eio; /* the one requests go to */
static sio_server_t *sio; /* NULL in --engine-only mode */
static uv_signal_t sigterm, sigint;

/* ---- Engine.IO only ------------------------------------------------------ */

static int eio_open(eio_socket_t *s, const http_request_t *req, void *ud)
{
    return 0;
}

static void eio_echo(eio_socket_t *s, int binary, const char *data, size_t len, void *ud)
{
    eio_send(s, binary, data, len);
}

static void eio_closed(eio_socket_t *s, const char *reason, void *ud) {}

/* ---- Socket.IO ----------------------------------------------------------- */

static void on_connection(sio_socket_t *s, void *ud)
{
    json_t *args = json_array();
    json_array_append(args, (json_t *)sio_socket_auth(s));
    sio_emit(s, "auth", args, NULL, 0);
    json_decref(args);
}

static void on_message(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                       size_t nbins, sio_ack_t *ack, void *ud)
{
    sio_emit(s, "message-back", args, bins, nbins);
}

static void on_message_with_ack(sio_socket_t *s, const char *event, json_t *args,
                                const sio_bin_t *bins, size_t nbins, sio_ack_t *ack, void *ud)
{
    if (ack)
        sio_ack_send(ack, args, bins, nbins);
}

/* ---- test hooks ---------------------------------------------------------- */

typedef struct {
    unsigned long serial;
} conn_data_t;

static unsigned long next_serial;

static void hook_connect(sio_socket_t *s, void *ud)
{
    if (!sio_socket_data(s)) {
        conn_data_t *d = xmalloc(sizeof *d);
        d->serial = ++next_serial;
        sio_socket_set_data(s, d);
    }
    on_connection(s, ud);
}

static void hook_free_data(void *data, void *ud)
{
    free(data);
}

static void ack_value(sio_ack_t *ack, json_t *v)
{
    if (!ack) {
        json_decref(v);
        return;
    }
    json_t *a = json_array();
    json_array_append_new(a, v);
    sio_ack_send(ack, a, NULL, 0);
    json_decref(a);
}

static void hook_join(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                      size_t nbins, sio_ack_t *ack, void *ud)
{
    const char *room = json_string_value(json_array_get(args, 0));
    int r = room ? (strcmp(event, "join") == 0 ? sio_join(s, room) : sio_leave(s, room))
                 : SIO_E_INVALID;
    ack_value(ack, json_boolean(r == SIO_OK));
}

static const char **string_list(json_t *arr, size_t *n)
{
    *n = json_array_size(arr);
    if (!*n)
        return NULL;
    const char **out = xcalloc(*n, sizeof *out);
    for (size_t i = 0; i < *n; i++)
        out[i] = json_string_value(json_array_get(arr, i))
                     ? json_string_value(json_array_get(arr, i))
                     : "";
    return out;
}

static void hook_to(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                    size_t nbins, sio_ack_t *ack, void *ud)
{
    json_t *spec = json_array_get(args, 0);
    const char *ev = json_string_value(json_object_get(spec, "event"));
    json_t *eargs = json_object_get(spec, "args");
    if (!ev || (eargs && !json_is_array(eargs))) {
        ack_value(ack, json_false());
        return;
    }
    sio_target_t t = {0};
    t.rooms = string_list(json_object_get(spec, "rooms"), &t.num_rooms);
    t.except = string_list(json_object_get(spec, "except"), &t.num_except);
    int r = sio_broadcast(sio_socket_nsp(s), &t, ev, eargs, bins, nbins);
    free((void *)t.rooms);
    free((void *)t.except);
    ack_value(ack, json_boolean(r == SIO_OK));
}

static void hook_room_size(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                           size_t nbins, sio_ack_t *ack, void *ud)
{
    const char *room = json_string_value(json_array_get(args, 0));
    ack_value(ack, json_integer((json_int_t)(room ? sio_room_size(sio_socket_nsp(s), room) : 0)));
}

static void hook_whoami(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                        size_t nbins, sio_ack_t *ack, void *ud)
{
    conn_data_t *d = sio_socket_data(s);
    ack_value(ack, json_pack("{s:s,s:b,s:I,s:O}", "id", sio_socket_id(s), "recovered",
                             sio_socket_recovered(s), "serial", (json_int_t)(d ? d->serial : 0),
                             "auth", (json_t *)sio_socket_auth(s)));
}

static void on_answer(sio_socket_t *s, int err, json_t *args, const sio_bin_t *bins, size_t nbins,
                      void *ud)
{
    if (!sio_socket_connected(s))
        return;
    json_t *out = json_array();
    json_array_append_new(out, err == SIO_OK ? json_null() : json_string(sio_result_str(err)));
    if (args)
        json_array_extend(out, args);
    sio_emit(s, "answer", out, bins, nbins);
    json_decref(out);
}

static void hook_ask(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                     size_t nbins, sio_ack_t *ack, void *ud)
{
    json_int_t timeout = json_integer_value(json_array_get(args, 0));
    json_t *rest = json_array();
    for (size_t i = 1; i < json_array_size(args); i++)
        json_array_append(rest, json_array_get(args, i));
    int r = sio_emit_ack(s, "question", rest, bins, nbins, timeout > 0 ? (uint64_t)timeout : 0,
                         on_answer, NULL);
    json_decref(rest);
    ack_value(ack, json_boolean(r == SIO_OK));
}

static void hook_disconnect_me(sio_socket_t *s, const char *event, json_t *args,
                               const sio_bin_t *bins, size_t nbins, sio_ack_t *ack, void *ud)
{
    sio_disconnect(s, json_is_true(json_array_get(args, 0)));
}

static int private_gate(sio_socket_t *s, const json_t *auth, sio_refusal_t *refusal, void *ud)
{
    const char *token = json_string_value(json_object_get(auth, "token"));
    if (token && strcmp(token, "letmein") == 0)
        return 0;
    refusal->message = "not authorized";
    refusal->data = json_pack("{s:i,s:s}", "code", 4001, "hint", "send auth.token");
    return 1;
}

static void install_hooks(sio_nsp_t *nsp)
{
    sio_on_connect(nsp, hook_connect, NULL);
    sio_on_free_data(nsp, hook_free_data, NULL);
    sio_on(nsp, "join", hook_join, NULL);
    sio_on(nsp, "leave", hook_join, NULL);
    sio_on(nsp, "to", hook_to, NULL);
    sio_on(nsp, "room-size", hook_room_size, NULL);
    sio_on(nsp, "whoami", hook_whoami, NULL);
    sio_on(nsp, "ask", hook_ask, NULL);
    sio_on(nsp, "disconnect-me", hook_disconnect_me, NULL);
}

/* ---- HTTP and process ---------------------------------------------------- */

static void on_request(http_exchange_t *ex, void *ud)
{
    const http_request_t *req = http_ex_request(ex);
    if (eio && eio_server_matches(eio, req)) {
        eio_server_handle(eio, ex);
        return;
    }
    http_respond(ex, 404, "application/json", NULL, 0, "{\"error\":\"not found\"}", 21);
}

static void on_accept(net_conn_t *c, void *ud)
{
    http_conn_start(c, &http_cfg);
}

static void on_drained(net_server_t *s, void *ud)
{
    net = NULL;
    if (sio)
        sio_server_free(sio);
    else
        eio_server_free(eio);
    sio = NULL;
    eio = NULL;
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    uv_signal_stop(&sigterm);
    uv_signal_stop(&sigint);
    log_info("draining", "signal %d", signum);
    if (sio)
        sio_server_close_all(sio);
    else
        eio_server_close_all(eio);
    net_server_drain(net, 3000, on_drained, NULL);
}

int main(int argc, char **argv)
{
    char err[256];
    int rest = 0, help = 0, status = 1;
    if (config_load(options, NUM_OPTIONS, argc, argv, 1, &rest, &help, err, sizeof err) != 0) {
        fprintf(stderr, "echo: %s\n", err);
        return 2;
    }
    if (help) {
        printf("usage: echo [options]\n\n");
        config_print_help(stdout, options, NUM_OPTIONS);
        config_free(options, NUM_OPTIONS);
        return 0;
    }
    log_level_t level;
    if (log_level_parse(S.log_level, &level) != 0) {
        fprintf(stderr, "echo: --log-level: expected debug, info, warn or error\n");
        goto out;
    }
    log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();

    eio_config_t ecfg = {
        .path = S.engine_only ? "/engine.io/" : "/socket.io/",
        .ping_interval_ms = (uint64_t)S.ping_interval_ms,
        .ping_timeout_ms = (uint64_t)S.ping_timeout_ms,
        .upgrade_timeout_ms = (uint64_t)S.upgrade_timeout_ms,
        .max_payload = S.max_payload,
        .disable_polling = !strstr(S.transports, "polling"),
        .disable_websocket = !strstr(S.transports, "websocket"),
    };
    if (S.engine_only) {
        ecfg.on_open = eio_open;
        ecfg.on_message = eio_echo;
        ecfg.on_close = eio_closed;
        eio = eio_server_new(loop, &ecfg);
    } else {
        sio_config_t scfg = {
            .eio = ecfg,
            .connect_timeout_ms = (uint64_t)S.connect_timeout_ms,
            .recovery = S.recovery,
            .max_disconnection_ms = (uint64_t)S.max_disconnection_ms,
        };
        sio = sio_server_new(loop, &scfg);
        eio = sio ? sio_server_eio(sio) : NULL;
    }
    if (!eio) {
        log_error("eio_failed", "cannot create the Engine.IO server");
        goto out;
    }
    if (sio) {
        sio_nsp_t *root = sio_of(sio, "/");
        sio_nsp_t *custom = sio_of(sio, "/custom");
        sio_on_connect(root, on_connection, NULL);
        sio_on_connect(custom, on_connection, NULL);
        if (S.test_hooks) {
            install_hooks(root);
            install_hooks(custom);
            sio_nsp_t *priv = sio_of(sio, "/private");
            install_hooks(priv);
            sio_use(priv, private_gate, NULL);
        }
        sio_on(root, "message", on_message, NULL);
        sio_on(root, "message-with-ack", on_message_with_ack, NULL);
    }

    http_cfg = (http_config_t){
        .handler = on_request,
        .max_body = S.max_payload + 4096,
    };
    net_server_config_t ncfg = {
        .host = S.host,
        .port = (int)S.port,
        .max_output = 64 * 1024 * 1024,
        .tcp_nodelay = 1,
        .on_accept = on_accept,
    };
    int r = net_server_start(loop, &ncfg, &net);
    if (r != 0) {
        log_error("listen_failed", "cannot listen on %s:%lld: %s", S.host, (long long)S.port,
                  uv_strerror(r));
        if (sio)
            sio_server_free(sio);
        else
            eio_server_free(eio);
        uv_run(loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    log_info("listening", "%s on http://%s:%d", S.engine_only ? "engine.io echo" : "socket.io echo",
             S.host, net_server_port(net));
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    log_info("exit", "bye");
    status = 0;
out:
    config_free(options, NUM_OPTIONS);
    return status;
}
