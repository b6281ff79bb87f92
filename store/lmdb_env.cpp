#include "store/lmdb_env.hpp"

#include <lmdb.h>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace wabridge::store {

caf::error lmdb_error(int rc, std::string_view where) {
  std::string detail{where};
  detail += ": ";
  detail += mdb_strerror(rc);
  if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT) {
    return make_error(errc::journal_full, std::move(detail));
  }
  return make_error(errc::journal_failure, std::move(detail));
}

bool is_map_full(const caf::error& err) {
  // lmdb_error is the only producer of journal_full in store/ and puts
  // mdb_strerror(MDB_MAP_FULL) ("MDB_MAP_FULL: ...") into the detail.
  return code_of(err) == errc::journal_full &&
         describe(err).find("MDB_MAP_FULL") != std::string::npos;
}

namespace {

// Less than this free on the environment's file system counts as full: LMDB
// writes whole pages, so a short write means the next page did not fit.
constexpr uint64_t nearly_full_bytes = 64 * 1024;

bool filesystem_full(MDB_env* env) {
  const char* path = nullptr;
  if (env == nullptr || mdb_env_get_path(env, &path) != 0 || path == nullptr) return false;
  struct statvfs fs {};
  if (::statvfs(path, &fs) != 0) return false;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < nearly_full_bytes;
}

MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

MDB_val to_val(const uint64_t& key) {
  return MDB_val{sizeof(key), const_cast<uint64_t*>(&key)};
}

}  // namespace

namespace {

// LMDB maps lock.mdb read-write and writes its reader table through the
// mapping. On a full filesystem, touching a page of a fresh (sparse) lock
// file is a SIGBUS, not an error: the worker died on start that way. So give
// the file its blocks before LMDB maps it, and report a full disk as an
// error. KEEP_SIZE leaves the length to LMDB (it sizes its reader table from
// it); 16 KiB covers the table for LMDB's default 126 readers (8 KiB here).
caf::error preallocate_lock_file(const std::string& dir) {
  const std::string path = dir + "/lock.mdb";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return make_error(errc::io_failure, "open " + path + ": " + std::strerror(errno));
  int rc = 0;
  do {
    rc = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 16 * 1024);
  } while (rc != 0 && errno == EINTR);
  const int err = rc != 0 ? errno : 0;
  ::close(fd);
  if (err == ENOSPC || err == EDQUOT) return lmdb_error(err, "preallocate " + path);
  // A filesystem without fallocate: nothing to do but let LMDB try.
  if (err != 0 && err != EOPNOTSUPP && err != ENOSYS)
    return make_error(errc::io_failure, "preallocate " + path + ": " + std::strerror(err));
  return {};
}

}  // namespace

caf::expected<std::unique_ptr<lmdb_env>> lmdb_env::open(const std::string& dir,
                                                        const options& opts) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(errc::io_failure, "create " + dir + ": " + ec.message());
  if (auto err = preallocate_lock_file(dir)) return err;
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return lmdb_error(rc, "mdb_env_create");
  std::unique_ptr<lmdb_env> result{new lmdb_env(env)};
  if (int rc = mdb_env_set_maxdbs(env, opts.max_dbs); rc != 0)
    return lmdb_error(rc, "mdb_env_set_maxdbs");
  if (int rc = mdb_env_set_mapsize(env, opts.map_size); rc != 0)
    return lmdb_error(rc, "mdb_env_set_mapsize");
  // MDB_NOTLS: the owning actor may hop between scheduler threads.
  // Durable defaults otherwise: no MDB_NOSYNC / MDB_NOMETASYNC, every commit fsyncs.
  if (int rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0640); rc != 0)
    return lmdb_error(rc, "mdb_env_open " + dir);
  return result;
}

lmdb_env::~lmdb_env() {
  if (env_ != nullptr) mdb_env_close(env_);
}

caf::expected<unsigned> lmdb_env::open_db(const char* name, bool integer_keys) {
  auto txn = begin(false);
  if (!txn) return txn.error();
  MDB_dbi dbi = 0;
  unsigned flags = MDB_CREATE | (integer_keys ? MDB_INTEGERKEY : 0u);
  if (int rc = mdb_dbi_open(txn->raw(), name, flags, &dbi); rc != 0)
    return lmdb_error(rc, std::string("mdb_dbi_open ") + name);
  if (auto err = txn->commit()) return err;
  return static_cast<unsigned>(dbi);
}

caf::expected<lmdb_txn> lmdb_env::begin(bool read_only) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_, nullptr, read_only ? MDB_RDONLY : 0u, &txn); rc != 0)
    return lmdb_error(rc, "mdb_txn_begin");
  return lmdb_txn{txn};
}

uint64_t lmdb_env::map_size() const {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

uint64_t lmdb_env::used_bytes() const {
  MDB_envinfo info{};
  MDB_stat stat{};
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &stat);
  return static_cast<uint64_t>(info.me_last_pgno + 1) * stat.ms_psize;
}

