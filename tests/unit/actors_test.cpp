// Actor-level tests for the journal actor (group commit, long-poll reads) and
// the ack tracker (cursors, idempotent acks, implicit acks for consumers that
// never ack, restarts), each on a real caf::actor_system with real LMDB files
// in a fresh temp directory. No timing assertions: only what was delivered.
#include "actors/ack_tracker_actor.hpp"
#include "actors/journal_actor.hpp"
#include "actors/messages.hpp"
#include "common/error.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/response_promise.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/scratch_dir.hpp"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace wabridge;

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;
using seq_lists = std::vector<std::vector<uint64_t>>;

// Generous: only a hang should ever hit it.
constexpr auto reply_timeout = std::chrono::seconds(30);

event_batch make_batch(const std::string& prefix, size_t n) {
  event_list events;
  for (size_t i = 0; i < n; ++i) {
    const std::string uid = "chat:" + prefix + std::to_string(i);
    nlohmann::json payload = {{"eventUid", uid},
                              {"messageId", prefix + std::to_string(i)},
                              {"chatId", "chat"},
                              {"body", "hi " + uid}};
    events.push_back(store::pending_event{uid, payload.dump()});
  }
  return event_batch{std::make_shared<const event_list>(std::move(events))};
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  if (to < from) return {};
  std::vector<uint64_t> out(to - from + 1);
  std::iota(out.begin(), out.end(), from);
  return out;
}

// The seq of each event of a page, read from the JSON served to clients.
std::vector<uint64_t> seqs_of(const event_page& page) {
  std::vector<uint64_t> out;
  for (const auto& text : page.events) out.push_back(nlohmann::json::parse(text)["seq"]);
  return out;
}

