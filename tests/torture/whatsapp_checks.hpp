// The torture run's check of the Baileys account (upstream = "baileys",
// the real sidecar on tests/torture/fake_whatsapp.mjs): WhatsApp's side is
// the fake's receipts.log, and the promise is that a message WhatsApp got a
// delivery receipt for is never lost. So:
//  - while running (over HTTP, incrementally, like journal_checks): seqs
//    contiguous, every event one of the fake's messages, none twice;
//  - stopped (from disk: the journal and the sidecar's spool.jsonl): every
//    receipted message is in the journal or pending in the spool, and none
//    is journaled twice;
//  - at an epoch's end, once the fake has stopped generating and everything
//    is receipted: the journal holds exactly messages 1..generated.
// Problems go to the violation log; nothing here aborts the run.
#pragma once

#include "torture/journal_reader.hpp"
#include "torture/violation_log.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace wabridge::torture {

/// What fake_whatsapp.mjs has recorded in its directory.
struct whatsapp_side {
  uint64_t generated = 0;
  std::set<uint64_t> receipted;
};
whatsapp_side read_whatsapp_side(const std::string& wa_dir);

/// The message index of an eventUid or messageId holding "TORT<digits>"; 0 if none.
uint64_t torture_message_index(const std::string& text);

class whatsapp_checks {
 public:
  whatsapp_checks(std::string account, std::string wa_dir, violation_log& violations);

  /// The journal events added since the last call, over HTTP. False when the
  /// bridge did not answer.
  bool check_running(uint16_t port);

  /// With the bridge stopped: the whole journal and the spool from disk.
  /// `complete`: the fake stopped generating and everything is receipted,
  /// so the journal must hold exactly 1..generated.
  void check_stopped(const std::string& data_dir, bool complete);

  uint64_t last_seq() const { return last_seq_; }
  const std::string& account() const { return account_; }
  const std::string& wa_dir() const { return wa_dir_; }

 private:
  void absorb(uint64_t seq, const std::string& uid, const char* where);

  std::string account_;
  std::string wa_dir_;
  violation_log& violations_;
  journal_reader reader_{account_, violations_};
  uint64_t last_seq_ = 0;
  std::vector<uint64_t> seq_of_index_;  // [message index] -> seq; 0 = not seen
};

}  // namespace wabridge::torture
