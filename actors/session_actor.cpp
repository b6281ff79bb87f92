#include "actors/session_actor.hpp"

#include "actors/outbound_sender.hpp"
#include "common/latency_histogram.hpp"
#include "supervisor/backoff.hpp"
#include "supervisor/child_process.hpp"
#include "upstream/baileys_launch.hpp"
#include "upstream/protocol.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <sstream>
#include <thread>

namespace wabridge {
namespace {

using namespace std::chrono_literals;
constexpr size_t max_line_bytes = 16u << 20;  // longer lines are rejected, not buffered forever
constexpr auto retry_delay = 1s;
constexpr auto journal_timeout = std::chrono::seconds(60);

std::string fmt_double(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// Shared between the session and its reader thread: the count of lines
// handed over but not yet finished, for backpressure.
struct reader_link {
  std::atomic<uint64_t> outstanding{0};
  std::atomic<bool> stop{false};
};

// Sorts one line into the batch: event, other message, or rejection.
void classify_line(const std::string& line, upstream_lines& batch) {
  auto parsed = upstream::parse_upstream_line(line);
  if (!parsed) {
    batch.rejected.push_back(describe(parsed.error()));
  } else if (auto* ev = std::get_if<upstream::event_msg>(&*parsed)) {
    batch.events.push_back(store::pending_event{std::move(ev->uid), std::move(ev->payload)});
  } else {
    batch.control.push_back(std::move(*parsed));
  }
}

// Reads the child's stdout until EOF and mails what each chunk held to the
// session. Parsing happens here, off the actor, since it is the costliest
// step per event and is a pure function.
void read_upstream(int fd, uint64_t generation, caf::weak_actor_ptr session,
                   std::shared_ptr<reader_link> link, uint64_t max_outstanding) {
  auto send = [&](auto&& msg) {
    if (auto strong = session.lock()) {
      caf::anon_send(caf::actor_cast<session_actor>(strong), std::forward<decltype(msg)>(msg));
      return true;
    }
    return false;
  };
  std::string buffer;
  std::vector<char> chunk(1 << 16);
  std::string line;
  bool discarding = false;  // inside an over-long line: drop bytes until its newline
  for (;;) {
    // Backpressure: while the journal is behind, leave data in the pipe.
    while (link->outstanding.load() > max_outstanding && !link->stop.load())
      std::this_thread::sleep_for(1ms);
    if (link->stop.load()) break;
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk.data(), static_cast<size_t>(n));
    upstream_lines batch;
    batch.generation = generation;
    batch.read_at_us = steady_us();
    size_t start = 0;
    for (;;) {
      size_t nl = buffer.find('\n', start);
      if (nl == std::string::npos) break;
      if (discarding) {
        discarding = false;
      } else if (nl > start) {
        line.assign(buffer, start, nl - start);
        classify_line(line, batch);
      }
      start = nl + 1;
    }
    buffer.erase(0, start);
    if (buffer.size() > max_line_bytes) {
      batch.rejected.push_back("line longer than " + std::to_string(max_line_bytes) +
                               " bytes discarded");
      buffer.clear();
      discarding = true;
    }
    if (batch.events.empty() && batch.control.empty() && batch.rejected.empty()) continue;
    link->outstanding += batch.events.size();
    if (!send(std::move(batch))) return;
  }
  send(upstream_eof{generation});
}

struct session_state {
  session_config cfg;
  std::unique_ptr<supervisor::child_process> child;
  std::shared_ptr<reader_link> link;
  std::thread reader;
  uint64_t generation = 0;
  std::chrono::steady_clock::time_point child_started;
  uint32_t consecutive_failures = 0;
  std::deque<event_batch> retry_queue;  // batches the journal refused, retried in order
  bool retry_scheduled = false;
  bool journal_refusing = false;  // the last commit failed; logged once until one succeeds
  uint64_t refusals = 0;          // failed commits since journal_refusing became true
  session_status status;
  latency_histogram confirm_latency;
  std::unique_ptr<outbound_sender> sender;
  struct drain_state {
    bool active = false;
    bool eof = false;  // the upstream closed its stdout after `stop`
    bool stop_written = false;
    caf::typed_response_promise<drain_report> promise;
    std::chrono::steady_clock::time_point started;
    uint64_t confirmed_before = 0;
  } drain;
  static inline const char* name = "session";

  ~session_state() { stop_child(); }

