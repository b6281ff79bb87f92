// wabridge_torture: the fault-torture runner (issue #6, "Proof").
//
// Runs the real bridge (`wabridge run`, two sim accounts at a few thousand
// events/s, and a Baileys account: the real sidecar on a fake WhatsApp,
// tests/torture/fake_whatsapp.mjs, at 100 messages/s) while a consumer per
// account polls, acks and now and then crashes, and injects one random fault
// per cycle: kill -9 of the supervisor, the worker or an upstream (a sim or
// the sidecar), SIGTERM, SIGHUP, a replaced binary or a replaced config. After every cycle (bridge
// ready again) it compares each journal with its sim's ledger and checks the process tree; at the
// end of each epoch (a graceful stop, a restart that lets the sims run dry, a final stop) it checks
// everything exactly, from disk. For the Baileys account the reference is the fake WhatsApp's
// record of delivery receipts (torture/whatsapp_checks.hpp). Violations are counted and described,
// never fatal; the summary line says
//   torture: cycles=N violations=V faults={...} ...
// and the exit code is non-zero when V > 0 or no cycle ran.
//
// The faults are drawn from a PRNG seeded by --seed (printed at start), so a
// failing run's sequence of faults can be replayed. The harness helpers it
// uses report through Catch2, so the run happens inside one Catch2 test case
// under our own main; a harness failure (e.g. the bridge never became ready)
// is recorded as a violation and the bridge restarted.
#define CATCH_CONFIG_RUNNER
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "support/test_harness.hpp"
#include "torture/crashing_consumer.hpp"
#include "torture/journal_checks.hpp"
#include "torture/process_checks.hpp"
#include "torture/violation_log.hpp"
#include "torture/whatsapp_checks.hpp"

#include <signal.h>
#include <stdlib.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using wabridge::test::json;
using clock_type = std::chrono::steady_clock;

namespace wabridge::torture {
namespace {

struct run_options {
  uint64_t cycles = 25;
  uint64_t seed = 0;
  double minutes = 0;  // 0 = no time limit
  uint64_t epoch_cycles = 50;
  bool verbose = false;
  bool keep = false;
  bool whatsapp = true;  // the Baileys account on the fake WhatsApp
};

// What the run found, for main() to print after the Catch2 session.
struct run_result {
  uint64_t cycles = 0;
  uint64_t violations = 0;
  std::string summary;
};

run_options options;
run_result result;

// The last failed assertion of a harness helper, so that a harness failure
// becomes a described violation instead of a bare exception.
std::string last_harness_failure;

struct failure_recorder : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) {
      std::string text = stats.assertionResult.getExpressionInMacro();
      if (stats.assertionResult.hasMessage()) text += ": " + stats.assertionResult.getMessage();
      last_harness_failure = text.substr(0, 400);
    }
    return TestEventListenerBase::assertionEnded(stats);
  }
};
CATCH_REGISTER_LISTENER(failure_recorder)

enum class fault {
  kill9_worker,
  kill9_supervisor,
  kill9_upstream,
  sigterm,
  sighup,
  replace_binary,
  replace_config,
};
constexpr size_t fault_count = 7;
const std::array<const char*, fault_count> fault_names = {
    "kill9-worker", "kill9-supervisor", "kill9-upstream", "sigterm",
    "sighup",       "replace-binary",   "replace-config"};
// Crashes are the point, so they come up most; each graceful kind still
// comes up dozens of times in a long run.
const std::array<int, fault_count> fault_weights = {3, 2, 2, 1, 1, 1, 1};

// Fast crash restarts and an intensity no torture run reaches (about one
// crash a second at most), so the supervisor never gives up; a quick watch so
// a replaced file is noticed within ~200 ms.
const std::string supervisor_toml =
    "backoff_initial = \"20ms\"\nbackoff_max = \"200ms\"\nstable_after = \"1s\"\n"
    "intensity_max = 1000\nintensity_window = \"60s\"\nwatch_interval = \"100ms\"\n";

constexpr double alpha_rate = 2000.0;
constexpr double alpha_other_rate = 2500.0;  // what a replaced config switches to
constexpr double beta_rate = 800.0;
constexpr double whatsapp_rate = 100.0;  // messages/s of the fake WhatsApp
const std::string whatsapp_account = "wa";

std::string sidecar_dir() {
  return test::source_dir() + "/sidecar/baileys";
}

