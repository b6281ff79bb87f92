// Unit tests for store/journal_store.hpp on real LMDB files: seq assignment,
// the stored JSON, reads, dedupe by eventUid (also across reopen and after
// compaction), retention, and what a full map does to a batch. Every test
// works in its own fresh temp directory.
#include "store/journal_store.hpp"
#include "store/lmdb_env.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/scratch_dir.hpp"

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

using namespace wabridge;
using namespace wabridge::store;
using nlohmann::json;

namespace {

constexpr int64_t t0 = 1'700'000'000'000;  // a fixed receivedAt base, ms
constexpr millis long_time{10LL * 365 * 86'400'000};

pending_event make_event(const std::string& uid, const std::string& body = "hello") {
  json payload = {{"eventUid", uid},
                  {"messageId", "m-" + uid},
                  {"chatId", "chat@s.whatsapp.net"},
                  {"isGroup", false},
                  {"body", body},
                  {"timestamp", 1700000000},
                  {"mentionedIds", json::array({"a", "b"})}};
  return pending_event{uid, payload.dump()};
}

std::vector<pending_event> make_events(const std::string& prefix, size_t n, size_t body_bytes = 5) {
  std::vector<pending_event> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(make_event(prefix + std::to_string(i), std::string(body_bytes, 'x')));
  return out;
}

std::unique_ptr<journal_store> open_journal(const std::string& dir,
                                            const journal_options& opts = {}) {
  auto store = journal_store::open(dir, opts);
  REQUIRE(store);
  return std::move(*store);
}

std::vector<uint64_t> append_ok(journal_store& j, const std::vector<pending_event>& events,
                                int64_t received_at = t0) {
  auto seqs = j.append(events, received_at);
  INFO("append error: " << (seqs ? std::string{"none"} : describe(seqs.error())));
  REQUIRE(seqs);
  return *seqs;
}

std::vector<stored_event> read_ok(journal_store& j, uint64_t after, uint32_t limit,
                                  uint64_t max_bytes = UINT64_MAX) {
  auto events = j.read(after, limit, max_bytes);
  REQUIRE(events);
  return *events;
}

std::vector<uint64_t> seqs_of(const std::vector<stored_event>& events) {
  std::vector<uint64_t> out;
  for (const auto& ev : events) out.push_back(ev.seq);
  return out;
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out(to - from + 1);
  std::iota(out.begin(), out.end(), from);
  return out;
}

compaction_result compact_ok(journal_store& j, uint64_t floor, int64_t now, millis retain,
                             millis window, uint64_t max_deletes = 10'000) {
  auto result = j.compact(floor, now, retain, window, max_deletes);
  REQUIRE(result);
  return *result;
}

uint64_t seq_of(journal_store& j, const std::string& uid) {
  auto seq = j.seq_of_uid(uid);
  REQUIRE(seq);
  return *seq;
}

}  // namespace

TEST_CASE("a fresh journal is empty", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  CHECK(j->last_seq() == 0);
  CHECK(j->first_seq() == 1);
  CHECK(j->event_count() == 0);
  CHECK(read_ok(*j, 0, 100).empty());
}

TEST_CASE("append assigns contiguous seqs starting at 1", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  CHECK(append_ok(*j, make_events("a", 3)) == range(1, 3));
  CHECK(append_ok(*j, make_events("b", 2)) == range(4, 5));
  CHECK(append_ok(*j, {make_event("c")}) == std::vector<uint64_t>{6});
  CHECK(j->first_seq() == 1);
  CHECK(j->last_seq() == 6);
  CHECK(j->event_count() == 6);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(1, 6));
}

TEST_CASE("an empty batch appends nothing", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  append_ok(*j, make_events("a", 2));
  CHECK(append_ok(*j, {}).empty());
  CHECK(j->last_seq() == 2);
  CHECK(append_ok(*j, {make_event("b")}) == std::vector<uint64_t>{3});
}

