// The torture run's journal-versus-ledger comparison (see the header).
#include "torture/journal_checks.hpp"

#include "store/journal_store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace wabridge::torture {

using nlohmann::json;

journal_checks::journal_checks(std::string account, uint64_t seed, uint32_t chats,
                               violation_log& violations)
    : account_(account),
      generator_(sim::generator_options{seed, std::move(account), chats, 0}),
      violations_(violations) {}

std::string journal_checks::ledger_dir(const std::string& data_dir) const {
  return data_dir + "/accounts/" + account_ + "/sim";
}

void journal_checks::absorb(uint64_t seq, const std::string& uid) {
  const auto index = sim::index_of_uid(uid);
  if (!index || generator_.uid(*index) != uid) {
    violations_.add(account_ + ": journal seq " + std::to_string(seq) +
                    " holds a uid that is not this sim's: " + uid);
    return;
  }
  if (index_plus_one_of_seq_.size() <= seq) index_plus_one_of_seq_.resize(seq * 2 + 1024, 0);
  if (seq_of_index_.size() <= *index) seq_of_index_.resize(*index * 2 + 1024, 0);
  if (seq_of_index_[*index] != 0) {
    violations_.add(account_ + ": sim event " + std::to_string(*index) + " (" + uid +
                    ") is journaled twice: seq " + std::to_string(seq_of_index_[*index]) +
                    " and seq " + std::to_string(seq));
    return;
  }
  seq_of_index_[*index] = seq;
  index_plus_one_of_seq_[seq] = *index + 1;
}

void journal_checks::compare_with_ledger(const sim::ledger_state& ledger) {
  uint64_t missing = 0;
  uint64_t first_missing = 0;
  for (const auto& [begin, end] : ledger.confirmed.ranges()) {
    const uint64_t stop = std::min(end, ledger.generated);
    for (uint64_t i = std::max(begin, complete_prefix_); i < stop; ++i) {
      if (in_journal(i)) continue;
      if (missing++ == 0) first_missing = i;
    }
  }
  if (missing > 0) {
    violations_.add(account_ + ": " + std::to_string(missing) +
                    " events confirmed in the sim's ledger are not in the journal (first: sim "
                    "event " +
                    std::to_string(first_missing) + ", " + generator_.uid(first_missing) + ")");
    return;
  }
  const auto& ranges = ledger.confirmed.ranges();
  if (!ranges.empty() && ranges.begin()->first == 0)
    complete_prefix_ =
        std::max(complete_prefix_, std::min(ranges.begin()->second, ledger.generated));
}

bool journal_checks::check_running(uint16_t port, const std::string& data_dir) {
  // The ledger first: whatever it counts as confirmed was committed before,
  // so the journal read afterwards must hold it.
  auto ledger = sim::read_ledger(ledger_dir(data_dir));
  if (!ledger) {
    violations_.add(account_ + ": cannot read the sim ledger: " + describe(ledger.error()));
    return false;
  }
  const bool answered = reader_.read_new(port, [&](uint64_t seq, const std::string& uid) {
    absorb(seq, uid);
    last_seq_ = std::max(last_seq_, seq);
  });
  if (!answered) return false;
  compare_with_ledger(*ledger);
  return true;
}

void journal_checks::check_stopped(const std::string& data_dir, bool drained_cleanly) {
  auto ledger = sim::read_ledger(ledger_dir(data_dir));
  if (!ledger) {
    violations_.add(account_ + ": cannot read the sim ledger: " + describe(ledger.error()));
    return;
  }
  auto journal = store::journal_store::open(data_dir + "/accounts/" + account_ + "/journal", {});
  if (!journal) {
    violations_.add(account_ + ": cannot open the journal: " + describe(journal.error()));
    return;
  }
  auto& store = **journal;
  // retain_acked is an hour: within a run nothing is compacted.
  if (store.last_seq() > 0 && store.first_seq() != 1)
    violations_.add(account_ + ": journal starts at seq " + std::to_string(store.first_seq()));
  std::vector<uint64_t> seq_of_index;
  uint64_t expected = store.first_seq();
  uint64_t problems = 0;
  auto report = [&](const std::string& what) {
    if (++problems <= 10) violations_.add(account_ + " (journal on disk): " + what);
  };
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
      const auto uid_field = parsed.is_object() ? parsed.find("eventUid") : parsed.end();
      if (uid_field == parsed.end() || !uid_field->is_string()) {
        report("seq " + std::to_string(event.seq) + " has no eventUid");
        continue;
      }
      const std::string uid = uid_field->get<std::string>();
      const auto index = sim::index_of_uid(uid);
      if (!index || generator_.uid(*index) != uid) {
        report("seq " + std::to_string(event.seq) + " holds a uid that is not this sim's: " + uid);
        continue;
      }
      if (seq_of_index.size() <= *index) seq_of_index.resize(*index * 2 + 1024, 0);
      if (seq_of_index[*index] != 0)
        report("sim event " + std::to_string(*index) + " is journaled twice: seq " +
               std::to_string(seq_of_index[*index]) + " and " + std::to_string(event.seq));
      seq_of_index[*index] = event.seq;
      // What was served over HTTP before must still be there, unchanged.
      if (event.seq < index_plus_one_of_seq_.size() && index_plus_one_of_seq_[event.seq] != 0 &&
          index_plus_one_of_seq_[event.seq] != *index + 1)
        report("seq " + std::to_string(event.seq) + " was served as sim event " +
               std::to_string(index_plus_one_of_seq_[event.seq] - 1) + " and now holds " +
               std::to_string(*index));
      if (drained_cleanly && !ledger->is_confirmed(*index))
        report("sim event " + std::to_string(*index) + " (seq " + std::to_string(event.seq) +
               ") is journaled but not confirmed, after a clean drain");
    }
  }
  if (expected - 1 != store.last_seq())
    report("events end at seq " + std::to_string(expected - 1) + " but last_seq is " +
           std::to_string(store.last_seq()));
  if (store.last_seq() < last_seq_)
    report("last_seq " + std::to_string(store.last_seq()) + " is below seq " +
           std::to_string(last_seq_) + " served before");
  last_seq_ = std::max(last_seq_, store.last_seq());
  uint64_t missing = 0;
  uint64_t first_missing = 0;
  for (const auto& [begin, end] : ledger->confirmed.ranges()) {
    for (uint64_t i = begin; i < std::min(end, ledger->generated); ++i) {
      if (i < seq_of_index.size() && seq_of_index[i] != 0) continue;
      if (missing++ == 0) first_missing = i;
    }
  }
  if (missing > 0)
    report(std::to_string(missing) +
           " events confirmed in the sim's ledger are not in the journal (first: sim event " +
           std::to_string(first_missing) + ")");
}

}  // namespace wabridge::torture
