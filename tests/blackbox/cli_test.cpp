// Black-box tests of the command line: check-config, --help, run with a bad
// config and status, each against the real binary.
#include "support/test_harness.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace wabridge::test;

namespace {

// A config that is valid apart from what a test case breaks in it.
const char* const good_config = R"toml([bridge]
listen = "127.0.0.1:3999"
data_dir = "./data"

[[account]]
name = "main"
upstream = "sim"

[account.sim]
rate = 5.0
)toml";

struct bad_config_case {
  const char* what;
  std::string text;
  int line;         // the line the problem must be reported on
  std::string key;  // the key the report must name ("" for syntax errors)
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("check-config accepts the shipped demo and example configs", "[blackbox][cli]") {
  temp_dir dir;
  for (const char* name : {"config/demo.toml", "config/example.toml"}) {
    const std::string path = source_dir() + "/" + name;
    auto result = run_wabridge({"check-config", "-c", path}, dir.path());
    INFO(name << "\nstdout: " << result.out << "\nstderr: " << result.err);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "OK"));
  }
}

TEST_CASE("check-config rejects bad configs naming file, line and key", "[blackbox][cli]") {
  temp_dir dir;
  const std::vector<bad_config_case> cases = {
      {"unknown key in [bridge]",
       "[bridge]\nlisten = \"127.0.0.1:3999\"\ncolour = \"blue\"\n\n[[account]]\nname = \"main\"\n",
       3, "bridge.colour"},
      {"negative sim rate",
       "[[account]]\nname = \"main\"\nupstream = \"sim\"\n\n[account.sim]\nrate = -1.0\n", 6,
       "account[0].sim.rate"},
      {"unknown upstream kind", "[[account]]\nname = \"main\"\nupstream = \"telegram\"\n", 3,
       "account[0].upstream"},
      {"listen without a port", "[bridge]\nlisten = \"nowhere\"\n\n[[account]]\nname = \"main\"\n",
       2, "bridge.listen"},
      {"account name with capitals", "[[account]]\nname = \"Main!\"\n", 2, "account[0].name"},
      {"duplicate account names", "[[account]]\nname = \"a\"\n\n[[account]]\nname = \"a\"\n", 5,
       "account[1].name"},
      {"default account that does not exist",
       "[bridge]\ndefault_account = \"ghost\"\n\n[[account]]\nname = \"main\"\n", 2,
       "bridge.default_account"},
      {"duration without a unit",
       "[supervisor]\ndrain_timeout = \"soon\"\n\n[[account]]\nname = \"main\"\n", 2,
       "supervisor.drain_timeout"},
      {"TOML syntax error", "[bridge\nlisten = \"127.0.0.1:3999\"\n", 1, ""},
  };
  int n = 0;
  for (const auto& c : cases) {
    const std::string path = dir.file("bad-" + std::to_string(++n) + ".toml");
    write_file(path, c.text);
    auto result = run_wabridge({"check-config", "-c", path}, dir.path());
    INFO(c.what << "\nconfig:\n"
                << c.text << "\nstdout: " << result.out << "\nstderr: " << result.err);
    CHECK(result.exit_code != 0);
    CHECK(contains(result.err, path + ":" + std::to_string(c.line) + ":"));
    if (!c.key.empty()) CHECK(contains(result.err, c.key));
  }
}

TEST_CASE("check-config reports every problem of a file, not just the first", "[blackbox][cli]") {
  temp_dir dir;
  const std::string path = dir.file("two-problems.toml");
  write_file(path,
             "[bridge]\nlisten = \"127.0.0.1:3999\"\ncolour = \"blue\"\n\n"
             "[[account]]\nname = \"main\"\nupstream = \"sim\"\n\n[account.sim]\nrate = -1.0\n");
  auto result = run_wabridge({"check-config", "-c", path}, dir.path());
  INFO("stderr: " << result.err);
  CHECK(result.exit_code != 0);
  CHECK(contains(result.err, path + ":3:"));
  CHECK(contains(result.err, "bridge.colour"));
  CHECK(contains(result.err, path + ":10:"));
  CHECK(contains(result.err, "account[0].sim.rate"));
}

