// The journal actor of one account: the only owner of that account's LMDB
// journal (store::journal_store). It commits event batches with group commit
// (appends that queue up while a commit runs share the next fsync), serves
// reads, parks long-poll readers until a commit wakes them, and runs
// retention. It also owns the account's outbox (store::outbox_store): it
// commits accepted sends, hands them to the session one at a time (claim),
// records their progress and wakes HTTP requests waiting for a result.
// Runs as a regular event-based actor; all state is private to it.
#pragma once

#include "actors/messages.hpp"
#include "config/config.hpp"

#include <caf/actor_system.hpp>

#include <string>

namespace wabridge {

struct journal_actor_config {
  std::string account;
  std::string dir;           // LMDB directory of this account's journal
  std::string outbox_dir;    // LMDB directory of this account's outbox
  journal_config journal;    // retention, map size, batch cap
  outbound_config outbound;  // max_attempts, retain
  std::string media_dir;     // media files of compacted events here are deleted ("" = none)
};

/// Opens the journal and the outbox synchronously (so a broken journal is an error value,
/// not a dead actor) and spawns the actor that owns it.
caf::expected<journal_actor> spawn_journal(caf::actor_system& sys, const journal_actor_config& cfg);

}  // namespace wabridge