// The Baileys account: the checkout's sidecar, everybody's messages taken,
// quick reconnects (the fake connects at once).
std::string whatsapp_account_toml() {
  return "[[account]]\nname = \"" + whatsapp_account +
         "\"\nupstream = \"baileys\"\n\n[account.baileys]\nsidecar_dir = \"" + sidecar_dir() +
         "\"\nallowed_users = [\"*\"]\nreconnect_initial = \"100ms\"\nreconnect_max = "
         "\"1s\"\n";
}

// Copies `from` to `to` through a temp file and a rename, as an installer
// does (a new inode; a running binary cannot be overwritten in place).
void install_by_rename(const std::string& from, const std::string& to) {
  const std::string temp = to + ".new";
  fs::copy_file(from, temp, fs::copy_options::overwrite_existing);
  fs::permissions(temp, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                  fs::perm_options::replace);
  fs::rename(temp, to);
}

void write_by_rename(const std::string& path, const std::string& text) {
  test::write_file(path + ".new", text);
  fs::rename(path + ".new", path);
}

std::string pids_text(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) out += std::to_string(pid) + " ";
  return out;
}

// One data dir's life: a bridge, its consumers and checkers, several cycles.
class epoch {
 public:
  epoch(const std::string& run_dir, const std::string& binary, uint64_t number, uint64_t seed,
        violation_log& violations)
      : run_dir_(run_dir),
        dir_(run_dir + "/epoch-" + std::to_string(number)),
        violations_(violations) {
    fs::create_directories(dir_);
    bridge_.port = test::free_loopback_port();
    bridge_.data_dir = dir_ + "/data";
    bridge_.supervisor_toml = supervisor_toml;
    bridge_.accounts = {test::sim_account{"alpha", alpha_rate, 0, seed * 2 + 1},
                        test::sim_account{"beta", beta_rate, 0, seed * 2 + 2}};
    config_path_ = dir_ + "/wabridge.toml";
    if (options.whatsapp) {
      // The sidecar inherits these through the supervisor and the worker.
      const std::string wa_dir = dir_ + "/whatsapp";
      fs::create_directories(wa_dir);
      ::setenv("WABRIDGE_SIDECAR_FAKE_SOCKET",
               (test::source_dir() + "/tests/torture/fake_whatsapp.mjs").c_str(), 1);
      ::setenv("WABRIDGE_TORTURE_WA_DIR", wa_dir.c_str(), 1);
      ::setenv("WABRIDGE_TORTURE_WA_RATE", std::to_string(whatsapp_rate).c_str(), 1);
      whatsapp_ = std::make_unique<whatsapp_checks>(whatsapp_account, wa_dir, violations_);
    }
    test::write_file(config_path_, config_file_text());
    process_ =
        std::make_unique<test::bridge_process>(config_path_, dir_ + "/bridge.log", bridge_.port);
    process_->set_binary(binary);
    for (const auto& acc : bridge_.accounts)
      checks_.emplace_back(acc.name, acc.seed, acc.chats, violations_);
  }

  ~epoch() {
    for (auto& consumer : consumers_) consumer->stop();
  }

  const std::string& dir() const { return dir_; }
  uint64_t consumer_crashes() const {
    uint64_t n = 0;
    for (const auto& c : consumers_) n += c->crashes();
    return n;
  }

  void start() {
    process_->start(60s);
    if (consumers_.empty())
      for (size_t i = 0; i < bridge_.accounts.size(); ++i)
        consumers_.push_back(
            std::make_unique<crashing_consumer>(bridge_.port, bridge_.accounts[i].name, "torture",
                                                bridge_.accounts[i].seed * 7 + i, violations_));
    if (whatsapp_ && consumers_.size() == bridge_.accounts.size())
      consumers_.push_back(std::make_unique<crashing_consumer>(
          bridge_.port, whatsapp_account, "torture", bridge_.accounts[0].seed * 7 + 99, violations_,
          [](const std::string& uid) -> std::optional<uint64_t> {
            const uint64_t index = torture_message_index(uid);
            if (index == 0) return std::nullopt;
            return index;
          }));
  }

  void inject(fault f, std::mt19937_64& rng, const std::string& binary) {
    switch (f) {
      case fault::kill9_worker:
        return kill9_worker();
      case fault::kill9_supervisor:
        return kill9_supervisor();
      case fault::kill9_upstream:
        return kill9_upstream(rng);
      case fault::sigterm:
        return sigterm_and_restart();
      case fault::sighup:
        return graceful_restart([&] { ::kill(process_->pid(), SIGHUP); });
      case fault::replace_binary:
        return graceful_restart([&] { install_by_rename(binary, binary_in_use()); });
      case fault::replace_config:
        return graceful_restart([&] { replace_config(); });
    }
  }

