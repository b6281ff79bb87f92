#include "support/test_harness.hpp"

// The listener below needs Catch's reporter bases, which the single header
// only exposes with this switch.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

extern char** environ;

namespace wabridge::test {
namespace {

namespace fs = std::filesystem;

// Set by the listener when any assertion of the current test case fails, so
// temp_dir can keep the evidence of a failed test.
std::atomic<bool> current_test_failed{false};

struct failure_listener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    current_test_failed = false;
    TestEventListenerBase::testCaseStarting(info);
  }

  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) current_test_failed = true;
    return TestEventListenerBase::assertionEnded(stats);
  }
};

// Orphaned grandchildren (the sims of a killed worker) are reparented to us
// rather than to init, which in a container may never reap them; a zombie
// still counts as a member of its process group.
void become_subreaper() {
  static const bool done = [] {
    (void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
    return true;
  }();
  (void)done;
}

// Spawns argv in a new process group with stdin from /dev/null and stdout /
// stderr appended to the given files. Returns the pid (= pgid) or -1.
pid_t spawn_in_own_group(const std::vector<std::string>& argv, const std::string& out_path,
                         const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (err_path == out_path) {
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string toml_number(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  std::string s = out.str();
  // TOML needs a float to look like one; an integer is accepted by the loader too.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

CATCH_REGISTER_LISTENER(failure_listener)

std::string binary_path() {
  return WABRIDGE_BINARY;
}
std::string source_dir() {
  return WABRIDGE_SOURCE_DIR;
}

// ---- files -------------------------------------------------------------------

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wabridge-bb-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) FAIL("mkdtemp failed: " << std::strerror(errno));
  path_ = buf.data();
}

temp_dir::~temp_dir() {
  if (current_test_failed || std::uncaught_exceptions() > 0) {
    std::cerr << "test failed: keeping " << path_ << " for inspection\n";
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string temp_dir::file(const std::string& name) const {
  return path_ + "/" + name;
}

std::string log_tail(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  return "...\n" + text.substr(text.size() - max_bytes);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) FAIL("cannot write " << path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// ---- config ------------------------------------------------------------------

uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  REQUIRE(ok);
  return ntohs(addr.sin_port);
}

std::string config_text(const bridge_options& options) {
  std::ostringstream out;
  out << "# written by the black-box test harness\n"
      << "[bridge]\n"
      << "listen = " << toml_string("127.0.0.1:" + std::to_string(options.port)) << '\n'
      << "data_dir = " << toml_string(options.data_dir) << '\n';
  if (!options.default_account.empty())
    out << "default_account = " << toml_string(options.default_account) << '\n';
  out << "\n[supervisor]\ndrain_timeout = \"10s\"\n"
      << options.supervisor_toml << "\n[log]\nlevel = " << toml_string(options.log_level) << "\n\n"
      << options.extra_toml << '\n';
  for (const auto& acc : options.accounts) {
    out << "[[account]]\n"
        << "name = " << toml_string(acc.name) << '\n'
        << "upstream = \"sim\"\n";
    if (!acc.token.empty()) out << "token = " << toml_string(acc.token) << '\n';
    if (!acc.reply_prefix.empty())
      out << "reply_prefix = " << toml_string(acc.reply_prefix) << '\n';
    out << "\n[account.sim]\n"
        << "rate = " << toml_number(acc.rate) << '\n'
        << "total = " << acc.total << '\n'
        << "seed = " << acc.seed << '\n'
        << "chats = " << acc.chats << '\n'
        << "send_fail = " << toml_number(acc.send_fail) << '\n'
        << "send_stall = " << toml_number(acc.send_stall) << '\n'
        << "send_delay = \"" << acc.send_delay_ms << "ms\"\n\n";
  }
  return out.str();
}

// ---- HTTP --------------------------------------------------------------------

json http_reply::body_json() const {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) FAIL("response body is not JSON (HTTP " << status << "): " << body);
  return parsed;
}

std::string http_reply::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

http_client::http_client(uint16_t port, std::string token)
    : port_(port), token_(std::move(token)) {}

httplib::Headers http_client::headers(const httplib::Headers& extra) const {
  httplib::Headers out = extra;
  if (out.find("Host") == out.end()) out.emplace("Host", "127.0.0.1");
  if (!token_.empty() && out.find("Authorization") == out.end())
    out.emplace("Authorization", "Bearer " + token_);
  return out;
}

namespace {

http_reply to_reply(const httplib::Result& res) {
  http_reply out;
  if (!res) {
    out.error = httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.body = res->body;
  out.headers = res->headers;
  return out;
}

httplib::Client make_client(uint16_t port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  // Long-polls may take up to the server's max_wait; liveness only.
  client.set_read_timeout(75, 0);
  client.set_write_timeout(10, 0);
  return client;
}

}  // namespace

http_reply http_client::get(const std::string& path, const httplib::Headers& extra) const {
  auto client = make_client(port_);
  return to_reply(client.Get(path.c_str(), headers(extra)));
}

http_reply http_client::post(const std::string& path, const std::string& body,
                             const httplib::Headers& extra) const {
  auto client = make_client(port_);
  return to_reply(client.Post(path.c_str(), headers(extra), body, "application/json"));
}

json http_client::get_json(const std::string& path) const {
  auto reply = get(path);
  INFO("GET " << path << " -> " << reply.status << " " << reply.error << " " << reply.body);
  REQUIRE(reply.status == 200);
  return reply.body_json();
}

// GCC 12 with -O2 sees a "potential null pointer dereference" in nlohmann's
// iterator and value() paths where there is none; silenced only here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"

std::string string_field(const json& object, const char* key, const std::string& fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return fallback;
  return *it->get_ptr<const std::string*>();
}

uint64_t uint_field(const json& object, const char* key, uint64_t fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_unsigned()) return fallback;
  return *it->get_ptr<const json::number_unsigned_t*>();
}

int64_t int_field(const json& object, const char* key, int64_t fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return fallback;
  return it->get<int64_t>();
}

bool bool_field(const json& object, const char* key, bool fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end() || !it->is_boolean()) return fallback;
  return *it->get_ptr<const json::boolean_t*>();
}

#pragma GCC diagnostic pop

std::string account_path(const std::string& account, const std::string& path) {
  return account.empty() ? path : "/accounts/" + account + path;
}

std::vector<json> read_all_events(const http_client& client, const std::string& account,
                                  const std::string& fresh_consumer) {
  std::vector<json> out;
  const std::string path = account_path(account, "/messages?limit=1000&consumer=" + fresh_consumer);
  // A bound on the pages, so a journal that never stops growing fails the
  // test instead of hanging it.
  for (int page = 0; page < 10'000; ++page) {
    json events = client.get_json(path);
    REQUIRE(events.is_array());
    if (events.empty()) return out;
    for (auto& e : events) out.push_back(std::move(e));
  }
  FAIL("journal of " << account << " did not end after 10000 pages");
  return out;
}

uint64_t last_seq(const http_client& client, const std::string& account) {
  json health = client.get_json(account_path(account, "/health"));
  REQUIRE(health.contains("lastSeq"));
  return health["lastSeq"].get<uint64_t>();
}

// ---- processes ---------------------------------------------------------------

std::optional<proc_stat> read_proc_stat(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  // "pid (comm) state ppid pgrp ...": comm may contain spaces, so parse after ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  proc_stat out;
  long ppid = 0;
  long pgrp = 0;
  if (!(fields >> out.state >> ppid >> pgrp)) return std::nullopt;
  out.ppid = static_cast<pid_t>(ppid);
  out.pgrp = static_cast<pid_t>(pgrp);
  return out;
}

void for_each_process(const std::function<void(pid_t, const proc_stat&)>& visit) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    if (auto stat = read_proc_stat(static_cast<pid_t>(pid))) visit(static_cast<pid_t>(pid), *stat);
  }
  ::closedir(proc);
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for_each_process([&](pid_t pid, const proc_stat& stat) {
    if (stat.ppid == parent) out.push_back(pid);
  });
  return out;
}