// Sends a request and blocks for its reply (or error, or timeout).
template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const Handle& dest, Ts&&... xs) {
  caf::expected<T> result{make_error(errc::timeout, "no reply")};
  self->request(dest, reply_timeout, std::forward<Ts>(xs)...)
      .receive([&](T& value) { result = std::move(value); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

// Sends every batch from inside one handler: with a single scheduler thread
// the journal cannot run before all of them sit in its mailbox.
caf::behavior burst_client(caf::event_based_actor* self, journal_actor journal) {
  return {
      [=](go_atom, uint32_t batches, uint32_t per_batch) {
        auto promise = self->make_response_promise();
        auto results = std::make_shared<seq_lists>(batches);
        auto outstanding = std::make_shared<uint32_t>(batches);
        for (uint32_t i = 0; i < batches; ++i) {
          self->request(journal, reply_timeout,
                        make_batch("b" + std::to_string(i) + "-", per_batch))
              .then(
                  [=](append_ack& ack) mutable {
                    (*results)[i] = std::move(ack.seqs);
                    if (--*outstanding == 0) promise.deliver(*results);
                  },
                  [=](caf::error& err) mutable { promise.deliver(std::move(err)); });
        }
        return promise;
      },
  };
}

// One actor system with the journal and ack tracker of one account on a temp
// dir. Every actor it spawned is stopped (and waited for, so its LMDB
// environment is closed) before the system is destroyed, even when a
// REQUIRE fails halfway.
class bridge_fixture {
 public:
  explicit bridge_fixture(size_t scheduler_threads = 0)
      : sys_(configure(cfg_, scheduler_threads)), self_(sys_) {}
  ~bridge_fixture() { stop_all(); }
  bridge_fixture(const bridge_fixture&) = delete;
  bridge_fixture& operator=(const bridge_fixture&) = delete;

  caf::actor_system& sys() { return sys_; }
  const std::string& dir() const { return tmp_.path(); }
  caf::scoped_actor& self() { return self_; }

  journal_actor start_journal(const journal_config& journal = {},
                              const std::string& media_dir = {}) {
    journal_actor_config cfg;
    cfg.media_dir = media_dir;
    cfg.account = "test";
    cfg.dir = tmp_.path() + "/journal";
    cfg.outbox_dir = tmp_.path() + "/outbox";
    cfg.journal = journal;
    auto handle = spawn_journal(sys_, cfg);
    INFO((handle ? std::string{} : describe(handle.error())));
    REQUIRE(handle);
    track(*handle);
    return *handle;
  }

  ack_tracker_actor start_tracker(const journal_actor& journal) {
    ack_tracker_config cfg;
    cfg.account = "test";
    cfg.dir = tmp_.path() + "/cursors";
    cfg.journal = journal;
    auto handle = spawn_ack_tracker(sys_, cfg);
    INFO((handle ? std::string{} : describe(handle.error())));
    REQUIRE(handle);
    track(*handle);
    return *handle;
  }

  template <class Handle>
  void track(const Handle& handle) {
    running_.push_back(caf::actor_cast<caf::actor>(handle));
  }

  /// Stops every actor and waits until each has terminated.
  void stop_all() {
    for (auto& a : running_) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    self_->wait_for(running_);
    running_.clear();
  }

  // Shortcuts for the messages the tests send.
  append_ack append(const journal_actor& journal, event_batch batch) {
    auto ack = ask<append_ack>(self_, journal, std::move(batch));
    INFO((ack ? std::string{} : describe(ack.error())));
    REQUIRE(ack);
    return *ack;
  }
  journal_stats stats(const journal_actor& journal) {
    auto st = ask<journal_stats>(self_, journal, stats_atom::value);
    REQUIRE(st);
    return *st;
  }
  // Polls as the HTTP front end does: once the page is written out in full
  // (`written`), the tracker is told it was delivered.
  event_page poll(const ack_tracker_actor& tracker, const std::string& consumer,
                  uint32_t limit = 100, int64_t wait_ms = 0, bool written = true) {
    auto page = ask<event_page>(self_, tracker, poll_request{consumer, limit, wait_ms});
    INFO((page ? std::string{} : describe(page.error())));
    REQUIRE(page);
    if (written && page->last_seq > 0)
      REQUIRE(ask<uint64_t>(self_, tracker, delivered_notice{consumer, page->last_seq}));
    return *page;
  }
  caf::expected<ack_reply> ack(const ack_tracker_actor& tracker, const std::string& consumer,
                               uint64_t up_to) {
    return ask<ack_reply>(self_, tracker, ack_request{consumer, up_to});
  }
  consumer_status status_of(const ack_tracker_actor& tracker, const std::string& consumer) {
    auto st = ask<ack_stats>(self_, tracker, stats_atom::value);
    REQUIRE(st);
    for (const auto& c : st->consumers)
      if (c.name == consumer) return c;
    FAIL("no consumer " << consumer << " in the ack tracker's stats");
    return {};
  }

 private:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg, size_t threads) {
    if (threads > 0) cfg.set("scheduler.max-threads", threads);
    return cfg;
  }

  test::scratch_dir tmp_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scoped_actor self_;
  std::vector<caf::actor> running_;
};

void check_contiguous_and_disjoint(const seq_lists& acks, size_t per_batch) {
  std::vector<uint64_t> all;
  for (const auto& seqs : acks) {
    REQUIRE(seqs.size() == per_batch);
    CHECK(seqs == range(seqs.front(), seqs.front() + per_batch - 1));
    all.insert(all.end(), seqs.begin(), seqs.end());
  }
  std::sort(all.begin(), all.end());
  CHECK(all == range(1, acks.size() * per_batch));
}

}  // namespace

// ---- journal actor ---------------------------------------------------------

TEST_CASE("batches sent without waiting share commits and get contiguous disjoint seqs",
          "[actors][journal]") {
  bridge_fixture f{1};
  auto journal = f.start_journal();
  auto client = f.sys().spawn(burst_client, journal);
  f.track(client);
  constexpr uint32_t batches = 50;
  constexpr uint32_t per_batch = 3;

  auto acks = ask<seq_lists>(f.self(), client, go_atom::value, batches, per_batch);
  INFO((acks ? std::string{} : describe(acks.error())));
  REQUIRE(acks);
  REQUIRE(acks->size() == batches);
  check_contiguous_and_disjoint(*acks, per_batch);
  // Batch i was sent before batch i+1 by the same sender: seqs keep that order.
  for (size_t i = 1; i < acks->size(); ++i) CHECK((*acks)[i].front() > (*acks)[i - 1].back());

  const auto st = f.stats(journal);
  CHECK(st.last_seq == batches * per_batch);
  CHECK(st.appended == batches * per_batch);
  CHECK(st.duplicates == 0);
  CHECK(st.commits >= 1);
  CHECK(st.commits < batches);
  CHECK_FALSE(st.degraded);
}

TEST_CASE("one commit carries at most max_batch events of queued batches", "[actors][journal]") {
  bridge_fixture f{1};
  journal_config jc;
  jc.max_batch = 10;
  auto journal = f.start_journal(jc);
  auto client = f.sys().spawn(burst_client, journal);
  f.track(client);
  constexpr uint32_t batches = 50;
  constexpr uint32_t per_batch = 3;

  auto acks = ask<seq_lists>(f.self(), client, go_atom::value, batches, per_batch);
  REQUIRE(acks);
  check_contiguous_and_disjoint(*acks, per_batch);
  const auto st = f.stats(journal);
  CHECK(st.last_seq == batches * per_batch);
  CHECK(st.commits >= (batches * per_batch + jc.max_batch - 1) / jc.max_batch);
  CHECK(st.commits < batches);
}

TEST_CASE("appends from several threads at once get contiguous disjoint seqs",
          "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  constexpr size_t threads = 4;
  constexpr size_t batches_per_thread = 25;
  constexpr size_t per_batch = 4;
  std::vector<seq_lists> results(threads);
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      caf::scoped_actor self{f.sys()};
      for (size_t i = 0; i < batches_per_thread; ++i) {
        auto ack = ask<append_ack>(
            self, journal,
            make_batch("t" + std::to_string(t) + "-" + std::to_string(i) + "-", per_batch));
        results[t].push_back(ack ? ack->seqs : std::vector<uint64_t>{});
      }
    });
  }
  for (auto& w : workers) w.join();
  seq_lists all;
  for (auto& r : results) all.insert(all.end(), r.begin(), r.end());
  REQUIRE(all.size() == threads * batches_per_thread);
  check_contiguous_and_disjoint(all, per_batch);
  CHECK(f.stats(journal).last_seq == threads * batches_per_thread * per_batch);
}

