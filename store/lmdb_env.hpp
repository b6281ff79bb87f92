// Thin RAII wrappers over LMDB: an environment, transactions and databases.
// store/ is the only place that includes lmdb.h; LMDB return codes become
// wabridge errors in one function (lmdb_error). An lmdb_env is owned by exactly
// one actor (the journal or the ack tracker); it is opened with MDB_NOTLS so
// that actor may run on any CAF scheduler thread, but it must never be used
// from two threads at once.
#pragma once

#include "common/error.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct MDB_env;
struct MDB_txn;

namespace wabridge::store {

/// Translates an LMDB return code into a wabridge error: MDB_MAP_FULL and
/// ENOSPC/EDQUOT become errc::journal_full, everything else journal_failure.
caf::error lmdb_error(int rc, std::string_view where);

/// True when `err` is lmdb_error's translation of MDB_MAP_FULL (the map, not
/// the disk, is full): only then can a larger map help.
bool is_map_full(const caf::error& err);

/// A byte view into LMDB-owned memory (valid until the transaction ends).
struct bytes_view {
  const char* data = nullptr;
  size_t size = 0;
  std::string_view str() const { return {data, size}; }
};

class lmdb_txn;

/// An open LMDB environment (one directory with data.mdb and lock.mdb).
class lmdb_env {
 public:
  struct options {
    uint64_t map_size = 1ull << 30;
    unsigned max_dbs = 8;
  };

  /// Creates `dir` if needed and opens the environment in it. lock.mdb gets
  /// its blocks first, so a full filesystem is errc::journal_full here rather
  /// than a SIGBUS when LMDB writes the reader table through its mapping.
  static caf::expected<std::unique_ptr<lmdb_env>> open(const std::string& dir, const options& opts);

  ~lmdb_env();
  lmdb_env(const lmdb_env&) = delete;
  lmdb_env& operator=(const lmdb_env&) = delete;

  /// Opens (creating if needed) a named database; integer_keys selects
  /// MDB_INTEGERKEY for native uint64 keys. Must be called before other txns.
  caf::expected<unsigned> open_db(const char* name, bool integer_keys);

  caf::expected<lmdb_txn> begin(bool read_only);

  /// Map size in bytes and bytes in use (last page number * page size).
  uint64_t map_size() const;
  uint64_t used_bytes() const;

  /// Sets the map to `new_size` bytes, or to the bytes in use when that is
  /// more (LMDB rounds up). LMDB requires that no transaction of this
  /// environment is open in this process; the single owner guarantees it by
  /// calling this only between its own transactions.
  caf::error resize(uint64_t new_size);

  MDB_env* raw() const { return env_; }

 private:
  explicit lmdb_env(MDB_env* env) : env_(env) {}
  MDB_env* env_;
};

/// A transaction; aborted on destruction unless committed.
class lmdb_txn {
 public:
  lmdb_txn() = default;
  lmdb_txn(lmdb_txn&& other) noexcept;
  lmdb_txn& operator=(lmdb_txn&& other) noexcept;
  ~lmdb_txn();

  /// Commits; for a write transaction this is the fsync point.
  caf::error commit();
  void abort();

  // Integer-keyed access (MDB_INTEGERKEY databases).
  caf::error put(unsigned dbi, uint64_t key, std::string_view value, bool append = false);
  caf::expected<bool> get(unsigned dbi, uint64_t key, bytes_view& out);
  caf::error del(unsigned dbi, uint64_t key);
  // String-keyed access.
  caf::error put(unsigned dbi, std::string_view key, std::string_view value);
  caf::expected<bool> get(unsigned dbi, std::string_view key, bytes_view& out);
  caf::error del(unsigned dbi, std::string_view key);

  MDB_txn* raw() const { return txn_; }

 private:
  friend class lmdb_env;
  explicit lmdb_txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

/// A cursor over an integer-keyed database, walking keys upwards.
class lmdb_int_cursor {
 public:
  static caf::expected<lmdb_int_cursor> open(lmdb_txn& txn, unsigned dbi);
  lmdb_int_cursor(lmdb_int_cursor&& other) noexcept;
  lmdb_int_cursor& operator=(lmdb_int_cursor&&) = delete;
  ~lmdb_int_cursor();

  /// Positions at the first key >= `key`; false at the end.
  caf::expected<bool> seek(uint64_t key);
  /// Positions at the first key; false when empty.
  caf::expected<bool> first();
  caf::expected<bool> next();
  /// Deletes the entry under the cursor.
  caf::error del();

  uint64_t key() const { return key_; }
  bytes_view value() const { return value_; }

 private:
  explicit lmdb_int_cursor(void* cursor) : cursor_(cursor) {}
  caf::expected<bool> move(int op, uint64_t key);
  void* cursor_ = nullptr;  // MDB_cursor*
  uint64_t key_ = 0;
  bytes_view value_;
};

}  // namespace wabridge::store
