// Durable consumer cursors of one account, on their own small LMDB
// environment: per consumer name, the highest acked seq and whether the
// consumer acks explicitly. Every save() is one fsync'd transaction.
// Owned by exactly one ack tracker actor; not thread-safe.
#pragma once

#include "common/error.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace wabridge::store {

class lmdb_env;

struct consumer_cursor {
  uint64_t acked_seq = 0;      // every seq <= this is acked by the consumer
  bool explicit_acks = false;  // the consumer has called POST /ack at least once
  int64_t updated_at_ms = 0;
};

class cursor_store {
 public:
  static caf::expected<std::unique_ptr<cursor_store>> open(const std::string& dir);
  ~cursor_store();

  caf::expected<std::map<std::string, consumer_cursor>> load_all();
  caf::error save(const std::string& consumer, const consumer_cursor& cursor);

 private:
  cursor_store() = default;
  std::unique_ptr<lmdb_env> env_;
  unsigned db_ = 0;
};

}  // namespace wabridge::store
