// Storage faults (issue #6): the real bridge with a journal whose LMDB map
// fills up, with online map growth, and with its LMDB environments on a small
// tmpfs that runs out of space. In every case the bridge must stop confirming
// upstream (the sim's ledger shows the events unconfirmed), say "degraded" in
// /health, /status, /metrics and once in the log, keep serving reads, recover
// by itself once space is back, and lose nothing: every event the sim counts
// as confirmed is journaled exactly once with contiguous seqs.
#include "support/durability_checks.hpp"
#include "support/test_harness.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace wabridge::test;
namespace fs = std::filesystem;

namespace {

json health_of(const http_client& client, const std::string& account) {
  return client.get_json(account_path(account, "/health"));
}

bool journal_degraded(const http_client& client, const std::string& account) {
  return bool_field(health_of(client, account), "journalDegraded");
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The account's journal as /status reports it.
json status_journal(const http_client& client, const std::string& account) {
  const json status = client.get_json(account_path(account, "/status"));
  REQUIRE(status.contains("accounts"));
  REQUIRE(status["accounts"].is_array());
  REQUIRE(status["accounts"].size() == 1);
  const json& acc = status["accounts"][0];
  REQUIRE(acc.contains("journal"));
  return acc["journal"];
}

// What a degraded journal must look like from the outside. A map or disk
// that is nearly full still takes a small batch now and then, so first wait
// until nothing has been confirmed for a second; then, over 2.5 s in which
// the session retries every second, nothing may be confirmed or journaled and
// nothing more may be logged: one line per transition, not one per retry.
void check_degraded_period(const running_bridge& bridge, const std::string& account,
                           const std::string& error_fragment) {
  const auto client = bridge.client(account);
  uint64_t confirmed = read_ledger_or_fail(bridge.data_dir(), account).confirmed_count();
  auto stable_since = std::chrono::steady_clock::now();
  const bool settled = eventually(
      [&] {
        const uint64_t now = read_ledger_or_fail(bridge.data_dir(), account).confirmed_count();
        if (now != confirmed) {
          confirmed = now;
          stable_since = std::chrono::steady_clock::now();
        }
        return journal_degraded(client, account) &&
               std::chrono::steady_clock::now() - stable_since >= 1s;
      },
      20s, 50ms);
  REQUIRE(settled);
  const auto before = read_ledger_or_fail(bridge.data_dir(), account);
  const uint64_t seq_before = last_seq(client, account);
  const std::string failed_line = "journal account=" + account + " commit failed";
  const std::string refused_line = "upstream account=" + account + " journal refused batch";
  const size_t failed_before = count_of(bridge.process.log(), failed_line);
  const size_t refused_before = count_of(bridge.process.log(), refused_line);
  std::this_thread::sleep_for(2500ms);
  const auto after = read_ledger_or_fail(bridge.data_dir(), account);
  INFO("ledger before: generated " << before.generated << " confirmed " << before.confirmed_count()
                                   << "; after: generated " << after.generated << " confirmed "
                                   << after.confirmed_count() << "\nlog:\n"
                                   << log_tail(bridge.process.log()));
  // Still degraded after the wait, and nothing was confirmed or journaled meanwhile.
  const json health = health_of(client, account);
  REQUIRE(bool_field(health, "journalDegraded"));
  CHECK_FALSE(bool_field(health, "healthy"));
  CHECK(string_field(health, "journalError").find(error_fragment) != std::string::npos);
  CHECK(after.confirmed_count() == before.confirmed_count());
  CHECK(last_seq(client, account) == seq_before);
  // The sim holds events the bridge has not confirmed (it keeps them for redelivery).
  CHECK(after.generated > after.confirmed_count());

  const json journal = status_journal(client, account);
  CHECK(bool_field(journal, "degraded"));
  CHECK(string_field(journal, "lastError").find(error_fragment) != std::string::npos);
  const auto metrics = client.get("/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("wabridge_journal_degraded{account=\"" + account + "\"} 1") !=
        std::string::npos);

  // Logged when it began, not again for the retries since.
  const std::string log = bridge.process.log();
  CHECK(failed_before >= 1);
  CHECK(refused_before >= 1);
  CHECK(count_of(log, failed_line) == failed_before);
  CHECK(count_of(log, refused_line) == refused_before);
}

// A tmpfs of `size` mounted on a fresh directory, unmounted (lazily, so a
// process still holding a file there cannot make it fail) at scope end.
class tmpfs_mount {
 public:
  explicit tmpfs_mount(const std::string& size) {
    char pattern[] = "/tmp/wabridge-tmpfs-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return;
    }
    path_ = pattern;
    const std::string data = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, data.c_str()) != 0) {
      error_ = "mount -t tmpfs -o " + data + " " + path_ + ": " + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~tmpfs_mount() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  tmpfs_mount(const tmpfs_mount&) = delete;
  tmpfs_mount& operator=(const tmpfs_mount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string error_;
  bool mounted_ = false;
};

// All three LMDB environments of the account on the small filesystem (as
// symlinks); the sim's ledger (the test's witness) stays on the big one.
void put_environments_on(const tmpfs_mount& disk, const running_bridge& bridge,
                         const std::string& account) {
  const fs::path account_dir = fs::path(bridge.data_dir()) / "accounts" / account;
  fs::create_directories(account_dir);
  for (const char* env : {"journal", "cursors", "outbox"}) {
    fs::create_directories(fs::path(disk.path()) / env);
    fs::create_directory_symlink(fs::path(disk.path()) / env, account_dir / env);
  }
}

// Writes `path` until the filesystem refuses (ENOSPC); the bytes written.
uint64_t fill_with_ballast(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  const std::string chunk(64 * 1024, 'b');
  uint64_t written = 0;
  int last_errno = 0;
  for (;;) {
    const ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n > 0) {
      written += static_cast<uint64_t>(n);
      continue;
    }
    last_errno = n < 0 ? errno : ENOSPC;
    if (last_errno == EINTR) continue;
    break;
  }
  ::close(fd);
  INFO("ballast write ended with " << std::strerror(last_errno));
  CHECK(last_errno == ENOSPC);
  return written;
}

}  // namespace

