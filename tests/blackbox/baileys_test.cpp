// Black-box tests of Baileys accounts: the real binary with the real
// sidecar (sidecar/baileys, installed by scripts/setup.sh) on a machine
// without a network, and `wabridge pair` / `/pairing` against the sidecar
// driven by a fake Baileys socket (WABRIDGE_SIDECAR_FAKE_SOCKET, see
// docs/sidecar.md) that links, shows QR codes or is logged out on cue.
#include "support/test_harness.hpp"

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <thread>

using namespace wabridge::test;

namespace {

std::string sidecar_dir() {
  return source_dir() + "/sidecar/baileys";
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The [[account]] of a Baileys account on the checkout's sidecar.
std::string baileys_account_toml(const std::string& name, const std::string& extra = {}) {
  return "[[account]]\nname = \"" + name +
         "\"\nupstream = \"baileys\"\n\n[account.baileys]\nsidecar_dir = \"" + sidecar_dir() +
         "\"\nallowed_users = [\"*\"]\nreconnect_initial = \"300ms\"\nreconnect_max = \"1s\"\n" +
         extra;
}

json upstream_of(const http_client& client, const std::string& account) {
  const json status = client.get_json("/accounts/" + account + "/status");
  if (!status.contains("accounts") || status["accounts"].empty()) return json::object();
  const json& acc = status["accounts"][0];
  return acc.contains("upstream") ? acc["upstream"] : json::object();
}

void require_sidecar_installed() {
  INFO("the Baileys sidecar is not installed: run scripts/setup.sh (npm ci in " << sidecar_dir()
                                                                                << ")");
  REQUIRE(path_exists(sidecar_dir() + "/node_modules/@whiskeysockets/baileys"));
}

}  // namespace

TEST_CASE(
    "a Baileys account with no network is reported disconnected, retried, and harms "
    "no other account",
    "[blackbox][baileys]") {
  require_sidecar_installed();
  temp_dir dir;
  bridge_options options;
  options.port = free_loopback_port();
  options.data_dir = dir.file("data");
  options.accounts = {sim_account{"main", 50.0, 0, 7, ""}};
  write_file(dir.file("cfg.toml"), config_text(options) + baileys_account_toml("phone"));
  bridge_process bridge(dir.file("cfg.toml"), dir.file("bridge.log"), options.port);
  bridge.start();
  const http_client client(options.port);
  INFO("log:\n" << log_tail(bridge.log()));

  // The real sidecar starts, says hello and cannot reach WhatsApp.
  REQUIRE(eventually(
      [&] {
        const json up = upstream_of(client, "phone");
        return string_field(up, "state") == "disconnected" && !string_field(up, "reason").empty() &&
               int_field(up, "pid") > 0;
      },
      60s, 200ms));
  CHECK(contains(bridge.log(), "upstream account=phone hello upstream=baileys"));
  const json up = upstream_of(client, "phone");
  const int64_t sidecar_pid = int_field(up, "pid");

  // It keeps trying (its own backoff, capped at reconnect_max = 1 s) in the
  // same process: the worker does not have to respawn it.
  const size_t tries = count_of(bridge.log(), "upstream account=phone state=connecting");
  REQUIRE(eventually(
      [&] {
        return count_of(bridge.log(), "upstream account=phone state=connecting") >= tries + 2;
      },
      30s, 200ms));
  CHECK(int_field(upstream_of(client, "phone"), "pid") == sidecar_pid);

  // Meanwhile the simulated account serves as usual.
  const json health = client.get_json("/health");
  CHECK(string_field(health, "status") == "connected");
  const uint64_t seq = uint_field(health, "lastSeq");
  REQUIRE(eventually([&] { return last_seq(client, "main") > seq + 10; }, 20s));
  // /health of the Baileys account tells the Node bridge's client it is down.
  const json phone_health = client.get_json("/accounts/phone/health");
  CHECK(string_field(phone_health, "status") == "disconnected");
  CHECK(string_field(phone_health, "upstreamState") == "disconnected");

  // `wabridge status` shows why, and exits 1 (degraded).
  auto status = run_wabridge({"status", "-c", dir.file("cfg.toml")}, dir.path());
  CHECK(status.exit_code == 1);
  CHECK(contains(status.out, "upstream disconnected: "));

  // A graceful stop takes the sidecar down too.
  CHECK(bridge.stop(30s) == 0);
  CHECK(bridge.group_gone());
}

// ---- with the fake Baileys socket ------------------------------------------

namespace {

// Sets WABRIDGE_SIDECAR_FAKE_SOCKET (and the fake's call log) for every
// process this test starts (the worker passes its environment on to the
// sidecar); unset again when the test ends.
class fake_socket_env {
 public:
  fake_socket_env(const std::string& cue_file, const std::string& call_log) {
    ::setenv("WABRIDGE_SIDECAR_FAKE_SOCKET", cue_file.c_str(), 1);
    ::setenv("WABRIDGE_SIDECAR_FAKE_LOG", call_log.c_str(), 1);
  }
  ~fake_socket_env() {
    ::unsetenv("WABRIDGE_SIDECAR_FAKE_SOCKET");
    ::unsetenv("WABRIDGE_SIDECAR_FAKE_LOG");
  }
  fake_socket_env(const fake_socket_env&) = delete;
  fake_socket_env& operator=(const fake_socket_env&) = delete;
};

void append_cue(const std::string& path, const std::string& line) {
  write_file(path, read_file(path) + line + "\n");
}

// A direct text message as Baileys delivers it.
std::string text_message(const std::string& id, const std::string& text) {
  return R"({"key":{"remoteJid":"4915112345678@s.whatsapp.net","id":")" + id +
         R"(","fromMe":false},"messageTimestamp":1717171717,"pushName":"Ada","message":{"conversation":")" +
         text + R"("}})";
}

