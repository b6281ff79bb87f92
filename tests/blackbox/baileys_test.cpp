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