TEST_CASE("the stored JSON leads with seq and receivedAt and keeps every payload field",
          "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  const auto ev = make_event("chat:msg1", "quote \" backslash \\ unicode \xc3\xa9");
  append_ok(*j, make_events("first", 1), t0);
  append_ok(*j, {ev}, t0 + 123);

  auto events = read_ok(*j, 1, 10);
  REQUIRE(events.size() == 1);
  const auto& stored = events.front();
  CHECK(stored.seq == 2);
  CHECK(stored.received_at_ms == t0 + 123);
  const std::string prefix = "{\"seq\":2,\"receivedAt\":" + std::to_string(t0 + 123) + ",";
  CHECK(stored.json.rfind(prefix, 0) == 0);

  json parsed = json::parse(stored.json, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(parsed.is_discarded());
  REQUIRE(parsed.is_object());
  CHECK(parsed["seq"] == 2);
  CHECK(parsed["receivedAt"] == t0 + 123);
  const json payload = json::parse(ev.payload);
  for (const auto& [key, value] : payload.items()) {
    INFO("field " << key);
    REQUIRE(parsed.contains(key));
    CHECK(parsed[key] == value);
  }
  CHECK(parsed.size() == payload.size() + 2);
}

TEST_CASE("read returns the events after a seq, oldest first, up to the limit", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  append_ok(*j, make_events("e", 10));

  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(1, 10));
  CHECK(seqs_of(read_ok(*j, 0, 3)) == range(1, 3));
  CHECK(seqs_of(read_ok(*j, 3, 4)) == range(4, 7));
  CHECK(seqs_of(read_ok(*j, 9, 5)) == std::vector<uint64_t>{10});
  CHECK(read_ok(*j, 10, 5).empty());
  CHECK(read_ok(*j, 1000, 5).empty());
  CHECK(read_ok(*j, 0, 0).empty());
  for (const auto& ev : read_ok(*j, 0, 100)) CHECK(ev.received_at_ms == t0);
}

TEST_CASE("read stops once max_bytes of JSON is collected yet returns at least one event",
          "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  append_ok(*j, make_events("e", 10, 100));
  const auto all = read_ok(*j, 0, 100);
  REQUIRE(all.size() == 10);
  const uint64_t one = all[0].json.size();

  CHECK(read_ok(*j, 0, 100, 1).size() == 1);
  CHECK(read_ok(*j, 0, 100, 0).size() == 1);

  for (uint64_t max_bytes : {one, one + 1, 2 * one, 3 * one - 1, 5 * one + 7, 100 * one}) {
    INFO("max_bytes " << max_bytes);
    const auto page = read_ok(*j, 0, 100, max_bytes);
    REQUIRE_FALSE(page.empty());
    CHECK(seqs_of(page) == range(1, page.size()));
    uint64_t before_last = 0;
    for (size_t i = 0; i + 1 < page.size(); ++i) before_last += page[i].json.size();
    // Never stops while under the budget, never keeps going past it.
    CHECK(before_last < max_bytes);
    if (page.size() < all.size()) CHECK(before_last + page.back().json.size() >= max_bytes);
  }
  // The limit still applies when the byte budget is generous.
  CHECK(read_ok(*j, 0, 2, 100 * one).size() == 2);
}

TEST_CASE("received_at_after reports the receivedAt of the next event", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  auto none = j->received_at_after(0);
  REQUIRE(none);
  CHECK(*none == -1);
  append_ok(*j, make_events("a", 2), t0);
  append_ok(*j, make_events("b", 2), t0 + 50);
  auto first = j->received_at_after(0);
  auto third = j->received_at_after(2);
  auto past = j->received_at_after(4);
  REQUIRE((first && third && past));
  CHECK(*first == t0);
  CHECK(*third == t0 + 50);
  CHECK(*past == -1);
}

TEST_CASE("a uid appended twice in one batch is stored once under one seq", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  auto seqs = append_ok(
      *j, {make_event("a", "first"), make_event("b"), make_event("a", "second"), make_event("c")});
  CHECK(seqs == std::vector<uint64_t>{1, 2, 1, 3});
  CHECK(j->last_seq() == 3);
  const auto events = read_ok(*j, 0, 100);
  REQUIRE(events.size() == 3);
  CHECK(json::parse(events[0].json)["body"] == "first");
}

TEST_CASE("a uid appended again in a later batch returns its original seq", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  append_ok(*j, {make_event("a"), make_event("b")});
  // Only duplicates: nothing new is journaled.
  CHECK(append_ok(*j, {make_event("b"), make_event("a")}) == std::vector<uint64_t>{2, 1});
  CHECK(j->last_seq() == 2);
  // Mixed: fresh uids continue the sequence, duplicates keep theirs.
  CHECK(append_ok(*j, {make_event("c"), make_event("a"), make_event("d")}) ==
        std::vector<uint64_t>{3, 1, 4});
  CHECK(j->last_seq() == 4);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(1, 4));
  CHECK(seq_of(*j, "a") == 1);
  CHECK(seq_of(*j, "d") == 4);
  CHECK(seq_of(*j, "never-seen") == 0);
}

