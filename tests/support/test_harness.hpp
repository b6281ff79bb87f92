// Black-box test harness: starts the real `wabridge` binary in its own process
// group with a temp data dir, talks HTTP to it over loopback, kills it with
// real signals and reads the sim's ledger from disk. Everything here is for
// one test thread; nothing is shared between test cases. Failures are
// reported through Catch2 (REQUIRE/FAIL), so helpers may throw
// Catch's exception to end the test.
#pragma once

#include "sim/sim_ledger.hpp"

#include <httplib.h>
#include <sys/types.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wabridge::test {

using namespace std::chrono_literals;
using nlohmann::json;

/// The wabridge binary under test and the source tree (compile-time paths).
std::string binary_path();
std::string source_dir();

// ---- files -------------------------------------------------------------------

/// A fresh directory from mkdtemp. Removed at scope end, unless the test
/// failed (or is unwinding from an exception): then it is kept and its path
/// printed, so the logs, journals and ledgers can be inspected.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  /// path() + "/" + name
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& text);
/// The last `max_bytes` of a (log) text, for failure messages.
std::string log_tail(const std::string& text, size_t max_bytes = 12'000);
std::string read_file(const std::string& path);  // "" when missing
bool path_exists(const std::string& path);

// ---- config ------------------------------------------------------------------

/// A loopback port nobody listens on right now (bind to port 0, then close).
/// Another process could take it before the bridge binds; unlikely enough.
uint16_t free_loopback_port();

struct sim_account {
  sim_account(std::string name_, double rate_ = 50.0, uint64_t total_ = 0, uint64_t seed_ = 1,
              std::string token_ = {})
      : name(std::move(name_)), rate(rate_), total(total_), seed(seed_), token(std::move(token_)) {}

  std::string name;
  double rate;     // events per second; 0 = as fast as possible
  uint64_t total;  // 0 = unlimited
  uint64_t seed;
  std::string token;  // "" = no bearer token
  uint32_t chats = 50;
  // Outbound behaviour of the sim ([account.sim] send_*).
  double send_fail = 0.0;
  double send_stall = 0.0;
  uint32_t send_delay_ms = 0;
  std::string reply_prefix;  // [[account]] reply_prefix
};

struct bridge_options {
  uint16_t port = 0;  // required: the harness polls it for readiness
  std::string data_dir;
  std::string default_account;  // "" = the first account
  std::vector<sim_account> accounts;
  std::string log_level = "info";
  /// Raw TOML tables inserted before the accounts, e.g. "[http]\nmax_wait = \"10s\"\n".
  std::string extra_toml;
  /// Extra keys for the [supervisor] table (which always sets drain_timeout).
  std::string supervisor_toml;
};

/// The TOML text for `options` (SPEC §2 format).
std::string config_text(const bridge_options& options);

// ---- HTTP --------------------------------------------------------------------

struct http_reply {
  int status = 0;     // 0 when the request did not get an answer at all
  std::string error;  // httplib's reason when status == 0
  std::string body;
  httplib::Headers headers;

  /// The body parsed as JSON; fails the test when it is not JSON.
  json body_json() const;
  std::string header(const std::string& name) const;
};

/// A client for one bridge on 127.0.0.1:port. Sends "Host: 127.0.0.1" and,
/// when a token is set, "Authorization: Bearer <token>" on every request.
class http_client {
 public:
  explicit http_client(uint16_t port, std::string token = {});

  http_reply get(const std::string& path, const httplib::Headers& extra = {}) const;
  http_reply post(const std::string& path, const std::string& body,
                  const httplib::Headers& extra = {}) const;

  /// GET that must answer 200 with JSON; returns the JSON.
  json get_json(const std::string& path) const;

  uint16_t port() const { return port_; }
  const std::string& token() const { return token_; }

 private:
  httplib::Headers headers(const httplib::Headers& extra) const;

  uint16_t port_;
  std::string token_;
};

/// Typed field access that tolerates a missing key or a wrong type (then the
/// fallback), so a malformed answer fails a CHECK instead of throwing.
/// (Also avoids json::value(), which trips GCC's -Wnull-dereference.)
std::string string_field(const json& object, const char* key, const std::string& fallback = {});
uint64_t uint_field(const json& object, const char* key, uint64_t fallback = 0);
int64_t int_field(const json& object, const char* key, int64_t fallback = 0);
bool bool_field(const json& object, const char* key, bool fallback = false);

/// "/accounts/<account>" + path, or the bare path when account is "".
std::string account_path(const std::string& account, const std::string& path);

/// Every event retained in the account's journal, read over HTTP with a
/// consumer name that has never been used (so it starts at cursor 0) and
/// pages of limit=1000 until an empty page. Uses implicit acks only.
std::vector<json> read_all_events(const http_client& client, const std::string& account,
                                  const std::string& fresh_consumer);

/// The journal's newest seq as /health reports it.
uint64_t last_seq(const http_client& client, const std::string& account);

// ---- processes ---------------------------------------------------------------

/// A process as /proc/<pid>/stat describes it.
struct proc_stat {
  std::string state;  // "R", "S", "Z", ...
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

std::optional<proc_stat> read_proc_stat(pid_t pid);
void for_each_process(const std::function<void(pid_t, const proc_stat&)>& visit);
/// The children of `parent` right now.
std::vector<pid_t> children_of(pid_t parent);

struct command_result {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

/// Runs `wabridge args...` to completion (stdout/stderr captured via files in
/// `scratch_dir`); fails the test if it takes longer than `timeout`.
command_result run_wabridge(const std::vector<std::string>& args, const std::string& scratch_dir,
                            std::chrono::milliseconds timeout = 30s);

/// `wabridge run -c <config>` in its own process group (so its sim children,
/// which inherit the group, can be killed and checked together), with stderr
/// and stdout appended to a log file. The destructor kills the group if it is
/// still running. The test process makes itself a child subreaper, so the
/// children of a killed worker are reparented to it and can be reaped.
class bridge_process {
 public:
  bridge_process(std::string config_path, std::string log_path, uint16_t port,
                 std::string health_token = {});
  ~bridge_process();
  bridge_process(const bridge_process&) = delete;
  bridge_process& operator=(const bridge_process&) = delete;

  /// Runs `binary` instead of the build's wabridge (e.g. a copy the test
  /// replaces on disk). Takes effect at the next spawn().
  void set_binary(std::string binary) { binary_ = std::move(binary); }

  /// Spawns the process; does not wait for readiness.
  void spawn();
  /// Polls GET /health until 200; fails the test (printing the log) when the
  /// process exits first or the deadline passes.
  void wait_ready(std::chrono::milliseconds deadline = 30s);
  /// spawn() + wait_ready().
  void start(std::chrono::milliseconds deadline = 30s);

  /// SIGTERM to the supervisor, then waits for it; fails the test when it is
  /// still running after `timeout`. Returns its exit code (-1 if signalled).
  int stop(std::chrono::milliseconds timeout = 30s);
  /// Waits for the supervisor to exit on its own; false when it still runs at the deadline.
  bool wait_exit(std::chrono::milliseconds deadline);
  /// SIGKILL to every process of the group and reaps the supervisor.
  void kill_group();
  /// SIGKILL to the supervisor only (`wabridge run`); the worker and its
  /// children must follow on their own.
  void kill_supervisor();
  /// The current worker's pid (the supervisor's child running `wabridge
  /// worker`), or -1 when none runs right now.
  pid_t worker_pid() const;
  /// Waits until a worker other than `not_this` (if given) runs; its pid.
  pid_t wait_worker(pid_t not_this = -1, std::chrono::milliseconds deadline = 30s) const;
  /// SIGKILL to the current worker only; the supervisor restarts it. Returns
  /// the pid that was killed (-1 when no worker ran).
  pid_t kill_worker();

  /// True once no process of the group exists (reaping zombies that were
  /// reparented to us), polling up to `wait`.
  bool group_gone(std::chrono::milliseconds wait = 5s);
  /// Pids still in the group, for failure messages.
  std::vector<pid_t> group_members() const;

  bool running() const { return pid_ > 0 && !exited_; }
  pid_t pid() const { return pid_; }
  /// Exit code of the supervisor after it was reaped; -1 when signalled.
  int exit_code() const { return exit_code_; }
  int exit_signal() const { return exit_signal_; }
  std::string log() const;
  const std::string& log_path() const { return log_path_; }

 private:
  // Non-blocking reap of the worker; true once it has exited.
  bool reap(bool block);
  void reap_group_zombies() const;

  std::string config_path_;
  std::string binary_;  // "" = binary_path()
  std::string log_path_;
  uint16_t port_;
  std::string health_token_;
  pid_t pid_ = -1;  // also the process group id
  bool exited_ = false;
  int exit_code_ = -1;
  int exit_signal_ = 0;
};

// ---- a configured bridge -----------------------------------------------------

/// A temp dir holding a config for `accounts` (on a free loopback port, data
/// under <dir>/data) and a bridge_process for it. Members are destroyed in
/// reverse order, so the process is killed before its directory goes.
class running_bridge {
 public:
  /// Writes the config and, when `start` is set, starts the bridge.
  explicit running_bridge(std::vector<sim_account> accounts, bool start = true,
                          std::string extra_toml = {}, std::string supervisor_toml = {});

  temp_dir dir;
  bridge_options options;
  std::string config_path;
  bridge_process process;

  std::string data_dir() const { return options.data_dir; }
  const sim_account& account(const std::string& name) const;
  /// A client carrying `account`'s token ("" = the default account).
  http_client client(const std::string& account = {}) const;
  /// Waits until the account's journal holds seq >= n; fails at the deadline.
  void wait_for_seq(const std::string& account, uint64_t n,
                    std::chrono::milliseconds deadline = 30s) const;
  /// Waits until the account's upstream reports "connected".
  void wait_connected(const std::string& account, std::chrono::milliseconds deadline = 30s) const;
};

// ---- sim ledger --------------------------------------------------------------

/// The ledger directory of a sim account under data_dir.
std::string ledger_dir(const std::string& data_dir, const std::string& account);

/// read_ledger(), failing the test on a read error.
sim::ledger_state read_ledger_or_fail(const std::string& data_dir, const std::string& account);

// ---- waiting -----------------------------------------------------------------

/// Polls `done` every `interval` until it returns true or `deadline` passes;
/// returns the last result. For liveness only: never assert on the time taken.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds deadline,
                std::chrono::milliseconds interval = 50ms);

}  // namespace wabridge::test

#include <thread>

template <class Pred>
bool wabridge::test::eventually(Pred done, std::chrono::milliseconds deadline,
                                std::chrono::milliseconds interval) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(interval);
  }
}