command_result run_wabridge(const std::vector<std::string>& args, const std::string& scratch_dir,
                            std::chrono::milliseconds timeout) {
  static int counter = 0;
  const std::string stem = scratch_dir + "/cmd-" + std::to_string(++counter);
  const std::string out_path = stem + ".out";
  const std::string err_path = stem + ".err";
  std::vector<std::string> argv{binary_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = spawn_in_own_group(argv, out_path, err_path);
  if (pid < 0) FAIL("cannot spawn " << binary_path() << ": " << std::strerror(errno));
  command_result result;
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("wabridge command did not finish within the deadline; stderr:\n"
           << log_tail(read_file(err_path)));
    }
    std::this_thread::sleep_for(10ms);
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

bridge_process::bridge_process(std::string config_path, std::string log_path, uint16_t port,
                               std::string health_token)
    : config_path_(std::move(config_path)),
      log_path_(std::move(log_path)),
      port_(port),
      health_token_(std::move(health_token)) {
  become_subreaper();
}

bridge_process::~bridge_process() {
  if (pid_ <= 0) return;
  if (!exited_) {
    ::kill(-pid_, SIGKILL);
    reap(true);
  }
  if (!group_gone(5s)) {
    // Leftover children of an exited worker; the group still exists, so the
    // id still names our processes.
    ::kill(-pid_, SIGKILL);
    (void)group_gone(5s);
  }
}

void bridge_process::spawn() {
  REQUIRE_FALSE(running());
  {
    std::ofstream log(log_path_, std::ios::app);
    log << "==== harness: wabridge run -c " << config_path_ << " ====\n";
  }
  const std::string binary = binary_.empty() ? binary_path() : binary_;
  pid_ = spawn_in_own_group({binary, "run", "-c", config_path_}, log_path_, log_path_);
  if (pid_ < 0) FAIL("cannot spawn " << binary_path() << ": " << std::strerror(errno));
  exited_ = false;
  exit_code_ = -1;
  exit_signal_ = 0;
}

void bridge_process::wait_ready(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (reap(false)) {
      FAIL("wabridge exited before it was ready (code " << exit_code_ << ", signal " << exit_signal_
                                                        << "); log:\n"
                                                        << log_tail(log()));
    }
    auto healthy = [&] {
      httplib::Client c("127.0.0.1", port_);
      c.set_connection_timeout(0, 200'000);
      c.set_read_timeout(2, 0);
      httplib::Headers h{{"Host", "127.0.0.1"}};
      if (!health_token_.empty()) h.emplace("Authorization", "Bearer " + health_token_);
      auto res = c.Get("/health", h);
      return res && res->status == 200;
    };
    if (healthy()) return;
    if (std::chrono::steady_clock::now() >= until)
      FAIL("wabridge did not answer GET /health with 200 before the deadline; log:\n"
           << log_tail(log()));
    std::this_thread::sleep_for(50ms);
  }
}

void bridge_process::start(std::chrono::milliseconds deadline) {
  spawn();
  wait_ready(deadline);
}

int bridge_process::stop(std::chrono::milliseconds timeout) {
  REQUIRE(running());
  ::kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= until) {
      const std::string text = log();
      kill_group();
      FAIL("wabridge did not exit after SIGTERM within the deadline; log:\n" << log_tail(text));
    }
    std::this_thread::sleep_for(20ms);
  }
  return exit_code_;
}