// A consumer name never used before: read_all_events acks implicitly, so a
// reused name would start after what it already read.
std::string fresh_consumer() {
  static int n = 0;
  return "reader-" + std::to_string(++n);
}

std::vector<json> events_with_id(const std::vector<json>& events, const std::string& id) {
  std::vector<json> out;
  for (const auto& e : events)
    if (string_field(e, "messageId") == id) out.push_back(e);
  return out;
}

struct baileys_bridge {
  temp_dir dir;
  std::string cues = dir.file("cues.jsonl");
  std::string calls = dir.file("fake-calls.jsonl");
  fake_socket_env env{cues, calls};
  bridge_options options;
  std::unique_ptr<bridge_process> process;

  explicit baileys_bridge(const std::string& first_cues) {
    write_file(cues, first_cues);
    options.port = free_loopback_port();
    options.data_dir = dir.file("data");
    options.accounts = {sim_account{"main", 20.0, 0, 3, ""}};
    write_file(dir.file("cfg.toml"), config_text(options) + baileys_account_toml("phone"));
    process = std::make_unique<bridge_process>(dir.file("cfg.toml"), dir.file("bridge.log"),
                                               options.port);
    process->start();
  }
  std::string config() const { return dir.file("cfg.toml"); }
  http_client client() const { return http_client(options.port); }
  std::string state() const { return string_field(upstream_of(client(), "phone"), "state"); }
};

}  // namespace

TEST_CASE(
    "a Baileys account's messages are journaled in the Node bridge's shape, its sends reach "
    "WhatsApp, and a kill -9 of the worker loses nothing the sidecar held",
    "[blackbox][baileys]") {
  require_sidecar_installed();
  baileys_bridge bridge("{\"cue\":\"open\"}\n{\"cue\":\"message\",\"msg\":" +
                        text_message("3EB0A1", "hello from Ada") + "}\n");
  const http_client client = bridge.client();
  INFO("log:\n" << log_tail(bridge.process->log()));

  // Inbound: the message arrives as an event in SPEC §4's shape.
  std::vector<json> events;
  REQUIRE(eventually(
      [&] {
        events = read_all_events(client, "phone", fresh_consumer());
        return !events_with_id(events, "3EB0A1").empty();
      },
      60s, 200ms));
  const json first = events_with_id(events, "3EB0A1").at(0);
  CHECK(string_field(first, "chatId") == "4915112345678@s.whatsapp.net");
  CHECK(string_field(first, "senderName") == "Ada");
  CHECK(string_field(first, "body") == "hello from Ada");
  CHECK(bool_field(first, "isGroup", true) == false);
  CHECK(string_field(first, "origin") == "live");
  CHECK(string_field(first, "eventUid") == "4915112345678@s.whatsapp.net:3EB0A1");
  CHECK(bridge.state() == "connected");

  // Outbound: /send goes through the journal to the socket's sendMessage and
  // answers with WhatsApp's message id.
  const auto sent =
      client.post("/accounts/phone/send",
                  R"({"chatId":"4915112345678@s.whatsapp.net","message":"hello back"})");
  REQUIRE(sent.status == 200);
  const json answer = sent.body_json();
  CHECK(bool_field(answer, "success"));
  CHECK(!string_field(answer, "messageId").empty());
  const std::string calls = read_file(bridge.calls);
  CHECK(contains(calls, "\"method\":\"sendMessage\""));
  CHECK(contains(calls, "hello back"));

  // Two messages Baileys still holds in its event buffer (as it does while it
  // syncs after connecting) when the worker is killed: the sidecar sees stdin
  // EOF, spools them (fsync) and exits; the next worker's sidecar replays the
  // spool. The cue file replays "hold" too, but nothing flushes it again, so
  // the events can only come from the spool.
  append_cue(bridge.cues, "{\"cue\":\"hold\",\"type\":\"append\",\"messages\":[" +
                              text_message("3EB0A2", "held one") + "," +
                              text_message("3EB0A3", "held two") + "]}");
  std::this_thread::sleep_for(1s);  // the sidecar polls its cue file every 50 ms
  const pid_t old_worker = bridge.process->kill_worker();
  REQUIRE(old_worker > 0);
  REQUIRE(bridge.process->wait_worker(old_worker, 30s) > 0);
  REQUIRE(eventually(
      [&] {
        events = read_all_events(client, "phone", fresh_consumer());
        return !events_with_id(events, "3EB0A2").empty() &&
               !events_with_id(events, "3EB0A3").empty();
      },
      60s, 250ms));
  // Each exactly once, though the new sidecar's cue replay delivered 3EB0A1
  // again: the journal dedupes by eventUid.
  CHECK(events_with_id(events, "3EB0A1").size() == 1);
  CHECK(events_with_id(events, "3EB0A2").size() == 1);
  CHECK(events_with_id(events, "3EB0A3").size() == 1);
  CHECK(string_field(events_with_id(events, "3EB0A2").at(0), "origin") == "offline");
  CHECK(string_field(events_with_id(events, "3EB0A2").at(0), "body") == "held one");

  CHECK(bridge.process->stop(30s) == 0);
  CHECK(bridge.process->group_gone());
}

