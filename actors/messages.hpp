// The typed messages and actor interfaces of one worker (docs/architecture.md
// has the actor tree and message flow). Every actor talks only in these
// domain types: the HTTP front end never hands request objects to actors.
// Plain values; safe to copy between threads.
#pragma once

#include "store/journal_store.hpp"
#include "store/outbox_store.hpp"
#include "upstream/protocol.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wabridge {

using flush_atom = caf::atom_constant<caf::atom("flush")>;      // journal: commit what is pending
using stats_atom = caf::atom_constant<caf::atom("stats")>;      // any: report counters
using compact_atom = caf::atom_constant<caf::atom("compact")>;  // journal: periodic compaction
using restart_atom = caf::atom_constant<caf::atom("restart")>;  // session: respawn upstream
using retry_atom = caf::atom_constant<caf::atom("retry")>;      // session: retry a failed append
using drain_atom = caf::atom_constant<caf::atom("drain")>;      // any: graceful drain
using newest_atom = caf::atom_constant<caf::atom("newest")>;    // journal: newest committed seq
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;    // account supervisor: handles
using claim_atom = caf::atom_constant<caf::atom("claim")>;      // journal: next send to go out
using kick_atom = caf::atom_constant<caf::atom("kick")>;        // session: a send was queued
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;  // session: a send timed out
using part_atom = caf::atom_constant<caf::atom("part")>;        // session: next chunk is due
using pair_atom = caf::atom_constant<caf::atom("pair")>;  // session: pair a logged-out account

// ---- session -> journal ---------------------------------------------------

using event_list = std::vector<store::pending_event>;

/// Events read from the upstream, to be committed in order. Shared and
/// immutable: the session keeps the same list for a retry while the journal
/// reads it, and no payload is copied on the way (local messages only).
struct event_batch {
  std::shared_ptr<const event_list> events;
  size_t size() const { return events ? events->size() : 0; }
};

/// One seq per event of the batch (existing seq for duplicates).
struct append_ack {
  std::vector<uint64_t> seqs;
};

// ---- reads ----------------------------------------------------------------

/// Events with seq > after, at most `limit`; when none exist yet, wait up to
/// wait_ms for the first one to be committed.
struct read_request {
  uint64_t after = 0;
  uint32_t limit = 100;
  int64_t wait_ms = 0;
};

/// Events as the exact JSON objects served over HTTP, oldest first.
struct event_page {
  std::vector<std::string> events;
  uint64_t first_seq = 0;   // seq of events.front(), 0 when empty
  uint64_t last_seq = 0;    // seq of events.back(), 0 when empty
  uint64_t newest_seq = 0;  // the journal's newest seq when the page was cut
};

/// A long-poll waiter's deadline passed.
struct wait_expired {
  uint64_t waiter_id = 0;
};

/// The ack tracker tells the journal that every consumer acked up to here.
struct compact_request {
  uint64_t acked_floor = 0;
};

struct journal_stats {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t event_count = 0;
  uint64_t map_size = 0;
  uint64_t used_bytes = 0;
  uint64_t commits = 0;     // write transactions committed
  uint64_t appended = 0;    // events newly journaled
  uint64_t duplicates = 0;  // events dropped as already journaled
  uint64_t compacted = 0;   // events removed by retention
  uint64_t waiters = 0;     // long-polls waiting
  bool degraded = false;    // the last commit failed
  std::string last_error;
  int64_t oldest_unacked_ms = -1;  // receivedAt of the first event after the floor
  store::outbox_counts outbox;     // sends per state
  uint64_t outbox_last_id = 0;
};

// ---- consumers ------------------------------------------------------------

struct poll_request {
  std::string consumer;
  uint32_t limit = 100;
  int64_t wait_ms = 0;
};

struct ack_request {
  std::string consumer;
  uint64_t up_to_seq = 0;
};

struct ack_reply {
  std::string consumer;
  uint64_t acked_seq = 0;
};