bool bridge_process::wait_exit(std::chrono::milliseconds deadline) {
  REQUIRE(pid_ > 0);
  return eventually([&] { return reap(false); }, deadline, 10ms);
}

void bridge_process::kill_group() {
  REQUIRE(pid_ > 0);
  if (!exited_) ::kill(-pid_, SIGKILL);
  reap(true);
}

void bridge_process::kill_supervisor() {
  REQUIRE(running());
  ::kill(pid_, SIGKILL);
  reap(true);
}

pid_t bridge_process::worker_pid() const {
  if (pid_ <= 0) return -1;
  for (pid_t child : children_of(pid_)) {
    const auto stat = read_proc_stat(child);
    if (!stat || stat->state == "Z") continue;
    // argv is NUL-separated: "wabridge\0worker\0..."
    const std::string cmdline = read_file("/proc/" + std::to_string(child) + "/cmdline");
    if (cmdline.find(std::string("\0worker\0", 8)) != std::string::npos) return child;
  }
  return -1;
}

pid_t bridge_process::wait_worker(pid_t not_this, std::chrono::milliseconds deadline) const {
  pid_t found = -1;
  eventually(
      [&] {
        found = worker_pid();
        return found > 0 && found != not_this;
      },
      deadline, 5ms);
  return found != not_this ? found : -1;
}

