// The inbound event journal of one account, on LMDB (docs/journal-format.md).
// Events get contiguous seqs starting at 1 that are never reused; one entry
// per eventUid (dedupe, also across restarts, for the dedupe window); every
// append() is one write transaction, so one fsync covers the whole batch.
// Owned by exactly one journal actor; not thread-safe.
#pragma once

#include "common/duration.hpp"
#include "common/error.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wabridge::store {

class lmdb_env;

/// An event as it arrives from the session, before it has a seq.
struct pending_event {
  std::string uid;
  std::string payload;  // JSON object text with every SPEC §4 field but seq/receivedAt
};

/// A committed event as read back: its seq and the exact JSON served over HTTP.
struct stored_event {
  uint64_t seq = 0;
  int64_t received_at_ms = 0;
  std::string json;
};

struct journal_options {
  uint64_t map_size = 1ull << 30;
  uint64_t max_map_size = 0;  // grow the map up to this on MDB_MAP_FULL; 0 = never grow
};

/// The part of a map of `map_size` bytes that appends may not use: compaction
/// of a full journal needs a few free pages of its own (LMDB deletes by
/// copy-on-write), so new events stop at map_size - reserve. 1/32 of the map,
/// at least 256 KiB and at most 16 MiB.
uint64_t journal_reserve(uint64_t map_size);

/// What compaction removed.
struct compaction_result {
  uint64_t events_removed = 0;
  uint64_t uids_expired = 0;
  bool more = false;  // stopped at the per-call limit; call again
  // The mediaUrls of removed events that had media (hasMedia true), for the
  // owner to delete once the removal is committed.
  std::vector<std::string> media_paths;
};

class journal_store {
 public:
  static caf::expected<std::unique_ptr<journal_store>> open(const std::string& dir,
                                                            const journal_options& opts);
  ~journal_store();

  /// Appends `events` in order in one transaction and fsyncs. Returns one seq
  /// per input: a fresh seq, or the seq the uid already has (a duplicate, not
  /// stored again). Duplicates inside the same batch collapse too. On error
  /// nothing of the batch is committed.
  caf::expected<std::vector<uint64_t>> append(const std::vector<const pending_event*>& events,
                                              int64_t received_at_ms);
  /// Convenience form of the above.
  caf::expected<std::vector<uint64_t>> append(const std::vector<pending_event>& events,
                                              int64_t received_at_ms);

  /// Up to `limit` events with seq > after, oldest first, stopping early once
  /// `max_bytes` of JSON has been collected (at least one event is returned).
  caf::expected<std::vector<stored_event>> read(uint64_t after, uint32_t limit,
                                                uint64_t max_bytes = UINT64_MAX);

  /// Removes events with seq <= acked_floor received before now - retain_acked,
  /// and forgets uids of removed events older than now - dedupe_window. Deletes
  /// at most `max_deletes` entries per call so the writer never stalls long.
  /// Works on a full map too: it may use the reserve (journal_reserve), and
  /// after the last append failed for a full map it commits once more so the
  /// pages it freed are reusable by the very next append.
  caf::expected<compaction_result> compact(uint64_t acked_floor, int64_t now_ms,
                                           millis retain_acked, millis dedupe_window,
                                           uint64_t max_deletes = 10'000);

  /// The seq the uid was journaled under, or 0 when unknown.
  caf::expected<uint64_t> seq_of_uid(const std::string& uid);

  /// receivedAt of the event with the smallest seq > after, or -1 when none.
  caf::expected<int64_t> received_at_after(uint64_t after);

  uint64_t last_seq() const { return last_seq_; }    // 0 when nothing was ever appended
  uint64_t first_seq() const { return first_seq_; }  // smallest retained seq; last_seq+1 when empty
  uint64_t event_count() const { return last_seq_ + 1 - first_seq_; }
  /// The map size the journal is allowed right now: journal_options::map_size,
  /// or more after growth (at most max_map_size). Appends use all of it but
  /// the reserve.
  uint64_t map_size() const { return cap_; }
  uint64_t used_bytes() const;
  /// True while the last append failed because the map was full (MDB_MAP_FULL
  /// with no growth left), until an append succeeds again.
  bool map_full() const { return full_; }

 private:
  journal_store() = default;
  caf::error load_bounds();
  caf::expected<std::vector<uint64_t>> append_once(const std::vector<const pending_event*>& events,
                                                   int64_t received_at_ms);
  caf::expected<compaction_result> compact_once(uint64_t acked_floor, int64_t now_ms,
                                                millis retain_acked, millis dedupe_window,
                                                uint64_t max_deletes);
  // An unchanged rewrite of meta.last_seq: a commit that only advances
  // LMDB's transaction id, so pages freed by the commit before become reusable.
  caf::error touch();
  // touch() with the reserve mapped (the map may be full to its last page).
  caf::error reserve_touch();

  std::unique_ptr<lmdb_env> env_;
  journal_options opts_;
  unsigned events_db_ = 0;   // seq -> [i64 receivedAt][json]
  unsigned uids_db_ = 0;     // uid key -> u64 seq
  unsigned uid_log_db_ = 0;  // seq -> [i64 receivedAt][uid key]: expiry order for uids
  unsigned meta_db_ = 0;     // "last_seq" -> u64
  uint64_t last_seq_ = 0;
  uint64_t first_seq_ = 1;
  uint64_t cap_ = 0;      // the allowed map size (see map_size()); LMDB's map is cap_ - reserve
  bool full_ = false;     // see map_full()
  bool touched_ = false;  // the newest commit was a touch(): another would free nothing
};

/// The LMDB key for a uid: the uid itself, or for uids longer than LMDB's key
/// limit allows, a 128-bit hash of it with a marker prefix.
std::string uid_key(const std::string& uid);

}  // namespace wabridge::store