TEST_CASE("a logged-out Baileys account is reported with what to do and not respawned",
          "[blackbox][baileys]") {
  require_sidecar_installed();
  baileys_bridge bridge("{\"cue\":\"open\"}\n");
  const http_client client = bridge.client();
  INFO("log:\n" << log_tail(bridge.process->log()));
  REQUIRE(eventually([&] { return bridge.state() == "connected"; }, 60s, 200ms));

  append_cue(bridge.cues, "{\"cue\":\"logged_out\"}");
  REQUIRE(eventually([&] { return bridge.state() == "logged_out"; }, 30s, 100ms));
  const json up = upstream_of(client, "phone");
  CHECK(contains(string_field(up, "reason"), "wabridge pair"));
  const size_t spawned = count_of(bridge.process->log(), "upstream account=phone spawned");

  // No respawn loop: a few seconds later it is still the same, and the other
  // account serves meanwhile.
  const uint64_t seq = last_seq(client, "main");
  std::this_thread::sleep_for(3s);
  CHECK(count_of(bridge.process->log(), "upstream account=phone spawned") == spawned);
  CHECK(bridge.state() == "logged_out");
  CHECK(last_seq(client, "main") > seq);
  auto status = run_wabridge({"status", "-c", bridge.config()}, bridge.dir.path());
  CHECK(status.exit_code == 1);
  CHECK(contains(status.out, "logged_out"));
  CHECK(bridge.process->stop(30s) == 0);
}

TEST_CASE("wabridge pair shows the QR code and exits once linked, with and without a bridge",
          "[blackbox][baileys]") {
  require_sidecar_installed();
  temp_dir dir;
  const std::string cues = dir.file("cues.jsonl");
  fake_socket_env env(cues, dir.file("fake-calls.jsonl"));
  bridge_options options;
  options.port = free_loopback_port();
  options.data_dir = dir.file("data");
  options.accounts = {sim_account{"main", 20.0, 0, 3, ""}};
  write_file(dir.file("cfg.toml"), config_text(options) + baileys_account_toml("phone"));

  SECTION("no bridge running: pair runs the sidecar itself") {
    write_file(cues,
               "{\"cue\":\"qr\",\"qr\":\"2@first-code\"}\n"
               "{\"cue\":\"qr\",\"delayMs\":700,\"qr\":\"2@second-code\"}\n"
               "{\"cue\":\"open\",\"delayMs\":700}\n");
    auto pair =
        run_wabridge({"pair", "-c", dir.file("cfg.toml"), "--account", "phone", "--timeout", "60s"},
                     dir.path(), 90s);
    INFO("out:\n" << pair.out << "\nerr:\n" << pair.err);
    CHECK(pair.exit_code == 0);
    CHECK(contains(pair.out, "no bridge is running"));
    CHECK(count_of(pair.out, "scan this with WhatsApp") == 2);  // each new code is drawn
    CHECK(contains(pair.out, "phone: linked"));
    // The sidecar it ran is gone and left its lock free for the bridge.
    CHECK(path_exists(dir.file("data") + "/accounts/phone/baileys/sidecar.lock"));
  }

  SECTION("a bridge running: pair asks it over HTTP") {
    write_file(cues,
               "{\"cue\":\"qr\",\"qr\":\"2@bridge-code\"}\n"
               "{\"cue\":\"open\",\"delayMs\":5000}\n");
    bridge_process bridge(dir.file("cfg.toml"), dir.file("bridge.log"), options.port);
    bridge.start();
    INFO("log:\n" << log_tail(bridge.log()));
    const http_client client(options.port);
    REQUIRE(eventually([&] { return string_field(upstream_of(client, "phone"), "state") == "qr"; },
                       60s, 100ms));
    const json pairing = client.get_json("/accounts/phone/pairing");
    CHECK(string_field(pairing, "qr") == "2@bridge-code");
    CHECK(bool_field(pairing, "linked", true) == false);

    auto pair =
        run_wabridge({"pair", "-c", dir.file("cfg.toml"), "--account", "phone", "--timeout", "60s"},
                     dir.path(), 90s);
    INFO("out:\n" << pair.out << "\nerr:\n" << pair.err);
    CHECK(pair.exit_code == 0);
    CHECK(contains(pair.out, "asking the running bridge"));
    CHECK(contains(pair.out, "scan this with WhatsApp"));
    CHECK(contains(pair.out, "linked (connected)"));
    CHECK(bool_field(client.get_json("/accounts/phone/pairing"), "linked"));
    CHECK(bridge.stop(30s) == 0);
  }
}