  void set_state(const std::string& state, const std::string& reason = {}) {
    if (status.state == state && status.reason == reason) return;
    spdlog::info("upstream account={} state={}{}{}", cfg.account.name, state,
                 reason.empty() ? "" : " reason=\"", reason.empty() ? "" : reason + "\"");
    status.state = state;
    status.reason = reason;
    status.state_since_ms = now_ms();
    if (sender) sender->set_connected(state == "connected");
  }

  // Asks the child to stop, gives it a moment, then kills it; joins the reader.
  void stop_child() {
    if (child) {
      (void)child->write_all(upstream::format_stop() + "\n");
      child->close_stdin();
      for (int i = 0; i < 200 && !child->try_wait(); ++i) std::this_thread::sleep_for(10ms);
      child->send_signal(SIGKILL);
      child->wait();
    }
    if (link) link->stop = true;
    if (reader.joinable()) reader.join();
    child.reset();
  }
};

using session_self = session_actor::stateful_pointer<session_state>;

// Starts the upstream process, or says why it cannot be started: a Baileys
// account whose sidecar is not installed gets the command that installs it
// (and is retried with backoff, so installing it is enough).
caf::expected<std::unique_ptr<supervisor::child_process>> start_upstream(
    const session_config& cfg) {
  if (cfg.account.upstream == upstream_kind::baileys) {
    const auto dir = upstream::find_sidecar_dir(cfg.account.baileys.sidecar_dir, cfg.self_exe);
    if (auto err = upstream::check_sidecar_installed(dir)) return err;
    // The child inherits the lock and holds it until it exits; our copy goes.
    auto lock = upstream::lock_sidecar_state(upstream::sidecar_state_dir(cfg.account_dir));
    if (!lock) return lock.error();
    auto child = supervisor::child_process::spawn(upstream_argv(cfg), {}, {*lock});
    ::close(*lock);
    return child;
  }
  return supervisor::child_process::spawn(upstream_argv(cfg));
}

void spawn_child(session_self self) {
  auto& st = self->state;
  ++st.generation;
  auto child = start_upstream(st.cfg);
  if (!child) {
    st.status.last_error = describe(child.error());
    st.set_state("disconnected", "cannot start upstream: " + st.status.last_error);
    ++st.consecutive_failures;
    auto delay = supervisor::backoff_delay(
        {st.cfg.restart.backoff_initial, st.cfg.restart.backoff_max, 2.0}, st.consecutive_failures);
    spdlog::warn("upstream account={} restart scheduled reason=spawn-failed delay_ms={}",
                 st.cfg.account.name, delay.count());
    self->delayed_send(self, delay, restart_atom::value, st.generation);
    return;
  }
  st.child = std::move(*child);
  st.child_started = std::chrono::steady_clock::now();
  st.status.pid = st.child->pid();
  st.link = std::make_shared<reader_link>();
  st.reader = std::thread(read_upstream, st.child->stdout_fd(), st.generation,
                          caf::actor_cast<caf::weak_actor_ptr>(self->ctrl()), st.link,
                          st.cfg.max_in_flight);
  st.set_state("starting");
  spdlog::info("upstream account={} spawned pid={} kind={} generation={}", st.cfg.account.name,
               st.child->pid(), to_string(st.cfg.account.upstream), st.generation);
}

void send_confirm(session_self self, uint64_t generation, const std::vector<std::string>& uids) {
  auto& st = self->state;
  // A confirm only makes sense to the child that sent the events; a later
  // child redelivers them and the journal dedupes.
  if (!st.child || generation != st.generation || uids.empty()) return;
  if (auto err = st.child->write_all(upstream::format_confirm(uids) + "\n")) {
    spdlog::warn("upstream account={} confirm not delivered error=\"{}\"", st.cfg.account.name,
                 describe(err));
    return;
  }
  st.status.events_confirmed += uids.size();
}

void commit_batch(session_self self, event_batch batch, uint64_t generation, int64_t read_at_us);
void maybe_finish_drain(session_self self);

void schedule_retry(session_self self) {
  auto& st = self->state;
  if (st.retry_scheduled) return;
  st.retry_scheduled = true;
  self->delayed_send(self, retry_delay, retry_atom::value);
}

void commit_batch(session_self self, event_batch batch, uint64_t generation, int64_t read_at_us) {
  const uint64_t n = batch.size();
  self->state.status.in_flight += n;
  self->request(self->state.cfg.journal, journal_timeout, batch)
      .then(
          [self, generation, batch, read_at_us](append_ack&) {
            auto& st = self->state;
            const uint64_t count = batch.size();
            st.status.in_flight -= count;
            if (st.link) st.link->outstanding -= std::min<uint64_t>(count, st.link->outstanding);
            std::vector<std::string> uids;
            uids.reserve(count);
            for (const auto& ev : *batch.events) uids.push_back(ev.uid);
            send_confirm(self, generation, uids);
            maybe_finish_drain(self);
            const int64_t waited = steady_us() - read_at_us;
            st.confirm_latency.record(static_cast<uint64_t>(std::max<int64_t>(waited, 0)), count);
            if (st.journal_refusing) {
              spdlog::info(
                  "upstream account={} journal accepts batches again refusals={} queued={}",
                  st.cfg.account.name, st.refusals, st.retry_queue.size());
              st.journal_refusing = false;
              st.refusals = 0;
            }
            // The journal is healthy again: flush the queued retries right away.
            if (!st.retry_queue.empty() && !st.retry_scheduled) {
              st.retry_scheduled = true;
              self->send(self, retry_atom::value);
            }
          },
          [self, batch](caf::error& err) {
            // Not committed, so not confirmed: the upstream still holds the
            // events. Keep them and retry in order; stay degraded meanwhile.
            auto& st = self->state;
            st.status.in_flight -= batch.size();
            st.status.last_error = describe(err);
            // Retried every second while the disk or map stays full: one
            // warning per episode, the retries at debug level.
            if (!st.journal_refusing)
              spdlog::warn(
                  "upstream account={} journal refused batch events={} error=\"{}\" "
                  "action=retry",
                  st.cfg.account.name, batch.size(), st.status.last_error);
            else
              spdlog::debug(
                  "upstream account={} journal refused batch again events={} error=\"{}\"",
                  st.cfg.account.name, batch.size(), st.status.last_error);
            st.journal_refusing = true;
            ++st.refusals;
            st.retry_queue.push_front(batch);
            schedule_retry(self);
          });
}

void on_control(session_self self, upstream::upstream_message& msg) {
  auto& st = self->state;
  if (auto* link_state = std::get_if<upstream::state_msg>(&msg)) {
    st.status.qr = link_state->qr;
    st.status.pairing_code = link_state->pairing_code;
    st.set_state(upstream::to_string(link_state->state), link_state->reason);
  } else if (auto* hello = std::get_if<upstream::hello_msg>(&msg)) {
    spdlog::info("upstream account={} hello upstream={} version={} protocol={}",
                 st.cfg.account.name, hello->upstream, hello->version, hello->protocol);
  } else if (auto* log = std::get_if<upstream::log_msg>(&msg)) {
    spdlog::info("upstream account={} says level={} msg=\"{}\"", st.cfg.account.name, log->level,
                 log->text);
  } else if (auto* result = std::get_if<upstream::send_result_msg>(&msg)) {
    if (!st.sender->on_result(*result))
      spdlog::info("upstream account={} send_result for id=\"{}\" nobody waits for (late or stray)",
                   st.cfg.account.name, result->id);
  }
}

void on_lines(session_self self, upstream_lines& msg) {
  auto& st = self->state;
  for (const auto& why : msg.rejected) {
    ++st.status.lines_rejected;
    spdlog::warn("upstream account={} rejected line error=\"{}\"", st.cfg.account.name, why);
  }
  for (auto& control : msg.control) on_control(self, control);
  if (msg.events.empty()) return;
  st.status.events_received += msg.events.size();
  event_batch batch{std::make_shared<const event_list>(std::move(msg.events))};
  if (!st.retry_queue.empty()) {
    st.retry_queue.push_back(std::move(batch));  // keep upstream order behind the retries
    return;
  }
  commit_batch(self, std::move(batch), msg.generation, msg.read_at_us);
}

// Ends a drain: lets the child go (stdin EOF), reaps it and reports.
void finish_drain(session_self self, bool clean) {
  auto& st = self->state;
  auto& d = st.drain;
  if (!d.active) return;
  d.active = false;
  if (st.child) {
    st.child->close_stdin();
    for (int i = 0; i < 100 && !st.child->try_wait(); ++i) std::this_thread::sleep_for(10ms);
    st.child->send_signal(SIGKILL);
    st.status.last_exit = st.child->wait().describe();
  }
  if (st.link) st.link->stop = true;
  if (st.reader.joinable()) st.reader.join();
  st.child.reset();
  st.status.pid = 0;
  st.sender->upstream_gone();
  drain_report report;
  report.account = st.cfg.account.name;
  report.confirmed = st.status.events_confirmed - d.confirmed_before;
  report.committed = report.confirmed;
  for (const auto& batch : st.retry_queue) report.unconfirmed += batch.size();
  report.unconfirmed += st.status.in_flight;
  report.clean = clean && report.unconfirmed == 0;
  report.took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - d.started)
                       .count();
  st.set_state("stopped", clean ? "" : "drain deadline passed");
  d.promise.deliver(std::move(report));
}

// Finishes the drain once the upstream has stopped and everything it sent is
// committed and confirmed.
void maybe_finish_drain(session_self self) {
  auto& st = self->state;
  if (st.drain.active && st.drain.eof && st.status.in_flight == 0 && st.retry_queue.empty())
    finish_drain(self, true);
}

// Drain step "stop intake": asks the upstream to stop once no send is on the
// wire (a send's answer must not be cut off by the stop).
void stop_upstream_intake(session_self self) {
  auto& st = self->state;
  if (!st.drain.active || st.drain.stop_written) return;
  st.drain.stop_written = true;
  if (!st.child || st.child->write_all(upstream::format_stop() + "\n")) {
    st.drain.eof = true;  // the child is gone already; nothing more will come
    maybe_finish_drain(self);
  }
}

void on_eof(session_self self, uint64_t generation) {
  auto& st = self->state;
  if (generation != st.generation || !st.child) return;
  if (st.drain.active) {
    // Expected: the upstream closes stdout after `stop`. Keep its stdin open
    // until the last confirms are written.
    st.drain.eof = true;
    maybe_finish_drain(self);
    return;
  }
  st.sender->upstream_gone();
  st.child->close_stdin();
  // EOF on stdout normally means the child is exiting; give it a moment.
  for (int i = 0; i < 100 && !st.child->try_wait(); ++i) std::this_thread::sleep_for(10ms);
  if (!st.child->try_wait()) st.child->send_signal(SIGKILL);
  const auto exit = st.child->wait();
  if (st.reader.joinable()) st.reader.join();
  st.status.last_exit = exit.describe();
  st.status.pid = 0;
  const auto lived = std::chrono::steady_clock::now() - st.child_started;
  st.child.reset();
  if (lived >= st.cfg.restart.stable_after) st.consecutive_failures = 0;
  ++st.consecutive_failures;
  ++st.status.restarts;
  auto delay = supervisor::backoff_delay(
      {st.cfg.restart.backoff_initial, st.cfg.restart.backoff_max, 2.0}, st.consecutive_failures);
  if (st.status.state == "logged_out") {
    // Respawning cannot fix a logged-out account: an operator must pair again.
    spdlog::error("upstream account={} exited {} while logged out; not restarting (pair again)",
                  st.cfg.account.name, exit.describe());
    return;
  }
  st.set_state("restarting", "upstream exited " + exit.describe());
  spdlog::warn("upstream account={} exited {} restart scheduled delay_ms={}", st.cfg.account.name,
               exit.describe(), delay.count());
  self->delayed_send(self, delay, restart_atom::value, st.generation);
}

session_status current_status(session_self self) {
  auto& st = self->state;
  session_status out = st.status;
  out.confirm_p50_us = st.confirm_latency.quantile(0.50);
  out.confirm_p99_us = st.confirm_latency.quantile(0.99);
  out.confirm_max_us = st.confirm_latency.max();
  const auto& sends = st.sender->counters();
  out.sends_sent = sends.sent;
  out.sends_failed = sends.failed;
  out.sends_unknown = sends.unknown;
  out.sends_resumed = sends.resumed;
  out.send_in_flight_id = sends.in_flight_id;
  return out;
}

// `wabridge pair` (POST /pairing) on a logged-out Baileys account: WhatsApp
// has revoked its credentials, so starting the sidecar on them again would
// only be refused again. Move them aside (kept, not deleted, for forensics)
// and start the sidecar afresh: it then shows a new QR code.
void pair_again_if_logged_out(session_self self) {
  auto& st = self->state;
  if (st.cfg.account.upstream != upstream_kind::baileys || st.status.state != "logged_out") return;
  st.stop_child();
  const std::string auth = st.cfg.account_dir + "/baileys/auth";
  const std::string aside = auth + ".logged-out-" + std::to_string(now_ms());
  std::error_code ec;
  if (std::filesystem::exists(auth, ec)) std::filesystem::rename(auth, aside, ec);
  if (ec) {
    st.status.last_error = "cannot move " + auth + " aside: " + ec.message();
    spdlog::error("upstream account={} pairing again failed error=\"{}\"", st.cfg.account.name,
                  st.status.last_error);
    return;
  }
  spdlog::info("upstream account={} pairing again old_auth={}", st.cfg.account.name, aside);
  st.consecutive_failures = 0;
  spawn_child(self);
}

session_actor::behavior_type session_impl(session_self self, session_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.status.upstream = to_string(self->state.cfg.account.upstream);
  self->state.sender =
      std::make_unique<outbound_sender>(self->state.cfg.account.name, self->state.cfg.outbound);
  self->state.sender->attach(
      self, self->state.cfg.journal, [self](const std::string& line) -> caf::error {
        if (!self->state.child)
          return make_error(errc::upstream_unavailable, "no upstream process");
        return self->state.child->write_all(line);
      });
  spawn_child(self);
  return {
      [self](upstream_lines& msg) { on_lines(self, msg); },
      [self](upstream_eof& msg) { on_eof(self, msg.generation); },
      [self](restart_atom, uint64_t generation) {
        if (generation == self->state.generation && !self->state.child) spawn_child(self);
      },
      [self](retry_atom) {
        auto& st = self->state;
        st.retry_scheduled = false;
        if (st.retry_queue.empty()) return;
        // One batch at a time while the journal is unhealthy: its success
        // sends the next retry at once, its failure waits retry_delay.
        auto batch = std::move(st.retry_queue.front());
        st.retry_queue.pop_front();
        commit_batch(self, std::move(batch), st.generation, steady_us());
      },
      [self](drain_atom) -> caf::typed_response_promise<drain_report> {
        auto& st = self->state;
        auto promise = self->make_response_promise<drain_report>();
        if (!st.child || st.drain.active) {
          drain_report report;
          report.account = st.cfg.account.name;
          report.clean = !st.drain.active;
          promise.deliver(std::move(report));
          return promise;
        }
        // Stop intake: the upstream stops producing, flushes what it has and
        // closes stdout; we commit and confirm all of it, then let it go.
        st.drain = {};
        st.drain.active = true;
        st.drain.promise = promise;
        st.drain.started = std::chrono::steady_clock::now();
        st.drain.confirmed_before = st.status.events_confirmed;
        spdlog::info("upstream account={} drain begin in_flight={} send_in_flight={}",
                     st.cfg.account.name, st.status.in_flight, st.sender->counters().in_flight_id);
        st.sender->pause([self] { stop_upstream_intake(self); });
        // Leave time for the worker to report before the supervisor's kill.
        self->delayed_send(self, st.cfg.restart.drain_timeout * 8 / 10, drain_atom::value,
                           st.generation);
        return promise;
      },
      [self](drain_atom, uint64_t generation) {
        if (generation == self->state.generation) finish_drain(self, false);
      },
      [self](stats_atom) -> session_status { return current_status(self); },
      [self](pair_atom) -> session_status {
        pair_again_if_logged_out(self);
        return current_status(self);
      },
      [self](kick_atom) { self->state.sender->kick(); },
      [self](timeout_atom, uint64_t token) { self->state.sender->on_timeout(token); },
      [self](part_atom, uint64_t token) { self->state.sender->on_part_due(token); },
      [self](direct_command& command) -> caf::typed_response_promise<direct_result> {
        return self->state.sender->direct(command);
      },
  };
}

}  // namespace

std::vector<std::string> upstream_argv(const session_config& cfg) {
  const auto& acc = cfg.account;
  if (acc.upstream == upstream_kind::sim) {
    return {cfg.self_exe,      "sim-upstream",
            "--account",       acc.name,
            "--ledger-dir",    cfg.account_dir + "/sim",
            "--rate",          fmt_double(acc.sim.rate),
            "--total",         std::to_string(acc.sim.total),
            "--seed",          std::to_string(acc.sim.seed),
            "--body-bytes",    std::to_string(acc.sim.body_bytes),
            "--chats",         std::to_string(acc.sim.chats),
            "--send-fail",     fmt_double(acc.sim.send_fail),
            "--send-stall",    fmt_double(acc.sim.send_stall),
            "--send-delay-ms", std::to_string(acc.sim.send_delay.count())};
  }
  return upstream::sidecar_argv(acc, cfg.account_dir,
                                upstream::find_sidecar_dir(acc.baileys.sidecar_dir, cfg.self_exe));
}

session_actor spawn_session(caf::actor_system& sys, const session_config& cfg) {
  return sys.spawn(session_impl, cfg);
}

}  // namespace wabridge
