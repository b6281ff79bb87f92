// The account supervisor: one actor per account that starts the account's
// journal, ack tracker and session, monitors them and replaces one that
// fails, so a crash inside one account never takes another account down
// (docs/architecture.md, "Actor supervision inside the worker"). It owns the
// account's current actor handles and hands them out on `lookup_atom`; it
// runs the account's part of the graceful drain on `drain_atom` and answers
// only once every actor of the account is down (LMDB closed).
//
// Restart policy: rest_for_one in start order journal -> ack tracker ->
// session, narrowed to real dependencies: a journal failure restarts all
// three (the other two hold its handle), an ack tracker or session failure
// restarts only that actor. Restarts wait a capped exponential backoff; more
// than intensity_max failures within intensity_window put the account in
// state "failed" with its actors down, and the rest of the worker goes on.
//
// Event-based actor; all state private. Talk to it only through messages.
#pragma once

#include "actors/account.hpp"
#include "actors/messages.hpp"
#include "config/config.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <string>

namespace wabridge {

struct account_supervisor_config {
  account_config account;
  std::string dir;               // <data_dir>/accounts/<name>
  std::string self_exe;          // path of the wabridge binary (runs sim-upstream)
  journal_config journal;        // for every journal incarnation
  supervisor_config supervisor;  // backoff_*, stable_after, intensity_*, drain_timeout
  outbound_config outbound;      // how the session sends and the journal keeps sends
};

account_supervisor_config make_account_supervisor_config(const bridge_config& cfg,
                                                         const account_config& account,
                                                         const std::string& self_exe);

/// Opens the account's journal and cursors and starts its session, in that
/// order and synchronously (so a journal that cannot be opened at start is an
/// error value, as before supervision), then spawns the supervisor that owns
/// them. The returned cache holds the first handles.
caf::expected<account_actors> spawn_account_supervisor(caf::actor_system& sys,
                                                       const account_supervisor_config& cfg);

/// Asks the account's supervisor for its current handles and stores them in
/// the account's cache. Blocks the calling thread (not for use inside actors).
caf::expected<account_handles> refresh_handles(caf::actor_system& sys, const account_actors& acc,
                                               std::chrono::milliseconds timeout);

}  // namespace wabridge