  /// After a cycle: the process tree, then each journal against its ledger.
  void check_cycle() {
    check_process_tree(process_->pid());
    for (auto& check : checks_) check.check_running(bridge_.port, bridge_.data_dir);
    if (whatsapp_) whatsapp_->check_running(bridge_.port);
  }

  /// The end: a graceful stop checked exactly from disk; a restart with the
  /// sims capped at what they generated, so consumers can reach the end;
  /// then every consumer must have seen every seq; a final graceful stop.
  void finish() {
    stop_and_check_on_disk();
    for (size_t i = 0; i < bridge_.accounts.size(); ++i) {
      auto ledger = sim::read_ledger(test::ledger_dir(bridge_.data_dir, bridge_.accounts[i].name));
      if (ledger) bridge_.accounts[i].total = std::max<uint64_t>(ledger->generated, 1);
    }
    // The fake WhatsApp stops generating; it still redelivers what has no receipt.
    if (whatsapp_) test::write_file(whatsapp_->wa_dir() + "/stop", "");
    write_by_rename(config_path_, config_file_text());
    process_->start(60s);
    const bool caught_up = test::eventually(
        [&] {
          for (size_t i = 0; i < bridge_.accounts.size(); ++i) {
            const auto& acc = bridge_.accounts[i];
            auto ledger = sim::read_ledger(test::ledger_dir(bridge_.data_dir, acc.name));
            if (!ledger || ledger->confirmed_count() < acc.total) return false;
            const auto health =
                test::http_client(bridge_.port).get(test::account_path(acc.name, "/health"));
            if (health.status != 200) return false;
            const auto last =
                test::uint_field(json::parse(health.body, nullptr, false), "lastSeq", 0);
            if (consumers_[i]->acked() < last) return false;
          }
          return !whatsapp_ || whatsapp_caught_up();
        },
        90s, 50ms);
    if (!caught_up) violations_.add("consumers did not reach the end of the journals in 90 s");
    for (size_t i = 0; i < checks_.size(); ++i) {
      checks_[i].check_running(bridge_.port, bridge_.data_dir);
      consumers_[i]->stop();
      consumers_[i]->check_seen_everything(checks_[i].last_seq());
      if (consumers_[i]->acked() != checks_[i].last_seq())
        violations_.add(bridge_.accounts[i].name + ": consumer acked " +
                        std::to_string(consumers_[i]->acked()) + " of " +
                        std::to_string(checks_[i].last_seq()));
    }
    if (whatsapp_) {
      auto& consumer = *consumers_.back();
      whatsapp_->check_running(bridge_.port);
      consumer.stop();
      consumer.check_seen_everything(whatsapp_->last_seq());
      if (consumer.acked() != whatsapp_->last_seq())
        violations_.add(whatsapp_account + ": consumer acked " + std::to_string(consumer.acked()) +
                        " of " + std::to_string(whatsapp_->last_seq()));
    }
    stop_and_check_on_disk(/*complete=*/true);
    check_process_tree(-1);
  }

  /// After a harness failure: whatever runs is killed and the bridge started again.
  void recover() {
    if (process_->pid() > 0) {
      ::kill(-process_->pid(), SIGKILL);
      process_->kill_group();
      (void)process_->group_gone(10s);
    }
    process_->start(60s);
  }

  std::string describe_state() const {
    std::ostringstream out;
    for (size_t i = 0; i < checks_.size(); ++i)
      out << bridge_.accounts[i].name << " seq=" << checks_[i].last_seq()
          << " acked=" << (i < consumers_.size() ? consumers_[i]->acked() : 0) << " ";
    if (whatsapp_) {
      const auto side = read_whatsapp_side(whatsapp_->wa_dir());
      out << whatsapp_account << " seq=" << whatsapp_->last_seq()
          << " acked=" << (consumers_.size() > checks_.size() ? consumers_.back()->acked() : 0)
          << " receipted=" << side.receipted.size() << " ";
    }
    return out.str();
  }

 private:
  std::string config_file_text() const {
    return test::config_text(bridge_) + (whatsapp_ ? whatsapp_account_toml() : std::string());
  }

