// The ack tracker of one account: owns the consumers' durable cursors
// (store::cursor_store) and turns polls into journal reads from each
// consumer's cursor. Consumers that never call /ack are acked implicitly:
// a poll first acks what the previous poll delivered to that consumer
// (docs/http-api.md, "Clients that never ack"). Event-based actor; state private.
#pragma once

#include "actors/messages.hpp"

#include <caf/actor_system.hpp>

#include <string>

namespace wabridge {

struct ack_tracker_config {
  std::string account;
  std::string dir;  // LMDB directory for the cursors
  journal_actor journal;
};

caf::expected<ack_tracker_actor> spawn_ack_tracker(caf::actor_system& sys,
                                                   const ack_tracker_config& cfg);

}  // namespace wabridge