TEST_CASE(
    "a full map without growth degrades, confirms nothing and recovers once acked events "
    "are compacted",
    "[blackbox][storage]") {
  // 1 MiB of map holds about a thousand sim events; no consumer exists at
  // first, so retention can free nothing and the map fills up.
  running_bridge bridge(
      {sim_account{"alpha", 2000.0, 8000, 41, ""}}, /*start=*/false,
      "[journal]\nmap_size = \"1MiB\"\nretain_acked = \"0\"\ndedupe_window = \"1s\"\n");
  const auto& alpha = bridge.account("alpha");
  const auto client = bridge.client("alpha");
  bridge.process.start();
  const pid_t worker = bridge.process.worker_pid();

  REQUIRE(eventually([&] { return journal_degraded(client, "alpha"); }, 30s, 20ms));
  check_degraded_period(bridge, "alpha", "journal_full");
  CHECK(bridge.process.log().find("hint=map-full") != std::string::npos);
  const uint64_t journaled_when_full = last_seq(client, "alpha");
  CHECK(journaled_when_full < alpha.total);

  // Reads and acks go on while the journal refuses appends; acking lets
  // retention (retain_acked = 0) free the map, and ingestion resumes by itself.
  explicit_consumer consumer("alpha", "durable");
  run_to_completion(
      bridge, [&] { return consumer.step(client, 1.0, 1000) == 0; }, 45s);

  INFO("log:\n" << log_tail(bridge.process.log()));
  CHECK_FALSE(journal_degraded(client, "alpha"));
  CHECK(bridge.process.log().find("journal account=alpha recovered") != std::string::npos);
  CHECK(bridge.process.log().find("journal accepts batches again") != std::string::npos);
  // Exactly once: the consumer saw every uid once under contiguous seqs
  // (checked page by page), and the journal assigned no seq beyond them.
  CHECK(consumer.distinct() == alpha.total);
  CHECK(consumer.acked() == alpha.total);
  CHECK(last_seq(client, "alpha") == alpha.total);
  const auto ledger = read_ledger_or_fail(bridge.data_dir(), "alpha");
  CHECK(ledger.confirmed_count() == alpha.total);
  // The map stayed at its size (no growth configured), and nothing crashed.
  CHECK(uint_field(status_journal(client, "alpha"), "mapSize") == (1u << 20));
  CHECK(bridge.process.log().find("map grown") == std::string::npos);
  CHECK(bridge.process.worker_pid() == worker);
  CHECK(bridge.process.stop() == 0);
}

TEST_CASE("with max_map_size the full map grows online and ingestion never stalls",
          "[blackbox][storage]") {
  running_bridge bridge({sim_account{"alpha", 4000.0, 10000, 42, ""}}, /*start=*/false,
                        "[journal]\nmap_size = \"1MiB\"\nmax_map_size = \"64MiB\"\n");
  const auto& alpha = bridge.account("alpha");
  const auto client = bridge.client("alpha");
  bridge.process.start();
  // Nobody consumes: the journal keeps all 10,000 events, several MiB.
  uint64_t degraded_seen = 0;
  run_to_completion(
      bridge,
      [&] {
        if (journal_degraded(client, "alpha")) ++degraded_seen;
        return true;
      },
      45s);
  INFO("log:\n" << log_tail(bridge.process.log()));
  // Growth happens inside the failed commit's retry, before anyone answers:
  // the journal never reports degraded and never fails a commit.
  CHECK(degraded_seen == 0);
  const std::string log = bridge.process.log();
  CHECK(log.find("commit failed") == std::string::npos);
  CHECK(log.find("journal account=alpha map grown from=1048576 to=2097152") != std::string::npos);
  const json journal = status_journal(client, "alpha");
  CHECK(uint_field(journal, "mapSize") > (1u << 20));
  CHECK(uint_field(journal, "mapSize") <= (64u << 20));
  CHECK(uint_field(journal, "usedBytes") > (1u << 20));

  const auto summary = verify_journal(bridge, alpha, "verify");
  CHECK(summary.events == alpha.total);
  CHECK(bridge.process.stop() == 0);
}

