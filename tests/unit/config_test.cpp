// Unit tests for the config loader (config/config.hpp): the shipped demo and
// example files, defaults, path resolution, and every validation rule, each
// checked for the key and line an operator would be pointed at.
#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace fs = std::filesystem;
using namespace wabridge;

namespace {

// Smallest valid document; tests append or prepend the part they exercise.
const std::string one_account = "[[account]]\nname = \"main\"\n";

std::string describe(const std::vector<config_problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += to_string(p) + "\n";
  return out;
}

std::vector<config_problem> problems_of(const std::string& text) {
  auto result = parse_config(text, "test.toml", "/base");
  if (auto* problems = std::get_if<std::vector<config_problem>>(&result)) return *problems;
  return {};
}

bridge_config config_of(const std::string& text, const std::string& base_dir = "/base") {
  auto result = parse_config(text, "test.toml", base_dir);
  if (auto* problems = std::get_if<std::vector<config_problem>>(&result)) {
    FAIL("unexpected problems:\n" << describe(*problems));
  }
  return std::get<bridge_config>(result);
}

// Requires a problem for `key` on `line` whose message contains `fragment`.
void require_problem(const std::string& text, const std::string& key, uint32_t line,
                     const std::string& fragment = "") {
  const auto problems = problems_of(text);
  INFO("document:\n" << text << "\nproblems:\n" << describe(problems));
  bool found = false;
  for (const auto& p : problems) {
    if (p.key == key && p.line == line && p.message.find(fragment) != std::string::npos)
      found = true;
  }
  REQUIRE(found);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  // Not istreambuf_iterator: g++ 12 flags it with a false -Wnull-dereference.
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory under the system temp dir, removed again at scope exit.
class temp_dir {
 public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("wabridge_config_test_" + std::to_string(::getpid()) +
                                         "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const fs::path& path() const { return path_; }

  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }

 private:
  fs::path path_;
};

}  // namespace

// --- shipped files --------------------------------------------------------

TEST_CASE("embedded demo text is byte-identical to config/demo.toml", "[config]") {
  const std::string on_disk = read_file(fs::path(WABRIDGE_SOURCE_DIR) / "config" / "demo.toml");
  REQUIRE(on_disk == demo_config_text());
}

TEST_CASE("demo config loads with two sim accounts and data under the working directory",
          "[config]") {
  auto result = load_demo_config();
  if (auto* problems = std::get_if<std::vector<config_problem>>(&result)) FAIL(describe(*problems));
  const auto& config = std::get<bridge_config>(result);
  CHECK(config.source_path.empty());
  CHECK(config.bridge.listen_host == "127.0.0.1");
  CHECK(config.bridge.listen_port == 3000);
  CHECK(config.bridge.data_dir == (fs::current_path() / "data").lexically_normal().string());
  CHECK(config.bridge.default_account == "main");
  CHECK(config.supervisor.drain_timeout == millis{10'000});
  REQUIRE(config.accounts.size() == 2);
  CHECK(config.accounts[0].name == "main");
  CHECK(config.accounts[0].upstream == upstream_kind::sim);
  CHECK(config.accounts[0].sim.rate == 5.0);
  CHECK(config.accounts[0].sim.total == 0);
  CHECK(config.accounts[1].name == "support");
  CHECK(config.accounts[1].sim.rate == 2.0);
  CHECK(config.accounts[1].sim.total == 0);
  CHECK(config.accounts[0].sim.seed != config.accounts[1].sim.seed);
}

TEST_CASE("example config loads without problems and states every default", "[config]") {
  const fs::path path = fs::path(WABRIDGE_SOURCE_DIR) / "config" / "example.toml";
  auto result = load_config_file(path.string());
  if (auto* problems = std::get_if<std::vector<config_problem>>(&result)) FAIL(describe(*problems));
  const auto& config = std::get<bridge_config>(result);

  // The example documents the defaults, so it must agree with the structs.
  const bridge_config defaults;
  CHECK(config.source_path == fs::absolute(path).lexically_normal().string());
  CHECK(config.bridge.listen == defaults.bridge.listen);
  CHECK(config.bridge.listen_host == defaults.bridge.listen_host);
  CHECK(config.bridge.listen_port == defaults.bridge.listen_port);
  CHECK(config.bridge.data_dir ==
        (fs::absolute(path).parent_path() / "data").lexically_normal().string());
  CHECK(config.bridge.default_account == "main");

  CHECK(config.supervisor.drain_timeout == defaults.supervisor.drain_timeout);
  CHECK(config.supervisor.backoff_initial == defaults.supervisor.backoff_initial);
  CHECK(config.supervisor.backoff_max == defaults.supervisor.backoff_max);
  CHECK(config.supervisor.stable_after == defaults.supervisor.stable_after);
  CHECK(config.supervisor.intensity_max == defaults.supervisor.intensity_max);
  CHECK(config.supervisor.intensity_window == defaults.supervisor.intensity_window);

  CHECK(config.journal.retain_acked == defaults.journal.retain_acked);
  CHECK(config.journal.dedupe_window == defaults.journal.dedupe_window);
  CHECK(config.journal.map_size == defaults.journal.map_size);
  CHECK(config.journal.max_map_size == defaults.journal.max_map_size);
  CHECK(config.journal.max_batch == defaults.journal.max_batch);

  CHECK(config.http.threads == defaults.http.threads);
  CHECK(config.http.max_body_bytes == defaults.http.max_body_bytes);
  CHECK(config.http.max_wait == defaults.http.max_wait);
  CHECK(config.http.max_limit == defaults.http.max_limit);
  CHECK(config.http.read_timeout == defaults.http.read_timeout);
  CHECK(config.http.write_timeout == defaults.http.write_timeout);

  CHECK(config.log.level == defaults.log.level);

  REQUIRE(config.accounts.size() == 1);
  const account_config account_defaults;
  const auto& account = config.accounts[0];
  CHECK(account.name == "main");
  CHECK(account.upstream == account_defaults.upstream);
  CHECK(account.token == account_defaults.token);
  CHECK(account.sim.rate == account_defaults.sim.rate);
  CHECK(account.sim.total == account_defaults.sim.total);
  CHECK(account.sim.seed == account_defaults.sim.seed);
  CHECK(account.sim.body_bytes == account_defaults.sim.body_bytes);
  CHECK(account.sim.chats == account_defaults.sim.chats);
}

TEST_CASE("example config's commented-out baileys account loads when uncommented", "[config]") {
  std::string text = read_file(fs::path(WABRIDGE_SOURCE_DIR) / "config" / "example.toml");
  const auto start = text.find("# [[account]]");
  REQUIRE(start != std::string::npos);
  // Uncomment the block: "# key" -> "key", "# # comment" -> "# comment".
  std::istringstream tail(text.substr(start));
  std::string uncommented;
  for (std::string line; std::getline(tail, line);) {
    if (line.rfind("# ", 0) == 0) line = line.substr(2);
    uncommented += line + "\n";
  }
  const auto config = config_of(text.substr(0, start) + uncommented, "/etc/wabridge");
  REQUIRE(config.accounts.size() == 2);
  CHECK(config.accounts[1].name == "phone");
  CHECK(config.accounts[1].upstream == upstream_kind::baileys);
  CHECK(config.accounts[1].token == "change-me");
  CHECK(config.accounts[1].baileys.node == "node");
  CHECK(config.accounts[1].baileys.sidecar_dir.empty());
}

// --- defaults and paths ---------------------------------------------------

TEST_CASE("a config with only one account gets the default for every other key", "[config]") {
  const auto config = config_of(one_account);
  const bridge_config defaults;
  CHECK(config.bridge.listen == "127.0.0.1:3000");
  CHECK(config.bridge.listen_host == "127.0.0.1");
  CHECK(config.bridge.listen_port == 3000);
  CHECK(config.bridge.data_dir == "/base/data");
  CHECK(config.bridge.default_account == "main");
  CHECK(config.supervisor.drain_timeout == millis{10'000});
  CHECK(config.supervisor.backoff_initial == defaults.supervisor.backoff_initial);
  CHECK(config.supervisor.intensity_max == defaults.supervisor.intensity_max);
  CHECK(config.journal.map_size == defaults.journal.map_size);
  CHECK(config.journal.max_map_size == defaults.journal.max_map_size);
  CHECK(config.journal.max_batch == defaults.journal.max_batch);
  CHECK(config.http.threads == defaults.http.threads);
  CHECK(config.http.max_limit == defaults.http.max_limit);
  CHECK(config.log.level == "info");
  REQUIRE(config.accounts.size() == 1);
  CHECK(config.accounts[0].upstream == upstream_kind::sim);
  CHECK(config.accounts[0].token.empty());
  CHECK(config.accounts[0].sim.rate == 5.0);
  CHECK(config.accounts[0].sim.chats == 50);
  CHECK(config.accounts[0].baileys.node == "node");
}

TEST_CASE("every key is read into the config when valid", "[config]") {
  const auto config = config_of(R"(
[bridge]
listen = "[::1]:0"
data_dir = "/var/lib/wabridge"
default_account = "b"
[supervisor]
drain_timeout = "3s"
backoff_initial = "1s"
backoff_max = "1m"
stable_after = "2m"
intensity_max = 3
intensity_window = "5m"
[journal]
retain_acked = "0"
dedupe_window = "1d"
map_size = 2097152
max_map_size = "8MiB"
max_batch = 65536
[http]
threads = 256
max_body_bytes = "64KiB"
max_wait = "30s"
max_limit = 100000
read_timeout = "5s"
write_timeout = "6s"
[log]
level = "debug"
[[account]]
name = "a"
token = "s3cret"
[account.sim]
rate = 0
total = 100
seed = 0
body_bytes = 65536
chats = 1
[[account]]
name = "b"
upstream = "baileys"
[account.baileys]
node = "/usr/bin/node"
sidecar_dir = "sidecar"
)");
  CHECK(config.bridge.listen == "[::1]:0");
  CHECK(config.bridge.listen_host == "::1");
  CHECK(config.bridge.listen_port == 0);
  CHECK(config.bridge.data_dir == "/var/lib/wabridge");
  CHECK(config.bridge.default_account == "b");
  CHECK(config.supervisor.drain_timeout == millis{3000});
  CHECK(config.supervisor.backoff_initial == millis{1000});
  CHECK(config.supervisor.backoff_max == millis{60'000});
  CHECK(config.supervisor.stable_after == millis{120'000});
  CHECK(config.supervisor.intensity_max == 3);
  CHECK(config.supervisor.intensity_window == millis{300'000});
  CHECK(config.journal.retain_acked == millis{0});
  CHECK(config.journal.dedupe_window == millis{86'400'000});
  CHECK(config.journal.map_size == 2097152);
  CHECK(config.journal.max_map_size == (8ull << 20));
  CHECK(config.journal.max_batch == 65536);
  CHECK(config.http.threads == 256);
  CHECK(config.http.max_body_bytes == 65536);
  CHECK(config.http.max_wait == millis{30'000});
  CHECK(config.http.max_limit == 100000);
  CHECK(config.http.read_timeout == millis{5000});
  CHECK(config.http.write_timeout == millis{6000});
  CHECK(config.log.level == "debug");
  REQUIRE(config.accounts.size() == 2);
  CHECK(config.accounts[0].token == "s3cret");
  CHECK(config.accounts[0].sim.rate == 0.0);
  CHECK(config.accounts[0].sim.total == 100);
  CHECK(config.accounts[0].sim.seed == 0);
  CHECK(config.accounts[0].sim.body_bytes == 65536);
  CHECK(config.accounts[0].sim.chats == 1);
  CHECK(config.accounts[1].upstream == upstream_kind::baileys);
  CHECK(config.accounts[1].baileys.node == "/usr/bin/node");
  CHECK(config.accounts[1].baileys.sidecar_dir == "/base/sidecar");
  CHECK(config.find_account("b") == &config.accounts[1]);
}

TEST_CASE("relative data_dir resolves against the base directory", "[config]") {
  CHECK(config_of("[bridge]\ndata_dir = \"./data\"\n" + one_account, "/etc/wabridge")
            .bridge.data_dir == "/etc/wabridge/data");
  CHECK(config_of("[bridge]\ndata_dir = \"../state/x\"\n" + one_account, "/etc/wabridge")
            .bridge.data_dir == "/etc/state/x");
  CHECK(config_of("[bridge]\ndata_dir = \"/srv/wa\"\n" + one_account, "/etc/wabridge")
            .bridge.data_dir == "/srv/wa");
}

TEST_CASE("empty base directory resolves relative data_dir against the working directory",
          "[config]") {
  CHECK(config_of(one_account, "").bridge.data_dir ==
        (fs::current_path() / "data").lexically_normal().string());
}

TEST_CASE("load_config_file resolves data_dir against the file's own directory", "[config]") {
  temp_dir dir;
  const fs::path file = dir.write("bridge.toml", "[bridge]\ndata_dir = \"state\"\n" + one_account);
  auto result = load_config_file(file.string());
  if (auto* problems = std::get_if<std::vector<config_problem>>(&result)) FAIL(describe(*problems));
  const auto& config = std::get<bridge_config>(result);
  CHECK(config.bridge.data_dir == (dir.path() / "state").lexically_normal().string());
  CHECK(config.source_path == file.lexically_normal().string());
}

TEST_CASE("load_config_file names the file in its problems", "[config]") {
  temp_dir dir;
  const fs::path file = dir.write("bad.toml", one_account + "[log]\nlevel = \"loud\"\n");
  auto result = load_config_file(file.string());
  REQUIRE(std::holds_alternative<std::vector<config_problem>>(result));
  const auto& problems = std::get<std::vector<config_problem>>(result);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].file == file.string());
  CHECK(problems[0].line == 4);
  CHECK(problems[0].key == "log.level");
}

TEST_CASE("missing config file is one problem saying it cannot be read", "[config]") {
  temp_dir dir;
  const std::string path = (dir.path() / "nope.toml").string();
  auto result = load_config_file(path);
  REQUIRE(std::holds_alternative<std::vector<config_problem>>(result));
  const auto& problems = std::get<std::vector<config_problem>>(result);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].file == path);
  CHECK(problems[0].line == 0);
  CHECK(problems[0].message.find("cannot read") != std::string::npos);
  CHECK(problems[0].message.find("No such file") != std::string::npos);
}

TEST_CASE("a directory given as the config file is one problem", "[config]") {
  temp_dir dir;
  auto result = load_config_file(dir.path().string());
  REQUIRE(std::holds_alternative<std::vector<config_problem>>(result));
  const auto& problems = std::get<std::vector<config_problem>>(result);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("cannot read") != std::string::npos);
}

// --- syntax and structure -------------------------------------------------

TEST_CASE("syntax error is one problem at the parser's line", "[config]") {
  const auto problems = problems_of("[bridge]\nlisten = \"127.0.0.1:3000\"\ndata_dir = \n");
  INFO(describe(problems));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].file == "test.toml");
  CHECK(problems[0].line == 3);
  CHECK(problems[0].column > 0);
  CHECK(problems[0].key.empty());
  CHECK_FALSE(problems[0].message.empty());
}

TEST_CASE("duplicate key is a syntax problem", "[config]") {
  const auto problems = problems_of(one_account + "name = \"again\"\n");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].line == 3);
}

TEST_CASE("unknown keys and tables are problems at their own line", "[config]") {
  require_problem("[bridge]\nlisten = \"127.0.0.1:1\"\nlisten_adress = \"x\"\n" + one_account,
                  "bridge.listen_adress", 3, "unknown key");
  require_problem("[brige]\nlisten = \"127.0.0.1:1\"\n" + one_account, "brige", 1, "unknown table");
  require_problem("verbose = true\n" + one_account, "verbose", 1, "unknown key");
  require_problem(one_account + "nmae = \"x\"\n", "account[0].nmae", 3, "unknown key");
  require_problem(one_account + "[account.sim]\nrat = 1\n", "account[0].sim.rat", 4, "unknown key");
  require_problem(one_account + "[account.baileys]\nnode = \"node\"\nport = 1\n",
                  "account[0].baileys.port", 5, "unknown key");
  require_problem("[supervisor]\ndrain = \"1s\"\n" + one_account, "supervisor.drain", 2);
  require_problem("[journal]\nsize = 1\n" + one_account, "journal.size", 2);
  require_problem("[http]\nport = 1\n" + one_account, "http.port", 2);
  require_problem("[log]\nfile = \"x\"\n" + one_account, "log.file", 2);
}

TEST_CASE("a section that is not a table is a problem", "[config]") {
  require_problem("bridge = \"x\"\n" + one_account, "bridge", 1, "must be a table");
  require_problem(one_account + "sim = 5\n", "account[0].sim", 3, "must be a table");
}

TEST_CASE("several problems are reported together in line order", "[config]") {
  const auto problems = problems_of(R"([bridge]
listen = "nowhere"
[http]
threads = 0
[log]
level = "loud"
[[account]]
name = "Main"
[account.sim]
rate = -1
)");
  INFO(describe(problems));
  REQUIRE(problems.size() == 5);
  CHECK(problems[0].key == "bridge.listen");
  CHECK(problems[0].line == 2);
  CHECK(problems[1].key == "http.threads");
  CHECK(problems[1].line == 4);
  CHECK(problems[2].key == "log.level");
  CHECK(problems[2].line == 6);
  CHECK(problems[3].key == "account[0].name");
  CHECK(problems[3].line == 8);
  CHECK(problems[4].key == "account[0].sim.rate");
  CHECK(problems[4].line == 10);
}

// --- [bridge] -------------------------------------------------------------

TEST_CASE("listen accepts IPv4 or localhost or bracketed IPv6 with a port", "[config]") {
  auto listen = [](const std::string& value) {
    return config_of("[bridge]\nlisten = \"" + value + "\"\n" + one_account).bridge;
  };
  CHECK(listen("0.0.0.0:8080").listen_host == "0.0.0.0");
  CHECK(listen("0.0.0.0:8080").listen_port == 8080);
  CHECK(listen("localhost:65535").listen_host == "localhost");
  CHECK(listen("localhost:65535").listen_port == 65535);
  CHECK(listen("[::1]:3000").listen_host == "::1");
  CHECK(listen("[::]:1").listen_host == "::");
  CHECK(listen("127.0.0.1:0").listen_port == 0);
}

TEST_CASE("listen without a valid host or port is a problem on its line", "[config]") {
  for (const std::string bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                                "127.0.0.1:http", "example.com:80", "1.2.3:80", "256.1.1.1:80",
                                "::1:3000", "[::1]3000", "[::1", "[zz]:80", ":3000", ""}) {
    INFO("listen = " << bad);
    require_problem("\n[bridge]\nlisten = \"" + bad + "\"\n" + one_account, "bridge.listen", 3);
  }
  require_problem("[bridge]\nlisten = 3000\n" + one_account, "bridge.listen", 2,
                  "must be a string");
}

TEST_CASE("strings with NUL characters are a problem", "[config]") {
  require_problem("[bridge]\nlisten = \"127.0.0.1\\u0000x:80\"\n" + one_account, "bridge.listen", 2,
                  "NUL");
  require_problem("[bridge]\ndata_dir = \"a\\u0000b\"\n" + one_account, "bridge.data_dir", 2,
                  "NUL");
}

TEST_CASE("empty or non-string data_dir is a problem", "[config]") {
  require_problem("[bridge]\ndata_dir = \"\"\n" + one_account, "bridge.data_dir", 2,
                  "must not be empty");
  require_problem("[bridge]\ndata_dir = 1\n" + one_account, "bridge.data_dir", 2,
                  "must be a string");
}

TEST_CASE("default_account must name an existing account", "[config]") {
  require_problem("[bridge]\ndefault_account = \"other\"\n" + one_account, "bridge.default_account",
                  2, "other");
  require_problem("[bridge]\ndefault_account = 1\n" + one_account, "bridge.default_account", 2,
                  "must be a string");
}

TEST_CASE("empty default_account becomes the first account's name", "[config]") {
  const auto config = config_of(
      "[bridge]\ndefault_account = \"\"\n[[account]]\nname = \"x\"\n[[account]]\nname = "
      "\"y\"\n");
  CHECK(config.bridge.default_account == "x");
}

// --- [supervisor] ---------------------------------------------------------

TEST_CASE("supervisor durations must be positive duration strings", "[config]") {
  for (const std::string key :
       {"drain_timeout", "backoff_initial", "backoff_max", "stable_after", "intensity_window"}) {
    INFO(key);
    require_problem("[supervisor]\n" + key + " = \"10 parsecs\"\n" + one_account,
                    "supervisor." + key, 2, "duration");
    require_problem("[supervisor]\n" + key + " = 10\n" + one_account, "supervisor." + key, 2,
                    "duration");
    require_problem("[supervisor]\n" + key + " = \"0s\"\n" + one_account, "supervisor." + key, 2,
                    "greater than 0");
  }
}

TEST_CASE("intensity_max must be an integer of at least 1", "[config]") {
  require_problem("[supervisor]\nintensity_max = 0\n" + one_account, "supervisor.intensity_max", 2,
                  ">= 1");
  require_problem("[supervisor]\nintensity_max = 1.5\n" + one_account, "supervisor.intensity_max",
                  2, "must be an integer");
  CHECK(config_of("[supervisor]\nintensity_max = 1\n" + one_account).supervisor.intensity_max == 1);
}

TEST_CASE("backoff_initial above backoff_max is a problem", "[config]") {
  require_problem("[supervisor]\nbackoff_max = \"1s\"\nbackoff_initial = \"2s\"\n" + one_account,
                  "supervisor.backoff_initial", 3, "backoff_max");
  // Against the default backoff_max (30s), with only backoff_initial set.
  require_problem("[supervisor]\nbackoff_initial = \"1m\"\n" + one_account,
                  "supervisor.backoff_initial", 2, "30s");
  // Equal is fine.
  CHECK(config_of("[supervisor]\nbackoff_initial = \"5s\"\nbackoff_max = \"5s\"\n" + one_account)
            .supervisor.backoff_max == millis{5000});
}

TEST_CASE("an invalid backoff value is reported once and not again as a comparison", "[config]") {
  const auto problems =
      problems_of("[supervisor]\nbackoff_initial = \"1h\"\nbackoff_max = \"x\"\n" + one_account);
  INFO(describe(problems));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].key == "supervisor.backoff_max");
}

// --- [journal] ------------------------------------------------------------

TEST_CASE("journal durations are validated and retain_acked may be zero", "[config]") {
  require_problem("[journal]\nretain_acked = \"soon\"\n" + one_account, "journal.retain_acked", 2,
                  "duration");
  require_problem("[journal]\ndedupe_window = \"0\"\n" + one_account, "journal.dedupe_window", 2,
                  "greater than 0");
  CHECK(config_of("[journal]\nretain_acked = \"0\"\n" + one_account).journal.retain_acked ==
        millis{0});
}

TEST_CASE("map_size accepts a size string or byte count of at least 1MiB", "[config]") {
  CHECK(config_of("[journal]\nmap_size = \"4GiB\"\n" + one_account).journal.map_size ==
        (4ull << 30));
  CHECK(config_of("[journal]\nmap_size = 1048576\n" + one_account).journal.map_size == 1048576);
  require_problem("[journal]\nmap_size = \"512KiB\"\n" + one_account, "journal.map_size", 2,
                  "at least 1MiB");
  require_problem("[journal]\nmap_size = 1048575\n" + one_account, "journal.map_size", 2,
                  "at least 1MiB");
  require_problem("[journal]\nmap_size = -1\n" + one_account, "journal.map_size", 2, "size");
  require_problem("[journal]\nmap_size = \"big\"\n" + one_account, "journal.map_size", 2, "size");
  require_problem("[journal]\nmap_size = 1.5\n" + one_account, "journal.map_size", 2, "size");
}

TEST_CASE("max_map_size is 0 (never grow) by default, else at least map_size", "[config]") {
  CHECK(bridge_config{}.journal.max_map_size == 0);
  CHECK(config_of(one_account).journal.max_map_size == 0);
  CHECK(config_of("[journal]\nmax_map_size = \"0\"\n" + one_account).journal.max_map_size == 0);
  CHECK(config_of("[journal]\nmax_map_size = 0\n" + one_account).journal.max_map_size == 0);
  const auto grown =
      config_of("[journal]\nmap_size = \"64MiB\"\nmax_map_size = \"8GiB\"\n" + one_account);
  CHECK(grown.journal.map_size == (64ull << 20));
  CHECK(grown.journal.max_map_size == (8ull << 30));
  // Equal to map_size is allowed (and means no growth, like 0).
  CHECK(config_of("[journal]\nmax_map_size = \"1GiB\"\n" + one_account).journal.max_map_size ==
        (1ull << 30));
  // Below map_size (given or default) contradicts map_size.
  require_problem("[journal]\nmap_size = \"64MiB\"\nmax_map_size = \"32MiB\"\n" + one_account,
                  "journal.max_map_size", 3, "at least journal.map_size");
  require_problem("[journal]\nmax_map_size = \"512MiB\"\n" + one_account, "journal.max_map_size", 2,
                  "at least journal.map_size");
  require_problem("[journal]\nmax_map_size = \"lots\"\n" + one_account, "journal.max_map_size", 2,
                  "size");
  require_problem("[journal]\nmax_map_size = -5\n" + one_account, "journal.max_map_size", 2,
                  "size");
  require_problem("[journal]\nmax_map_size = true\n" + one_account, "journal.max_map_size", 2,
                  "size");
  // A broken map_size is reported once, not again as a max_map_size problem.
  const auto problems =
      problems_of("[journal]\nmap_size = \"big\"\nmax_map_size = \"2MiB\"\n" + one_account);
  CHECK(problems.size() == 1);
}

TEST_CASE("max_batch must be 1..65536", "[config]") {
  require_problem("[journal]\nmax_batch = 0\n" + one_account, "journal.max_batch", 2,
                  "between 1 and 65536");
  require_problem("[journal]\nmax_batch = 65537\n" + one_account, "journal.max_batch", 2);
  require_problem("[journal]\nmax_batch = \"10\"\n" + one_account, "journal.max_batch", 2,
                  "must be an integer");
}

// --- [http] ---------------------------------------------------------------

TEST_CASE("http limits are range-checked", "[config]") {
  require_problem("[http]\nthreads = 0\n" + one_account, "http.threads", 2, "between 1 and 256");
  require_problem("[http]\nthreads = 257\n" + one_account, "http.threads", 2);
  require_problem("[http]\nmax_limit = 0\n" + one_account, "http.max_limit", 2);
  require_problem("[http]\nmax_limit = 100001\n" + one_account, "http.max_limit", 2);
  require_problem("[http]\nmax_body_bytes = \"1 elephant\"\n" + one_account, "http.max_body_bytes",
                  2, "size");
  require_problem("[http]\nmax_body_bytes = 10\n" + one_account, "http.max_body_bytes", 2,
                  "at least 1KiB");
  CHECK(config_of("[http]\nmax_body_bytes = 4096\n" + one_account).http.max_body_bytes == 4096);
}

TEST_CASE("http timeouts must be positive durations", "[config]") {
  for (const std::string key : {"max_wait", "read_timeout", "write_timeout"}) {
    INFO(key);
    require_problem("[http]\n" + key + " = \"fast\"\n" + one_account, "http." + key, 2, "duration");
    require_problem("[http]\n" + key + " = \"0ms\"\n" + one_account, "http." + key, 2,
                    "greater than 0");
  }
}

// --- [log] ----------------------------------------------------------------

TEST_CASE("log level must be a known level", "[config]") {
  for (const std::string level : {"trace", "debug", "info", "warn", "error"})
    CHECK(config_of("[log]\nlevel = \"" + level + "\"\n" + one_account).log.level == level);
  require_problem("[log]\nlevel = \"verbose\"\n" + one_account, "log.level", 2, "one of");
  require_problem("[log]\nlevel = \"INFO\"\n" + one_account, "log.level", 2, "one of");
}

// --- [[account]] ----------------------------------------------------------

TEST_CASE("at least one account is required", "[config]") {
  const auto problems = problems_of("[bridge]\nlisten = \"127.0.0.1:1\"\n");
  INFO(describe(problems));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].key == "account");
  CHECK(problems[0].line == 0);
  require_problem("account = []\n", "account", 1, "at least one");
  require_problem("account = 5\n", "account", 1, "array of tables");
  require_problem("account = [1, 2]\n", "account", 1, "array of tables");
}

