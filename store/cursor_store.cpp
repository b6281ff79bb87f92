#include "store/cursor_store.hpp"

#include "store/lmdb_env.hpp"

#include <lmdb.h>

#include <cstring>

namespace wabridge::store {
namespace {

// Record layout (little-endian, fixed 17 bytes): u64 acked_seq, i64 updated_at_ms, u8 flags.
constexpr size_t record_size = 17;
constexpr uint8_t flag_explicit = 1;

std::string encode(const consumer_cursor& c) {
  std::string out(record_size, '\0');
  std::memcpy(out.data(), &c.acked_seq, 8);
  std::memcpy(out.data() + 8, &c.updated_at_ms, 8);
  out[16] = static_cast<char>(c.explicit_acks ? flag_explicit : 0);
  return out;
}

}  // namespace

caf::expected<std::unique_ptr<cursor_store>> cursor_store::open(const std::string& dir) {
  lmdb_env::options opts;
  opts.map_size = 64ull << 20;  // cursors are tiny; 64 MiB of address space is plenty
  auto env = lmdb_env::open(dir, opts);
  if (!env) return env.error();
  std::unique_ptr<cursor_store> store{new cursor_store()};
  store->env_ = std::move(*env);
  auto db = store->env_->open_db("consumers", false);
  if (!db) return db.error();
  store->db_ = *db;
  return store;
}

cursor_store::~cursor_store() = default;

caf::expected<std::map<std::string, consumer_cursor>> cursor_store::load_all() {
  std::map<std::string, consumer_cursor> out;
  auto txn = env_->begin(true);
  if (!txn) return txn.error();
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn->raw(), db_, &cursor); rc != 0)
    return lmdb_error(rc, "mdb_cursor_open");
  MDB_val k{};
  MDB_val v{};
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  while (rc == 0) {
    if (v.mv_size == record_size) {
      consumer_cursor c;
      const char* p = static_cast<const char*>(v.mv_data);
      std::memcpy(&c.acked_seq, p, 8);
      std::memcpy(&c.updated_at_ms, p + 8, 8);
      c.explicit_acks = (p[16] & flag_explicit) != 0;
      out.emplace(std::string(static_cast<const char*>(k.mv_data), k.mv_size), c);
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_cursor_get");
  return out;
}

caf::error cursor_store::save(const std::string& consumer, const consumer_cursor& cursor) {
  auto txn = env_->begin(false);
  if (!txn) return txn.error();
  if (auto err = txn->put(db_, std::string_view{consumer}, encode(cursor))) return err;
  return txn->commit();
}

}  // namespace wabridge::store