TEST_CASE("a duplicate batch is acked with the original seqs", "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  CHECK(f.append(journal, make_batch("a", 3)).seqs == range(1, 3));
  CHECK(f.append(journal, make_batch("a", 3)).seqs == range(1, 3));
  CHECK(f.append(journal, make_batch("a", 4)).seqs == range(1, 4));
  const auto st = f.stats(journal);
  CHECK(st.last_seq == 4);
  CHECK(st.appended == 4);
  CHECK(st.duplicates == 6);
}

TEST_CASE("an empty batch is acked with no seqs", "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  CHECK(f.append(journal, event_batch{}).seqs.empty());
  CHECK(f.stats(journal).last_seq == 0);
}

TEST_CASE("a read returns committed events at once", "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  f.append(journal, make_batch("a", 5));
  auto page = ask<event_page>(f.self(), journal, read_request{2, 2, 0});
  REQUIRE(page);
  CHECK(seqs_of(*page) == range(3, 4));
  CHECK(page->first_seq == 3);
  CHECK(page->last_seq == 4);
  CHECK(page->newest_seq == 5);
  // Events already there: a long-poll does not wait.
  page = ask<event_page>(f.self(), journal, read_request{0, 100, 20'000});
  REQUIRE(page);
  CHECK(seqs_of(*page) == range(1, 5));
}

TEST_CASE("a long-poll read is woken by the commit of a batch", "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  caf::scoped_actor reader{f.sys()};
  // The read goes first; the wait is long enough that only the commit can end it.
  auto pending = reader->request(journal, reply_timeout, read_request{0, 10, 25'000});
  CHECK(f.stats(journal).waiters == 1);  // parked, not answered empty

  CHECK(f.append(journal, make_batch("a", 2)).seqs == range(1, 2));

  caf::expected<event_page> page{make_error(errc::timeout, "no reply")};
  pending.receive([&](event_page& p) { page = std::move(p); },
                  [&](caf::error& err) { page = std::move(err); });
  INFO((page ? std::string{} : describe(page.error())));
  REQUIRE(page);
  CHECK(seqs_of(*page) == range(1, 2));
  CHECK(page->first_seq == 1);
  CHECK(page->last_seq == 2);
  CHECK(page->newest_seq == 2);
  CHECK(f.stats(journal).waiters == 0);
}

TEST_CASE("a long-poll read past the newest seq waits for the next commit", "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  f.append(journal, make_batch("a", 3));
  caf::scoped_actor reader{f.sys()};
  auto pending = reader->request(journal, reply_timeout, read_request{3, 10, 25'000});
  CHECK(f.stats(journal).waiters == 1);
  // Only duplicates: nothing new, the reader keeps waiting.
  f.append(journal, make_batch("a", 3));
  CHECK(f.stats(journal).waiters == 1);
  f.append(journal, make_batch("b", 1));

  caf::expected<event_page> page{make_error(errc::timeout, "no reply")};
  pending.receive([&](event_page& p) { page = std::move(p); },
                  [&](caf::error& err) { page = std::move(err); });
  REQUIRE(page);
  CHECK(seqs_of(*page) == std::vector<uint64_t>{4});
}

TEST_CASE("a long-poll that times out returns an empty page", "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto page = ask<event_page>(f.self(), journal, read_request{0, 10, 50});
  INFO((page ? std::string{} : describe(page.error())));
  REQUIRE(page);
  CHECK(page->events.empty());
  CHECK(page->first_seq == 0);
  CHECK(page->last_seq == 0);
  CHECK(page->newest_seq == 0);
  CHECK(f.stats(journal).waiters == 0);

  f.append(journal, make_batch("a", 2));
  page = ask<event_page>(f.self(), journal, read_request{2, 10, 50});
  REQUIRE(page);
  CHECK(page->events.empty());
  CHECK(page->newest_seq == 2);
}

TEST_CASE("stopping the journal answers a parked long-poll with shutting_down",
          "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  caf::scoped_actor reader{f.sys()};
  auto pending = reader->request(journal, reply_timeout, read_request{0, 10, 25'000});
  CHECK(f.stats(journal).waiters == 1);
  f.stop_all();

  caf::error err = make_error(errc::timeout, "no reply");
  bool got_page = false;
  pending.receive([&](event_page&) { got_page = true; }, [&](caf::error& e) { err = e; });
  CHECK_FALSE(got_page);
  INFO(describe(err));
  CHECK(code_of(err) == errc::shutting_down);
}

TEST_CASE("the journal actor continues the sequence after a restart", "[actors][journal]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  f.append(journal, make_batch("a", 3));
  f.stop_all();
  journal = f.start_journal();
  auto st = f.stats(journal);
  CHECK(st.first_seq == 1);
  CHECK(st.last_seq == 3);
  CHECK(f.append(journal, make_batch("a", 4)).seqs == range(1, 4));
}

// ---- ack tracker -----------------------------------------------------------

TEST_CASE("a poll returns events from the consumer's cursor, oldest first",
          "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  CHECK(f.poll(tracker, "c").events.empty());
  f.append(journal, make_batch("a", 5));

  auto page = f.poll(tracker, "c", 3);
  CHECK(seqs_of(page) == range(1, 3));
  CHECK(page.first_seq == 1);
  CHECK(page.last_seq == 3);
  CHECK(page.newest_seq == 5);
  auto reply = f.ack(tracker, "c", 2);
  REQUIRE(reply);
  CHECK(reply->consumer == "c");
  CHECK(reply->acked_seq == 2);
  CHECK(seqs_of(f.poll(tracker, "c")) == range(3, 5));
}

TEST_CASE("a long-poll through the ack tracker returns the next committed event",
          "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  caf::scoped_actor client{f.sys()};
  auto pending = client->request(tracker, reply_timeout, poll_request{"c", 10, 25'000});
  // The tracker forwards the poll to the journal; wait until it is parked there.
  for (int i = 0; i < 10'000 && f.stats(journal).waiters == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(f.stats(journal).waiters == 1);
  f.append(journal, make_batch("a", 1));

  caf::expected<event_page> page{make_error(errc::timeout, "no reply")};
  pending.receive([&](event_page& p) { page = std::move(p); },
                  [&](caf::error& err) { page = std::move(err); });
  REQUIRE(page);
  CHECK(seqs_of(*page) == std::vector<uint64_t>{1});
}

TEST_CASE("acking the same or a lower seq again succeeds and keeps the cursor",
          "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  f.append(journal, make_batch("a", 5));

  for (uint64_t up_to : {3, 3, 1, 0, 3}) {
    INFO("ack up_to " << up_to);
    auto reply = f.ack(tracker, "c", up_to);
    INFO((reply ? std::string{} : describe(reply.error())));
    REQUIRE(reply);
    CHECK(reply->acked_seq == 3);
  }
  const auto status = f.status_of(tracker, "c");
  CHECK(status.acked_seq == 3);
  CHECK(status.explicit_acks);
  CHECK(seqs_of(f.poll(tracker, "c")) == range(4, 5));
  auto reply = f.ack(tracker, "c", 5);
  REQUIRE(reply);
  CHECK(reply->acked_seq == 5);
}

TEST_CASE("acking past the newest seq fails with ack_beyond_newest", "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);

  auto reply = f.ack(tracker, "c", 1);  // empty journal
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == errc::ack_beyond_newest);

  f.append(journal, make_batch("a", 3));
  reply = f.ack(tracker, "c", 4);
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == errc::ack_beyond_newest);
  // Not clamped: the cursor did not move.
  CHECK(seqs_of(f.poll(tracker, "c")) == range(1, 3));

  reply = f.ack(tracker, "c", 3);
  REQUIRE(reply);
  CHECK(reply->acked_seq == 3);
  reply = f.ack(tracker, "c", 1'000);
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == errc::ack_beyond_newest);
  CHECK(f.status_of(tracker, "c").acked_seq == 3);
}

TEST_CASE("each consumer has its own cursor", "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  f.append(journal, make_batch("a", 5));

  REQUIRE(f.ack(tracker, "alice", 3));
  CHECK(seqs_of(f.poll(tracker, "bob")) == range(1, 5));
  REQUIRE(f.ack(tracker, "bob", 1));
  CHECK(seqs_of(f.poll(tracker, "alice")) == range(4, 5));
  CHECK(seqs_of(f.poll(tracker, "bob")) == range(2, 5));
  CHECK(seqs_of(f.poll(tracker, "carol")) == range(1, 5));
  CHECK(f.status_of(tracker, "alice").acked_seq == 3);
  CHECK(f.status_of(tracker, "bob").acked_seq == 1);

  auto st = ask<ack_stats>(f.self(), tracker, stats_atom::value);
  REQUIRE(st);
  CHECK(st->consumers.size() == 3);
  CHECK(st->acked_floor == 0);  // carol has acked nothing
}

TEST_CASE("consumer cursors survive a restart of the actors", "[actors][ack_tracker]") {
  bridge_fixture f;
  {
    auto journal = f.start_journal();
    auto tracker = f.start_tracker(journal);
    f.append(journal, make_batch("a", 6));
    REQUIRE(f.ack(tracker, "alice", 4));
    REQUIRE(f.ack(tracker, "bob", 2));
    f.stop_all();
  }
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  const auto alice = f.status_of(tracker, "alice");
  CHECK(alice.acked_seq == 4);
  CHECK(alice.explicit_acks);
  CHECK(f.status_of(tracker, "bob").acked_seq == 2);
  CHECK(seqs_of(f.poll(tracker, "alice")) == range(5, 6));
  CHECK(seqs_of(f.poll(tracker, "bob")) == range(3, 6));
  auto st = ask<ack_stats>(f.self(), tracker, stats_atom::value);
  REQUIRE(st);
  CHECK(st->acked_floor == 2);
}

TEST_CASE("a consumer that never acks sees each event once and again only after a restart",
          "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  f.append(journal, make_batch("a", 3));

  CHECK(seqs_of(f.poll(tracker, "stock")) == range(1, 3));
  // Coming back without an ack accepts what the previous poll delivered.
  f.append(journal, make_batch("b", 2));
  CHECK(seqs_of(f.poll(tracker, "stock")) == range(4, 5));
  auto status = f.status_of(tracker, "stock");
  CHECK(status.acked_seq == 3);
  CHECK(status.delivered_seq == 5);
  CHECK_FALSE(status.explicit_acks);

  // The last page was never confirmed by a further poll: after a restart it
  // comes again (at-least-once), and nothing before it does.
  f.stop_all();
  journal = f.start_journal();
  tracker = f.start_tracker(journal);
  CHECK(seqs_of(f.poll(tracker, "stock")) == range(4, 5));
  CHECK(f.poll(tracker, "stock").events.empty());
  f.append(journal, make_batch("c", 1));
  CHECK(seqs_of(f.poll(tracker, "stock")) == std::vector<uint64_t>{6});
  CHECK(f.status_of(tracker, "stock").acked_seq == 5);
}

TEST_CASE("a page that was not written out in full is not acked by the next poll",
          "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  f.append(journal, make_batch("a", 3));
  // The client hung up before the response was written: not delivered.
  CHECK(seqs_of(f.poll(tracker, "c", 2, 0, /*written=*/false)) == range(1, 2));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(1, 2));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(3, 3));
}

TEST_CASE("once a consumer acks explicitly, polling no longer acks implicitly",
          "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  f.append(journal, make_batch("a", 5));

  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(1, 2));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(3, 4));  // implicit: 1..2 accepted
  auto reply = f.ack(tracker, "c", 3);
  REQUIRE(reply);
  CHECK(reply->acked_seq == 3);
  CHECK(f.status_of(tracker, "c").explicit_acks);

  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(4, 5));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(4, 5));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(4, 5));
  CHECK(f.status_of(tracker, "c").acked_seq == 3);

  // Explicit mode is durable too.
  f.stop_all();
  journal = f.start_journal();
  tracker = f.start_tracker(journal);
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(4, 5));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(4, 5));
  CHECK(f.status_of(tracker, "c").explicit_acks);
}

