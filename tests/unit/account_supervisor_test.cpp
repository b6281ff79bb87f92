// Tests of the account supervisor (actors/account_supervisor.*): which
// actors come back after a failure, that nothing is lost across a restart,
// the "failed" state past the restart intensity, and the drain. Real actor
// system, real LMDB in a fresh temp dir, real sessions running
// `wabridge sim-upstream` children. Failures are injected by killing an actor
// (exit_reason::kill). Waiting is polling with a deadline; every assertion is
// on what was delivered, never on elapsed time.
#include "actors/account_supervisor.hpp"
#include "actors/ack_tracker_actor.hpp"
#include "actors/http_front_end.hpp"
#include "actors/journal_actor.hpp"
#include "actors/messages.hpp"
#include "common/error.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include "support/scratch_dir.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace wabridge;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Generous: only a hang should ever hit these.
constexpr auto reply_timeout = std::chrono::seconds(30);
constexpr auto wait_limit = std::chrono::seconds(60);

template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const Handle& dest, Ts&&... xs) {
  caf::expected<T> result{make_error(errc::timeout, "no reply")};
  self->request(dest, reply_timeout, std::forward<Ts>(xs)...)
      .receive([&](T& value) { result = std::move(value); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

// Polls `done` until it holds or the limit passes; the result is what counts.
bool eventually(const std::function<bool()>& done,
                std::chrono::steady_clock::duration limit = wait_limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  if (to < from) return {};
  std::vector<uint64_t> out(to - from + 1);
  std::iota(out.begin(), out.end(), from);
  return out;
}

account_config sim_account(const std::string& name, double rate, uint64_t total, uint64_t seed) {
  account_config acc;
  acc.name = name;
  acc.upstream = upstream_kind::sim;
  acc.sim.rate = rate;
  acc.sim.total = total;
  acc.sim.seed = seed;
  acc.sim.chats = 10;
  return acc;
}

bool same(const account_handles& a, const account_handles& b) {
  return a.journal == b.journal && a.acks == b.acks && a.session == b.session;
}

// Everything a journal holds, read page by page.
struct journal_content {
  std::vector<uint64_t> seqs;
  std::set<std::string> uids;
};

// One actor system with supervised accounts on a temp data dir. Every
// supervisor (and with it every actor of its account) is stopped and waited
// for before the system and the directory go, even when a REQUIRE fails.
class supervised_fixture {
 public:
  supervised_fixture() : sys_(cfg_), self_(sys_) {
    bridge_.bridge.data_dir = tmp_.path();
    bridge_.bridge.listen = "127.0.0.1:0";
    bridge_.bridge.listen_host = "127.0.0.1";
    bridge_.bridge.listen_port = 0;
    bridge_.supervisor.backoff_initial = 20ms;
    bridge_.supervisor.backoff_max = 200ms;
    bridge_.supervisor.intensity_max = 10;
    bridge_.supervisor.intensity_window = 60s;
    bridge_.supervisor.drain_timeout = 10s;
    bridge_.http.threads = 4;
  }
  ~supervised_fixture() { stop_all(); }
  supervised_fixture(const supervised_fixture&) = delete;
  supervised_fixture& operator=(const supervised_fixture&) = delete;

  caf::actor_system& sys() { return sys_; }
  caf::scoped_actor& self() { return self_; }
  bridge_config& bridge() { return bridge_; }

  /// Starts a supervised account; `tweak` may change its supervisor config.
  account_actors start(const account_config& acc,
                       const std::function<void(account_supervisor_config&)>& tweak = {}) {
    auto cfg = make_account_supervisor_config(bridge_, acc, WABRIDGE_BINARY);
    if (tweak) tweak(cfg);
    auto started = spawn_account_supervisor(sys_, cfg);
    INFO((started ? std::string{} : describe(started.error())));
    REQUIRE(started);
    running_.push_back(caf::actor_cast<caf::actor>(started->supervisor));
    if (bridge_.bridge.default_account.empty()) bridge_.bridge.default_account = acc.name;
    return *started;
  }

  void stop_all() {
    for (auto& a : running_) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    self_->wait_for(running_);
    running_.clear();
  }

  account_handles lookup(const account_actors& acc) {
    auto handles = ask<account_handles>(self_, acc.supervisor, lookup_atom::value);
    INFO((handles ? std::string{} : describe(handles.error())));
    REQUIRE(handles);
    return *handles;
  }

  /// Polls the supervisor until `done` holds for its handles.
  account_handles wait_until(const account_actors& acc,
                             const std::function<bool(const account_handles&)>& done,
                             const std::string& what) {
    account_handles last;
    const bool reached = eventually([&] {
      last = lookup(acc);
      return done(last);
    });
    INFO("waiting for account " << acc.config.name << " to be " << what << "; last state "
                                << last.state << " reason \"" << last.reason << "\" restarts "
                                << last.restarts);
    REQUIRE(reached);
    return last;
  }

  account_handles wait_running(const account_actors& acc, uint32_t restarts) {
    return wait_until(
        acc,
        [restarts](const account_handles& h) {
          return h.state == "running" && h.restarts == restarts && h.journal && h.acks && h.session;
        },
        "running after " + std::to_string(restarts) + " restarts");
  }

  journal_stats stats(const journal_actor& journal) {
    auto st = ask<journal_stats>(self_, journal, stats_atom::value);
    INFO((st ? std::string{} : describe(st.error())));
    REQUIRE(st);
    return *st;
  }

  /// Waits until the account's current journal holds at least `n` events.
  void wait_for_seq(const account_actors& acc, uint64_t n) {
    uint64_t last = 0;
    const bool reached = eventually([&] {
      auto handles = lookup(acc);
      if (!handles.journal) return false;
      auto st = ask<journal_stats>(self_, handles.journal, stats_atom::value);
      if (st) last = st->last_seq;
      return last >= n;
    });
    INFO("account " << acc.config.name << " reached seq " << last << ", wanted " << n);
    REQUIRE(reached);
  }

  journal_content read_all(const journal_actor& journal) {
    journal_content out;
    uint64_t after = 0;
    for (;;) {
      auto page = ask<event_page>(self_, journal, read_request{after, 1000, 0});
      INFO((page ? std::string{} : describe(page.error())));
      REQUIRE(page);
      if (page->events.empty()) break;
      for (const auto& text : page->events) {
        auto event = json::parse(text);
        out.seqs.push_back(event.at("seq").get<uint64_t>());
        out.uids.insert(event.at("eventUid").get<std::string>());
      }
      after = page->last_seq;
    }
    return out;
  }

  /// Waits until the account's sim has delivered all `total` events, then
  /// requires the journal to hold exactly them: seqs 1..total, no gap, no
  /// event twice.
  void require_complete_journal(const account_actors& acc, uint64_t total) {
    wait_for_seq(acc, total);
    const auto handles = lookup(acc);
    REQUIRE(handles.journal);
    const auto content = read_all(handles.journal);
    CHECK(content.seqs == range(1, total));
    CHECK(content.uids.size() == total);
    const auto st = stats(handles.journal);
    CHECK(st.last_seq == total);
    CHECK(st.event_count == total);
  }

 private:
  test::scratch_dir tmp_;
  bridge_config bridge_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scoped_actor self_;
  std::vector<caf::actor> running_;
};

}  // namespace

TEST_CASE("a killed journal restarts journal, ack tracker and session and loses nothing",
          "[actors][account_supervisor]") {
  supervised_fixture f;
  constexpr uint64_t total = 1200;
  auto acc = f.start(sim_account("main", 400.0, total, 7));
  const auto before = f.wait_running(acc, 0);
  CHECK(before.reason.empty());
  f.wait_for_seq(acc, 100);

  caf::anon_send_exit(before.journal, caf::exit_reason::kill);

  const auto after = f.wait_running(acc, 1);
  CHECK(after.journal != before.journal);
  CHECK(after.acks != before.acks);  // it held the dead journal's handle
  CHECK(after.session != before.session);
  CHECK(after.reason.empty());
  CHECK(after.generation > before.generation);
  // The old incarnations are gone, not merely replaced.
  auto old = ask<journal_stats>(f.self(), before.journal, stats_atom::value);
  CHECK_FALSE(old);

  // The sim keeps producing into the new journal and redelivers what the old
  // session never confirmed: every event ends up there once, seqs contiguous.
  f.require_complete_journal(acc, total);
  // The new ack tracker reads from the new journal.
  auto page = ask<event_page>(f.self(), after.acks, poll_request{"reader", 10, 0});
  REQUIRE(page);
  CHECK(page->first_seq == 1);
  CHECK(page->last_seq == 10);
  CHECK(f.lookup(acc).restarts == 1);
}

TEST_CASE("a killed session restarts only the session", "[actors][account_supervisor]") {
  supervised_fixture f;
  constexpr uint64_t total = 1200;
  auto acc = f.start(sim_account("main", 400.0, total, 8));
  const auto before = f.wait_running(acc, 0);
  f.wait_for_seq(acc, 100);

  caf::anon_send_exit(before.session, caf::exit_reason::kill);

  const auto after = f.wait_running(acc, 1);
  CHECK(after.journal == before.journal);
  CHECK(after.acks == before.acks);
  CHECK(after.session != before.session);
  auto status = ask<session_status>(f.self(), after.session, stats_atom::value);
  REQUIRE(status);
  CHECK(status->upstream == "sim");
  f.require_complete_journal(acc, total);
  CHECK(f.lookup(acc).journal == before.journal);
}

TEST_CASE("a killed ack tracker restarts only itself and the cursors survive",
          "[actors][account_supervisor]") {
  supervised_fixture f;
  constexpr uint64_t total = 300;
  auto acc = f.start(sim_account("main", 0.0, total, 9));
  const auto before = f.wait_running(acc, 0);
  f.wait_for_seq(acc, total);
  auto alice = ask<ack_reply>(f.self(), before.acks, ack_request{"alice", 120});
  REQUIRE(alice);
  CHECK(alice->acked_seq == 120);
  auto bob = ask<ack_reply>(f.self(), before.acks, ack_request{"bob", 7});
  REQUIRE(bob);

  caf::anon_send_exit(before.acks, caf::exit_reason::kill);

  const auto after = f.wait_running(acc, 1);
  CHECK(after.journal == before.journal);
  CHECK(after.session == before.session);
  CHECK(after.acks != before.acks);
  auto st = ask<ack_stats>(f.self(), after.acks, stats_atom::value);
  REQUIRE(st);
  std::map<std::string, consumer_status> by_name;
  for (const auto& c : st->consumers) by_name[c.name] = c;
  REQUIRE(by_name.count("alice") == 1);
  REQUIRE(by_name.count("bob") == 1);
  CHECK(by_name["alice"].acked_seq == 120);
  CHECK(by_name["alice"].explicit_acks);
  CHECK(by_name["bob"].acked_seq == 7);
  CHECK(st->acked_floor == 7);
  auto page = ask<event_page>(f.self(), after.acks, poll_request{"alice", 5, 0});
  REQUIRE(page);
  CHECK(page->first_seq == 121);
  CHECK(page->last_seq == 125);
}

TEST_CASE("an account past its restart intensity fails and stays down while others keep working",
          "[actors][account_supervisor]") {
  supervised_fixture f;
  auto bad = f.start(sim_account("bad", 200.0, 0, 10), [](account_supervisor_config& cfg) {
    cfg.supervisor.intensity_max = 2;
    cfg.supervisor.intensity_window = 60s;
  });
  constexpr uint64_t good_total = 600;
  auto good = f.start(sim_account("good", 300.0, good_total, 11));
  const auto good_before = f.wait_running(good, 0);
  f.wait_for_seq(bad, 10);

  // Two crashes are within the limit and restarted; the third is one too many.
  account_handles last;
  for (uint32_t crash = 0; crash < 3; ++crash) {
    last = f.wait_running(bad, crash);
    caf::anon_send_exit(last.session, caf::exit_reason::kill);
  }
  const auto failed = f.wait_until(
      bad, [](const account_handles& h) { return h.state == "failed"; }, "failed");
  INFO("reason: " << failed.reason);
  CHECK(failed.reason.rfind("session failed 3 times", 0) == 0);
  CHECK(failed.restarts == 2);
  // Its actors are down and stay down: lookup hands out no handle.
  CHECK_FALSE(failed.journal);
  CHECK_FALSE(failed.acks);
  CHECK_FALSE(failed.session);
  CHECK(eventually([&] { return !ask<journal_stats>(f.self(), last.journal, stats_atom::value); }));

  // The other account never noticed.
  const auto good_now = f.lookup(good);
  CHECK(good_now.state == "running");
  CHECK(good_now.restarts == 0);
  CHECK(same(good_now, good_before));
  f.require_complete_journal(good, good_total);

  // Draining a failed account has nothing to wait for.
  auto report = ask<drain_report>(f.self(), bad.supervisor, drain_atom::value);
  REQUIRE(report);
  CHECK(report->account == "bad");
  CHECK(report->account_state == "failed");
  CHECK(report->journal_closed);
  CHECK_FALSE(report->clean);
  // No restart happened after giving up.
  CHECK(f.lookup(bad).restarts == 2);
}

TEST_CASE("drain answers once the account's actors are down and LMDB reopens at once",
          "[actors][account_supervisor]") {
  supervised_fixture f;
  auto acc = f.start(sim_account("main", 300.0, 600, 13));
  const auto before = f.wait_running(acc, 0);
  f.wait_for_seq(acc, 50);
  REQUIRE(ask<ack_reply>(f.self(), before.acks, ack_request{"keeper", 20}));

  auto report = ask<drain_report>(f.self(), acc.supervisor, drain_atom::value);
  INFO((report ? std::string{} : describe(report.error())));
  REQUIRE(report);
  CHECK(report->account == "main");
  CHECK(report->account_state == "running");
  CHECK(report->journal_closed);
  CHECK(report->clean);
  CHECK(report->unconfirmed == 0);

  const auto after = f.lookup(acc);
  CHECK(after.state == "stopped");
  CHECK_FALSE(after.journal);
  CHECK_FALSE(after.acks);
  CHECK_FALSE(after.session);
  // Down already when the report came, not on their way down.
  auto old = ask<journal_stats>(f.self(), before.journal, stats_atom::value);
  REQUIRE_FALSE(old);
  CHECK(old.error() == caf::sec::request_receiver_down);

  // Both LMDB environments were closed: fresh actors open them right away
  // and see everything the drained ones committed.
  auto journal =
      spawn_journal(f.sys(), {"main", acc.dir + "/journal", acc.dir + "/outbox", {}, {}, {}});
  INFO((journal ? std::string{} : describe(journal.error())));
  REQUIRE(journal);
  auto cursors = spawn_ack_tracker(f.sys(), {"main", acc.dir + "/cursors", *journal});
  INFO((cursors ? std::string{} : describe(cursors.error())));
  REQUIRE(cursors);
  const auto st = f.stats(*journal);
  CHECK(st.last_seq >= 50);
  CHECK(f.read_all(*journal).seqs == range(1, st.last_seq));
  auto keeper = ask<event_page>(f.self(), *cursors, poll_request{"keeper", 1, 0});
  REQUIRE(keeper);
  CHECK(keeper->first_seq == 21);
  caf::anon_send_exit(*cursors, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*journal, caf::exit_reason::user_shutdown);
  f.self()->wait_for(caf::actor_cast<caf::actor>(*cursors), caf::actor_cast<caf::actor>(*journal));

  // Asking again gets the same report; nothing was restarted.
  auto again = ask<drain_report>(f.self(), acc.supervisor, drain_atom::value);
  REQUIRE(again);
  CHECK(again->journal_closed);
  CHECK(f.lookup(acc).restarts == 0);
}

TEST_CASE("a drain during a pending restart stops what is left and restarts nothing",
          "[actors][account_supervisor]") {
  supervised_fixture f;
  // The restart would come only after a minute: the drain must not wait for it.
  auto acc = f.start(sim_account("main", 300.0, 0, 15), [](account_supervisor_config& cfg) {
    cfg.supervisor.backoff_initial = 60s;
    cfg.supervisor.backoff_max = 60s;
  });
  const auto before = f.wait_running(acc, 0);
  f.wait_for_seq(acc, 20);
  caf::anon_send_exit(before.session, caf::exit_reason::kill);
  const auto restarting = f.wait_until(
      acc, [](const account_handles& h) { return h.state == "restarting"; }, "restarting");
  CHECK(restarting.reason == "session exited: kill");
  CHECK(restarting.journal == before.journal);
  CHECK_FALSE(restarting.session);

  auto report = ask<drain_report>(f.self(), acc.supervisor, drain_atom::value);
  REQUIRE(report);
  CHECK(report->account_state == "restarting");
  CHECK(report->journal_closed);
  CHECK_FALSE(report->clean);  // no session was there to drain
  const auto after = f.lookup(acc);
  CHECK(after.state == "stopped");
  CHECK(after.restarts == 0);
  CHECK_FALSE(after.journal);
  // Closed, not waiting for a restart: the journal reopens at once.
  auto journal =
      spawn_journal(f.sys(), {"main", acc.dir + "/journal", acc.dir + "/outbox", {}, {}, {}});
  REQUIRE(journal);
  CHECK(f.stats(*journal).last_seq >= 20);
  caf::anon_send_exit(*journal, caf::exit_reason::user_shutdown);
  f.self()->wait_for(caf::actor_cast<caf::actor>(*journal));
}

TEST_CASE("an actor stopped from outside with user_shutdown is not restarted",
          "[actors][account_supervisor]") {
  supervised_fixture f;
  auto acc = f.start(sim_account("main", 300.0, 0, 16));
  const auto before = f.wait_running(acc, 0);
  caf::anon_send_exit(before.session, caf::exit_reason::user_shutdown);
  const auto after = f.wait_until(
      acc, [](const account_handles& h) { return h.state == "stopped"; }, "stopped");
  CHECK(after.reason == "session exited normally");
  CHECK(after.restarts == 0);
  CHECK_FALSE(after.session);
  CHECK(after.journal == before.journal);  // only what depends on a stopped journal stops
  CHECK(after.acks == before.acks);
}

TEST_CASE("the HTTP front end follows a restarted actor and reports a failed account",
          "[actors][account_supervisor][http]") {
  supervised_fixture f;
  auto primary = f.start(sim_account("main", 0.0, 300, 21));
  auto broken = f.start(sim_account("broken", 0.0, 50, 22), [](account_supervisor_config& cfg) {
    cfg.supervisor.intensity_max = 0;  // the first failure is one too many
  });
  f.wait_for_seq(primary, 300);
  f.wait_for_seq(broken, 50);

  http_front_end http{f.sys(), f.bridge(), {{"main", primary}, {"broken", broken}}};
  auto port = http.bind(-1);
  INFO((port ? std::string{} : describe(port.error())));
  REQUIRE(port);
  std::thread server([&] { http.serve(); });
  struct stop_on_exit {
    http_front_end& http;
    std::thread& server;
    ~stop_on_exit() {
      http.stop();
      server.join();
    }
  } stopper{http, server};
  httplib::Client client("127.0.0.1", *port);
  REQUIRE(eventually([&] { return static_cast<bool>(client.Get("/health")); }, 10s));

  auto res = client.Get("/accounts/main/messages?consumer=c&limit=5");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  CHECK(json::parse(res->body).size() == 5);

  // The ack tracker is replaced; the front end still holds the dead one.
  caf::anon_send_exit(f.lookup(primary).acks, caf::exit_reason::kill);
  f.wait_running(primary, 1);
  res =
      client.Post("/accounts/main/ack", R"({"up_to_seq": 5, "consumer": "c"})", "application/json");
  REQUIRE(res);
  INFO("POST /ack after the restart: " << res->status << " " << res->body);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body).at("acked_seq") == 5);
  res = client.Get("/accounts/main/messages?consumer=c&limit=5");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  CHECK(json::parse(res->body).at(0).at("seq") == 6);

  // A failed account answers 503 with a reason, and says so in health and status.
  caf::anon_send_exit(f.lookup(broken).journal, caf::exit_reason::kill);
  f.wait_until(
      broken, [](const account_handles& h) { return h.state == "failed"; }, "failed");
  res = client.Get("/accounts/broken/messages?consumer=c");
  REQUIRE(res);
  INFO("GET /messages of the failed account: " << res->status << " " << res->body);
  CHECK(res->status == 503);
  CHECK(json::parse(res->body).at("error").get<std::string>().find("failed") != std::string::npos);

  res = client.Get("/accounts/broken/health");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  auto health = json::parse(res->body);
  INFO("health: " << health.dump());
  CHECK(health.at("healthy") == false);
  CHECK(health.at("status") == "disconnected");
  CHECK(health.at("supervision").at("state") == "failed");
  CHECK(health.at("queueLength") == 0);

  res = client.Get("/status");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  auto status = json::parse(res->body);
  INFO("status: " << status.dump());
  std::map<std::string, json> accounts;
  for (const auto& a : status.at("accounts")) accounts[a.at("name").get<std::string>()] = a;
  REQUIRE(accounts.count("main") == 1);
  REQUIRE(accounts.count("broken") == 1);
  CHECK(accounts["main"].at("supervision").at("state") == "running");
  CHECK(accounts["main"].at("supervision").at("restarts") == 1);
  CHECK(accounts["main"].at("journal").at("lastSeq") == 300);
  CHECK(accounts["broken"].at("supervision").at("state") == "failed");
  CHECK(accounts["broken"].contains("error"));

  res = client.Get("/accounts/main/health");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  CHECK(json::parse(res->body).at("supervision").at("state") == "running");
}
