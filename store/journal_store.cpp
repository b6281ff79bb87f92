#include "store/journal_store.hpp"

#include "store/lmdb_env.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

namespace wabridge::store {

namespace {

// True when the stored event says "hasMedia": true. A scan instead of a
// parse: compaction walks many events and most have no media.
bool has_media(std::string_view payload) {
  constexpr std::string_view key = "\"hasMedia\"";
  const size_t at = payload.find(key);
  if (at == std::string_view::npos) return false;
  size_t pos = at + key.size();
  while (pos < payload.size() && (payload[pos] == ' ' || payload[pos] == ':')) ++pos;
  return payload.substr(pos, 4) == "true";
}

// Appends the event's mediaUrls (strings only) when it has media.
void collect_media_paths(std::string_view payload, std::vector<std::string>& out) {
  if (!has_media(payload)) return;
  const auto event = nlohmann::json::parse(payload, nullptr, false);
  if (!event.is_object()) return;
  const auto urls = event.find("mediaUrls");
  if (urls == event.end() || !urls->is_array()) return;
  for (const auto& url : *urls)
    if (url.is_string() && !url.get<std::string>().empty()) out.push_back(url.get<std::string>());
}

constexpr const char* last_seq_key = "last_seq";
// LMDB's default maximum key size is 511 bytes; stay well below it.
constexpr size_t max_plain_uid_key = 400;

std::string encode_u64(uint64_t v) {
  return std::string(reinterpret_cast<const char*>(&v), 8);
}

uint64_t decode_u64(const char* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}

int64_t decode_i64(const char* p) {
  int64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}

// The stored value: 8 bytes of receivedAt, then the JSON served over HTTP.
// seq and receivedAt lead the object so a reader can see them at a glance.
void encode_event(std::string& out, uint64_t seq, int64_t received_at_ms,
                  const std::string& payload) {
  out.clear();
  out.reserve(payload.size() + 64);
  out.append(reinterpret_cast<const char*>(&received_at_ms), 8);
  out += "{\"seq\":";
  out += std::to_string(seq);
  out += ",\"receivedAt\":";
  out += std::to_string(received_at_ms);
  // payload is a non-empty JSON object (it always carries eventUid): splice
  // its members after ours.
  out += ',';
  out.append(payload, 1, std::string::npos);
}

uint64_t fnv1a(const std::string& s, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string uid_key(const std::string& uid) {
  if (uid.size() <= max_plain_uid_key) return uid;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "#h:%016llx%016llx:%zu",
                static_cast<unsigned long long>(fnv1a(uid, 14695981039346656037ull)),
                static_cast<unsigned long long>(fnv1a(uid, 0x9e3779b97f4a7c15ull)), uid.size());
  return buf;
}

uint64_t journal_reserve(uint64_t map_size) {
  const uint64_t reserve = std::clamp<uint64_t>(map_size / 32, 256ull << 10, 16ull << 20);
  // Never more than half the map (config allows maps down to 1 MiB).
  return std::min(reserve, map_size / 2);
}

caf::expected<std::unique_ptr<journal_store>> journal_store::open(const std::string& dir,
                                                                  const journal_options& opts) {
  lmdb_env::options env_opts;
  env_opts.map_size = opts.map_size - journal_reserve(opts.map_size);
  auto env = lmdb_env::open(dir, env_opts);
  if (!env) return env.error();
  std::unique_ptr<journal_store> store{new journal_store()};
  store->env_ = std::move(*env);
  store->opts_ = opts;
  // LMDB opens an existing journal with at least the map its data needs
  // (after growth in an earlier run, or a smaller map_size now); then that,
  // plus the reserve, is what this journal may use.
  store->cap_ = opts.map_size;
  const uint64_t mapped = store->env_->map_size();
  if (mapped > env_opts.map_size) store->cap_ = mapped + journal_reserve(mapped);
  auto events = store->env_->open_db("events", true);
  if (!events) return events.error();
  auto uids = store->env_->open_db("uids", false);
  if (!uids) return uids.error();
  auto uid_log = store->env_->open_db("uid_log", true);
  if (!uid_log) return uid_log.error();
  auto meta = store->env_->open_db("meta", false);
  if (!meta) return meta.error();
  store->events_db_ = *events;
  store->uids_db_ = *uids;
  store->uid_log_db_ = *uid_log;
  store->meta_db_ = *meta;
  if (auto err = store->load_bounds()) return err;
  return store;
}

journal_store::~journal_store() = default;

caf::error journal_store::load_bounds() {
  auto txn = env_->begin(true);
  if (!txn) return txn.error();
  bytes_view v;
  auto found = txn->get(meta_db_, std::string_view{last_seq_key}, v);
  if (!found) return found.error();
  last_seq_ = (*found && v.size == 8) ? decode_u64(v.data) : 0;
  auto cursor = lmdb_int_cursor::open(*txn, events_db_);
  if (!cursor) return cursor.error();
  auto has_first = cursor->first();
  if (!has_first) return has_first.error();
  first_seq_ = *has_first ? cursor->key() : last_seq_ + 1;
  return {};
}

caf::expected<std::vector<uint64_t>> journal_store::append(const std::vector<pending_event>& events,
                                                           int64_t received_at_ms) {
  std::vector<const pending_event*> pointers;
  pointers.reserve(events.size());
  for (const auto& ev : events) pointers.push_back(&ev);
  return append(pointers, received_at_ms);
}

caf::expected<std::vector<uint64_t>> journal_store::append(
    const std::vector<const pending_event*>& events, int64_t received_at_ms) {
  for (;;) {
    auto result = append_once(events, received_at_ms);
    if (result) {
      full_ = false;
      touched_ = false;
      return result;
    }
    // A full disk (ENOSPC) is not helped by a larger map; only MDB_MAP_FULL is.
    if (!is_map_full(result.error())) return result;
    // Map full: grow it when the operator allowed growth, then retry the batch.
    // The failed transaction is gone, so no transaction is open: LMDB allows
    // the resize now.
    if (opts_.max_map_size <= cap_) {
      // LMDB reuses the pages the newest commit freed only after one more
      // commit. On a map that is nearly full (retention keeps up, but only
      // just) that would fail every other batch: commit once (in the
      // reserve) and try the batch again. Once per commit, so a map that is
      // really full costs one extra commit, not one per retry.
      if (!touched_ && !reserve_touch()) continue;
      full_ = true;
      return result;
    }
    const uint64_t grown = std::min(opts_.max_map_size, cap_ * 2);
    if (auto err = env_->resize(grown - journal_reserve(grown))) return err;
    cap_ = grown;
  }
}

caf::expected<std::vector<uint64_t>> journal_store::append_once(
    const std::vector<const pending_event*>& events, int64_t received_at_ms) {
  std::vector<uint64_t> seqs;
  seqs.reserve(events.size());
  auto txn = env_->begin(false);
  if (!txn) return txn.error();
  uint64_t next = last_seq_;
  std::string value;
  std::string log_value;
  for (const pending_event* ev : events) {
    // A write transaction sees its own puts, so this lookup also catches a
    // uid repeated inside the batch.
    const std::string key = uid_key(ev->uid);
    bytes_view existing;
    auto found = txn->get(uids_db_, std::string_view{key}, existing);
    if (!found) return found.error();
    if (*found && existing.size == 8) {
      seqs.push_back(decode_u64(existing.data));
      continue;
    }
    ++next;
    encode_event(value, next, received_at_ms, ev->payload);
    if (auto err = txn->put(events_db_, next, value, /*append=*/true)) return err;
    if (auto err = txn->put(uids_db_, std::string_view{key}, encode_u64(next))) return err;
    log_value.assign(reinterpret_cast<const char*>(&received_at_ms), 8);
    log_value += key;
    if (auto err = txn->put(uid_log_db_, next, log_value, /*append=*/true)) return err;
    seqs.push_back(next);
  }
  if (next == last_seq_) return seqs;  // only duplicates: nothing to commit
  if (auto err = txn->put(meta_db_, std::string_view{last_seq_key}, encode_u64(next))) return err;
  if (auto err = txn->commit()) return err;
  // first_seq_ needs no update: when the journal was empty it already was last_seq_ + 1.
  last_seq_ = next;
  return seqs;
}

caf::expected<std::vector<stored_event>> journal_store::read(uint64_t after, uint32_t limit,
                                                             uint64_t max_bytes) {
  std::vector<stored_event> out;
  if (limit == 0 || after >= last_seq_) return out;
  auto txn = env_->begin(true);
  if (!txn) return txn.error();
  auto cursor = lmdb_int_cursor::open(*txn, events_db_);
  if (!cursor) return cursor.error();
  auto found = cursor->seek(after + 1);
  uint64_t bytes = 0;
  out.reserve(std::min<uint64_t>(limit, last_seq_ - after));
  while (found && *found && out.size() < limit) {
    bytes_view v = cursor->value();
    if (v.size < 8) return make_error(errc::journal_failure, "corrupt event record");
    stored_event ev;
    ev.seq = cursor->key();
    ev.received_at_ms = decode_i64(v.data);
    ev.json.assign(v.data + 8, v.size - 8);
    bytes += ev.json.size();
    out.push_back(std::move(ev));
    if (bytes >= max_bytes) break;
    found = cursor->next();
  }
  if (!found) return found.error();
  return out;
}

caf::expected<compaction_result> journal_store::compact(uint64_t acked_floor, int64_t now_ms,
                                                        millis retain_acked, millis dedupe_window,
                                                        uint64_t max_deletes) {
  // Deleting copies pages too, so on a full map compaction itself can fail
  // with MDB_MAP_FULL: then (and whenever appends found the map full) it runs
  // with the reserve mapped, in steps small enough to fit in it. Expiring
  // uids touches a different page of the uids tree per delete, so the step
  // halves until it fits (a failed transaction costs no fsync).
  constexpr uint64_t reserve_max_deletes = 1'000;
  const uint64_t append_map = cap_ - journal_reserve(cap_);
  bool reserve = full_;
  if (reserve) {
    if (auto err = env_->resize(cap_)) return err;
  }
  uint64_t step = reserve ? std::min(max_deletes, reserve_max_deletes) : max_deletes;
  auto result = compact_once(acked_floor, now_ms, retain_acked, dedupe_window, step);
  while (!result && is_map_full(result.error()) && step > 1) {
    if (!reserve) {
      reserve = true;
      if (auto err = env_->resize(cap_)) return err;
    }
    step = std::min(step, reserve_max_deletes * 2) / 2;
    result = compact_once(acked_floor, now_ms, retain_acked, dedupe_window, step);
  }
  if (result && full_ && (result->events_removed > 0 || result->uids_expired > 0)) {
    // LMDB reuses a freed page only after two newer commits (it keeps the
    // previous snapshot intact). Appends are stuck on a full map and commit
    // nothing, so without this second commit the pages just freed would stay
    // unusable until some later compaction happened to commit again.
    if (auto err = touch()) result = err;
  }
  if (reserve) {
    // Back to the append map; LMDB rounds up to the pages in use, so whatever
    // compaction took at the end of the reserve stays mapped.
    if (auto err = env_->resize(append_map)) return err;
  }
  return result;
}

caf::error journal_store::touch() {
  auto txn = env_->begin(false);
  if (!txn) return txn.error();
  if (auto err = txn->put(meta_db_, std::string_view{last_seq_key}, encode_u64(last_seq_)))
    return err;
  if (auto err = txn->commit()) return err;
  touched_ = true;
  return {};
}

caf::error journal_store::reserve_touch() {
  // Whatever the outcome, no other commit may try again before a real one.
  touched_ = true;
  if (auto err = env_->resize(cap_)) return err;
  auto err = touch();
  auto back = env_->resize(cap_ - journal_reserve(cap_));
  return err ? err : back;
}

caf::expected<compaction_result> journal_store::compact_once(uint64_t acked_floor, int64_t now_ms,
                                                             millis retain_acked,
                                                             millis dedupe_window,
                                                             uint64_t max_deletes) {
  compaction_result result;
  auto txn = env_->begin(false);
  if (!txn) return txn.error();
  uint64_t new_first = first_seq_;
  {
    auto cursor = lmdb_int_cursor::open(*txn, events_db_);
    if (!cursor) return cursor.error();
    const int64_t cutoff = now_ms - retain_acked.count();
    auto found = cursor->first();
    while (found && *found) {
      if (cursor->key() > acked_floor) break;
      bytes_view v = cursor->value();
      if (v.size >= 8 && decode_i64(v.data) > cutoff) break;
      if (result.events_removed + result.uids_expired >= max_deletes) {
        result.more = true;
        break;
      }
      collect_media_paths(std::string_view(v.data + 8, v.size - 8), result.media_paths);
      if (auto err = cursor->del()) return err;
      ++result.events_removed;
      new_first = cursor->key() + 1;
      // MDB_GET_CURRENT after a delete lands on the next entry; re-seek is simpler.
      found = cursor->seek(new_first);
    }
    if (!found) return found.error();
  }
  {
    // A uid is forgotten only when its event is gone and it is older than the
    // dedupe window, so a late redelivery of a retained event still dedupes.
    auto cursor = lmdb_int_cursor::open(*txn, uid_log_db_);
    if (!cursor) return cursor.error();
    const int64_t cutoff = now_ms - dedupe_window.count();
    auto found = cursor->first();
    while (found && *found) {
      if (cursor->key() >= new_first) break;
      bytes_view v = cursor->value();
      if (v.size < 8) return make_error(errc::journal_failure, "corrupt uid_log record");
      if (decode_i64(v.data) > cutoff) break;
      if (result.events_removed + result.uids_expired >= max_deletes) {
        result.more = true;
        break;
      }
      std::string key(v.data + 8, v.size - 8);
      const uint64_t seq = cursor->key();
      if (auto err = txn->del(uids_db_, std::string_view{key})) return err;
      if (auto err = cursor->del()) return err;
      ++result.uids_expired;
      found = cursor->seek(seq + 1);
    }
    if (!found) return found.error();
  }
  if (result.events_removed == 0 && result.uids_expired == 0) return result;
  if (auto err = txn->commit()) return err;
  touched_ = false;
  first_seq_ = new_first;
  return result;
}

caf::expected<uint64_t> journal_store::seq_of_uid(const std::string& uid) {
  auto txn = env_->begin(true);
  if (!txn) return txn.error();
  bytes_view v;
  auto found = txn->get(uids_db_, std::string_view{uid_key(uid)}, v);
  if (!found) return found.error();
  return (*found && v.size == 8) ? decode_u64(v.data) : 0;
}

caf::expected<int64_t> journal_store::received_at_after(uint64_t after) {
  if (after >= last_seq_) return int64_t{-1};
  auto txn = env_->begin(true);
  if (!txn) return txn.error();
  auto cursor = lmdb_int_cursor::open(*txn, events_db_);
  if (!cursor) return cursor.error();
  auto found = cursor->seek(after + 1);
  if (!found) return found.error();
  if (!*found || cursor->value().size < 8) return int64_t{-1};
  return decode_i64(cursor->value().data);
}

uint64_t journal_store::used_bytes() const {
  return env_->used_bytes();
}

}  // namespace wabridge::store