TEST_CASE("account name is required and limited to 1-32 of a-z 0-9 _ -", "[config]") {
  require_problem("[[account]]\nupstream = \"sim\"\n", "account[0].name", 1, "required");
  require_problem("[[account]]\nname = 5\n", "account[0].name", 2, "must be a string");
  const std::vector<std::string> bad_names = {"", "Main", "a b", "ü", "a.b", std::string(33, 'a')};
  for (const auto& bad : bad_names) {
    INFO("name = " << bad);
    require_problem("[[account]]\nname = \"" + bad + "\"\n", "account[0].name", 2, "1-32");
  }
  CHECK(config_of("[[account]]\nname = \"" + std::string(32, 'z') + "\"\n").accounts.size() == 1);
  CHECK(config_of("[[account]]\nname = \"a_b-9\"\n").accounts[0].name == "a_b-9");
}

TEST_CASE("account names must be unique", "[config]") {
  require_problem(
      "[[account]]\nname = \"a\"\n[[account]]\nname = \"b\"\n[[account]]\nname = "
      "\"a\"\n",
      "account[2].name", 6, "duplicate");
}

TEST_CASE("upstream must be sim or baileys", "[config]") {
  require_problem(one_account + "upstream = \"whatsapp\"\n", "account[0].upstream", 3,
                  "\"sim\" or \"baileys\"");
  require_problem(one_account + "upstream = 1\n", "account[0].upstream", 3, "must be a string");
  CHECK(config_of(one_account + "upstream = \"baileys\"\n").accounts[0].upstream ==
        upstream_kind::baileys);
}