TEST_CASE(
    "with receipt_after_spool a message survives a kill -9 of the sidecar right after "
    "WhatsApp's delivery receipt",
    "[blackbox][baileys]") {
  require_sidecar_installed();
  temp_dir dir;
  // A JS fake socket. The first sidecar gets one message the way the patched
  // Baileys hands it over: the receipt hook (spool, fsync), then the receipt
  // (recorded in the call log), then, synchronously, SIGKILL: before the
  // sidecar could make the event, so only its spool has the message. The
  // sidecar the worker starts next gets the same message again normally.
  const std::string marker = dir.file("died-once");
  const std::string calls = dir.file("fake-calls.jsonl");
  const std::string message = text_message("3EB0R1", "receipt first");
  write_file(dir.file("fake.mjs"),
             "import fs from 'node:fs';\n"
             "const msg = " +
                 message +
                 ";\n"
                 "export function createSocket(ctx) {\n"
                 "  const sock = new ctx.FakeSocket(ctx.world, ctx);\n"
                 "  setTimeout(async () => {\n"
                 "    sock.open();\n"
                 "    if (fs.existsSync('" +
                 marker +
                 "')) return sock.incoming(msg, 'notify');\n"
                 "    fs.writeFileSync('" +
                 marker +
                 "', 'x');\n"
                 "    ctx.beforeReceipt(msg, 'notify', () => {});\n"
                 "    fs.appendFileSync('" +
                 calls +
                 "', '{\"method\":\"sendReceipt\"}\\n');\n"
                 "    process.kill(process.pid, 'SIGKILL');\n"
                 "  }, 50);\n"
                 "  return sock;\n"
                 "}\n");
  fake_socket_env env(dir.file("fake.mjs"), calls);
  bridge_options options;
  options.port = free_loopback_port();
  options.data_dir = dir.file("data");
  options.accounts = {sim_account{"main", 20.0, 0, 3, ""}};
  write_file(dir.file("cfg.toml"), config_text(options) + baileys_account_toml("phone"));
  bridge_process bridge(dir.file("cfg.toml"), dir.file("bridge.log"), options.port);
  bridge.start();
  INFO("log:\n" << log_tail(bridge.log()));
  const http_client client(options.port);

  REQUIRE(eventually([&] { return count_of(read_file(calls), "\"method\":\"sendReceipt\"") == 2; },
                     60s, 100ms));
  CHECK(count_of(bridge.log(), "upstream account=phone spawned") >= 2);
  std::vector<json> events;
  REQUIRE(eventually(
      [&] {
        events = read_all_events(client, "phone", fresh_consumer());
        return !events_with_id(events, "3EB0R1").empty();
      },
      30s, 200ms));
  std::this_thread::sleep_for(500ms);  // room for a duplicate to show up
  events = read_all_events(client, "phone", fresh_consumer());
  REQUIRE(events_with_id(events, "3EB0R1").size() == 1);
  const json event = events_with_id(events, "3EB0R1").at(0);
  // Replayed from the dead sidecar's spool, ahead of the redelivered copy.
  CHECK(string_field(event, "origin") == "offline");
  CHECK(string_field(event, "body") == "receipt first");
  CHECK(bridge.stop(30s) == 0);
}
