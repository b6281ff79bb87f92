// The supervisor (SPEC §1, issue #3), black-box: the real `wabridge run`
// with sim accounts under load while clients poll and ack. Workers are killed
// with SIGKILL at random moments, the binary is replaced on disk, the config
// is broken and mended, and the supervisor is stopped; afterwards the sims'
// ledgers, the journals and the consumers must agree that nothing was lost.
#include "supervisor/supervisor_state.hpp"
#include "support/durability_checks.hpp"
#include "support/test_harness.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace wabridge::test;
namespace sv = wabridge::supervisor;

namespace {

using clock_type = std::chrono::steady_clock;

// Fast restarts so that many cycles fit in a test; a generous intensity so
// only a test that means to exceed it does.
const std::string fast_supervisor =
    "backoff_initial = \"20ms\"\nbackoff_max = \"200ms\"\nstable_after = \"1s\"\n"
    "intensity_max = 1000\nintensity_window = \"60s\"\nwatch_interval = \"100ms\"\n";

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// True once none of `pids` exists, reaping those reparented to us (the test
// process is a child subreaper).
bool all_gone(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    int status = 0;
    (void)::waitpid(pid, &status, WNOHANG);
    if (::kill(pid, 0) == 0 || errno != ESRCH) return false;
  }
  return true;
}

// A consumer on its own thread, like a gateway polling while the bridge
// restarts under it: long-polls, acks every page explicitly, retries every
// request until it is answered (a restart costs it time, never data), and
// checks each page against SPEC §6. Catch2 is not thread-safe, so problems
// are collected and asserted by the test thread after stop().
class background_consumer {
 public:
  background_consumer(uint16_t port, std::string account, std::string name)
      : port_(port), account_(std::move(account)), name_(std::move(name)) {
    thread_ = std::thread([this] { run(); });
  }
  ~background_consumer() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  uint64_t acked() const { return acked_; }
  size_t distinct() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return delivered_.size();
  }
  uint64_t replayed() const { return replayed_; }
  uint64_t failed_requests() const { return failed_requests_; }
  std::vector<std::string> violations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return violations_;
  }

 private:
  // GET/POST until a 200 (or stop): a failed attempt is a restart in progress.
  std::optional<json> request(const std::string& method, const std::string& path,
                              const std::string& body = {}) {
    while (!stop_) {
      httplib::Client client("127.0.0.1", port_);
      client.set_connection_timeout(2, 0);
      client.set_read_timeout(30, 0);
      httplib::Headers headers{{"Host", "127.0.0.1"}};
      auto res = method == "GET" ? client.Get(path.c_str(), headers)
                                 : client.Post(path.c_str(), headers, body, "application/json");
      if (res && res->status == 200) {
        auto parsed = json::parse(res->body, nullptr, false);
        if (!parsed.is_discarded()) return parsed;
        violate("unparsable 200 body on " + path + ": " + res->body.substr(0, 200));
        return std::nullopt;
      }
      if (res && res->status != 503) {
        violate(method + " " + path + " answered " + std::to_string(res->status) + ": " +
                res->body.substr(0, 200));
        return std::nullopt;
      }
      ++failed_requests_;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  bool ack(uint64_t seq) {
    auto reply = request("POST", account_path(account_, "/ack"),
                         json{{"up_to_seq", seq}, {"consumer", name_}}.dump());
    if (!reply) return false;
    acked_ = std::max<uint64_t>(acked_, seq);
    return true;
  }

  void run() {
    if (!ack(0)) return;  // explicit acks from here on
    const std::string path = messages_path(account_, name_, 500) + "&wait=1";
    while (!stop_) {
      auto page = request("GET", path);
      if (!page) return;
      if (!page->is_array()) {
        violate("messages is not an array");
        return;
      }
      if (page->empty()) continue;
      const uint64_t first = (*page)[0].at("seq").get<uint64_t>();
      if (first != acked_ + 1) {
        violate("page starts at " + std::to_string(first) + " but acked is " +
                std::to_string(acked_.load()));
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t k = 0; k < page->size(); ++k) {
          const uint64_t seq = (*page)[k].at("seq").get<uint64_t>();
          const std::string uid = (*page)[k].at("eventUid").get<std::string>();
          if (seq != first + k) violations_.push_back("gap at seq " + std::to_string(seq));
          auto [it, fresh] = delivered_.emplace(seq, uid);
          if (!fresh) {
            ++replayed_;
            if (it->second != uid)
              violations_.push_back("seq " + std::to_string(seq) + " changed from " + it->second +
                                    " to " + uid);
          } else if (!uids_.insert(uid).second) {
            violations_.push_back("uid " + uid + " came back under seq " + std::to_string(seq));
          }
        }
      }
      if (!ack(page->back().at("seq").get<uint64_t>())) return;
    }
  }

  void violate(std::string what) {
    std::lock_guard<std::mutex> lock(mutex_);
    violations_.push_back(std::move(what));
  }

  uint16_t port_;
  std::string account_;
  std::string name_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> replayed_{0};
  std::atomic<uint64_t> failed_requests_{0};
  mutable std::mutex mutex_;
  std::map<uint64_t, std::string> delivered_;
  std::set<std::string> uids_;
  std::vector<std::string> violations_;
  std::thread thread_;
};

