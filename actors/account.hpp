// One account's actors: session, journal and ack tracker, spawned together
// with their on-disk layout under <data_dir>/accounts/<name>/. The handles are
// plain values the HTTP front end and the worker hold; the actors own all state.
#pragma once

#include "actors/messages.hpp"
#include "config/config.hpp"

#include <caf/actor_system.hpp>

#include <string>

namespace wabridge {

struct account_actors {
  account_config config;
  std::string dir;
  journal_actor journal;
  ack_tracker_actor acks;
  session_actor session;
};

/// <data_dir>/accounts/<name>
std::string account_dir(const bridge_config& cfg, const std::string& name);

/// Opens the account's journal and cursors and starts its upstream session.
caf::expected<account_actors> spawn_account(caf::actor_system& sys, const bridge_config& cfg,
                                            const account_config& account,
                                            const std::string& self_exe);

}  // namespace wabridge
