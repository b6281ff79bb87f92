// The simulated WhatsApp server's ledger, `<ledger_dir>/ledger.log`: how many
// events the server generated (and when) and which ones the worker confirmed.
// On restart, every generated-but-unconfirmed index is redelivered "offline".
// One sim_ledger (the writer) per directory, enforced by an flock on
// `<ledger_dir>/ledger.lock`; a sim_ledger is used by one thread only.
// read_ledger() is read-only and lock-free, safe while a writer is running.
#pragma once

#include "common/error.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wabridge::sim {

/// A set of uint64 indices stored as disjoint, non-adjacent half-open ranges.
/// Confirms arrive mostly in contiguous runs, so this stays small.
class interval_set {
 public:
  using range = std::pair<uint64_t, uint64_t>;  // [first, second)

  /// Adds [begin, end); merges with overlapping and adjacent ranges.
  void insert(uint64_t begin, uint64_t end);
  bool contains(uint64_t i) const;
  /// True when every index of [begin, end) is in the set.
  bool covers(uint64_t begin, uint64_t end) const;
  /// Number of indices in the set.
  uint64_t count() const { return count_; }
  bool empty() const { return ranges_.empty(); }
  /// The parts of [begin, end) that are not in the set, in order.
  std::vector<range> gaps(uint64_t begin, uint64_t end) const;
  /// begin -> end, ascending.
  const std::map<uint64_t, uint64_t>& ranges() const { return ranges_; }

 private:
  std::map<uint64_t, uint64_t> ranges_;
  uint64_t count_ = 0;
};

/// What the ledger says. A plain value; copy freely.
struct ledger_state {
  /// Events [0, generated) were generated (and possibly sent).
  uint64_t generated = 0;
  /// Indices the worker confirmed as committed.
  interval_set confirmed;
  /// Generation times: segment k covers [times[k-1].first, times[k].first)
  /// (from 0 for k = 0) and holds times[k].second, unix seconds. Segments of
  /// fully confirmed events may be dropped by compaction, so an index's
  /// time is only guaranteed while it is unconfirmed.
  std::vector<std::pair<uint64_t, int64_t>> times;

  bool is_confirmed(uint64_t i) const { return confirmed.contains(i); }
  /// Confirmed indices below `generated`.
  uint64_t confirmed_count() const;
  /// Every generated-but-unconfirmed index, ascending.
  std::vector<uint64_t> unconfirmed() const;
  /// The same as ranges [begin, end); what the sim redelivers from.
  std::vector<interval_set::range> unconfirmed_ranges() const;
  /// When event i was generated (unix seconds), if the ledger still knows.
  std::optional<int64_t> generated_at(uint64_t i) const;
};

/// Reads `<dir>/ledger.log` without locking or modifying it. A missing file is
/// an empty ledger; a torn last record (a crash mid-write, or a writer caught
/// mid-append) is ignored; any other malformed record is an io_failure naming
/// the line.
caf::expected<ledger_state> read_ledger(const std::string& dir);

struct ledger_options {
  /// Compact (rewrite minimal: tmp -> fsync -> rename) once the file is at
  /// least this big and four times its size after the last compaction.
  uint64_t compact_min_bytes = 4u << 20;
};

/// The writer. Appends one text record per call with write(2) and no fsync:
/// the sim must survive kill -9 of itself (and of the worker), and a write
/// that returned is in the page cache, which outlives the process. A machine
/// crash may lose the last records; that is harmless because events are a
/// pure function of their index: a lost "G" means indices are generated
/// again with the same uids (the journal dedupes them), a lost "C" means a
/// redelivery (deduped too). Compaction does fsync, since a rename without it
/// could lose the whole ledger on power loss.
class sim_ledger {
 public:
  /// Creates `dir` if needed, takes the exclusive lock (failing with
  /// io_failure naming the holder's pid when another sim has it), loads the
  /// ledger, truncates a torn last record away and compacts a large file.
  static caf::expected<std::unique_ptr<sim_ledger>> open(const std::string& dir,
                                                         ledger_options options = {});

  ~sim_ledger();
  sim_ledger(const sim_ledger&) = delete;
  sim_ledger& operator=(const sim_ledger&) = delete;

  const ledger_state& state() const { return state_; }
  const std::string& path() const { return path_; }

  /// Records "G <n> <unix_secs>": events [generated, n) were generated at
  /// `unix_secs`. Must be called before those events are written out, so a
  /// crash right after the write still finds them in the ledger. n must not
  /// be below state().generated.
  caf::error record_generated(uint64_t n, int64_t unix_secs);

  /// Records "C <begin> <end>" unless [begin, end) is already confirmed.
  caf::error record_confirmed(uint64_t begin, uint64_t end);

  /// Sorts `indices`, turns runs into ranges and records each new one.
  caf::error record_confirmed(std::vector<uint64_t> indices);

  /// Rewrites the file with the minimal records for the current state.
  caf::error compact();

 private:
  sim_ledger(std::string dir, ledger_options options);
  caf::error append(const char* data, size_t size);
  caf::error maybe_compact();

  std::string dir_;
  std::string path_;
  ledger_options options_;
  int fd_ = -1;       // ledger.log, O_APPEND
  int lock_fd_ = -1;  // ledger.lock, flock(LOCK_EX) held for our lifetime
  ledger_state state_;
  uint64_t file_bytes_ = 0;
  uint64_t compacted_bytes_ = 0;
};

}  // namespace wabridge::sim
