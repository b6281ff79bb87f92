// `wabridge sim-upstream`: a child process that plays the WhatsApp server for
// one account over the upstream protocol (docs/upstream-protocol.md). It
// generates events at a configured rate, keeps a server-side ledger on disk
// of what it generated and what the worker confirmed, and on every start
// redelivers each generated-but-unconfirmed event with origin "offline".
// Outbound commands are answered like WhatsApp would (optionally failing,
// stalling or taking a while) and every message "sent" is appended to
// sent.jsonl (sim/sim_sent_ledger.hpp); a message id seen before is not
// sent twice.
// Two threads: a stdin reader that only parses lines and queues them, and the
// main thread, which alone owns the ledger and stdout (no shared mutex beyond
// the queue's). Owns its ledger directory exclusively (flock).
#pragma once

#include <cstdint>
#include <string>

namespace wabridge::sim {

struct sim_upstream_options {
  std::string account;         // account name: mixed into the seed (who talks), used in logs
  std::string ledger_dir;      // directory holding the ledger (created if missing)
  double rate = 5.0;           // events per second; 0 = as fast as the pipe takes them
  uint64_t total = 0;          // generate at most this many distinct events; 0 = unlimited
  uint64_t seed = 1;           // same seed -> same event stream
  uint32_t body_bytes = 0;     // mean body length; 0 = realistic mix
  uint32_t chats = 50;         // chats the events are spread over
  double send_fail = 0.0;      // fraction of message sends answered ok:false ("simulated failure")
  double send_stall = 0.0;     // fraction of message sends never answered
  uint32_t send_delay_ms = 0;  // each message send is answered this long after it arrives

  // Tuning; the defaults suit both the worker and the benchmark.
  uint32_t batch_events = 1024;           // most events per write(2) (and per "G" record)
  uint32_t stop_flush_timeout_ms = 5000;  // after "stop": how long to try to flush output
  uint32_t stop_linger_ms = 1000;         // after "stop": wait this long for final confirms
};

/// Runs until stdin reaches EOF or a {"type":"stop"} line arrives (then:
/// flush, say state "stopped", close stdout, take final confirms until stdin
/// EOF or stop_linger_ms of quiet). Returns the process exit code: 0 on a
/// clean stop, EOF or EPIPE; 1 when the ledger cannot be opened or written.
int run_sim_upstream(const sim_upstream_options& options);

}  // namespace wabridge::sim
