// Unit tests for store/cursor_store.hpp on real LMDB files: each consumer's
// durable cursor round-trips with every field, consumers stay apart, a save
// overwrites, and everything survives closing and reopening the store.
#include "store/cursor_store.hpp"

#include <catch2/catch.hpp>

#include "support/scratch_dir.hpp"

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

using namespace wabridge;
using namespace wabridge::store;

namespace {

std::unique_ptr<cursor_store> open_cursors(const std::string& dir) {
  auto store = cursor_store::open(dir);
  REQUIRE(store);
  return std::move(*store);
}

void save_ok(cursor_store& store, const std::string& consumer, const consumer_cursor& cursor) {
  auto err = store.save(consumer, cursor);
  INFO(describe(err));
  REQUIRE_FALSE(err);
}

std::map<std::string, consumer_cursor> load_ok(cursor_store& store) {
  auto all = store.load_all();
  REQUIRE(all);
  return *all;
}

consumer_cursor cursor(uint64_t acked, bool explicit_acks, int64_t updated_at) {
  consumer_cursor c;
  c.acked_seq = acked;
  c.explicit_acks = explicit_acks;
  c.updated_at_ms = updated_at;
  return c;
}

void check_same(const consumer_cursor& actual, const consumer_cursor& expected) {
  CHECK(actual.acked_seq == expected.acked_seq);
  CHECK(actual.explicit_acks == expected.explicit_acks);
  CHECK(actual.updated_at_ms == expected.updated_at_ms);
}

}  // namespace

TEST_CASE("a fresh cursor store has no consumers", "[cursor_store]") {
  test::scratch_dir tmp;
  auto store = open_cursors(tmp.sub("cursors"));
  CHECK(load_ok(*store).empty());
}

TEST_CASE("a saved cursor loads back with every field", "[cursor_store]") {
  test::scratch_dir tmp;
  auto store = open_cursors(tmp.sub("cursors"));
  const auto saved = cursor(42, true, 1'700'000'000'123);
  save_ok(*store, "default", saved);
  auto all = load_ok(*store);
  REQUIRE(all.size() == 1);
  REQUIRE(all.count("default") == 1);
  check_same(all["default"], saved);
}

TEST_CASE("extreme cursor values round-trip", "[cursor_store]") {
  test::scratch_dir tmp;
  auto store = open_cursors(tmp.sub("cursors"));
  save_ok(*store, "max", cursor(UINT64_MAX, true, INT64_MAX));
  save_ok(*store, "zero", cursor(0, false, 0));
  save_ok(*store, "negative-time", cursor(7, false, -1));
  auto all = load_ok(*store);
  REQUIRE(all.size() == 3);
  check_same(all["max"], cursor(UINT64_MAX, true, INT64_MAX));
  check_same(all["zero"], cursor(0, false, 0));
  check_same(all["negative-time"], cursor(7, false, -1));
}

TEST_CASE("several consumers keep separate cursors", "[cursor_store]") {
  test::scratch_dir tmp;
  auto store = open_cursors(tmp.sub("cursors"));
  save_ok(*store, "default", cursor(10, false, 1));
  save_ok(*store, "hermes", cursor(3, true, 2));
  save_ok(*store, "audit.log-1_A", cursor(99, true, 3));
  save_ok(*store, "hermes-2", cursor(5, false, 4));
  auto all = load_ok(*store);
  REQUIRE(all.size() == 4);
  check_same(all["default"], cursor(10, false, 1));
  check_same(all["hermes"], cursor(3, true, 2));
  check_same(all["audit.log-1_A"], cursor(99, true, 3));
  check_same(all["hermes-2"], cursor(5, false, 4));
}

TEST_CASE("saving a consumer again overwrites its cursor", "[cursor_store]") {
  test::scratch_dir tmp;
  auto store = open_cursors(tmp.sub("cursors"));
  save_ok(*store, "a", cursor(5, false, 100));
  save_ok(*store, "b", cursor(1, false, 100));
  save_ok(*store, "a", cursor(9, true, 200));
  auto all = load_ok(*store);
  REQUIRE(all.size() == 2);
  check_same(all["a"], cursor(9, true, 200));
  check_same(all["b"], cursor(1, false, 100));

  // The store records what it is given; monotonicity is the tracker's job.
  save_ok(*store, "a", cursor(2, false, 300));
  check_same(load_ok(*store)["a"], cursor(2, false, 300));
}

TEST_CASE("cursors survive closing and reopening the store", "[cursor_store]") {
  test::scratch_dir tmp;
  {
    auto store = open_cursors(tmp.sub("cursors"));
    save_ok(*store, "default", cursor(17, false, 11));
    save_ok(*store, "hermes", cursor(4, true, 12));
  }
  {
    auto store = open_cursors(tmp.sub("cursors"));
    auto all = load_ok(*store);
    REQUIRE(all.size() == 2);
    check_same(all["default"], cursor(17, false, 11));
    check_same(all["hermes"], cursor(4, true, 12));
    save_ok(*store, "hermes", cursor(8, true, 13));
    save_ok(*store, "late", cursor(1, false, 14));
  }
  auto store = open_cursors(tmp.sub("cursors"));
  auto all = load_ok(*store);
  REQUIRE(all.size() == 3);
  check_same(all["hermes"], cursor(8, true, 13));
  check_same(all["late"], cursor(1, false, 14));
  check_same(all["default"], cursor(17, false, 11));
}