  // Everything the fake WhatsApp generated has its receipt, is journaled
  // (seqs are contiguous and unique per message, so the count says it) and
  // was acked by the consumer.
  bool whatsapp_caught_up() const {
    const auto side = read_whatsapp_side(whatsapp_->wa_dir());
    if (side.receipted.size() != side.generated) return false;
    const auto health =
        test::http_client(bridge_.port).get(test::account_path(whatsapp_account, "/health"));
    if (health.status != 200) return false;
    const auto last = test::uint_field(json::parse(health.body, nullptr, false), "lastSeq", 0);
    return last == side.generated && consumers_.back()->acked() >= last;
  }

  std::string binary_in_use() const { return run_dir_ + "/bin/wabridge"; }

  void check_process_tree(pid_t supervisor) {
    std::string problem;
    const bool clean = test::eventually(
        [&] {
          problem = process_tree_problem(run_dir_, supervisor);
          return problem.empty();
        },
        10s, 20ms);
    if (!clean) violations_.add("process tree: " + problem);
  }

  void kill9_worker() {
    pid_t worker = process_->wait_worker(-1, 10s);
    if (worker <= 0) return violations_.add("no worker to kill");
    const auto sims = test::children_of(worker);
    ::kill(worker, SIGKILL);
    if (process_->wait_worker(worker, 30s) <= 0)
      return violations_.add("no new worker within 30 s of kill -9 of worker " +
                             std::to_string(worker));
    process_->wait_ready(60s);
    // Nobody signals the killed worker's sims: they must notice on their own.
    if (!test::eventually([&] { return all_gone(sims); }, 10s, 10ms))
      violations_.add("sims of the killed worker survive: " + pids_text(sims));
  }

  void kill9_supervisor() {
    process_->kill_supervisor();
    const auto killed_at = clock_type::now();
    // The worker and its sims must follow the supervisor on their own.
    if (process_->group_gone(15s)) {
      // They drain first, which takes milliseconds; seconds mean something hung.
      const auto took =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - killed_at);
      if (took > 5s)
        violations_.add("the worker took " + std::to_string(took.count()) +
                        " ms to exit after its supervisor was killed");
    } else {
      violations_.add("orphans 15 s after kill -9 of the supervisor: " +
                      pids_text(process_->group_members()));
      ::kill(-process_->pid(), SIGKILL);
      (void)process_->group_gone(5s);
    }
    process_->start(60s);
  }

  void kill9_upstream(std::mt19937_64& rng) {
    std::vector<std::string> names;
    for (const auto& account : bridge_.accounts) names.push_back(account.name);
    if (whatsapp_) names.push_back(whatsapp_account);
    const struct {
      std::string name;
    } acc{names[std::uniform_int_distribution<size_t>(0, names.size() - 1)(rng)]};
    const test::http_client client(bridge_.port);
    auto upstream = [&]() -> json {
      const auto reply = client.get(test::account_path(acc.name, "/status"));
      const json status = json::parse(reply.body, nullptr, false);
      if (reply.status != 200 || !status.is_object() || !status.contains("accounts") ||
          status["accounts"].empty() || !status["accounts"][0].contains("upstream"))
        return json::object();
      return status["accounts"][0]["upstream"];
    };
    // The upstream may still be (re)starting after the previous cycle.
    json before;
    if (!test::eventually(
            [&] {
              before = upstream();
              return test::string_field(before, "state") == "connected" &&
                     test::int_field(before, "pid") > 0;
            },
            20s))
      return violations_.add(acc.name + ": upstream not connected: " + before.dump());
    const auto pid = static_cast<pid_t>(test::int_field(before, "pid"));
    const auto members = process_->group_members();
    if (std::find(members.begin(), members.end(), pid) == members.end())
      return violations_.add(acc.name + ": upstream pid " + std::to_string(pid) +
                             " is not in the bridge's group");
    ::kill(pid, SIGKILL);
    json after;
    if (!test::eventually(
            [&] {
              after = upstream();
              return test::uint_field(after, "restarts") > test::uint_field(before, "restarts") &&
                     test::int_field(after, "pid") != pid &&
                     test::string_field(after, "state") == "connected";
            },
            30s))
      violations_.add(acc.name +
                      ": upstream not respawned within 30 s of kill -9: " + after.dump());
  }

  std::string log_since(size_t offset) const {
    const std::string log = process_->log();
    return log.size() > offset ? log.substr(offset) : std::string();
  }

  // The drain of the last graceful stop confirmed everything it committed
  // (the worker says so per drain in its log).
  bool last_drain_clean(size_t log_offset) const {
    const std::string tail = log_since(log_offset);
    return tail.find("worker drain done") != std::string::npos &&
           tail.find("clean=false") == std::string::npos;
  }

  // A graceful stop or restart must not need the supervisor's kill at
  // drain_timeout: the drain takes milliseconds here.
  bool drain_timed_out(size_t log_offset) const {
    return log_since(log_offset).find("drain timeout") != std::string::npos;
  }

  void stop_and_check_on_disk(bool complete = false) {
    const size_t log_offset = process_->log().size();
    const int code = process_->stop(30s);
    if (drain_timed_out(log_offset))
      violations_.add(
          "SIGTERM: the worker's drain hit drain_timeout and was killed; supervisor "
          "exited " +
          std::to_string(code));
    else if (code != 0)
      violations_.add("SIGTERM: supervisor exited " + std::to_string(code));
    if (!process_->group_gone(10s))
      violations_.add("orphans 10 s after a graceful stop: " +
                      pids_text(process_->group_members()));
    const bool clean = last_drain_clean(log_offset);
    for (auto& check : checks_) check.check_stopped(bridge_.data_dir, clean);
    if (whatsapp_) whatsapp_->check_stopped(bridge_.data_dir, complete);
  }

  void sigterm_and_restart() {
    stop_and_check_on_disk();
    check_process_tree(-1);
    process_->start(60s);
  }

  template <class Trigger>
  void graceful_restart(Trigger trigger) {
    const pid_t supervisor = process_->pid();
    const pid_t old_worker = process_->wait_worker(-1, 10s);
    const size_t log_offset = process_->log().size();
    trigger();
    if (process_->wait_worker(old_worker, 30s) <= 0)
      return violations_.add("no new worker within 30 s");
    process_->wait_ready(60s);
    if (drain_timed_out(log_offset))
      violations_.add("the old worker's drain hit drain_timeout and was killed");
    if (process_->pid() != supervisor || !process_->running())
      violations_.add("the supervisor did not survive a graceful restart");
  }

  void replace_config() {
    auto& alpha = bridge_.accounts.front();
    alpha.rate = alpha.rate == alpha_rate ? alpha_other_rate : alpha_rate;
    write_by_rename(config_path_, config_file_text());
  }

  std::string run_dir_;
  std::string dir_;
  violation_log& violations_;
  test::bridge_options bridge_;
  std::string config_path_;
  std::unique_ptr<test::bridge_process> process_;
  std::vector<journal_checks> checks_;
  std::unique_ptr<whatsapp_checks> whatsapp_;  // null with --no-whatsapp
  std::vector<std::unique_ptr<crashing_consumer>> consumers_;
};