TEST_CASE("an ack that does not move the cursor still switches to explicit acks",
          "[actors][ack_tracker]") {
  bridge_fixture f;
  auto journal = f.start_journal();
  auto tracker = f.start_tracker(journal);
  f.append(journal, make_batch("a", 4));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(1, 2));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(3, 4));  // cursor now 2
  auto reply = f.ack(tracker, "c", 1);                     // lower than the cursor
  REQUIRE(reply);
  CHECK(reply->acked_seq == 2);
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(3, 4));
  CHECK(seqs_of(f.poll(tracker, "c", 2)) == range(3, 4));
}

TEST_CASE("compaction deletes the media files of removed events, only inside the media dir",
          "[actors][journal]") {
  bridge_fixture f;
  namespace fs = std::filesystem;
  const std::string media = f.dir() + "/media";
  fs::create_directories(media);
  const std::string inside = media + "/photo.jpg";
  const std::string kept = media + "/unacked.jpg";
  const std::string outside = f.dir() + "/outside.jpg";
  for (const auto& path : {inside, kept, outside}) std::ofstream(path) << "bytes";
  journal_config jc;
  jc.retain_acked = millis{0};
  auto journal = f.start_journal(jc, media);
  auto tracker = f.start_tracker(journal);
  auto media_event = [](const std::string& uid, const std::string& path) {
    nlohmann::json payload{
        {"eventUid", uid}, {"hasMedia", true}, {"mediaUrls", nlohmann::json::array({path})}};
    return store::pending_event{uid, payload.dump()};
  };
  // The outside path also tries to climb out of the media dir.
  event_list events{media_event("a", inside), media_event("b", media + "/../outside.jpg"),
                    media_event("c", outside), media_event("d", kept)};
  f.append(journal, event_batch{std::make_shared<const event_list>(std::move(events))});
  f.poll(tracker, "c1");
  REQUIRE(f.ack(tracker, "c1", 3));
  for (int i = 0; i < 200 && f.stats(journal).first_seq <= 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(f.stats(journal).first_seq == 4);
  CHECK_FALSE(fs::exists(inside));
  CHECK(fs::exists(outside));  // named twice, never inside the media dir
  CHECK(fs::exists(kept));     // its event is not acked
}