/// The front end wrote a page to a consumer's connection in full: in implicit
/// mode, its next poll acks up to here. Answered (with the consumer's
/// delivered seq) so the front end can hold the consumer's next poll until
/// the notice has landed: notices and polls come from different senders, and
/// CAF orders messages only per sender.
struct delivered_notice {
  std::string consumer;
  uint64_t up_to_seq = 0;
};

struct consumer_status {
  std::string name;
  uint64_t acked_seq = 0;
  uint64_t delivered_seq = 0;  // highest seq written to it in full since start
  bool explicit_acks = false;
};

struct ack_stats {
  std::vector<consumer_status> consumers;
  uint64_t acked_floor = 0;  // min acked_seq over consumers
};

// ---- session --------------------------------------------------------------

/// What the reader thread made of one chunk of the upstream's stdout: the
/// lines are already parsed there (parsing is pure), so the session only acts.
struct upstream_lines {
  uint64_t generation = 0;  // which child process they came from
  int64_t read_at_us = 0;   // steady clock when the reader got them: latency starts here
  event_list events;        // event lines, in order
  std::vector<upstream::upstream_message> control;  // every other valid line, in order
  std::vector<std::string> rejected;                // why each malformed line was refused
};

/// The upstream's stdout reached EOF (it exited or closed it).
struct upstream_eof {
  uint64_t generation = 0;
};

struct session_status {
  std::string upstream;  // "sim" | "baileys"
  std::string state;  // starting|connecting|qr|connected|disconnected|logged_out|stopped|restarting
  std::string reason;
  std::string qr;            // pairing payload while state == qr
  std::string pairing_code;  // code to type on the phone, when pairing by number
  int64_t pid = 0;
  uint32_t restarts = 0;
  int64_t state_since_ms = 0;
  std::string last_exit;  // "code=1", "signal=KILL", "" when never exited
  uint64_t events_received = 0;
  uint64_t events_confirmed = 0;
  uint64_t lines_rejected = 0;
  uint64_t in_flight = 0;  // received, not yet committed
  std::string last_error;
  // Receipt (read from the upstream pipe) to confirm (written back), microseconds.
  uint64_t confirm_p50_us = 0;
  uint64_t confirm_p99_us = 0;
  uint64_t confirm_max_us = 0;
  // Outbound (actors/outbound_sender.hpp), since this session started.
  uint64_t sends_sent = 0;
  uint64_t sends_failed = 0;
  uint64_t sends_unknown = 0;
  uint64_t sends_resumed = 0;
  uint64_t send_in_flight_id = 0;  // outbox id on the wire, 0 = none
};

/// What a drain did (docs/architecture.md, "Graceful stop"). A session fills
/// the counters; the account supervisor passes them on and adds how the
/// account's actors ended.
struct drain_report {
  std::string account;
  uint64_t committed = 0;    // events committed while draining
  uint64_t confirmed = 0;    // events confirmed upstream while draining
  uint64_t unconfirmed = 0;  // received but not confirmed when the drain ended
  bool clean = false;        // the upstream stopped and every event was confirmed
  int64_t took_ms = 0;
  bool journal_closed = false;  // supervisor: every actor is down, the LMDB environments closed
  std::string account_state;    // supervisor: the account's state when the drain began
};

// ---- outbound (docs/http-api.md, "Outbound") ------------------------------

/// Front end -> journal: commit a planned send (op, parts, idempotency key
/// and request hash filled in) to the outbox before anything goes upstream.
struct outbox_enqueue {
  store::outbox_record record;
};

/// The committed record, or the one an already known idempotency key made.
struct outbox_enqueued {
  store::outbox_record record;
  bool existing = false;
};

/// Front end -> journal: the record `id` once it is terminal, or as it is
/// after wait_ms (0 = at once). not_found when there is no such record.
struct outbox_wait {
  uint64_t id = 0;
  int64_t wait_ms = 0;
};

/// A parked outbox_wait's deadline passed.
struct outbox_wait_expired {
  uint64_t waiter_id = 0;
};