TEST_CASE("dedupe holds across close and reopen", "[journal_store]") {
  test::scratch_dir tmp;
  {
    auto j = open_journal(tmp.sub("journal"));
    append_ok(*j, {make_event("a"), make_event("b")});
  }
  auto j = open_journal(tmp.sub("journal"));
  CHECK(append_ok(*j, {make_event("b"), make_event("c"), make_event("a")}) ==
        std::vector<uint64_t>{2, 3, 1});
  CHECK(j->last_seq() == 3);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(1, 3));
}

TEST_CASE("append after reopen continues the sequence", "[journal_store]") {
  test::scratch_dir tmp;
  {
    auto j = open_journal(tmp.sub("journal"));
    append_ok(*j, make_events("a", 5));
  }
  {
    auto j = open_journal(tmp.sub("journal"));
    CHECK(j->first_seq() == 1);
    CHECK(j->last_seq() == 5);
    CHECK(j->event_count() == 5);
    CHECK(append_ok(*j, make_events("b", 2)) == range(6, 7));
  }
  auto j = open_journal(tmp.sub("journal"));
  CHECK(j->last_seq() == 7);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(1, 7));
}

TEST_CASE("compaction removes only acked events older than retain_acked", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  append_ok(*j, make_events("old", 3), t0);          // 1..3
  append_ok(*j, make_events("new", 3), t0 + 5'000);  // 4..6

  // Floor 5, cutoff t0 + 4000: 1..3 are acked and old; 4 and 5 are acked but
  // too young; 6 is not acked.
  auto result = compact_ok(*j, 5, t0 + 6'000, millis{2'000}, long_time);
  CHECK(result.events_removed == 3);
  CHECK(result.uids_expired == 0);
  CHECK_FALSE(result.more);
  CHECK(j->first_seq() == 4);
  CHECK(j->last_seq() == 6);
  CHECK(j->event_count() == 3);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(4, 6));

  // Nothing eligible: no change.
  result = compact_ok(*j, 5, t0 + 6'000, millis{2'000}, long_time);
  CHECK(result.events_removed == 0);
  CHECK(j->first_seq() == 4);
}

TEST_CASE("compaction never removes events past the acked floor", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  append_ok(*j, make_events("e", 5), t0);
  auto result = compact_ok(*j, 2, t0 + long_time.count(), millis{0}, long_time);
  CHECK(result.events_removed == 2);
  CHECK(j->first_seq() == 3);
  CHECK(j->event_count() == 3);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(3, 5));

  // A floor of 0 (nobody acked anything) removes nothing.
  test::scratch_dir tmp2;
  auto k = open_journal(tmp2.sub("journal"));
  append_ok(*k, make_events("e", 3), t0);
  CHECK(compact_ok(*k, 0, t0 + long_time.count(), millis{0}, millis{0}).events_removed == 0);
  CHECK(k->event_count() == 3);
}

TEST_CASE("compaction bounds survive reopen", "[journal_store]") {
  test::scratch_dir tmp;
  {
    auto j = open_journal(tmp.sub("journal"));
    append_ok(*j, make_events("e", 6), t0);
    compact_ok(*j, 4, t0 + 1'000, millis{0}, long_time);
    CHECK(j->first_seq() == 5);
  }
  auto j = open_journal(tmp.sub("journal"));
  CHECK(j->first_seq() == 5);
  CHECK(j->last_seq() == 6);
  CHECK(j->event_count() == 2);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(5, 6));
  CHECK(append_ok(*j, make_events("f", 1)) == std::vector<uint64_t>{7});
}