TEST_CASE("check-config on a missing file fails and names it", "[blackbox][cli]") {
  temp_dir dir;
  const std::string path = dir.file("does-not-exist.toml");
  auto result = run_wabridge({"check-config", "-c", path}, dir.path());
  INFO("stderr: " << result.err);
  CHECK(result.exit_code != 0);
  CHECK(contains(result.err, path));
}

TEST_CASE("help lists the public subcommands and hides the internal ones", "[blackbox][cli]") {
  temp_dir dir;
  auto result = run_wabridge({"--help"}, dir.path());
  const std::string text = result.out + result.err;
  INFO(text);
  CHECK(result.exit_code == 0);
  CHECK(contains(text, "run"));
  CHECK(contains(text, "status"));
  CHECK(contains(text, "check-config"));
  CHECK_FALSE(contains(text, "worker"));
  CHECK_FALSE(contains(text, "sim-upstream"));
}

TEST_CASE("run with a bad config exits non-zero and starts nothing", "[blackbox][cli]") {
  temp_dir dir;
  const uint16_t port = free_loopback_port();
  const std::string data_dir = dir.file("data-must-not-appear");
  const std::string path = dir.file("bad.toml");
  write_file(path, "[bridge]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\ndata_dir = \"" +
                       data_dir +
                       "\"\n\n[[account]]\nname = \"main\"\nupstream = \"sim\"\n\n"
                       "[account.sim]\nrate = \"fast\"\n");
  auto result = run_wabridge({"run", "-c", path}, dir.path());
  INFO("stdout: " << result.out << "\nstderr: " << result.err);
  CHECK(result.exit_code != 0);
  CHECK(contains(result.err, path + ":10:"));
  CHECK(contains(result.err, "account[0].sim.rate"));
  CHECK_FALSE(path_exists(data_dir));
  // Nothing may be listening: the process is gone and never bound the port.
  CHECK(http_client(port).get("/health").status == 0);
}