/// Front end -> journal: records with id > after (oldest first), optionally
/// only those in one state.
struct outbox_list {
  uint64_t after = 0;
  uint32_t limit = 100;
  std::optional<store::send_state> only;
};

struct outbox_page {
  std::vector<store::outbox_record> records;
  store::outbox_counts counts;
  uint64_t last_id = 0;
};

/// Journal -> session: the send to work on next (marked sending), if any.
struct outbox_claimed {
  std::optional<store::outbox_record> record;
  std::vector<store::outbox_record> given_up;  // marked unknown after max_attempts on the way
};

/// Session -> journal: the upstream sent one part.
struct outbox_part_sent {
  uint64_t id = 0;
  uint32_t part = 0;
  std::vector<std::string> message_ids;
  std::string data;  // JSON text of op-specific result data, or ""
};

/// Session -> journal: the send ended (sent, failed or unknown).
struct outbox_finish {
  uint64_t id = 0;
  store::send_state state = store::send_state::sent;
  std::string error;
};

/// Front end -> session: an upstream command that is not journaled (typing,
/// read, chat): passed straight on, answered with the upstream's result.
struct direct_command {
  std::string op;
  std::string args;  // JSON object text
};

struct direct_result {
  bool ok = false;
  std::vector<std::string> message_ids;
  std::string error;
  std::string data;  // JSON text, or ""
};

// ---- interfaces -----------------------------------------------------------

using journal_actor = caf::typed_actor<
    caf::replies_to<event_batch>::with<append_ack>, caf::replies_to<read_request>::with<event_page>,
    caf::replies_to<stats_atom>::with<journal_stats>, caf::replies_to<newest_atom>::with<uint64_t>,
    caf::reacts_to<compact_request>, caf::reacts_to<flush_atom>, caf::reacts_to<wait_expired>,
    caf::reacts_to<compact_atom>, caf::reacts_to<drain_atom>,
    caf::replies_to<outbox_enqueue>::with<outbox_enqueued>,
    caf::replies_to<outbox_wait>::with<store::outbox_record>, caf::reacts_to<outbox_wait_expired>,
    caf::replies_to<outbox_list>::with<outbox_page>,
    caf::replies_to<claim_atom>::with<outbox_claimed>,
    caf::replies_to<outbox_part_sent>::with<store::outbox_record>,
    caf::replies_to<outbox_finish>::with<store::outbox_record>>;

using ack_tracker_actor = caf::typed_actor<caf::replies_to<poll_request>::with<event_page>,
                                           caf::replies_to<ack_request>::with<ack_reply>,
                                           caf::replies_to<delivered_notice>::with<uint64_t>,
                                           caf::replies_to<stats_atom>::with<ack_stats>>;

using session_actor =
    caf::typed_actor<caf::reacts_to<upstream_lines>, caf::reacts_to<upstream_eof>,
                     caf::reacts_to<restart_atom, uint64_t>, caf::reacts_to<retry_atom>,
                     caf::replies_to<drain_atom>::with<drain_report>,
                     caf::reacts_to<drain_atom, uint64_t>,  // self: drain deadline
                     caf::replies_to<stats_atom>::with<session_status>,
                     caf::replies_to<pair_atom>::with<session_status>,  // POST /pairing
                     caf::reacts_to<kick_atom>,               // front end: a send was queued
                     caf::reacts_to<timeout_atom, uint64_t>,  // self: a command timed out
                     caf::reacts_to<part_atom, uint64_t>,     // self: chunk delay over
                     caf::replies_to<direct_command>::with<direct_result>>;

// ---- account supervisor ---------------------------------------------------

/// The account's actors as they are now, from its supervisor
/// (actors/account_supervisor.hpp). A handle is invalid while that actor is
/// down (restarting, failed, stopped). Copies share the handles, not state.
struct account_handles {
  journal_actor journal;
  ack_tracker_actor acks;
  session_actor session;
  std::string state = "running";  // running|restarting|failed|draining|stopping|stopped
  std::string reason;             // why the account is not running; "" when running
  uint32_t restarts = 0;          // restart rounds completed since start
  uint64_t generation = 0;        // grows with every change of a handle or the state
};