TEST_CASE("seqs are never reused after compacting everything", "[journal_store]") {
  test::scratch_dir tmp;
  {
    auto j = open_journal(tmp.sub("journal"));
    append_ok(*j, make_events("a", 3), t0);
    auto result = compact_ok(*j, 3, t0 + 1'000, millis{0}, millis{0});
    CHECK(result.events_removed == 3);
    CHECK(result.uids_expired == 3);
    CHECK(j->last_seq() == 3);
    CHECK(j->first_seq() == 4);
    CHECK(j->event_count() == 0);
    CHECK(read_ok(*j, 0, 100).empty());
    // Even the forgotten uids come back under fresh seqs.
    CHECK(append_ok(*j, {make_event("a0")}, t0 + 2'000) == std::vector<uint64_t>{4});
    CHECK(j->first_seq() == 4);
    CHECK(compact_ok(*j, 4, t0 + 3'000, millis{0}, millis{0}).events_removed == 1);
    CHECK(j->event_count() == 0);
  }
  {
    // Empty after reopen, and still no reuse.
    auto j = open_journal(tmp.sub("journal"));
    CHECK(j->last_seq() == 4);
    CHECK(j->first_seq() == 5);
    CHECK(j->event_count() == 0);
    CHECK(read_ok(*j, 0, 100).empty());
    CHECK(append_ok(*j, make_events("b", 2), t0 + 4'000) == range(5, 6));
    CHECK(j->first_seq() == 5);
  }
  auto j = open_journal(tmp.sub("journal"));
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(5, 6));
}

TEST_CASE("a uid is forgotten only after the dedupe window and once its event is gone",
          "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  append_ok(*j, {make_event("a")}, t0);  // 1
  append_ok(*j, {make_event("b")}, t0);  // 2

  // Past the dedupe window but nothing acked: events stay, so uids stay.
  auto result = compact_ok(*j, 0, t0 + long_time.count(), millis{0}, millis{1'000});
  CHECK(result.uids_expired == 0);
  CHECK(seq_of(*j, "a") == 1);

  // Event 1 is compacted while its uid is still inside the window.
  result = compact_ok(*j, 1, t0 + 2'000, millis{0}, millis{1'000'000});
  CHECK(result.events_removed == 1);
  CHECK(result.uids_expired == 0);
  CHECK(j->first_seq() == 2);
  // A late redelivery is still a duplicate: old seq, nothing stored again.
  CHECK(append_ok(*j, {make_event("a")}, t0 + 3'000) == std::vector<uint64_t>{1});
  CHECK(j->last_seq() == 2);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == std::vector<uint64_t>{2});

  // Out of the window and the event is gone: forgotten. "b" keeps its uid
  // because its event is retained.
  result = compact_ok(*j, 1, t0 + 5'000'000, millis{0}, millis{1'000});
  CHECK(result.events_removed == 0);
  CHECK(result.uids_expired == 1);
  CHECK(seq_of(*j, "a") == 0);
  CHECK(seq_of(*j, "b") == 2);

  // A redelivery after that is a new event.
  CHECK(append_ok(*j, {make_event("a")}, t0 + 6'000'000) == std::vector<uint64_t>{3});
  CHECK(seq_of(*j, "a") == 3);
}

TEST_CASE("a compacted uid inside the dedupe window is still deduped after reopen",
          "[journal_store]") {
  test::scratch_dir tmp;
  {
    auto j = open_journal(tmp.sub("journal"));
    append_ok(*j, make_events("u", 3), t0);
    compact_ok(*j, 3, t0 + 1'000, millis{0}, long_time);
    CHECK(j->event_count() == 0);
  }
  auto j = open_journal(tmp.sub("journal"));
  CHECK(append_ok(*j, {make_event("u1"), make_event("v")}, t0 + 2'000) ==
        std::vector<uint64_t>{2, 4});
}

TEST_CASE("compaction stops at max_deletes and reports more", "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  append_ok(*j, make_events("e", 10), t0);
  const int64_t now = t0 + 1'000;

  auto result = compact_ok(*j, 10, now, millis{0}, long_time, 4);
  CHECK(result.events_removed == 4);
  CHECK(result.more);
  CHECK(j->first_seq() == 5);
  CHECK(seqs_of(read_ok(*j, 0, 100)) == range(5, 10));

  result = compact_ok(*j, 10, now, millis{0}, long_time, 4);
  CHECK(result.events_removed == 4);
  CHECK(result.more);
  result = compact_ok(*j, 10, now, millis{0}, long_time, 4);
  CHECK(result.events_removed == 2);
  CHECK_FALSE(result.more);
  CHECK(j->event_count() == 0);
  CHECK(j->first_seq() == 11);

  // uid expiry counts against the same bound.
  uint64_t expired = 0;
  int calls = 0;
  for (bool more = true; more; ++calls) {
    REQUIRE(calls < 10);
    result = compact_ok(*j, 10, now + long_time.count(), millis{0}, millis{0}, 3);
    CHECK(result.uids_expired <= 3);
    expired += result.uids_expired;
    more = result.more;
  }
  CHECK(expired == 10);
  CHECK(calls == 4);
  CHECK(seq_of(*j, "e0") == 0);
  CHECK(seq_of(*j, "e9") == 0);
}

TEST_CASE("a uid longer than the LMDB key limit is journaled and deduped", "[journal_store]") {
  test::scratch_dir tmp;
  const std::string prefix(600, 'p');
  const std::string long_a = "chat@g.us:" + prefix + ":a";
  const std::string long_b = "chat@g.us:" + prefix + ":b";
  const std::string at_limit(400, 'q');
  const std::string over_limit(401, 'q');
  {
    auto j = open_journal(tmp.sub("journal"));
    CHECK(append_ok(*j, {make_event(long_a), make_event(long_b), make_event(long_a),
                         make_event(at_limit), make_event(over_limit)}) ==
          std::vector<uint64_t>{1, 2, 1, 3, 4});
    CHECK(append_ok(*j, {make_event(long_b)}) == std::vector<uint64_t>{2});
    CHECK(seq_of(*j, long_a) == 1);
    CHECK(seq_of(*j, over_limit) == 4);
    CHECK(json::parse(read_ok(*j, 0, 1).front().json)["eventUid"] == long_a);
  }
  auto j = open_journal(tmp.sub("journal"));
  CHECK(append_ok(*j, {make_event(long_a), make_event(over_limit), make_event("short")}) ==
        std::vector<uint64_t>{1, 4, 5});
  CHECK(uid_key(long_a) != uid_key(long_b));
  CHECK(uid_key(long_a).size() <= 400);
}

TEST_CASE("a full map fails the whole batch with journal_full and keeps earlier batches",
          "[journal_store]") {
  test::scratch_dir tmp;
  journal_options opts;
  opts.map_size = 1ull << 20;
  opts.max_map_size = 0;
  uint64_t committed = 0;
  std::vector<pending_event> failed_batch;
  {
    auto j = open_journal(tmp.sub("journal"), opts);
    bool full = false;
    for (int batch = 0; batch < 2'000 && !full; ++batch) {
      auto events = make_events("b" + std::to_string(batch) + "-", 10, 1'500);
      auto seqs = j->append(events, t0 + batch);
      if (seqs) {
        REQUIRE(seqs->size() == events.size());
        CHECK(seqs->front() == committed + 1);
        committed += seqs->size();
        continue;
      }
      INFO(describe(seqs.error()));
      REQUIRE(code_of(seqs.error()) == errc::journal_full);
      full = true;
      failed_batch = events;
    }
    REQUIRE(full);
    REQUIRE(committed > 0);
    // The failed batch left no trace in memory either.
    CHECK(j->last_seq() == committed);
    CHECK(j->map_size() == opts.map_size);
  }
  auto j = open_journal(tmp.sub("journal"), opts);
  CHECK(j->first_seq() == 1);
  CHECK(j->last_seq() == committed);
  uint64_t seen = 0;
  for (uint64_t after = 0;;) {
    auto page = read_ok(*j, after, 100);
    if (page.empty()) break;
    for (const auto& ev : page) CHECK(ev.seq == ++seen);
    after = page.back().seq;
  }
  CHECK(seen == committed);
  for (const auto& ev : failed_batch) CHECK(seq_of(*j, ev.uid) == 0);
}

TEST_CASE("with max_map_size above map_size the map grows instead of failing", "[journal_store]") {
  test::scratch_dir tmp;
  journal_options opts;
  opts.map_size = 1ull << 20;
  opts.max_map_size = 16ull << 20;
  uint64_t committed = 0;
  {
    auto j = open_journal(tmp.sub("journal"), opts);
    // About 3 MiB of events, three times the initial map.
    for (int batch = 0; batch < 200; ++batch)
      committed += append_ok(*j, make_events("b" + std::to_string(batch) + "-", 10, 1'500)).size();
    CHECK(j->last_seq() == committed);
    CHECK(j->map_size() > opts.map_size);
    CHECK(j->map_size() <= opts.max_map_size);
    CHECK(j->used_bytes() > opts.map_size);
  }
  auto j = open_journal(tmp.sub("journal"), opts);
  CHECK(j->last_seq() == committed);
  CHECK(j->event_count() == committed);
  CHECK(read_ok(*j, committed - 1, 10).size() == 1);
  CHECK(append_ok(*j, {make_event("after-reopen")}) == std::vector<uint64_t>{committed + 1});
}

TEST_CASE("compaction reports the media paths of removed events that have media",
          "[journal_store]") {
  test::scratch_dir tmp;
  auto j = open_journal(tmp.sub("journal"));
  std::vector<pending_event> events;
  events.push_back(pending_event{
      "m1", R"({"eventUid":"m1","hasMedia":true,"mediaUrls":["/media/a.jpg","/media/b.jpg"]})"});
  events.push_back(
      pending_event{"m2", R"({"eventUid":"m2","hasMedia": false,"mediaUrls":["/media/x.jpg"]})"});
  events.push_back(pending_event{
      "m3", R"({"eventUid":"m3", "hasMedia" : true, "mediaUrls" : ["/media/c.ogg"]})"});
  events.push_back(pending_event{"m4", R"({"eventUid":"m4","hasMedia":true,"mediaUrls":[]})"});
  append_ok(*j, events, t0);
  auto result = compact_ok(*j, 4, t0 + long_time.count(), millis{0}, long_time);
  CHECK(result.events_removed == 4);
  CHECK(result.media_paths ==
        std::vector<std::string>{"/media/a.jpg", "/media/b.jpg", "/media/c.ogg"});
}

namespace {

// Appends batches of 10 events of ~1.5 KB until the journal refuses one;
// returns how many events were committed. Fails the test if it never fills.
uint64_t fill_until_full(journal_store& j, const std::string& prefix, uint64_t committed = 0) {
  for (int batch = 0; batch < 2'000; ++batch) {
    auto events = make_events(prefix + std::to_string(batch) + "-", 10, 1'500);
    auto seqs = j.append(events, t0 + batch);
    if (!seqs) {
      INFO(describe(seqs.error()));
      REQUIRE(code_of(seqs.error()) == errc::journal_full);
      REQUIRE(is_map_full(seqs.error()));
      return committed;
    }
    committed += seqs->size();
  }
  FAIL("the journal never filled up");
  return committed;
}

}  // namespace

TEST_CASE("growth stops at max_map_size: then appends fail with journal_full", "[journal_store]") {
  test::scratch_dir tmp;
  journal_options opts;
  opts.map_size = 1ull << 20;
  opts.max_map_size = 3ull << 20;  // not a power-of-two multiple: the last step is capped
  auto j = open_journal(tmp.sub("journal"), opts);
  const uint64_t committed = fill_until_full(*j, "g");
  CHECK(j->map_size() == opts.max_map_size);
  CHECK(j->map_full());
  CHECK(j->last_seq() == committed);
  CHECK(committed * 1'500 >
        opts.map_size + (1ull << 19));  // it really grew: more than one map holds
  CHECK(read_ok(*j, committed - 1, 10).size() == 1);
}

TEST_CASE("a full map without growth accepts appends again once compaction freed space",
          "[journal_store]") {
  test::scratch_dir tmp;
  journal_options opts;
  opts.map_size = 1ull << 20;
  auto j = open_journal(tmp.sub("journal"), opts);
  uint64_t committed = fill_until_full(*j, "a");
  REQUIRE(j->map_full());
  REQUIRE(committed > 100);
  // The map is full to the last page: compaction needs the reserve to delete
  // anything, and its second commit makes the freed pages usable at once.
  bool more = true;
  for (int calls = 0; more; ++calls) {
    REQUIRE(calls < 100);
    auto result = j->compact(committed, t0 + long_time.count(), millis{0}, long_time);
    INFO((result ? std::string{"ok"} : describe(result.error())));
    REQUIRE(result);
    more = result->more;
  }
  CHECK(j->first_seq() == committed + 1);
  CHECK(j->map_size() == opts.map_size);
  // The next append succeeds right away, and the journal holds about as much
  // as before (the pages are reused, the file does not grow past the map).
  CHECK(append_ok(*j, make_events("after-", 10, 1'500), t0 + 5'000).front() == committed + 1);
  CHECK_FALSE(j->map_full());
  const uint64_t second = fill_until_full(*j, "b", 10);
  CHECK(second > committed / 2);
  CHECK(j->map_size() == opts.map_size);
  CHECK(j->used_bytes() <= opts.map_size);
  // Seqs stayed contiguous across the episode.
  CHECK(j->last_seq() == committed + second);
  CHECK(read_ok(*j, committed, 1).front().seq == committed + 1);
}

TEST_CASE("journal_reserve is 1/32 of the map within [256 KiB, 16 MiB], at most half",
          "[journal_store]") {
  CHECK(journal_reserve(1ull << 20) == (256ull << 10));
  CHECK(journal_reserve(64ull << 20) == (2ull << 20));
  CHECK(journal_reserve(1ull << 30) == (16ull << 20));
  CHECK(journal_reserve(64ull << 30) == (16ull << 20));
  CHECK(journal_reserve(256ull << 10) == (128ull << 10));
}