TEST_CASE("token must be a string without whitespace", "[config]") {
  require_problem(one_account + "token = 1234\n", "account[0].token", 3, "must be a string");
  require_problem(one_account + "token = \"two words\"\n", "account[0].token", 3, "whitespace");
}

TEST_CASE("sim table is only allowed for sim accounts and baileys only for baileys", "[config]") {
  require_problem(one_account + "upstream = \"baileys\"\n[account.sim]\nrate = 1\n",
                  "account[0].sim", 4, "only allowed when upstream = \"sim\"");
  require_problem(one_account + "[account.baileys]\nnode = \"node\"\n", "account[0].baileys", 3,
                  "only allowed when upstream = \"baileys\"");
}

TEST_CASE("sim rate may be an integer or float but must be finite and >= 0", "[config]") {
  CHECK(config_of(one_account + "[account.sim]\nrate = 7\n").accounts[0].sim.rate == 7.0);
  CHECK(config_of(one_account + "[account.sim]\nrate = 0.5\n").accounts[0].sim.rate == 0.5);
  require_problem(one_account + "[account.sim]\nrate = -0.1\n", "account[0].sim.rate", 4, ">= 0");
  require_problem(one_account + "[account.sim]\nrate = nan\n", "account[0].sim.rate", 4, "finite");
  require_problem(one_account + "[account.sim]\nrate = inf\n", "account[0].sim.rate", 4, "finite");
  require_problem(one_account + "[account.sim]\nrate = \"fast\"\n", "account[0].sim.rate", 4,
                  "must be a number");
}

