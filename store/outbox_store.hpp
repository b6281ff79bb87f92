// The outbound send journal ("outbox") of one account, on its own LMDB
// environment (<account_dir>/outbox; docs/journal-format.md, "Outbox").
// Every accepted send becomes a record with a contiguous id before anything
// goes upstream; its state moves queued -> sending -> sent | failed | unknown
// and every change is one fsync'd write transaction. An Idempotency-Key maps
// to the record it first created. Records in a terminal state are removed by
// compact() once `retain` has passed, together with their key.
//
// Owned by exactly one journal actor (the same one that owns the account's
// inbound journal); not thread-safe.
#pragma once

#include "common/duration.hpp"
#include "common/error.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wabridge::store {

class lmdb_env;

enum class send_state { queued, sending, sent, failed, unknown };

/// "queued", "sending", "sent", "failed", "unknown".
const char* to_string(send_state state);
std::optional<send_state> parse_send_state(std::string_view text);
/// sent, failed and unknown never change again.
bool is_terminal(send_state state);

/// One upstream command of a send: a long text becomes several parts (one per
/// chunk), an edit of a long text an `edit` plus `send` parts.
struct outbox_part {
  std::string op;          // upstream op: send|edit|send-media|send-poll|send-location|react
  std::string args;        // JSON object text, the op's args (docs/upstream-protocol.md)
  std::string message_id;  // WhatsApp id the upstream must give the message it creates
};

struct outbox_record {
  uint64_t id = 0;  // assigned by enqueue(): 1, 2, 3, ... never reused
  std::string op;   // the HTTP operation that created it (send, edit, send-media, ...)
  send_state state = send_state::queued;
  std::vector<outbox_part> parts;
  uint32_t parts_done = 0;               // parts the upstream confirmed as sent, in order
  std::vector<std::string> message_ids;  // ids the upstream reported, over all parts done
  std::string error;                     // why it failed or is unknown; "" otherwise
  std::string result_data;               // JSON text of op-specific result data, or ""
  std::string idempotency_key;           // "" when the request had none
  std::string request_hash;              // what the key was first used for
  uint32_t attempts = 0;                 // times claim_next() handed it to a sender
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

/// Records per state, kept in memory (loaded at open).
struct outbox_counts {
  uint64_t queued = 0;
  uint64_t sending = 0;
  uint64_t sent = 0;
  uint64_t failed = 0;
  uint64_t unknown = 0;
};

/// What enqueue() did.
struct enqueue_result {
  outbox_record record;
  bool existing = false;  // the idempotency key was known: record is the first one, nothing written
};

class outbox_store {
 public:
  static caf::expected<std::unique_ptr<outbox_store>> open(const std::string& dir);
  ~outbox_store();

  /// Commits `record` as a new queued record (id, state, timestamps and
  /// attempts are set here). When its idempotency_key is non-empty and
  /// already maps to a record, returns that record with existing = true and
  /// writes nothing; the caller compares request_hash.
  caf::expected<enqueue_result> enqueue(outbox_record record, int64_t now_ms);

  /// The record with this id, or nullopt (never existed or compacted).
  caf::expected<std::optional<outbox_record>> get(uint64_t id);

  /// The oldest record that is not terminal (queued, or sending: left over by
  /// a sender that died), marked sending with attempts + 1 and committed.
  /// One whose attempts already reached max_attempts is marked unknown
  /// instead ("gave up after N attempts") and appended to `given_up`.
  /// nullopt when nothing is left to send.
  caf::expected<std::optional<outbox_record>> claim_next(uint32_t max_attempts, int64_t now_ms,
                                                         std::vector<outbox_record>* given_up);

  /// The upstream sent part `part` (must equal parts_done): parts_done + 1,
  /// `message_ids` appended, `data` (JSON text, may be "") kept as result_data.
  caf::expected<outbox_record> record_part(uint64_t id, uint32_t part,
                                           const std::vector<std::string>& message_ids,
                                           const std::string& data, int64_t now_ms);

  /// Puts the record into a terminal state with `error` ("" for sent).
  caf::expected<outbox_record> finish(uint64_t id, send_state state, const std::string& error,
                                      int64_t now_ms);

  /// Up to `limit` records with id > after, oldest first, optionally only
  /// those in state `only`.
  caf::expected<std::vector<outbox_record>> list(uint64_t after, uint32_t limit,
                                                 std::optional<send_state> only);

  /// Removes terminal records last updated before now - retain (and their
  /// idempotency keys), at most max_deletes per call. Returns how many.
  caf::expected<uint64_t> compact(int64_t now_ms, millis retain, uint64_t max_deletes = 10'000);

  outbox_counts counts() const { return counts_; }
  uint64_t last_id() const { return last_id_; }

 private:
  outbox_store() = default;
  /// Reads record `id`, applies `change`, writes it back in one transaction
  /// and keeps the counts and the unfinished set in step.
  caf::expected<outbox_record> update(uint64_t id,
                                      const std::function<caf::error(outbox_record&)>& change);

  std::unique_ptr<lmdb_env> env_;
  unsigned records_db_ = 0;  // id -> record JSON
  unsigned keys_db_ = 0;     // idempotency key -> u64 id
  unsigned meta_db_ = 0;     // "last_id" -> u64
  uint64_t last_id_ = 0;
  outbox_counts counts_;
  std::set<uint64_t> unfinished_;  // ids of queued and sending records
};

/// The record as stored (and as the tests read it back).
std::string to_json_text(const outbox_record& record);
caf::expected<outbox_record> outbox_record_from_json(std::string_view text);

}  // namespace wabridge::store