caf::error lmdb_env::resize(uint64_t new_size) {
  if (int rc = mdb_env_set_mapsize(env_, new_size); rc != 0)
    return lmdb_error(rc, "mdb_env_set_mapsize");
  return {};
}

lmdb_txn::lmdb_txn(lmdb_txn&& other) noexcept : txn_(other.txn_) {
  other.txn_ = nullptr;
}

lmdb_txn& lmdb_txn::operator=(lmdb_txn&& other) noexcept {
  if (this != &other) {
    abort();
    txn_ = other.txn_;
    other.txn_ = nullptr;
  }
  return *this;
}

lmdb_txn::~lmdb_txn() {
  abort();
}

caf::error lmdb_txn::commit() {
  MDB_txn* txn = txn_;
  txn_ = nullptr;
  MDB_env* env = mdb_txn_env(txn);
  if (int rc = mdb_txn_commit(txn); rc != 0) {
    // LMDB reports a short pwrite() as EIO ("TODO: Use which error code?"
    // in mdb_page_flush), and a write that runs into a full file system is
    // often short rather than failing with ENOSPC. Tell the two apart by the
    // file system's free space, so a full disk reads as journal_full
    // (degraded until space returns) and not as an unexplained I/O error.
    if (rc == EIO && filesystem_full(env))
      return make_error(errc::journal_full,
                        "mdb_txn_commit: Input/output error (a short write: the file system is "
                        "full)");
    return lmdb_error(rc, "mdb_txn_commit");
  }
  return {};
}

void lmdb_txn::abort() {
  if (txn_ != nullptr) {
    mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
}

caf::error lmdb_txn::put(unsigned dbi, uint64_t key, std::string_view value, bool append) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  if (int rc = mdb_put(txn_, dbi, &k, &v, append ? MDB_APPEND : 0u); rc != 0)
    return lmdb_error(rc, "mdb_put");
  return {};
}

caf::expected<bool> lmdb_txn::get(unsigned dbi, uint64_t key, bytes_view& out) {
  MDB_val k = to_val(key);
  MDB_val v{};
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdb_error(rc, "mdb_get");
  out = {static_cast<const char*>(v.mv_data), v.mv_size};
  return true;
}

caf::error lmdb_txn::del(unsigned dbi, uint64_t key) {
  MDB_val k = to_val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_del");
  return {};
}

caf::error lmdb_txn::put(unsigned dbi, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  if (int rc = mdb_put(txn_, dbi, &k, &v, 0); rc != 0) return lmdb_error(rc, "mdb_put");
  return {};
}

caf::expected<bool> lmdb_txn::get(unsigned dbi, std::string_view key, bytes_view& out) {
  MDB_val k = to_val(key);
  MDB_val v{};
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdb_error(rc, "mdb_get");
  out = {static_cast<const char*>(v.mv_data), v.mv_size};
  return true;
}

caf::error lmdb_txn::del(unsigned dbi, std::string_view key) {
  MDB_val k = to_val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_del");
  return {};
}

caf::expected<lmdb_int_cursor> lmdb_int_cursor::open(lmdb_txn& txn, unsigned dbi) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn.raw(), dbi, &cursor); rc != 0)
    return lmdb_error(rc, "mdb_cursor_open");
  return lmdb_int_cursor{cursor};
}

lmdb_int_cursor::lmdb_int_cursor(lmdb_int_cursor&& other) noexcept
    : cursor_(other.cursor_), key_(other.key_), value_(other.value_) {
  other.cursor_ = nullptr;
}

lmdb_int_cursor::~lmdb_int_cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(static_cast<MDB_cursor*>(cursor_));
}

caf::expected<bool> lmdb_int_cursor::move(int op, uint64_t key) {
  MDB_val k = to_val(key);
  MDB_val v{};
  int rc =
      mdb_cursor_get(static_cast<MDB_cursor*>(cursor_), &k, &v, static_cast<MDB_cursor_op>(op));
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdb_error(rc, "mdb_cursor_get");
  // LMDB only 2-byte aligns keys inside a page: copy, never dereference.
  std::memcpy(&key_, k.mv_data, sizeof(key_));
  value_ = {static_cast<const char*>(v.mv_data), v.mv_size};
  return true;
}

caf::expected<bool> lmdb_int_cursor::seek(uint64_t key) {
  return move(MDB_SET_RANGE, key);
}
caf::expected<bool> lmdb_int_cursor::first() {
  return move(MDB_FIRST, 0);
}
caf::expected<bool> lmdb_int_cursor::next() {
  return move(MDB_NEXT, 0);
}

caf::error lmdb_int_cursor::del() {
  if (int rc = mdb_cursor_del(static_cast<MDB_cursor*>(cursor_), 0); rc != 0)
    return lmdb_error(rc, "mdb_cursor_del");
  return {};
}

}  // namespace wabridge::store