TEST_CASE("sim integer knobs are range-checked", "[config]") {
  const std::string sim = one_account + "[account.sim]\n";
  require_problem(sim + "total = -1\n", "account[0].sim.total", 4, ">= 0");
  require_problem(sim + "total = 1.0\n", "account[0].sim.total", 4, "must be an integer");
  require_problem(sim + "seed = -1\n", "account[0].sim.seed", 4, ">= 0");
  require_problem(sim + "body_bytes = 65537\n", "account[0].sim.body_bytes", 4,
                  "between 0 and 65536");
  require_problem(sim + "body_bytes = -1\n", "account[0].sim.body_bytes", 4);
  require_problem(sim + "chats = 0\n", "account[0].sim.chats", 4, "between 1 and 100000");
  require_problem(sim + "chats = 100001\n", "account[0].sim.chats", 4);
}

TEST_CASE("problems in a later account carry that account's index", "[config]") {
  require_problem(R"([[account]]
name = "a"
[[account]]
name = "b"
[account.sim]
rate = -3
)",
                  "account[1].sim.rate", 6);
}

TEST_CASE("baileys knobs must be strings and relative sidecar_dir resolves", "[config]") {
  const std::string baileys = one_account + "upstream = \"baileys\"\n[account.baileys]\n";
  require_problem(baileys + "node = 20\n", "account[0].baileys.node", 5, "must be a string");
  require_problem(baileys + "node = \"\"\n", "account[0].baileys.node", 5, "must not be empty");
  require_problem(baileys + "sidecar_dir = false\n", "account[0].baileys.sidecar_dir", 5,
                  "must be a string");
  CHECK(config_of(baileys + "sidecar_dir = \"../sc\"\n", "/opt/wa/etc")
            .accounts[0]
            .baileys.sidecar_dir == "/opt/wa/sc");
  CHECK(config_of(baileys + "sidecar_dir = \"\"\n").accounts[0].baileys.sidecar_dir.empty());
  require_problem(baileys + "receipt_after_spool = \"yes\"\n",
                  "account[0].baileys.receipt_after_spool", 5, "must be true or false");
  CHECK(config_of(baileys).accounts[0].baileys.receipt_after_spool);
  CHECK_FALSE(
      config_of(baileys + "receipt_after_spool = false\n").accounts[0].baileys.receipt_after_spool);
}

// --- printing and lookup ----------------------------------------------------

TEST_CASE("to_string prints file line col key and message and omits position at line 0",
          "[config]") {
  CHECK(to_string(config_problem{"demo.toml", 12, 3, "account[1].sim.rate", "must be >= 0"}) ==
        "demo.toml:12:3: account[1].sim.rate: must be >= 0");
  CHECK(to_string(config_problem{"a.toml", 0, 0, "account", "at least one [[account]]"}) ==
        "a.toml: account: at least one [[account]]");
  CHECK(to_string(config_problem{"a.toml", 2, 5, "", "syntax"}) == "a.toml:2:5: syntax");
}

TEST_CASE("upstream kinds print as their config spelling", "[config]") {
  CHECK(std::string(to_string(upstream_kind::sim)) == "sim");
  CHECK(std::string(to_string(upstream_kind::baileys)) == "baileys");
}

TEST_CASE("find_account returns the named account or nullptr", "[config]") {
  const auto config = config_of(demo_config_text());
  REQUIRE(config.find_account("support") != nullptr);
  CHECK(config.find_account("support")->sim.rate == 2.0);
  CHECK(config.find_account("nobody") == nullptr);
}