std::string make_run_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wabridge-torture-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + pattern);
  return buf.data();
}

void run_torture() {
  const auto started = clock_type::now();
  const std::string run_dir = make_run_dir();
  const std::string binary = run_dir + "/bin/wabridge";
  fs::create_directories(run_dir + "/bin");
  install_by_rename(test::binary_path(), binary);
  std::cout << "torture: seed=" << options.seed << " cycles=" << options.cycles
            << " minutes=" << options.minutes << " epoch_cycles=" << options.epoch_cycles
            << " dir=" << run_dir << std::endl;

  violation_log violations;
  std::mt19937_64 rng(options.seed);
  std::discrete_distribution<size_t> pick_fault(fault_weights.begin(), fault_weights.end());
  std::uniform_int_distribution<int> load_ms(100, 700);
  std::array<uint64_t, fault_count> fault_counts{};
  uint64_t cycle = 0;
  uint64_t consumer_crashes = 0;
  auto out_of_time = [&] {
    return options.minutes > 0 &&
           clock_type::now() - started >= std::chrono::duration<double>(options.minutes * 60);
  };

  for (uint64_t number = 1; cycle < options.cycles && !out_of_time(); ++number) {
    const uint64_t violations_before = violations.count();
    epoch current(run_dir, binary, number, options.seed * 1000 + number, violations);
    violations.set_context(static_cast<int>(cycle), "start");
    try {
      current.start();
    } catch (...) {
      violations.add("epoch " + std::to_string(number) +
                     ": the bridge did not start: " + last_harness_failure);
      break;
    }
    for (uint64_t in_epoch = 0;
         in_epoch < options.epoch_cycles && cycle < options.cycles && !out_of_time(); ++in_epoch) {
      ++cycle;
      const auto kind = static_cast<fault>(pick_fault(rng));
      const int load = load_ms(rng);
      const auto cycle_started = clock_type::now();
      violations.set_context(static_cast<int>(cycle), fault_names[static_cast<size_t>(kind)]);
      ++fault_counts[static_cast<size_t>(kind)];
      try {
        // Load: the sims stream, the consumers poll and ack, then the fault.
        std::this_thread::sleep_for(std::chrono::milliseconds(load));
        current.inject(kind, rng, test::binary_path());
        current.check_cycle();
      } catch (...) {
        violations.add("harness: " + last_harness_failure);
        try {
          current.recover();
        } catch (...) {
          violations.add("could not restart the bridge; ending the epoch: " + last_harness_failure);
          break;
        }
      }
      if (options.verbose)
        std::cout << "cycle " << cycle << " " << fault_names[static_cast<size_t>(kind)]
                  << " load_ms=" << load << " took_ms="
                  << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() -
                                                                           cycle_started)
                         .count()
                  << " " << current.describe_state() << "violations=" << violations.count()
                  << std::endl;
    }
    violations.set_context(static_cast<int>(cycle), "epoch-end");
    try {
      current.finish();
    } catch (...) {
      violations.add("harness at the epoch's end: " + last_harness_failure);
    }
    consumer_crashes += current.consumer_crashes();
    const bool epoch_clean = violations.count() == violations_before;
    std::cout
        << "epoch " << number << " done: cycles so far " << cycle << ", "
        << current.describe_state() << "violations=" << violations.count() << " elapsed_s="
        << std::chrono::duration_cast<std::chrono::seconds>(clock_type::now() - started).count()
        << std::endl;
    if (epoch_clean && !options.keep) {
      std::error_code ec;
      fs::remove_all(current.dir(), ec);
    } else {
      std::cout << "keeping " << current.dir() << " for inspection" << std::endl;
    }
  }

  std::ostringstream summary;
  summary << "torture: cycles=" << cycle << " violations=" << violations.count() << " faults={";
  for (size_t i = 0; i < fault_count; ++i)
    summary << (i > 0 ? ", " : "") << fault_names[i] << ":" << fault_counts[i];
  summary << "} consumer-crashes=" << consumer_crashes << " seed=" << options.seed << " duration_s="
          << std::chrono::duration_cast<std::chrono::seconds>(clock_type::now() - started).count();
  for (const auto& v : violations.kept())
    std::cout << "violation: cycle " << v.cycle << " (" << v.fault << "): " << v.what << '\n';
  result.cycles = cycle;
  result.violations = violations.count();
  result.summary = summary.str();
  if (violations.count() == 0 && !options.keep) {
    std::error_code ec;
    fs::remove_all(run_dir, ec);
  }
}

