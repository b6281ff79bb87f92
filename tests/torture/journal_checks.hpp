// The torture run's comparison of one account's journal with its sim's
// ledger (SPEC §6): every event the sim counts as confirmed is journaled,
// exactly once (one seq per sim event, each uid really that sim's event of
// that index), seqs contiguous from 1, and a seq always names the same event.
//
// Two ways to read the journal:
//  - check_running: over HTTP while the bridge runs, incrementally (a consumer
//    of its own that acks what it has checked), so a cycle costs what the
//    cycle added, not the whole journal;
//  - check_stopped: straight from the LMDB files while no worker runs (after
//    a graceful stop or at the end), the whole journal. After a clean drain it
//    is exact: the journal holds precisely the confirmed events.
// Problems go to the violation log; nothing here aborts the run.
#pragma once

#include "sim/sim_event_generator.hpp"
#include "sim/sim_ledger.hpp"
#include "torture/journal_reader.hpp"
#include "torture/violation_log.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace wabridge::torture {

class journal_checks {
 public:
  /// The stream is (seed, account, chats) as in the account's [account.sim].
  journal_checks(std::string account, uint64_t seed, uint32_t chats, violation_log& violations);

  /// Reads the ledger, then the journal events added since the last call
  /// (over HTTP), and compares. False when the bridge did not answer.
  bool check_running(uint16_t port, const std::string& data_dir);

  /// With the bridge stopped: the whole journal from disk against the ledger.
  /// `drained_cleanly`: the last worker's drain confirmed everything it
  /// committed, so every journaled event must also be confirmed.
  void check_stopped(const std::string& data_dir, bool drained_cleanly);

  /// The newest seq seen by either check.
  uint64_t last_seq() const { return last_seq_; }

 private:
  // Records an event read over HTTP; false when it is wrong.
  void absorb(uint64_t seq, const std::string& uid);
  bool in_journal(uint64_t index) const {
    return index < seq_of_index_.size() && seq_of_index_[index] != 0;
  }
  // Every confirmed index is journaled (skipping the prefix known complete).
  void compare_with_ledger(const sim::ledger_state& ledger);
  std::string ledger_dir(const std::string& data_dir) const;

  std::string account_;
  sim::sim_event_generator generator_;
  violation_log& violations_;
  journal_reader reader_{account_, violations_};  // check_running's view over HTTP
  uint64_t last_seq_ = 0;
  std::vector<uint64_t> index_plus_one_of_seq_;  // [seq] -> sim index + 1
  std::vector<uint64_t> seq_of_index_;           // [sim index] -> seq; 0 = not journaled
  // [0, complete_prefix_) are known confirmed and journaled.
  uint64_t complete_prefix_ = 0;
};

}  // namespace wabridge::torture
