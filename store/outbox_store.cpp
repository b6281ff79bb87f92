#include "store/outbox_store.hpp"

#include "store/lmdb_env.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

namespace wabridge::store {
namespace {

using nlohmann::json;

// Sends are small and kept for outbound.retain only: 64 MiB of address space
// holds hundreds of thousands of them.
constexpr uint64_t outbox_map_size = 64ull << 20;
constexpr size_t max_key_bytes = 255;
constexpr const char* last_id_key = "last_id";

std::string encode_u64(uint64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

uint64_t decode_u64(const char* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}

uint64_t& count_of(outbox_counts& c, send_state s) {
  switch (s) {
    case send_state::queued:
      return c.queued;
    case send_state::sending:
      return c.sending;
    case send_state::sent:
      return c.sent;
    case send_state::failed:
      return c.failed;
    case send_state::unknown:
      break;
  }
  return c.unknown;
}

json parsed_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  json value = json::parse(text, nullptr, false);
  return value.is_discarded() ? json(nullptr) : value;
}

caf::error corrupt(uint64_t id, const std::string& why) {
  return make_error(errc::journal_failure,
                    "outbox record " + std::to_string(id) + " is damaged: " + why);
}

}  // namespace

const char* to_string(send_state state) {
  switch (state) {
    case send_state::queued:
      return "queued";
    case send_state::sending:
      return "sending";
    case send_state::sent:
      return "sent";
    case send_state::failed:
      return "failed";
    case send_state::unknown:
      break;
  }
  return "unknown";
}

std::optional<send_state> parse_send_state(std::string_view text) {
  for (auto s : {send_state::queued, send_state::sending, send_state::sent, send_state::failed,
                 send_state::unknown})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

bool is_terminal(send_state state) {
  return state == send_state::sent || state == send_state::failed || state == send_state::unknown;
}

std::string to_json_text(const outbox_record& r) {
  json parts = json::array();
  for (const auto& p : r.parts)
    parts.push_back(
        json{{"op", p.op}, {"args", parsed_or_null(p.args)}, {"messageId", p.message_id}});
  json out{{"id", r.id},
           {"op", r.op},
           {"state", to_string(r.state)},
           {"parts", parts},
           {"partsDone", r.parts_done},
           {"messageIds", r.message_ids},
           {"error", r.error},
           {"resultData", parsed_or_null(r.result_data)},
           {"idempotencyKey", r.idempotency_key},
           {"requestHash", r.request_hash},
           {"attempts", r.attempts},
           {"createdAtMs", r.created_at_ms},
           {"updatedAtMs", r.updated_at_ms}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

caf::expected<outbox_record> outbox_record_from_json(std::string_view text) {
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(errc::journal_failure, "outbox record is not a JSON object");
  outbox_record r;
  auto str = [&](const char* key, std::string& out) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto num = [&](const char* key, auto& out) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return false;
    out = it->get<std::remove_reference_t<decltype(out)>>();
    return true;
  };
  std::string state;
  if (!num("id", r.id) || !str("op", r.op) || !str("state", state) ||
      !num("partsDone", r.parts_done) || !str("error", r.error) ||
      !str("idempotencyKey", r.idempotency_key) || !str("requestHash", r.request_hash) ||
      !num("attempts", r.attempts) || !num("createdAtMs", r.created_at_ms) ||
      !num("updatedAtMs", r.updated_at_ms))
    return make_error(errc::journal_failure, "outbox record lacks a field");
  auto parsed_state = parse_send_state(state);
  if (!parsed_state) return make_error(errc::journal_failure, "outbox record has a bad state");
  r.state = *parsed_state;
  auto parts = j.find("parts");
  if (parts == j.end() || !parts->is_array())
    return make_error(errc::journal_failure, "outbox record lacks parts");
  for (const auto& p : *parts) {
    if (!p.is_object() || !p.contains("op") || !p["op"].is_string() || !p.contains("messageId") ||
        !p["messageId"].is_string())
      return make_error(errc::journal_failure, "outbox record has a bad part");
    outbox_part part;
    part.op = p["op"].get<std::string>();
    part.message_id = p["messageId"].get<std::string>();
    part.args = p.contains("args") && p["args"].is_object() ? p["args"].dump() : "{}";
    r.parts.push_back(std::move(part));
  }
  auto ids = j.find("messageIds");
  if (ids == j.end() || !ids->is_array())
    return make_error(errc::journal_failure, "outbox record lacks messageIds");
  for (const auto& id : *ids)
    if (id.is_string()) r.message_ids.push_back(id.get<std::string>());
  auto data = j.find("resultData");
  if (data != j.end() && !data->is_null()) r.result_data = data->dump();
  return r;
}

caf::expected<std::unique_ptr<outbox_store>> outbox_store::open(const std::string& dir) {
  lmdb_env::options opts;
  opts.map_size = outbox_map_size;
  auto env = lmdb_env::open(dir, opts);
  if (!env) return env.error();
  std::unique_ptr<outbox_store> store{new outbox_store()};
  store->env_ = std::move(*env);
  auto records = store->env_->open_db("records", true);
  if (!records) return records.error();
  auto keys = store->env_->open_db("keys", false);
  if (!keys) return keys.error();
  auto meta = store->env_->open_db("meta", false);
  if (!meta) return meta.error();
  store->records_db_ = *records;
  store->keys_db_ = *keys;
  store->meta_db_ = *meta;

  // One scan: the counts per state and the unfinished ids (the outbox holds
  // `retain` worth of sends, so this stays small).
  auto txn = store->env_->begin(true);
  if (!txn) return txn.error();
  bytes_view v;
  auto found = txn->get(store->meta_db_, std::string_view{last_id_key}, v);
  if (!found) return found.error();
  if (*found && v.size == 8) store->last_id_ = decode_u64(v.data);
  auto cursor = lmdb_int_cursor::open(*txn, store->records_db_);
  if (!cursor) return cursor.error();
  auto more = cursor->first();
  while (more && *more) {
    auto record = outbox_record_from_json(cursor->value().str());
    if (!record) return corrupt(cursor->key(), describe(record.error()));
    ++count_of(store->counts_, record->state);
    if (!is_terminal(record->state)) store->unfinished_.insert(record->id);
    store->last_id_ = std::max(store->last_id_, record->id);
    more = cursor->next();
  }
  if (!more) return more.error();
  return store;
}

outbox_store::~outbox_store() = default;

caf::expected<enqueue_result> outbox_store::enqueue(outbox_record record, int64_t now_ms) {
  if (record.idempotency_key.size() > max_key_bytes)
    return make_error(errc::invalid_argument, "Idempotency-Key longer than 255 bytes");
  auto txn = env_->begin(false);
  if (!txn) return txn.error();
  if (!record.idempotency_key.empty()) {
    bytes_view v;
    auto found = txn->get(keys_db_, std::string_view{record.idempotency_key}, v);
    if (!found) return found.error();
    if (*found && v.size == 8) {
      const uint64_t id = decode_u64(v.data);
      bytes_view rv;
      auto existing = txn->get(records_db_, id, rv);
      if (!existing) return existing.error();
      if (*existing) {
        auto parsed = outbox_record_from_json(rv.str());
        if (!parsed) return corrupt(id, describe(parsed.error()));
        return enqueue_result{std::move(*parsed), true};
      }
      // The key outlived its record (should not happen): reuse it below.
    }
  }
  record.id = last_id_ + 1;
  record.state = send_state::queued;
  record.parts_done = 0;
  record.message_ids.clear();
  record.error.clear();
  record.attempts = 0;
  record.created_at_ms = now_ms;
  record.updated_at_ms = now_ms;
  if (auto err = txn->put(records_db_, record.id, to_json_text(record), true)) return err;
  if (auto err = txn->put(meta_db_, std::string_view{last_id_key}, encode_u64(record.id)))
    return err;
  if (!record.idempotency_key.empty()) {
    if (auto err =
            txn->put(keys_db_, std::string_view{record.idempotency_key}, encode_u64(record.id)))
      return err;
  }
  if (auto err = txn->commit()) return err;
  last_id_ = record.id;
  ++counts_.queued;
  unfinished_.insert(record.id);
  return enqueue_result{std::move(record), false};
}

caf::expected<std::optional<outbox_record>> outbox_store::get(uint64_t id) {
  auto txn = env_->begin(true);
  if (!txn) return txn.error();
  bytes_view v;
  auto found = txn->get(records_db_, id, v);
  if (!found) return found.error();
  if (!*found) return std::optional<outbox_record>{};
  auto record = outbox_record_from_json(v.str());
  if (!record) return corrupt(id, describe(record.error()));
  return std::optional<outbox_record>{std::move(*record)};
}

caf::expected<outbox_record> outbox_store::update(
    uint64_t id, const std::function<caf::error(outbox_record&)>& change) {
  auto current = get(id);
  if (!current) return current.error();
  if (!*current) return make_error(errc::not_found, "no send with outbox id " + std::to_string(id));
  outbox_record record = std::move(**current);
  const send_state before = record.state;
  if (auto err = change(record)) return err;
  auto txn = env_->begin(false);
  if (!txn) return txn.error();
  if (auto err = txn->put(records_db_, record.id, to_json_text(record))) return err;
  if (auto err = txn->commit()) return err;
  if (before != record.state) {
    --count_of(counts_, before);
    ++count_of(counts_, record.state);
    if (is_terminal(record.state)) unfinished_.erase(record.id);
  }
  return record;
}

caf::expected<std::optional<outbox_record>> outbox_store::claim_next(
    uint32_t max_attempts, int64_t now_ms, std::vector<outbox_record>* given_up) {
  while (!unfinished_.empty()) {
    const uint64_t id = *unfinished_.begin();
    auto record = update(id, [&](outbox_record& r) -> caf::error {
      r.updated_at_ms = now_ms;
      if (r.attempts >= max_attempts) {
        r.state = send_state::unknown;
        r.error = "gave up after " + std::to_string(r.attempts) +
                  " attempts (the upstream never answered)";
      } else {
        r.state = send_state::sending;
        ++r.attempts;
      }
      return {};
    });
    if (!record) return record.error();
    if (record->state == send_state::sending)
      return std::optional<outbox_record>{std::move(*record)};
    if (given_up != nullptr) given_up->push_back(std::move(*record));
  }
  return std::optional<outbox_record>{};
}

caf::expected<outbox_record> outbox_store::record_part(uint64_t id, uint32_t part,
                                                       const std::vector<std::string>& message_ids,
                                                       const std::string& data, int64_t now_ms) {
  return update(id, [&](outbox_record& r) -> caf::error {
    if (is_terminal(r.state))
      return make_error(errc::invalid_argument, "send " + std::to_string(id) + " has ended");
    if (part != r.parts_done || part >= r.parts.size())
      return make_error(errc::invalid_argument, "send " + std::to_string(id) + " expects part " +
                                                    std::to_string(r.parts_done) + ", not " +
                                                    std::to_string(part));
    ++r.parts_done;
    r.message_ids.insert(r.message_ids.end(), message_ids.begin(), message_ids.end());
    if (!data.empty()) r.result_data = data;
    r.updated_at_ms = now_ms;
    return {};
  });
}

caf::expected<outbox_record> outbox_store::finish(uint64_t id, send_state state,
                                                  const std::string& error, int64_t now_ms) {
  if (!is_terminal(state))
    return make_error(errc::invalid_argument,
                      std::string("a send cannot finish as ") + to_string(state));
  return update(id, [&](outbox_record& r) -> caf::error {
    if (is_terminal(r.state))
      return make_error(errc::invalid_argument, "send " + std::to_string(id) + " ended already (" +
                                                    to_string(r.state) + ")");
    r.state = state;
    r.error = error;
    r.updated_at_ms = now_ms;
    return {};
  });
}

caf::expected<std::vector<outbox_record>> outbox_store::list(uint64_t after, uint32_t limit,
                                                             std::optional<send_state> only) {
  std::vector<outbox_record> out;
  auto txn = env_->begin(true);
  if (!txn) return txn.error();
  auto cursor = lmdb_int_cursor::open(*txn, records_db_);
  if (!cursor) return cursor.error();
  auto more = cursor->seek(after + 1);
  while (more && *more && out.size() < limit) {
    auto record = outbox_record_from_json(cursor->value().str());
    if (!record) return corrupt(cursor->key(), describe(record.error()));
    if (!only || record->state == *only) out.push_back(std::move(*record));
    more = cursor->next();
  }
  if (!more) return more.error();
  return out;
}

caf::expected<uint64_t> outbox_store::compact(int64_t now_ms, millis retain, uint64_t max_deletes) {
  const int64_t cutoff = now_ms - retain.count();
  uint64_t removed = 0;
  outbox_counts removed_counts;
  auto txn = env_->begin(false);
  if (!txn) return txn.error();
  {
    auto cursor = lmdb_int_cursor::open(*txn, records_db_);
    if (!cursor) return cursor.error();
    auto more = cursor->first();
    while (more && *more && removed < max_deletes) {
      auto record = outbox_record_from_json(cursor->value().str());
      if (!record) return corrupt(cursor->key(), describe(record.error()));
      const uint64_t id = cursor->key();
      if (is_terminal(record->state) && record->updated_at_ms < cutoff) {
        if (!record->idempotency_key.empty()) {
          if (auto err = txn->del(keys_db_, std::string_view{record->idempotency_key})) return err;
        }
        if (auto err = cursor->del()) return err;
        ++count_of(removed_counts, record->state);
        ++removed;
        more = cursor->seek(id + 1);
      } else {
        more = cursor->next();
      }
    }
    if (!more) return more.error();
  }
  if (removed == 0) return uint64_t{0};
  if (auto err = txn->commit()) return err;
  counts_.sent -= removed_counts.sent;
  counts_.failed -= removed_counts.failed;
  counts_.unknown -= removed_counts.unknown;
  return removed;
}

}  // namespace wabridge::store
