// Unit tests for store/outbox_store.hpp on real LMDB files: contiguous ids,
// idempotency keys, the claim order (a send left `sending` by a dead sender
// comes first), giving up after max_attempts, part-by-part progress, and
// that all of it survives closing and reopening the environment.
#include "store/outbox_store.hpp"

#include <catch2/catch.hpp>

#include "support/scratch_dir.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace wabridge;
using namespace wabridge::store;

namespace {

constexpr int64_t t0 = 1'700'000'000'000;

outbox_record text_send(const std::string& text, const std::string& key = {}) {
  outbox_record r;
  r.op = "send";
  r.parts.push_back(outbox_part{
      "send", R"({"chatId":"c@s.whatsapp.net","message":")" + text + "\"}", "3EB0" + text});
  r.idempotency_key = key;
  r.request_hash = "h-" + text;
  return r;
}

std::unique_ptr<outbox_store> open_store(const std::string& dir) {
  auto store = outbox_store::open(dir);
  REQUIRE(store);
  return std::move(*store);
}

outbox_record claim(outbox_store& store, uint32_t max_attempts = 3,
                    std::vector<outbox_record>* given_up = nullptr) {
  auto claimed = store.claim_next(max_attempts, t0, given_up);
  REQUIRE(claimed);
  REQUIRE(claimed->has_value());
  return **claimed;
}

}  // namespace

TEST_CASE("enqueue assigns contiguous ids and the records survive a reopen", "[outbox]") {
  test::scratch_dir dir;
  {
    auto store = open_store(dir.path());
    for (int i = 0; i < 3; ++i) {
      auto r = store->enqueue(text_send("m" + std::to_string(i)), t0 + i);
      REQUIRE(r);
      CHECK_FALSE(r->existing);
      CHECK(r->record.id == static_cast<uint64_t>(i + 1));
      CHECK(r->record.state == send_state::queued);
    }
    CHECK(store->counts().queued == 3);
  }
  auto store = open_store(dir.path());
  CHECK(store->last_id() == 3);
  CHECK(store->counts().queued == 3);
  auto got = store->get(2);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK((*got)->parts.at(0).message_id == "3EB0m1");
  CHECK((*got)->created_at_ms == t0 + 1);
  auto next = store->enqueue(text_send("after"), t0);
  REQUIRE(next);
  CHECK(next->record.id == 4);  // ids are never reused
}

TEST_CASE("a known idempotency key returns the first record and writes nothing", "[outbox]") {
  test::scratch_dir dir;
  auto store = open_store(dir.path());
  auto first = store->enqueue(text_send("a", "key-1"), t0);
  REQUIRE(first);
  auto again = store->enqueue(text_send("b", "key-1"), t0 + 5);
  REQUIRE(again);
  CHECK(again->existing);
  CHECK(again->record.id == first->record.id);
  CHECK(again->record.request_hash == "h-a");  // the caller compares hashes
  CHECK(store->last_id() == 1);
  CHECK(store->counts().queued == 1);
}

TEST_CASE("claims go oldest first and a send left sending is resumed before queued ones",
          "[outbox]") {
  test::scratch_dir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE(store->enqueue(text_send("one"), t0));
    REQUIRE(store->enqueue(text_send("two"), t0));
    const auto first = claim(*store);
    CHECK(first.id == 1);
    CHECK(first.state == send_state::sending);
    CHECK(first.attempts == 1);
    // The sender "dies" here: record 1 stays sending on disk.
  }
  auto store = open_store(dir.path());
  CHECK(store->counts().sending == 1);
  const auto resumed = claim(*store);
  CHECK(resumed.id == 1);
  CHECK(resumed.attempts == 2);
  REQUIRE(store->finish(1, send_state::sent, "", t0));
  CHECK(claim(*store).id == 2);
  REQUIRE(store->finish(2, send_state::failed, "refused", t0));
  auto none = store->claim_next(3, t0, nullptr);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  CHECK(store->counts().sent == 1);
  CHECK(store->counts().failed == 1);
}