TEST_CASE("status exits 2 when no bridge is running", "[blackbox][cli]") {
  temp_dir dir;
  const uint16_t port = free_loopback_port();
  bridge_options options;
  options.port = port;
  options.data_dir = dir.file("data");
  options.accounts = {sim_account{"main"}};
  write_file(dir.file("cfg.toml"), config_text(options));

  auto text = run_wabridge({"status", "-c", dir.file("cfg.toml")}, dir.path());
  INFO("stdout: " << text.out << "\nstderr: " << text.err);
  CHECK(text.exit_code == 2);
  CHECK(contains(text.out + text.err, "not running"));

  auto machine = run_wabridge({"status", "-c", dir.file("cfg.toml"), "--json"}, dir.path());
  INFO("json stdout: " << machine.out << "\nstderr: " << machine.err);
  CHECK(machine.exit_code == 2);
  auto parsed = json::parse(machine.out, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  CHECK(bool_field(parsed, "running", true) == false);
}

TEST_CASE("status prints the account table of a running bridge", "[blackbox][cli]") {
  // The default account has a token: status must pick it up from the config.
  running_bridge bridge(
      {sim_account{"main", 50.0, 100, 1, "main-token"}, sim_account{"support", 20.0, 40, 2, ""}});
  bridge.wait_connected("main");
  bridge.wait_connected("support");

  auto text = run_wabridge({"status", "-c", bridge.config_path}, bridge.dir.path());
  INFO("stdout: " << text.out << "\nstderr: " << text.err);
  CHECK(text.exit_code == 0);
  CHECK(contains(text.out, "ACCOUNT"));
  CHECK(contains(text.out, "main"));
  CHECK(contains(text.out, "support"));
  CHECK(contains(text.out, "healthy"));

  auto machine = run_wabridge({"status", "-c", bridge.config_path, "--json"}, bridge.dir.path());
  INFO("json stdout: " << machine.out << "\nstderr: " << machine.err);
  CHECK(machine.exit_code == 0);
  auto parsed = json::parse(machine.out, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  CHECK(bool_field(parsed, "running", false) == true);
  REQUIRE(parsed.contains("accounts"));
  REQUIRE(parsed["accounts"].is_array());
  CHECK(parsed["accounts"].size() == 2);

  // --url instead of a config: the token then has to be given explicitly.
  const std::string url = "http://127.0.0.1:" + std::to_string(bridge.options.port);
  auto by_url =
      run_wabridge({"status", "--url", url, "--token", "main-token", "--json"}, bridge.dir.path());
  INFO("by url: " << by_url.out << by_url.err);
  CHECK(by_url.exit_code == 0);
}

TEST_CASE("status exits 1 and says DEGRADED when an account's upstream is down",
          "[blackbox][cli]") {
  temp_dir dir;
  bridge_options options;
  options.port = free_loopback_port();
  options.data_dir = dir.file("data");
  options.accounts = {sim_account{"main", 20.0, 40}};
  // A Baileys account whose node binary does not exist never connects.
  write_file(dir.file("cfg.toml"), config_text(options) +
                                       "[[account]]\nname = \"phone\"\nupstream = \"baileys\"\n\n"
                                       "[account.baileys]\nnode = \"/nonexistent/node\"\n");
  bridge_process bridge(dir.file("cfg.toml"), dir.file("bridge.log"), options.port);
  bridge.start();
  const http_client client(options.port);
  REQUIRE(eventually(
      [&] { return string_field(client.get_json("/health"), "status") == "connected"; }, 20s));

  auto text = run_wabridge({"status", "-c", dir.file("cfg.toml")}, dir.path());
  INFO("stdout: " << text.out << "\nstderr: " << text.err);
  CHECK(text.exit_code == 1);
  CHECK(contains(text.out, "DEGRADED"));
  CHECK(contains(text.out, "phone"));

  auto machine = run_wabridge({"status", "-c", dir.file("cfg.toml"), "--json"}, dir.path());
  INFO("json: " << machine.out);
  CHECK(machine.exit_code == 1);
  auto parsed = json::parse(machine.out, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  CHECK(bool_field(parsed, "healthy", true) == false);
}

TEST_CASE("run refuses a data dir that another running bridge holds", "[blackbox][cli]") {
  running_bridge first({sim_account{"main", 20.0, 40}});
  bridge_options second = first.options;
  second.port = free_loopback_port();
  write_file(first.dir.file("second.toml"), config_text(second));

  auto result = run_wabridge({"run", "-c", first.dir.file("second.toml")}, first.dir.path(), 20s);
  INFO("stdout: " << result.out << "\nstderr: " << result.err);
  CHECK(result.exit_code != 0);
  CHECK(contains(result.err, first.data_dir()));
  CHECK(http_client(second.port).get("/health").status == 0);
  // The first bridge did not notice.
  CHECK(first.process.running());
  CHECK(first.client().get("/health").status == 200);
}

TEST_CASE("run exits non-zero when its port is taken and leaves no process behind",
          "[blackbox][cli]") {
  temp_dir dir;
  // Hold a listening socket on the port the config names.
  const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(holder >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(holder, 4) == 0);
  REQUIRE(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len) == 0);

  bridge_options options;
  options.port = ntohs(addr.sin_port);
  options.data_dir = dir.file("data");
  options.accounts = {sim_account{"main", 20.0, 40}};
  write_file(dir.file("cfg.toml"), config_text(options));
  bridge_process bridge(dir.file("cfg.toml"), dir.file("bridge.log"), options.port);
  bridge.spawn();
  const bool exited = bridge.wait_exit(20s);
  ::close(holder);
  INFO("log:\n" << bridge.log());
  REQUIRE(exited);
  CHECK(bridge.exit_code() != 0);
  CHECK(contains(bridge.log(), "127.0.0.1:" + std::to_string(options.port)));
  CHECK(bridge.group_gone(5s));
}