bool parse_options(int argc, char** argv) {
  bool seed_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--cycles") {
      options.cycles = std::stoull(value());
    } else if (arg == "--seed") {
      options.seed = std::stoull(value());
      seed_given = true;
    } else if (arg == "--minutes") {
      options.minutes = std::stod(value());
    } else if (arg == "--epoch-cycles") {
      options.epoch_cycles = std::max<uint64_t>(1, std::stoull(value()));
    } else if (arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "--keep") {
      options.keep = true;
    } else if (arg == "--no-whatsapp") {
      options.whatsapp = false;
    } else {
      std::cerr << "usage: wabridge_torture [--cycles N] [--seed S] [--minutes M] "
                   "[--epoch-cycles E] [--verbose] [--keep] [--no-whatsapp]\n";
      return false;
    }
  }
  if (!seed_given) options.seed = std::random_device{}();
  if (options.whatsapp && !fs::exists(sidecar_dir() + "/node_modules/@whiskeysockets/baileys")) {
    std::cerr << "wabridge_torture: the Baileys sidecar is not installed (npm ci in "
              << sidecar_dir() << "; scripts/setup.sh does it); --no-whatsapp runs without it\n";
    return false;
  }
  return true;
}

}  // namespace
}  // namespace wabridge::torture

TEST_CASE("fault torture") {
  wabridge::torture::run_torture();
}

int main(int argc, char** argv) {
  using namespace wabridge::torture;
  try {
    if (!parse_options(argc, argv)) return 2;
  } catch (const std::exception& e) {
    std::cerr << "wabridge_torture: " << e.what() << '\n';
    return 2;
  }
  Catch::Session session;
  std::array<char*, 1> catch_argv{argv[0]};
  (void)session.run(1, catch_argv.data());
  std::cout << result.summary << std::endl;
  return result.violations == 0 && result.cycles > 0 ? 0 : 1;
}