using account_supervisor_actor =
    caf::typed_actor<caf::replies_to<lookup_atom>::with<account_handles>,
                     caf::replies_to<drain_atom>::with<drain_report>,
                     caf::reacts_to<restart_atom, uint64_t>,  // self: backoff over, restart epoch
                     caf::reacts_to<drain_atom, uint64_t>>;   // self: drain deadline

// ---- inspection (CAF 0.17 form) ------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_ack& x) {
  return f(caf::meta::type_name("append_ack"), x.seqs);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_request& x) {
  return f(caf::meta::type_name("read_request"), x.after, x.limit, x.wait_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_page& x) {
  return f(caf::meta::type_name("event_page"), x.events, x.first_seq, x.last_seq, x.newest_seq);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wait_expired& x) {
  return f(caf::meta::type_name("wait_expired"), x.waiter_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, compact_request& x) {
  return f(caf::meta::type_name("compact_request"), x.acked_floor);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journal_stats& x) {
  return f(caf::meta::type_name("journal_stats"), x.first_seq, x.last_seq, x.event_count,
           x.map_size, x.used_bytes, x.commits, x.appended, x.duplicates, x.compacted, x.waiters,
           x.degraded, x.last_error, x.oldest_unacked_ms, x.outbox, x.outbox_last_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, poll_request& x) {
  return f(caf::meta::type_name("poll_request"), x.consumer, x.limit, x.wait_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack_request& x) {
  return f(caf::meta::type_name("ack_request"), x.consumer, x.up_to_seq);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack_reply& x) {
  return f(caf::meta::type_name("ack_reply"), x.consumer, x.acked_seq);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivered_notice& x) {
  return f(caf::meta::type_name("delivered_notice"), x.consumer, x.up_to_seq);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, consumer_status& x) {
  return f(caf::meta::type_name("consumer_status"), x.name, x.acked_seq, x.delivered_seq,
           x.explicit_acks);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack_stats& x) {
  return f(caf::meta::type_name("ack_stats"), x.consumers, x.acked_floor);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upstream_eof& x) {
  return f(caf::meta::type_name("upstream_eof"), x.generation);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_status& x) {
  return f(caf::meta::type_name("session_status"), x.upstream, x.state, x.reason, x.qr,
           x.pairing_code, x.pid, x.restarts, x.state_since_ms, x.last_exit, x.events_received,
           x.events_confirmed, x.lines_rejected, x.in_flight, x.last_error, x.confirm_p50_us,
           x.confirm_p99_us, x.confirm_max_us, x.sends_sent, x.sends_failed, x.sends_unknown,
           x.sends_resumed, x.send_in_flight_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, drain_report& x) {
  return f(caf::meta::type_name("drain_report"), x.account, x.committed, x.confirmed, x.unconfirmed,
           x.clean, x.took_ms, x.journal_closed, x.account_state);
}

/// Milliseconds since the Unix epoch (wall clock, for receivedAt and ages).
int64_t now_ms();

/// Microseconds on the steady clock (for latencies).
int64_t steady_us();

}  // namespace wabridge

// Local-only messages that hold pointers or variants: never serialized.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::event_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::upstream_lines)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::account_handles)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::store::outbox_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_enqueue)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_enqueued)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_wait)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_wait_expired)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_page)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_claimed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_part_sent)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::outbox_finish)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::direct_command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(wabridge::direct_result)

namespace wabridge::store {
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbox_counts& x) {
  return f(caf::meta::type_name("outbox_counts"), x.queued, x.sending, x.sent, x.failed, x.unknown);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pending_event& x) {
  return f(caf::meta::type_name("pending_event"), x.uid, x.payload);
}
}  // namespace wabridge::store
