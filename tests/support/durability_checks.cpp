#include "support/durability_checks.hpp"

#include "sim/sim_event_generator.hpp"

#include <algorithm>

namespace wabridge::test {

namespace sim = wabridge::sim;

std::string messages_path(const std::string& account, const std::string& consumer, int limit) {
  return account_path(account,
                      "/messages?limit=" + std::to_string(limit) + "&consumer=" + consumer);
}

journal_summary verify_journal(const running_bridge& bridge, const sim_account& acc,
                               const std::string& fresh_consumer) {
  const auto ledger = read_ledger_or_fail(bridge.data_dir(), acc.name);
  // Read after the ledger: whatever was confirmed then is committed by now.
  const auto events = read_all_events(bridge.client(acc.name), acc.name, fresh_consumer);
  const sim::sim_event_generator gen(sim::generator_options{acc.seed, acc.name, acc.chats, 0});
  INFO("account " << acc.name << ": " << events.size() << " journal events, ledger generated "
                  << ledger.generated << " confirmed " << ledger.confirmed_count());
  REQUIRE_FALSE(events.empty());

  journal_summary out;
  out.events = events.size();
  const uint64_t first = events.front().at("seq").get<uint64_t>();
  // retain_acked is an hour by default, so nothing was compacted yet.
  CHECK(first == 1);
  std::set<std::string> uids;
  uint64_t bad = 0;
  int64_t previous_received = 0;
  uint64_t received_backwards = 0;
  for (size_t k = 0; k < events.size(); ++k) {
    const auto& e = events[k];
    const uint64_t seq = e.at("seq").get<uint64_t>();
    const std::string uid = e.at("eventUid").get<std::string>();
    const std::string origin = e.at("origin").get<std::string>();
    auto index = sim::index_of_uid(uid);
    const bool ok = seq == first + k && uids.insert(uid).second && index.has_value() &&
                    gen.uid(*index) == uid && out.origin_of_index.emplace(*index, origin).second;
    if (!ok && ++bad <= 10)
      FAIL_CHECK("journal entry " << k << " is wrong: seq " << seq << " (expected " << first + k
                                  << "), uid " << uid << ", origin " << origin
                                  << " (duplicate uid or index, or not a uid of this sim)");
    if (origin == "live") ++out.live;
    if (origin == "offline") ++out.offline;
    // receivedAt is the commit time and seqs are given in commit order.
    const int64_t received = e.at("receivedAt").get<int64_t>();
    if (received < previous_received) ++received_backwards;
    previous_received = received;
  }
  CHECK(bad == 0);
  CHECK(received_backwards == 0);

  uint64_t missing = 0;
  for (const auto& [begin, end] : ledger.confirmed.ranges()) {
    for (uint64_t i = begin; i < std::min(end, ledger.generated); ++i) {
      if (out.origin_of_index.count(i) == 0 && ++missing <= 10)
        FAIL_CHECK("event " << i << " (" << gen.uid(i)
                            << ") is confirmed in the sim's ledger but not in the journal");
    }
  }
  CHECK(missing == 0);
  return out;
}

void require_no_orphans(bridge_process& process) {
  if (process.group_gone(10s)) return;
  std::string members;
  for (pid_t pid : process.group_members()) members += std::to_string(pid) + " ";
  FAIL("processes of the bridge's group survived: " << members);
}

}  // namespace wabridge::test
