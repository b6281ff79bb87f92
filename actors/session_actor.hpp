// The session actor of one account: owns the upstream child process (sim or
// Baileys sidecar) and its stdin/stdout. A reader thread, owned by the
// session, splits the child's stdout into lines and mails them to the
// session; the session parses them, sends events to the journal actor and,
// only once the journal has committed them, writes `confirm` to the child.
// A child that exits is respawned with capped exponential backoff. Outgoing
// sends go through its outbound_sender (actors/outbound_sender.hpp), one at
// a time, from the journal's outbox.
#pragma once

#include "actors/messages.hpp"
#include "config/config.hpp"

#include <caf/actor_system.hpp>

#include <string>

namespace wabridge {

struct session_config {
  account_config account;
  std::string account_dir;  // <data_dir>/accounts/<name>
  std::string self_exe;     // path of the wabridge binary (runs sim-upstream)
  journal_actor journal;
  supervisor_config restart;        // backoff_* and stable_after govern upstream restarts
  outbound_config outbound;         // chunk delay and send timeout of outgoing sends
  uint64_t max_in_flight = 65'536;  // lines read but not yet committed before the reader pauses
};

session_actor spawn_session(caf::actor_system& sys, const session_config& cfg);

/// The argv that starts this account's upstream process.
std::vector<std::string> upstream_argv(const session_config& cfg);

}  // namespace wabridge
