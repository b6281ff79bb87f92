// The outbound half of a session actor (docs/http-api.md, "Outbound"): takes
// journaled sends from the journal's outbox one at a time, in id order,
// writes their parts to the upstream as `send` commands, and reports every
// result back to the outbox before it takes the next one. Strictly one send
// per account is on the wire at any time: overlapping sends misdeliver
// across chats with WhatsApp Web clients. Also passes the commands that are
// not journaled (typing, read, chat) straight through.
//
// Owned by the session actor's state and only ever called from that actor's
// handlers (not thread-safe); it sends messages as that actor (`self`).
// Crash policy: a send whose part was written but not answered when the
// upstream or the worker died stays `sending` in the outbox; the next claim
// hands it out again (attempts + 1) and it resumes at the first part not yet
// confirmed, with the same WhatsApp message id, which the upstream uses to
// avoid a second copy.
#pragma once

#include "actors/messages.hpp"
#include "config/config.hpp"
#include "upstream/protocol.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace wabridge {

struct outbound_counters {
  uint64_t sent = 0;          // sends that ended sent
  uint64_t failed = 0;        // ... failed (the upstream said no)
  uint64_t unknown = 0;       // ... with no answer within send_timeout
  uint64_t resumed = 0;       // claims of a send an earlier sender had begun
  uint64_t in_flight_id = 0;  // outbox id of the send on the wire, 0 = none
};

class outbound_sender {
 public:
  using write_fn = std::function<caf::error(const std::string& line)>;

  outbound_sender(std::string account, outbound_config cfg);

  /// Binds the sender to its actor, the journal that owns the outbox and the
  /// function that writes one protocol line to the current upstream.
  void attach(session_actor::pointer self, journal_actor journal, write_fn write);

  /// The upstream reports connected (true) or anything else (false). Sends
  /// only start while connected; one on the wire finishes either way.
  void set_connected(bool connected);

  /// A send was queued: claim it if idle.
  void kick();

  /// Drain: claim nothing new. `on_idle` runs once nothing is on the wire
  /// (at once when nothing is).
  void pause(std::function<void()> on_idle);

  /// A part is on the wire or a journal request about a send is pending.
  bool busy() const;

  /// A `send_result` from the upstream; false when it answers nothing we
  /// sent (a late answer after a timeout, or a stray id).
  bool on_result(const upstream::send_result_msg& result);

  /// The timer `token` of a command expired.
  void on_timeout(uint64_t token);

  /// The chunk delay before the next part of the current send is over.
  void on_part_due(uint64_t token);

  /// Passes a command that is not journaled to the upstream.
  caf::typed_response_promise<direct_result> direct(const direct_command& command);

  /// The upstream process is gone: nothing it was asked will be answered.
  void upstream_gone();

  const outbound_counters& counters() const { return counters_; }

 private:
  struct current_send {
    store::outbox_record record;
    uint32_t part = 0;             // the part to send next (or on the wire)
    std::string wire_id;           // id of the `send` line on the wire; "" = none
    uint64_t token = 0;            // timer of the part on the wire
    bool journal_pending = false;  // waiting for the journal to record a result
  };

  void pump();
  void send_part();
  void part_answered(const upstream::send_result_msg& result);
  void finish(store::send_state state, const std::string& error);
  void done();
  void check_idle();
  void log_given_up(const std::vector<store::outbox_record>& records);

  std::string account_;
  outbound_config cfg_;
  session_actor::pointer self_ = nullptr;
  journal_actor journal_;
  write_fn write_;
  bool connected_ = false;
  bool paused_ = false;
  bool claiming_ = false;
  std::optional<current_send> current_;
  uint64_t next_token_ = 1;
  uint64_t next_direct_ = 1;
  std::function<void()> on_idle_;
  struct pending_direct {
    caf::typed_response_promise<direct_result> promise;
    uint64_t token = 0;
  };
  std::map<std::string, pending_direct> direct_;  // by wire id
  outbound_counters counters_;
};

}  // namespace wabridge
