// The torture run's check of the Baileys account (see the header).
#include "torture/whatsapp_checks.hpp"

#include "store/journal_store.hpp"
#include "support/test_harness.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace wabridge::torture {

using nlohmann::json;

namespace {

// The uids pending in the sidecar's spool (docs/sidecar.md, "The spool"):
// raw and event records not followed by a confirm of their uid.
std::set<std::string> spool_pending(const std::string& file) {
  std::set<std::string> pending;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const json record = json::parse(line, nullptr, false);
    if (!record.is_object() || !record.contains("t") || !record["t"].is_string()) continue;
    const std::string kind = record["t"].get<std::string>();
    if ((kind == "raw" || kind == "event") && record.contains("uid") && record["uid"].is_string())
      pending.insert(record["uid"].get<std::string>());
    if (kind == "confirm" && record.contains("uids") && record["uids"].is_array())
      for (const auto& uid : record["uids"])
        if (uid.is_string()) pending.erase(uid.get<std::string>());
  }
  return pending;
}

}  // namespace

whatsapp_side read_whatsapp_side(const std::string& wa_dir) {
  whatsapp_side side;
  side.generated = std::strtoull(test::read_file(wa_dir + "/generated").c_str(), nullptr, 10);
  std::istringstream receipts(test::read_file(wa_dir + "/receipts.log"));
  for (std::string line; std::getline(receipts, line);) {
    if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) continue;
    side.receipted.insert(std::strtoull(line.c_str(), nullptr, 10));
  }
  return side;
}

uint64_t torture_message_index(const std::string& text) {
  const auto at = text.find("TORT");
  if (at == std::string::npos) return 0;
  const auto digits = text.substr(at + 4, 8);
  if (digits.size() != 8 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::strtoull(digits.c_str(), nullptr, 10);
}

whatsapp_checks::whatsapp_checks(std::string account, std::string wa_dir, violation_log& violations)
    : account_(std::move(account)), wa_dir_(std::move(wa_dir)), violations_(violations) {}

void whatsapp_checks::absorb(uint64_t seq, const std::string& uid, const char* where) {
  const uint64_t index = torture_message_index(uid);
  if (index == 0) {
    violations_.add(account_ + " (" + where + "): seq " + std::to_string(seq) +
                    " holds a uid that is not the fake WhatsApp's: " + uid);
    return;
  }
  if (seq_of_index_.size() <= index) seq_of_index_.resize(index * 2 + 1024, 0);
  if (seq_of_index_[index] != 0 && seq_of_index_[index] != seq) {
    violations_.add(account_ + " (" + where + "): message " + std::to_string(index) +
                    " is journaled twice: seq " + std::to_string(seq_of_index_[index]) +
                    " and seq " + std::to_string(seq));
    return;
  }
  seq_of_index_[index] = seq;
}

bool whatsapp_checks::check_running(uint16_t port) {
  return reader_.read_new(port, [&](uint64_t seq, const std::string& uid) {
    absorb(seq, uid, "over HTTP");
    last_seq_ = std::max(last_seq_, seq);
  });
}

void whatsapp_checks::check_stopped(const std::string& data_dir, bool complete) {
  const std::string account_dir = data_dir + "/accounts/" + account_;
  // WhatsApp's side first: whatever it has a receipt for was spooled before.
  const whatsapp_side side = read_whatsapp_side(wa_dir_);
  const std::set<std::string> spooled = spool_pending(account_dir + "/baileys/spool.jsonl");
  auto journal = store::journal_store::open(account_dir + "/journal", {});
  if (!journal) {
    violations_.add(account_ + ": cannot open the journal: " + describe(journal.error()));
    return;
  }
  auto& store = **journal;
  uint64_t problems = 0;
  auto report = [&](const std::string& what) {
    if (++problems <= 10) violations_.add(account_ + " (on disk): " + what);
  };
  std::vector<uint64_t> seq_of_index;
  uint64_t expected = store.first_seq();
  for (uint64_t after = 0;;) {
    auto events = store.read(after, 10'000);
    if (!events) {
      report("read after seq " + std::to_string(after) + " failed: " + describe(events.error()));
      return;
    }
    if (events->empty()) break;
    for (const auto& event : *events) {
      if (event.seq != expected)
        report("seq " + std::to_string(event.seq) + " where " + std::to_string(expected) +
               " was expected");
      expected = event.seq + 1;
      after = event.seq;
      const json parsed = json::parse(event.json, nullptr, false);
      const std::string uid =
          parsed.is_object() && parsed.contains("eventUid") && parsed["eventUid"].is_string()
              ? parsed["eventUid"].get<std::string>()
              : std::string();
      const uint64_t index = torture_message_index(uid);
      if (index == 0) {
        report("seq " + std::to_string(event.seq) + " holds no message of the fake: " + uid);
        continue;
      }
      if (seq_of_index.size() <= index) seq_of_index.resize(index * 2 + 1024, 0);
      if (seq_of_index[index] != 0)
        report("message " + std::to_string(index) + " is journaled twice: seq " +
               std::to_string(seq_of_index[index]) + " and " + std::to_string(event.seq));
      seq_of_index[index] = event.seq;
      if (index < seq_of_index_.size() && seq_of_index_[index] != 0 &&
          seq_of_index_[index] != event.seq)
        report("message " + std::to_string(index) + " was served at seq " +
               std::to_string(seq_of_index_[index]) + " and is now at seq " +
               std::to_string(event.seq));
    }
  }
  last_seq_ = std::max(last_seq_, store.last_seq());
  std::set<uint64_t> in_spool;
  for (const auto& uid : spooled) in_spool.insert(torture_message_index(uid));
  uint64_t lost = 0;
  uint64_t first_lost = 0;
  for (uint64_t index : side.receipted) {
    const bool journaled = index < seq_of_index.size() && seq_of_index[index] != 0;
    if (journaled || in_spool.count(index) > 0) continue;
    if (lost++ == 0) first_lost = index;
  }
  if (lost > 0)
    report(std::to_string(lost) +
           " messages WhatsApp has a delivery receipt for are neither journaled nor spooled "
           "(first: message " +
           std::to_string(first_lost) + ")");
  if (complete) {
    uint64_t missing = 0;
    for (uint64_t index = 1; index <= side.generated; ++index)
      if (index >= seq_of_index.size() || seq_of_index[index] == 0) ++missing;
    if (missing > 0 || side.receipted.size() != side.generated)
      report("at the end " + std::to_string(missing) + " of " + std::to_string(side.generated) +
             " messages are not journaled and " + std::to_string(side.receipted.size()) +
             " are receipted");
  }
}

}  // namespace wabridge::torture