// Hammers GET /health on a fresh connection each time and records every
// outcome, to see what a client experiences across a restart: a refused or
// failed request, and the longest wait between two answers.
class health_prober {
 public:
  explicit health_prober(uint16_t port) : port_(port) {
    thread_ = std::thread([this] { run(); });
  }
  ~health_prober() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  uint64_t answered() const { return answered_; }
  uint64_t failures() const { return failures_; }
  const std::vector<std::string>& failure_reasons() const { return reasons_; }
  std::set<int64_t> worker_pids() const { return pids_; }
  // Longest time from one answer to the next (the restart gap seen by a client).
  std::chrono::milliseconds longest_gap() const { return longest_; }

 private:
  void run() {
    auto last_answer = clock_type::now();
    while (!stop_) {
      httplib::Client client("127.0.0.1", port_);
      client.set_connection_timeout(5, 0);
      client.set_read_timeout(30, 0);
      client.set_keep_alive(false);
      auto res = client.Get("/health", httplib::Headers{{"Host", "127.0.0.1"}});
      const auto now = clock_type::now();
      if (res && res->status == 200) {
        ++answered_;
        longest_ = std::max(
            longest_, std::chrono::duration_cast<std::chrono::milliseconds>(now - last_answer));
        last_answer = now;
        auto body = json::parse(res->body, nullptr, false);
        if (!body.is_discarded()) pids_.insert(int_field(body, "workerPid", 0));
      } else {
        ++failures_;
        if (reasons_.size() < 10)
          reasons_.push_back(res ? "HTTP " + std::to_string(res->status)
                                 : httplib::to_string(res.error()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> answered_{0};
  std::atomic<uint64_t> failures_{0};
  std::vector<std::string> reasons_;
  std::set<int64_t> pids_;
  std::chrono::milliseconds longest_{0};
  std::thread thread_;
};

void require_consumer_clean(background_consumer& consumer) {
  const auto problems = consumer.violations();
  std::string text;
  for (const auto& p : problems) text += "  " + p + "\n";
  INFO("consumer violations:\n" << text);
  REQUIRE(problems.empty());
}

sv::supervisor_state read_state(const running_bridge& bridge) {
  auto state = sv::read_state_file(bridge.data_dir());
  REQUIRE(state.has_value());
  return *state;
}

// Copies the build's binary to `path` (a fresh inode), executable.
void install_binary(const std::string& path) {
  namespace fs = std::filesystem;
  fs::copy_file(binary_path(), path, fs::copy_options::overwrite_existing);
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                  fs::perm_options::replace);
}

}  // namespace

TEST_CASE("a worker killed with SIGKILL 20 times at random moments is restarted and loses nothing",
          "[blackbox][supervisor]") {
  running_bridge bridge(
      {sim_account{"alpha", 600.0, 9000, 41, ""}, sim_account{"beta", 200.0, 3000, 42, ""}},
      /*start=*/true, {}, fast_supervisor);
  const pid_t supervisor = bridge.process.pid();
  background_consumer alpha_consumer(bridge.options.port, "alpha", "gateway");
  background_consumer beta_consumer(bridge.options.port, "beta", "gateway");

  std::mt19937 rng(20261203);
  std::uniform_int_distribution<int> pause_ms(0, 400);
  constexpr int cycles = 20;
  pid_t previous = -1;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const pid_t worker = bridge.process.wait_worker(previous);
    INFO("cycle " << cycle << "; log:\n" << log_tail(bridge.process.log(), 4000));
    REQUIRE(worker > 0);
    // Most kills hit a serving worker; every fourth may hit one still starting.
    if (cycle % 4 != 3) bridge.process.wait_ready();
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    const auto sims = children_of(worker);
    REQUIRE(::kill(worker, SIGKILL) == 0);
    previous = worker;
    // Nobody signals the killed worker's sims: they must go by themselves.
    const bool sims_gone = eventually([&] { return all_gone(sims); }, 10s, 10ms);
    REQUIRE(sims_gone);
    REQUIRE(bridge.process.running());
  }
  bridge.process.wait_worker(previous);
  bridge.process.wait_ready();

  // Let both streams finish while the consumers keep up.
  const auto& alpha = bridge.account("alpha");
  const auto& beta = bridge.account("beta");
  const bool done = eventually(
      [&] {
        const auto a = read_ledger_or_fail(bridge.data_dir(), "alpha");
        const auto b = read_ledger_or_fail(bridge.data_dir(), "beta");
        return a.confirmed_count() >= alpha.total && b.confirmed_count() >= beta.total &&
               alpha_consumer.acked() >= last_seq(bridge.client("alpha"), "alpha") &&
               beta_consumer.acked() >= last_seq(bridge.client("beta"), "beta");
      },
      120s, 50ms);
  alpha_consumer.stop();
  beta_consumer.stop();
  INFO("log:\n" << log_tail(bridge.process.log()));
  REQUIRE(done);
  require_consumer_clean(alpha_consumer);
  require_consumer_clean(beta_consumer);

  // Every confirmed event journaled exactly once, contiguous seqs.
  const auto alpha_journal = verify_journal(bridge, alpha, "verify");
  const auto beta_journal = verify_journal(bridge, beta, "verify");
  CHECK(alpha_journal.events == alpha.total);
  CHECK(beta_journal.events == beta.total);
  // The consumers saw every event at least once.
  CHECK(alpha_consumer.distinct() == alpha.total);
  CHECK(beta_consumer.distinct() == beta.total);

  // Same supervisor throughout; it counted every kill as a crash.
  CHECK(bridge.process.pid() == supervisor);
  const auto state = read_state(bridge);
  CHECK(state.crashes == cycles);
  CHECK(state.generation == cycles + 1);
  CHECK(state.state == "running");
  CHECK(count_of(bridge.process.log(), "restart scheduled reason=crash") == cycles);

  CHECK(bridge.process.stop(20s) == 0);
  require_no_orphans(bridge.process);
}

TEST_CASE("a replaced binary triggers a graceful restart with no refused connection",
          "[blackbox][supervisor]") {
  running_bridge bridge({sim_account{"main", 300.0, 0, 51, ""}}, /*start=*/false, {},
                        fast_supervisor);
  const std::string binary = bridge.dir.file("wabridge");
  install_binary(binary);
  bridge.process.set_binary(binary);
  bridge.process.start();
  bridge.wait_connected("main");
  const pid_t supervisor = bridge.process.pid();
  const http_client client = bridge.client();

  // A consumer that read a page and did not ack it yet: after the restart the
  // new worker must replay exactly those events.
  REQUIRE(client.post("/ack", json{{"up_to_seq", 0}, {"consumer", "slow"}}.dump()).status == 200);
  bridge.wait_for_seq("main", 40);
  const json before = client.get_json(messages_path("", "slow", 40));
  REQUIRE(before.size() == 40);

  health_prober prober(bridge.options.port);
  auto restart_by = [&](const std::string& how, auto install) {
    const pid_t old_worker = bridge.process.worker_pid();
    REQUIRE(old_worker > 0);
    const size_t restarts_logged = count_of(bridge.process.log(), "reason=stale-binary");
    install();
    const pid_t new_worker = bridge.process.wait_worker(old_worker);
    INFO(how << "; log:\n" << log_tail(bridge.process.log()));
    REQUIRE(new_worker > 0);
    bridge.process.wait_ready();
    REQUIRE(eventually(
        [&] { return count_of(bridge.process.log(), "reason=stale-binary") > restarts_logged; },
        10s));
    // The old worker drained and exited 0: a deliberate restart, not a crash.
    CHECK(contains(bridge.process.log(),
                   "pid=" + std::to_string(old_worker) + " took_ms="));  // drain done line
    CHECK(read_state(bridge).crashes == 0);
  };

  SECTION("install by rename") {
    restart_by("rename", [&] {
      install_binary(binary + ".new");
      std::filesystem::rename(binary + ".new", binary);
    });
  }
  SECTION("install by unlink and copy") {
    restart_by("unlink and copy", [&] {
      std::filesystem::remove(binary);
      install_binary(binary);
    });
  }
  // Let the prober see the new worker for a moment.
  std::this_thread::sleep_for(300ms);
  prober.stop();

  std::string reasons;
  for (const auto& r : prober.failure_reasons()) reasons += r + "; ";
  INFO("prober: " << prober.answered() << " answered, " << prober.failures() << " failed: "
                  << reasons << " longest gap " << prober.longest_gap().count() << " ms");
  CHECK(prober.failures() == 0);
  CHECK(prober.worker_pids().size() >= 2);  // it was answered by both generations
  WARN("restart gap seen by a polling client: " << prober.longest_gap().count() << " ms");

  // The supervisor re-exec'd itself in place: same pid, new image.
  CHECK(bridge.process.pid() == supervisor);
  CHECK(contains(bridge.process.log(), "supervisor re-exec"));
  CHECK(contains(bridge.process.log(), "reexec=true"));

  // The unacked page comes back, same seqs, same events.
  const json after = client.get_json(messages_path("", "slow", 40));
  REQUIRE(after.size() == 40);
  for (size_t k = 0; k < 40; ++k) {
    CHECK(after[k].at("seq") == before[k].at("seq"));
    CHECK(after[k].at("eventUid") == before[k].at("eventUid"));
  }
  CHECK(bridge.process.stop(20s) == 0);
  require_no_orphans(bridge.process);
}

TEST_CASE("an invalid config on SIGHUP keeps the old worker serving; a valid one restarts it",
          "[blackbox][supervisor]") {
  running_bridge bridge({sim_account{"main", 100.0, 0, 61, ""}}, /*start=*/true, {},
                        fast_supervisor);
  bridge.wait_connected("main");
  const pid_t worker = bridge.process.worker_pid();
  REQUIRE(worker > 0);
  const std::string good = read_file(bridge.config_path);

  // A typo'd key: invalid. Written, then signalled right away (the watcher
  // would find it too; either way it must be refused).
  write_file(bridge.config_path, good + "\n[journal]\nretain_ackd = \"1h\"\n");
  REQUIRE(::kill(bridge.process.pid(), SIGHUP) == 0);
  REQUIRE(eventually([&] { return contains(bridge.process.log(), "config invalid"); }, 10s));
  CHECK(contains(bridge.process.log(), "journal.retain_ackd"));
  CHECK(contains(bridge.process.log(), "action=keep-running"));
  // Well past a watch interval: still the same worker, still serving.
  std::this_thread::sleep_for(500ms);
  CHECK(bridge.process.worker_pid() == worker);
  CHECK(bridge.client().get("/health").status == 200);
  const uint64_t seq_before = last_seq(bridge.client(), "main");
  bridge.wait_for_seq("main", seq_before + 20);  // and still ingesting
  const auto state = read_state(bridge);
  CHECK(contains(state.message, "invalid"));
  CHECK(state.crashes == 0);

  // Mended (a real change: the rate): the watcher restarts the worker by itself.
  std::string mended = good;
  const auto at = mended.find("rate = 100");
  REQUIRE(at != std::string::npos);
  mended.replace(at, 10, "rate = 150");
  write_file(bridge.config_path, mended);
  const pid_t next = bridge.process.wait_worker(worker, 10s);
  INFO("log:\n" << log_tail(bridge.process.log()));
  REQUIRE(next > 0);
  CHECK(contains(bridge.process.log(), "reason=stale-config"));
  bridge.process.wait_ready();

  // SIGUSR1 (like SIGHUP) with a valid, unchanged config restarts too (reason=signal).
  REQUIRE(::kill(bridge.process.pid(), SIGUSR1) == 0);
  const pid_t third = bridge.process.wait_worker(next, 10s);
  REQUIRE(third > 0);
  CHECK(contains(bridge.process.log(), "reason=signal"));
  CHECK(read_state(bridge).crashes == 0);
  CHECK(bridge.process.stop(20s) == 0);
}

TEST_CASE("SIGTERM to the supervisor drains everything and exits 0 within drain_timeout",
          "[blackbox][supervisor]") {
  running_bridge bridge(
      {sim_account{"alpha", 1000.0, 0, 71, ""}, sim_account{"beta", 1000.0, 0, 72, ""}},
      /*start=*/true, {}, fast_supervisor);
  background_consumer consumer(bridge.options.port, "alpha", "gateway");
  bridge.wait_for_seq("alpha", 2000);
  bridge.wait_for_seq("beta", 2000);

  const auto start = clock_type::now();
  const int code = bridge.process.stop(20s);
  const auto took = clock_type::now() - start;
  consumer.stop();
  INFO("log:\n" << log_tail(bridge.process.log()));
  CHECK(code == 0);
  // drain_timeout is 10 s in the harness config; the point is that the
  // supervisor did not have to kill (no "drain timeout" line) and said so.
  CHECK(took < 10s);
  CHECK_FALSE(contains(bridge.process.log(), "drain timeout"));
  CHECK(contains(bridge.process.log(), "worker drain done"));
  CHECK(contains(bridge.process.log(), "clean=true"));
  CHECK(contains(bridge.process.log(), "supervisor stopped code=0"));
  require_no_orphans(bridge.process);
  require_consumer_clean(consumer);
  CHECK(read_state(bridge).state == "stopped");

  // The journal is intact: restart and compare with the ledgers.
  bridge.process.start();
  verify_journal(bridge, bridge.account("alpha"), "verify");
  verify_journal(bridge, bridge.account("beta"), "verify");
  CHECK(bridge.process.stop(20s) == 0);
}

TEST_CASE("the supervisor gives up after too many crashes in the window and exits non-zero",
          "[blackbox][supervisor]") {
  // Every worker fails at start: its data dir lock is held by the test.
  running_bridge bridge({sim_account{"main", 10.0, 0, 81, ""}}, /*start=*/false, {},
                        "backoff_initial = \"10ms\"\nbackoff_max = \"40ms\"\n"
                        "intensity_max = 3\nintensity_window = \"60s\"\n");
  std::filesystem::create_directories(bridge.data_dir());
  const int lock = ::open((bridge.data_dir() + "/wabridge.lock").c_str(), O_RDWR | O_CREAT, 0644);
  REQUIRE(lock >= 0);
  REQUIRE(::flock(lock, LOCK_EX) == 0);
  bridge.process.spawn();
  const bool exited = bridge.process.wait_exit(30s);
  ::close(lock);
  INFO("log:\n" << bridge.process.log());
  REQUIRE(exited);
  CHECK(bridge.process.exit_code() == 1);
  CHECK(contains(bridge.process.log(), "supervisor gave up"));
  CHECK(count_of(bridge.process.log(), "restart scheduled reason=crash") == 3);
  CHECK(read_state(bridge).state == "gave_up");
  require_no_orphans(bridge.process);
}

TEST_CASE("with NOTIFY_SOCKET set the supervisor speaks sd_notify", "[blackbox][supervisor]") {
  running_bridge bridge({sim_account{"main", 10.0, 0, 91, ""}}, /*start=*/false, {},
                        fast_supervisor);
  const std::string socket_path = bridge.dir.file("notify.sock");
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(socket_path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
  bridge.process.spawn();
  ::unsetenv("NOTIFY_SOCKET");

  std::string received;
  auto pump = [&] {
    char buf[512];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
      received.append(buf, static_cast<size_t>(n)).push_back('|');
  };
  auto receive_until = [&](const std::string& needle, size_t times = 1) {
    return eventually(
        [&] {
          pump();
          return count_of(received, needle) >= times;
        },
        20s, 10ms);
  };
  INFO("received: " << received);
  REQUIRE(receive_until("READY=1"));
  REQUIRE(::kill(bridge.process.pid(), SIGHUP) == 0);
  REQUIRE(receive_until("RELOADING=1"));
  REQUIRE(receive_until("READY=1", 2));  // ready again after the reload
  CHECK(bridge.process.stop(20s) == 0);
  REQUIRE(receive_until("STOPPING=1"));
  // Workers do not inherit NOTIFY_SOCKET: only the supervisor talks to systemd.
  pump();
  CHECK(count_of(received, "READY=1") == 2);
  ::close(fd);
}

TEST_CASE("a worker that does not drain within drain_timeout is killed and replaced",
          "[blackbox][supervisor]") {
  running_bridge bridge({sim_account{"main", 100.0, 0, 101, ""}}, /*start=*/false, {},
                        fast_supervisor);
  // The harness's config says drain_timeout = "10s"; make it short.
  std::string text = read_file(bridge.config_path);
  const auto at = text.find("drain_timeout = \"10s\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, 22, "drain_timeout = \"1s\"\n");
  write_file(bridge.config_path, text);
  bridge.process.start();
  bridge.wait_connected("main");
  const pid_t worker = bridge.process.worker_pid();
  REQUIRE(worker > 0);

  // A stopped process cannot drain: the SIGTERM stays pending.
  REQUIRE(::kill(worker, SIGSTOP) == 0);
  REQUIRE(::kill(bridge.process.pid(), SIGHUP) == 0);
  const pid_t next = bridge.process.wait_worker(worker, 20s);
  INFO("log:\n" << log_tail(bridge.process.log()));
  REQUIRE(next > 0);
  CHECK(contains(bridge.process.log(), "drain timeout pid=" + std::to_string(worker)));
  CHECK(contains(bridge.process.log(), "action=kill"));
  CHECK(contains(bridge.process.log(), "signal=KILL"));
  bridge.process.wait_ready();
  const auto state = read_state(bridge);
  CHECK(state.last_exit == "signal=KILL");
  CHECK_FALSE(state.last_exit_expected);
  CHECK(state.crashes == 0);  // deliberate restart, even though it had to kill
  // Its sims are gone too, and nothing it had committed is lost.
  verify_journal(bridge, bridge.account("main"), "verify");
  CHECK(bridge.process.stop(20s) == 0);
  require_no_orphans(bridge.process);
}

TEST_CASE("status shows the supervisor, the worker and the last crash", "[blackbox][supervisor]") {
  running_bridge bridge({sim_account{"main", 50.0, 0, 111, ""}}, /*start=*/true, {},
                        fast_supervisor);
  bridge.wait_connected("main");
  const pid_t first = bridge.process.kill_worker();
  REQUIRE(first > 0);
  const pid_t second = bridge.process.wait_worker(first);
  REQUIRE(second > 0);
  bridge.process.wait_ready();
  bridge.wait_connected("main");

  auto text = run_wabridge({"status", "-c", bridge.config_path}, bridge.dir.path());
  INFO("stdout: " << text.out << "\nstderr: " << text.err);
  CHECK(text.exit_code == 0);
  CHECK(contains(text.out, "supervisor pid " + std::to_string(bridge.process.pid())));
  CHECK(contains(text.out, "worker     pid " + std::to_string(second)));
  CHECK(contains(text.out, "generation 2"));
  CHECK(contains(text.out, "crashes 1"));
  CHECK(contains(text.out, "last exit signal=KILL (unexpected)"));
  CHECK(contains(text.out, "main"));

  auto machine = run_wabridge({"status", "-c", bridge.config_path, "--json"}, bridge.dir.path());
  INFO("json: " << machine.out);
  CHECK(machine.exit_code == 0);
  auto parsed = json::parse(machine.out, nullptr, false);
  REQUIRE(parsed.is_object());
  REQUIRE(parsed.contains("supervisor"));
  CHECK(int_field(parsed["supervisor"], "workerPid") == second);
  CHECK(uint_field(parsed["supervisor"], "crashes") == 1);
  CHECK(string_field(parsed["supervisor"], "state") == "running");

  // Stopped: not running, exit 2, even though the state file is still there.
  CHECK(bridge.process.stop(20s) == 0);
  auto after = run_wabridge({"status", "-c", bridge.config_path}, bridge.dir.path());
  INFO("after stop: " << after.out << after.err);
  CHECK(after.exit_code == 2);
  CHECK(contains(after.out, "not running"));
}

TEST_CASE("the crash backoff grows with consecutive crashes and resets after a stable period",
          "[blackbox][supervisor]") {
  running_bridge bridge({sim_account{"main", 20.0, 0, 121, ""}}, /*start=*/true, {},
                        "backoff_initial = \"50ms\"\nbackoff_max = \"10s\"\n"
                        "stable_after = \"1500ms\"\nintensity_max = 100\n");
  // Two crashes in a row: the second waits twice as long.
  pid_t worker = bridge.process.kill_worker();
  REQUIRE(worker > 0);
  worker = bridge.process.wait_worker(worker);
  REQUIRE(worker > 0);
  REQUIRE(::kill(worker, SIGKILL) == 0);
  worker = bridge.process.wait_worker(worker);
  REQUIRE(worker > 0);
  bridge.process.wait_ready();
  INFO("log:\n" << log_tail(bridge.process.log()));
  CHECK(contains(bridge.process.log(),
                 "restart scheduled reason=crash delay_ms=50 consecutive_crashes=1"));
  CHECK(contains(bridge.process.log(),
                 "restart scheduled reason=crash delay_ms=100 consecutive_crashes=2"));
  // Up longer than stable_after: the next crash starts over at backoff_initial.
  std::this_thread::sleep_for(1700ms);
  REQUIRE(::kill(worker, SIGKILL) == 0);
  REQUIRE(bridge.process.wait_worker(worker) > 0);
  CHECK(count_of(bridge.process.log(),
                 "restart scheduled reason=crash delay_ms=50 consecutive_crashes=1") == 2);
  CHECK(read_state(bridge).crashes == 3);
  CHECK(bridge.process.stop(20s) == 0);
}

TEST_CASE("a logged-out upstream is reported and not respawned", "[blackbox][supervisor]") {
  // A stand-in for the Baileys sidecar: says hello, reports logged_out and
  // exits, counting its starts in a file.
  temp_dir dir;
  bridge_options options;
  options.port = free_loopback_port();
  options.data_dir = dir.file("data");
  options.accounts = {sim_account{"main", 20.0, 0, 131, ""}};
  const std::string starts = dir.file("starts");
  write_file(dir.file("index.js"),
             "echo start >> '" + starts +
                 "'\n"
                 "printf '%s\\n' "
                 "'{\"type\":\"hello\",\"protocol\":1,\"upstream\":\"fake\",\"version\":\"0\"}'\n"
                 "printf '%s\\n' '{\"type\":\"state\",\"state\":\"logged_out\",\"reason\":\"device "
                 "removed\"}'\n"
                 "exit 0\n");
  // What the worker checks before it starts a sidecar: its packages are installed.
  std::filesystem::create_directories(dir.file("node_modules/@whiskeysockets/baileys"));
  write_file(dir.file("cfg.toml"), config_text(options) +
                                       "[[account]]\nname = \"phone\"\nupstream = \"baileys\"\n\n"
                                       "[account.baileys]\nnode = \"/bin/sh\"\nsidecar_dir = \"" +
                                       dir.path() + "\"\n");
  bridge_process bridge(dir.file("cfg.toml"), dir.file("bridge.log"), options.port);
  bridge.start();
  REQUIRE(
      eventually([&] { return contains(bridge.log(), "while logged out; not restarting"); }, 20s));
  // Well past any backoff delay: still one start, and the state says why.
  std::this_thread::sleep_for(1500ms);
  INFO("log:\n" << log_tail(bridge.log()));
  CHECK(count_of(read_file(starts), "start") == 1);
  const json status = http_client(options.port).get_json("/accounts/phone/status");
  REQUIRE(status.contains("accounts"));
  REQUIRE_FALSE(status["accounts"].empty());
  const json& account = status["accounts"][0];
  REQUIRE(account.contains("upstream"));
  CHECK(string_field(account["upstream"], "state") == "logged_out");
  CHECK(contains(string_field(account["upstream"], "reason"), "device removed"));
  // The other account is untouched.
  CHECK(string_field(http_client(options.port).get_json("/health"), "status") == "connected");
  CHECK(bridge.stop(20s) == 0);
}