TEST_CASE("a send handed out max_attempts times ends unknown instead of going out again",
          "[outbox]") {
  test::scratch_dir dir;
  auto store = open_store(dir.path());
  REQUIRE(store->enqueue(text_send("x"), t0));
  REQUIRE(store->enqueue(text_send("y"), t0));
  CHECK(claim(*store, 2).attempts == 1);
  CHECK(claim(*store, 2).attempts == 2);  // resumed once: still record 1
  std::vector<outbox_record> given_up;
  const auto next = claim(*store, 2, &given_up);
  REQUIRE(given_up.size() == 1);
  CHECK(given_up[0].id == 1);
  CHECK(given_up[0].state == send_state::unknown);
  CHECK_FALSE(given_up[0].error.empty());
  CHECK(next.id == 2);
  auto stored = store->get(1);
  REQUIRE(stored);
  CHECK((*stored)->state == send_state::unknown);
}

TEST_CASE("parts are recorded in order and a wrong part index is an error", "[outbox]") {
  test::scratch_dir dir;
  auto store = open_store(dir.path());
  auto rec = text_send("p0");
  rec.parts.push_back(outbox_part{"send", R"({"chatId":"c","message":"p1"})", "3EB0p1"});
  REQUIRE(store->enqueue(rec, t0));
  claim(*store);
  CHECK_FALSE(store->record_part(1, 1, {"x"}, "", t0));  // part 0 comes first
  auto after0 = store->record_part(1, 0, {"3EB0p0"}, "", t0);
  REQUIRE(after0);
  CHECK(after0->parts_done == 1);
  auto after1 = store->record_part(1, 1, {"3EB0p1"}, R"({"k":1})", t0);
  REQUIRE(after1);
  CHECK(after1->parts_done == 2);
  CHECK(after1->message_ids == std::vector<std::string>{"3EB0p0", "3EB0p1"});
  CHECK(after1->result_data == R"({"k":1})");
}

TEST_CASE("compact removes finished records past retention with their keys, never unfinished",
          "[outbox]") {
  test::scratch_dir dir;
  auto store = open_store(dir.path());
  REQUIRE(store->enqueue(text_send("old", "k-old"), t0));
  REQUIRE(store->enqueue(text_send("pending", "k-pending"), t0));
  claim(*store);
  REQUIRE(store->finish(1, send_state::sent, "", t0));
  auto removed = store->compact(t0 + 10'000, millis{1'000});
  REQUIRE(removed);
  CHECK(*removed == 1);
  auto gone = store->get(1);
  REQUIRE(gone);
  CHECK_FALSE(gone->has_value());
  auto pending = store->get(2);
  REQUIRE(pending);
  CHECK(pending->has_value());
  // The removed record's key is free again: it makes a new record.
  auto reuse = store->enqueue(text_send("old", "k-old"), t0 + 20'000);
  REQUIRE(reuse);
  CHECK_FALSE(reuse->existing);
  CHECK(reuse->record.id == 3);
}

TEST_CASE("the stored JSON of a record reads back unchanged", "[outbox]") {
  auto rec = text_send("round", "key");
  rec.parts[0].args = R"({"chatId":"c","message":"round \"trip\" ✓"})";
  rec.id = 9;
  rec.state = send_state::failed;
  rec.error = "refused";
  rec.message_ids = {"a", "b"};
  rec.attempts = 2;
  auto back = outbox_record_from_json(to_json_text(rec));
  REQUIRE(back);
  CHECK(back->id == 9);
  CHECK(back->state == send_state::failed);
  CHECK(back->parts.at(0).args == rec.parts.at(0).args);
  CHECK(back->message_ids == rec.message_ids);
  CHECK(back->idempotency_key == "key");
  CHECK_FALSE(outbox_record_from_json("{not json"));
}