TEST_CASE(
    "a full filesystem degrades, confirms nothing, does not crash, and recovers when space "
    "returns",
    "[blackbox][storage]") {
  tmpfs_mount disk("16m");
  if (!disk.mounted()) {
    WARN("SKIPPED: cannot mount a tmpfs (the test needs root): " << disk.error());
    return;
  }
  running_bridge bridge({sim_account{"alpha", 1500.0, 9000, 43, ""}}, /*start=*/false);
  const auto& alpha = bridge.account("alpha");
  const auto client = bridge.client("alpha");
  put_environments_on(disk, bridge, "alpha");
  bridge.process.start();
  const pid_t worker = bridge.process.worker_pid();
  bridge.wait_for_seq("alpha", 1000);
  explicit_consumer consumer("alpha", "durable");
  consumer.step(client, 1.0, 500);

  const std::string ballast = disk.path() + "/ballast";
  const uint64_t ballast_bytes = fill_with_ballast(ballast);
  REQUIRE(ballast_bytes > 0);
  REQUIRE(eventually([&] { return journal_degraded(client, "alpha"); }, 30s, 20ms));
  check_degraded_period(bridge, "alpha", "journal_full");

  // The cursor store and the outbox are on the full disk too: an ack or a
  // send either works (LMDB can reuse freed pages) or is refused with a
  // clear error; the worker survives either way.
  const auto ack =
      client.post(account_path("alpha", "/ack"),
                  json{{"up_to_seq", consumer.acked()}, {"consumer", "durable"}}.dump());
  INFO("ack -> " << ack.status << " " << ack.body);
  CHECK((ack.status == 200 || ack.status == 507));
  const auto send =
      client.post(account_path("alpha", "/send"),
                  json{{"chatId", "1@s.whatsapp.net"}, {"message", "on a full disk"}}.dump(),
                  {{"Prefer", "respond-async"}});
  INFO("send -> " << send.status << " " << send.body);
  CHECK((send.status == 202 || send.status == 507));
  if (send.status == 507) CHECK(send.body.find("journal_full") != std::string::npos);
  CHECK(consumer.step(client, 0.0, 100) > 0);  // reads go on
  CHECK(bridge.process.worker_pid() == worker);

  // Space returns: ingestion resumes with no one's help.
  REQUIRE(::unlink(ballast.c_str()) == 0);
  REQUIRE(eventually([&] { return !journal_degraded(client, "alpha"); }, 15s, 50ms));
  run_to_completion(
      bridge, [&] { return consumer.step(client, 1.0, 1000) == 0; }, 45s);

  INFO("log:\n" << log_tail(bridge.process.log()));
  CHECK(bridge.process.log().find("journal account=alpha recovered") != std::string::npos);
  const auto summary = verify_journal(bridge, alpha, "verify");
  CHECK(summary.events == alpha.total);
  CHECK(consumer.distinct() == alpha.total);
  // No crash (no SIGBUS from a mapped file on a full filesystem, no abort).
  CHECK(bridge.process.worker_pid() == worker);
  CHECK(bridge.process.log().find("exited") == std::string::npos);
  CHECK(bridge.process.stop() == 0);
}

TEST_CASE(
    "starting on a full filesystem is an error, not a crash, and the bridge starts once "
    "space returns",
    "[blackbox][storage]") {
  tmpfs_mount disk("4m");
  if (!disk.mounted()) {
    WARN("SKIPPED: cannot mount a tmpfs (the test needs root): " << disk.error());
    return;
  }
  running_bridge bridge({sim_account{"alpha", 500.0, 1000, 44, ""}}, /*start=*/false);
  const auto& alpha = bridge.account("alpha");
  put_environments_on(disk, bridge, "alpha");
  // No environment exists yet: LMDB would create lock.mdb and write its
  // reader table through a writable mapping, which on a full tmpfs is SIGBUS.
  const std::string ballast = disk.path() + "/ballast";
  REQUIRE(fill_with_ballast(ballast) > 0);
  bridge.process.spawn();
  const std::string refused = "worker cannot start account=alpha error=\"journal_full:";
  const bool ended = eventually(
      [&] {
        const std::string log = bridge.process.log();
        return log.find(refused) != std::string::npos || log.find("signal=") != std::string::npos;
      },
      20s);
  INFO("log:\n" << log_tail(bridge.process.log()));
  REQUIRE(ended);
  CHECK(bridge.process.log().find("signal=") == std::string::npos);  // e.g. signal=BUS
  REQUIRE(bridge.process.log().find(refused) != std::string::npos);

  // Space returns: the supervisor's next restart opens the journal.
  REQUIRE(::unlink(ballast.c_str()) == 0);
  bridge.process.wait_ready(30s);
  run_to_completion(
      bridge, [] { return true; }, 30s);
  CHECK(verify_journal(bridge, alpha, "verify").events == alpha.total);
  CHECK(bridge.process.log().find("signal=") == std::string::npos);
  CHECK(bridge.process.stop() == 0);
}
