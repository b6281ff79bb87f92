// The torture checks' incremental view of one account's journal over HTTP:
// a consumer of the checker's own (explicit acks, so a page it did not
// finish comes again) that reads what was added since the last call, checks
// seqs are contiguous, hands each (seq, eventUid) on, and acks. Used by
// journal_checks (sim accounts) and whatsapp_checks (the Baileys account).
// One per account and checker; not thread-safe.
#pragma once

#include "torture/violation_log.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace wabridge::torture {

class journal_reader {
 public:
  journal_reader(std::string account, violation_log& violations);

  /// Reads every event added since the last call and calls `on_event` for
  /// each. False when the bridge did not answer (recorded as a violation).
  bool read_new(uint16_t port,
                const std::function<void(uint64_t seq, const std::string& uid)>& on_event);

  /// The newest seq read so far.
  uint64_t last_seq() const { return read_up_to_; }

 private:
  std::string account_;
  violation_log& violations_;
  std::string consumer_ = "torture-verify";
  bool explicit_ = false;
  uint64_t read_up_to_ = 0;
};

}  // namespace wabridge::torture
