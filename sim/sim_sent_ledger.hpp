// The sim's record of what it "sent" to WhatsApp: <ledger_dir>/sent.jsonl,
// one JSON object per delivered outbound message, in delivery order
// (docs/upstream-protocol.md §6, "Outbound"). The sim writes it; tests read
// it to check that every send went out exactly once, in order, never
// overlapping. A sent_ledger_writer is owned by the sim's main thread;
// read_sent_ledger() is a pure function safe while a sim runs.
#pragma once

#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace wabridge::sim {

struct sent_record {
  std::string message_id;  // the WhatsApp message id (the worker's messageId)
  std::string op;          // send, edit, send-media, send-poll, send-location, react
  std::string chat_id;
  nlohmann::json args;   // the op's args as received
  int64_t at_ms = 0;     // unix ms when it was answered as sent
  bool overlap = false;  // it arrived while an earlier send was still unanswered
};

/// Every record of <ledger_dir>/sent.jsonl (empty when the file does not
/// exist). An unterminated last line (a crash mid-append) is ignored; a
/// complete line that does not parse is an error.
caf::expected<std::vector<sent_record>> read_sent_ledger(const std::string& ledger_dir);

/// Appends records with write(2) on an O_APPEND descriptor. No fsync, as for
/// ledger.log: the page cache outlives a killed process, and a record lost to
/// a power cut only means the sim may accept that message id once more.
class sent_ledger_writer {
 public:
  static caf::expected<std::unique_ptr<sent_ledger_writer>> open(const std::string& ledger_dir);
  ~sent_ledger_writer();

  /// Message ids already in the file when it was opened.
  const std::set<std::string>& known_ids() const { return known_; }

  caf::error append(const sent_record& record);

 private:
  sent_ledger_writer() = default;
  int fd_ = -1;
  std::string path_;
  std::set<std::string> known_;
};

}  // namespace wabridge::sim