pid_t bridge_process::kill_worker() {
  REQUIRE(running());
  const pid_t worker = worker_pid();
  if (worker > 0) ::kill(worker, SIGKILL);
  return worker;
}

bool bridge_process::reap(bool block) {
  if (exited_) return true;
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = -1;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  exited_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  exit_signal_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return true;
}

void bridge_process::reap_group_zombies() const {
  // Only reparented members of the group: the worker itself is reaped by reap().
  for (pid_t member : group_members()) {
    if (member == pid_) continue;
    int status = 0;
    (void)::waitpid(member, &status, WNOHANG);
  }
}

bool bridge_process::group_gone(std::chrono::milliseconds wait) {
  if (pid_ <= 0) return true;
  const auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    reap(false);
    reap_group_zombies();
    if (::kill(-pid_, 0) != 0 && errno == ESRCH) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(20ms);
  }
}

std::vector<pid_t> bridge_process::group_members() const {
  std::vector<pid_t> out;
  if (pid_ <= 0) return out;
  for_each_process([&](pid_t pid, const proc_stat& stat) {
    if (stat.pgrp == pid_) out.push_back(pid);
  });
  return out;
}

std::string bridge_process::log() const {
  return read_file(log_path_);
}

// ---- a configured bridge -----------------------------------------------------

namespace {

bridge_options make_options(const temp_dir& dir, std::vector<sim_account> accounts,
                            std::string extra_toml, std::string supervisor_toml) {
  bridge_options out;
  out.supervisor_toml = std::move(supervisor_toml);
  out.port = free_loopback_port();
  out.data_dir = dir.file("data");
  out.accounts = std::move(accounts);
  out.extra_toml = std::move(extra_toml);
  return out;
}

}  // namespace

running_bridge::running_bridge(std::vector<sim_account> accounts, bool start,
                               std::string extra_toml, std::string supervisor_toml)
    : options(make_options(dir, std::move(accounts), std::move(extra_toml),
                           std::move(supervisor_toml))),
      config_path(dir.file("wabridge.toml")),
      process(config_path, dir.file("bridge.log"), options.port,
              options.accounts.empty() ? std::string() : options.accounts.front().token) {
  write_file(config_path, config_text(options));
  if (start) process.start();
}

const sim_account& running_bridge::account(const std::string& name) const {
  for (const auto& acc : options.accounts)
    if (acc.name == name) return acc;
  FAIL("no account " << name << " in the test config");
  return options.accounts.front();
}

http_client running_bridge::client(const std::string& account_name) const {
  const std::string& name = account_name.empty() ? options.accounts.front().name : account_name;
  return http_client(options.port, account(name).token);
}

void running_bridge::wait_for_seq(const std::string& account_name, uint64_t n,
                                  std::chrono::milliseconds deadline) const {
  const auto c = client(account_name);
  uint64_t seen = 0;
  const bool ok = eventually(
      [&] {
        seen = last_seq(c, account_name);
        return seen >= n;
      },
      deadline, 20ms);
  if (!ok)
    FAIL("account " << account_name << " reached only seq " << seen << " of " << n
                    << " before the deadline; log:\n"
                    << log_tail(process.log()));
}

void running_bridge::wait_connected(const std::string& account_name,
                                    std::chrono::milliseconds deadline) const {
  const auto c = client(account_name);
  std::string state;
  const bool ok = eventually(
      [&] {
        state = string_field(c.get_json(account_path(account_name, "/health")), "status");
        return state == "connected";
      },
      deadline, 20ms);
  if (!ok)
    FAIL("account " << account_name << " stayed " << state << "; log:\n"
                    << log_tail(process.log()));
}

// ---- sim ledger --------------------------------------------------------------

std::string ledger_dir(const std::string& data_dir, const std::string& account) {
  return data_dir + "/accounts/" + account + "/sim";
}

sim::ledger_state read_ledger_or_fail(const std::string& data_dir, const std::string& account) {
  auto state = sim::read_ledger(ledger_dir(data_dir, account));
  if (!state) FAIL("cannot read the sim ledger of " << account << ": " << describe(state.error()));
  return std::move(*state);
}

}  // namespace wabridge::test
