#include "actors/account_supervisor.hpp"

#include "actors/ack_tracker_actor.hpp"
#include "actors/journal_actor.hpp"
#include "actors/session_actor.hpp"
#include "supervisor/backoff.hpp"
#include "upstream/baileys_launch.hpp"

#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <array>
#include <optional>
#include <set>
#include <vector>

namespace wabridge {
namespace {

using steady = std::chrono::steady_clock;

// Start order. A later child depends on the journal, never the other way round.
enum class child : size_t { journal = 0, acks = 1, session = 2 };
constexpr std::array<child, 3> start_order{child::journal, child::acks, child::session};
constexpr std::array<child, 3> stop_order{child::session, child::acks, child::journal};

const char* name_of(child c) {
  switch (c) {
    case child::journal:
      return "journal";
    case child::acks:
      return "ack_tracker";
    case child::session:
      return "session";
  }
  return "?";
}

// "kill", "user_shutdown", "runtime_error: what()" ...: the down reason for logs.
std::string reason_text(const caf::error& err) {
  if (!err) return "normal";
  std::string out;
  if (err.category() == caf::atom("exit"))
    out = caf::to_string(static_cast<caf::exit_reason>(err.code()));
  else if (err.category() == caf::atom("system"))
    out = caf::to_string(static_cast<caf::sec>(err.code()));
  else
    return describe(err);
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string>()) out += ": " + ctx.get_as<std::string>(0);
  return out;
}

// Exits the supervisor (or the worker) asks for, and plain returns, are not
// failures: only a kill, an exception or another error reason is restarted.
bool is_normal_exit(const caf::error& reason) {
  if (!reason) return true;  // exit_reason::normal is the empty error in CAF 0.17
  return reason.category() == caf::atom("exit") &&
         (reason.code() == static_cast<uint8_t>(caf::exit_reason::normal) ||
          reason.code() == static_cast<uint8_t>(caf::exit_reason::user_shutdown));
}

// ---- starting one child (shared by the first start and by restarts) --------

caf::expected<journal_actor> start_journal(caf::actor_system& sys,
                                           const account_supervisor_config& cfg) {
  // Media files are the Baileys sidecar's downloads; a sim's mediaUrls are
  // made up and point nowhere.
  const std::string media = cfg.account.upstream == upstream_kind::baileys
                                ? upstream::media_dir(cfg.account, cfg.dir)
                                : std::string{};
  return spawn_journal(sys, {cfg.account.name, cfg.dir + "/journal", cfg.dir + "/outbox",
                             cfg.journal, cfg.outbound, media});
}

caf::expected<ack_tracker_actor> start_acks(caf::actor_system& sys,
                                            const account_supervisor_config& cfg,
                                            const journal_actor& journal) {
  return spawn_ack_tracker(sys, {cfg.account.name, cfg.dir + "/cursors", journal});
}

session_actor start_session(caf::actor_system& sys, const account_supervisor_config& cfg,
                            const journal_actor& journal) {
  session_config session;
  session.account = cfg.account;
  session.account_dir = cfg.dir;
  session.self_exe = cfg.self_exe;
  session.journal = journal;
  session.restart = cfg.supervisor;
  session.outbound = cfg.outbound;
  return spawn_session(sys, session);
}

// ---- the supervisor --------------------------------------------------------

struct supervisor_state {
  account_supervisor_config cfg;
  // The current incarnation of each child; invalid from its down message on.
  journal_actor journal;
  ack_tracker_actor acks;
  session_actor session;
  std::set<caf::actor_addr> stopping;  // asked to exit by us; their down is expected

  std::string state = "running";  // running|restarting|failed|draining|stopped
  std::string reason;
  uint32_t restarts = 0;
  uint64_t generation = 0;  // the first handles (generation 0) are in the worker's cache

  std::array<bool, 3> pending{};  // children to start again, indexed by child
  uint64_t restart_epoch = 0;     // a scheduled restart that carries an older epoch is void
  bool restart_due = false;       // the backoff is over, a stopped incarnation is not down yet
  uint32_t consecutive_failures = 0;
  std::optional<steady::time_point> last_restart;
  steady::time_point started = steady::now();
  supervisor::restart_intensity intensity{10, millis{60'000}};

  struct drain_state {
    bool active = false;        // draining or stopping: nothing is restarted from now on
    bool session_done = false;  // the session answered its drain (or cannot)
    bool done = false;          // the report is out
    bool graceful = false;      // a drain (journal and session drained first), not just a stop
    bool quit_after = false;    // an exit_msg asked the supervisor itself to stop
    caf::error quit_reason;
    uint64_t epoch = 0;
    steady::time_point started;
    drain_report report;
    std::vector<caf::typed_response_promise<drain_report>> promises;
  } drain;

  static inline const char* name = "account_supervisor";

  ~supervisor_state() {
    // Only reached with children up when the supervisor itself was killed:
    // they must not outlive it unsupervised.
    if (session) caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
    if (acks) caf::anon_send_exit(acks, caf::exit_reason::user_shutdown);
    if (journal) caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
  }

  const std::string& account() const { return cfg.account.name; }

  caf::actor_addr address_of(child c) const {
    switch (c) {
      case child::journal:
        return journal.address();
      case child::acks:
        return acks.address();
      case child::session:
        return session.address();
    }
    return {};
  }

  bool is_up(child c) const { return static_cast<bool>(address_of(c)); }

  // Up and not on its way out: what lookup hands out.
  bool is_live(child c) const { return is_up(c) && stopping.count(address_of(c)) == 0; }

  void clear(child c) {
    switch (c) {
      case child::journal:
        journal = journal_actor{};
        break;
      case child::acks:
        acks = ack_tracker_actor{};
        break;
      case child::session:
        session = session_actor{};
        break;
    }
  }

  std::optional<child> child_of(const caf::actor_addr& addr) const {
    for (child c : start_order)
      if (is_up(c) && address_of(c) == addr) return c;
    return std::nullopt;
  }

  millis since_start() const { return std::chrono::duration_cast<millis>(steady::now() - started); }

  void set_state(std::string next, std::string why) {
    state = std::move(next);
    reason = std::move(why);
    ++generation;
  }
};

using supervisor_self = account_supervisor_actor::stateful_pointer<supervisor_state>;

void on_failure(supervisor_self self, child c, const std::string& why);
void advance_drain(supervisor_self self);

// Asks one child to exit; its down message is then expected, not a failure.
void stop_child(supervisor_self self, child c, const char* why) {
  auto& st = self->state;
  if (!st.is_live(c)) return;
  const auto addr = st.address_of(c);
  st.stopping.insert(addr);
  ++st.generation;  // lookup no longer hands it out
  spdlog::info("account account={} actor={} stopping reason=\"{}\"", st.account(), name_of(c), why);
  caf::anon_send_exit(addr, caf::exit_reason::user_shutdown);
}

caf::error start_child(supervisor_self self, child c) {
  auto& st = self->state;
  auto& sys = self->system();
  switch (c) {
    case child::journal: {
      auto journal = start_journal(sys, st.cfg);
      if (!journal) return journal.error();
      st.journal = *journal;
      self->monitor(st.journal);
      break;
    }
    case child::acks: {
      if (!st.journal) return make_error(errc::journal_failure, "no journal to read from");
      auto acks = start_acks(sys, st.cfg, st.journal);
      if (!acks) return acks.error();
      st.acks = *acks;
      self->monitor(st.acks);
      break;
    }
    case child::session:
      if (!st.journal) return make_error(errc::journal_failure, "no journal to write to");
      st.session = start_session(sys, st.cfg, st.journal);
      self->monitor(st.session);
      break;
  }
  ++st.generation;
  return {};
}

// Starts every pending child in start order: the journal first, so the
// others are given the new journal's handle.
void restart_pending(supervisor_self self) {
  auto& st = self->state;
  st.restart_due = false;
  const uint32_t round = st.restarts + 1;
  for (child c : start_order) {
    const auto i = static_cast<size_t>(c);
    if (!st.pending[i]) continue;
    if (auto err = start_child(self, c)) {
      spdlog::error("account account={} actor={} restart failed error=\"{}\"", st.account(),
                    name_of(c), describe(err));
      on_failure(self, c, "restart failed: " + describe(err));
      return;
    }
    st.pending[i] = false;
    spdlog::info("account account={} actor={} restarted restarts={}", st.account(), name_of(c),
                 round);
  }
  st.restarts = round;
  st.last_restart = steady::now();
  st.set_state("running", "");
}

// Intensity exceeded: unlike OTP, the failure is not escalated to the worker
// (which would take every other account down with this one). The account
// stays down and says so in /status and /health; an operator restarts the
// worker once the cause is fixed.
void give_up(supervisor_self self, child c, const std::string& why) {
  auto& st = self->state;
  const uint32_t recent = st.intensity.recent(st.since_start());
  spdlog::error(
      "account account={} gave up actor={} failures={} window_ms={} intensity_max={} "
      "reason=\"{}\" action=stay-down other_accounts=unaffected",
      st.account(), name_of(c), recent, st.cfg.supervisor.intensity_window.count(),
      st.cfg.supervisor.intensity_max, why);
  st.pending = {};
  ++st.restart_epoch;
  st.restart_due = false;
  for (child each : stop_order) stop_child(self, each, "account failed");
  st.set_state("failed",
               std::string(name_of(c)) + " failed " + std::to_string(recent) + " times within " +
                   std::to_string(st.cfg.supervisor.intensity_window.count()) +
                   " ms (intensity_max " + std::to_string(st.cfg.supervisor.intensity_max) +
                   "); last exit: " + why);
}

void on_failure(supervisor_self self, child c, const std::string& why) {
  auto& st = self->state;
  if (st.intensity.record_crash(st.since_start())) {
    give_up(self, c, why);
    return;
  }
  const auto now = steady::now();
  if (st.last_restart && now - *st.last_restart >= st.cfg.supervisor.stable_after)
    st.consecutive_failures = 0;
  ++st.consecutive_failures;
  const auto delay = supervisor::backoff_delay(
      {st.cfg.supervisor.backoff_initial, st.cfg.supervisor.backoff_max, 2.0},
      st.consecutive_failures);
  spdlog::warn("account account={} actor={} exited reason=\"{}\" restart scheduled delay_ms={}",
               st.account(), name_of(c), why, delay.count());
  if (c == child::journal) {
    // The ack tracker and the session hold the journal's handle: they go
    // too and come back after it (rest_for_one).
    st.pending = {true, true, true};
    stop_child(self, child::session, "journal restart");
    stop_child(self, child::acks, "journal restart");
  } else {
    st.pending[static_cast<size_t>(c)] = true;
  }
  st.set_state("restarting", std::string(name_of(c)) + " exited: " + why);
  ++st.restart_epoch;
  st.restart_due = false;
  self->delayed_send(self, delay, restart_atom::value, st.restart_epoch);
}

// A child ended with exit_reason::normal or user_shutdown although we did
// not ask it to: someone meant it to stop, so it is not restarted (OTP's
// "transient"). Whatever depended on a stopped journal stops with it.
void on_normal_exit(supervisor_self self, child c, const std::string& why) {
  auto& st = self->state;
  spdlog::warn("account account={} actor={} exited reason=\"{}\" not restarted (normal exit)",
               st.account(), name_of(c), why);
  st.pending = {};
  ++st.restart_epoch;
  st.restart_due = false;
  if (c == child::journal) {
    stop_child(self, child::session, "journal stopped");
    stop_child(self, child::acks, "journal stopped");
  }
  st.set_state("stopped", std::string(name_of(c)) + " exited normally");
}

void finish_drain(supervisor_self self) {
  auto& st = self->state;
  auto& d = st.drain;
  d.done = true;
  d.report.journal_closed = !st.is_up(child::journal) && !st.is_up(child::acks);
  d.report.took_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - d.started).count();
  st.set_state("stopped", st.reason);
  spdlog::info("account account={} {} done journal_closed={} took_ms={}", st.account(),
               d.graceful ? "drain" : "stop", d.report.journal_closed, d.report.took_ms);
  for (auto& promise : d.promises) promise.deliver(d.report);
  d.promises.clear();
  if (d.quit_after) self->quit(d.quit_reason);
}

// After the session's drain: stops the children one at a time in reverse
// start order (the session stops writing before the journal goes) and
// reports once the last one is down, so its LMDB environment is closed.
void advance_drain(supervisor_self self) {
  auto& st = self->state;
  auto& d = st.drain;
  if (!d.active || d.done || !d.session_done) return;
  for (child c : stop_order) {
    if (st.is_up(c)) {
      stop_child(self, c, d.graceful ? "drain" : "stop");
      return;  // its down message brings us back here
    }
  }
  finish_drain(self);
}

void begin_drain(supervisor_self self, bool drain_session) {
  auto& st = self->state;
  auto& d = st.drain;
  d.active = true;
  d.graceful = drain_session;
  d.started = steady::now();
  d.report.account = st.account();
  d.report.account_state = st.state;
  // Never restart once draining: cancel whatever restart was scheduled.
  st.pending = {};
  ++st.restart_epoch;
  st.restart_due = false;
  st.set_state(drain_session ? "draining" : "stopping", st.reason);
  spdlog::info("account account={} {} begin was={}", st.account(), drain_session ? "drain" : "stop",
               d.report.account_state);
  const auto timeout = st.cfg.supervisor.drain_timeout;
  if (drain_session && st.is_live(child::journal)) {
    // Parked long-polls are answered now, and no new ones park.
    self->send(st.journal, drain_atom::value);
  }
  if (drain_session && st.is_live(child::session)) {
    // The session keeps 80% of drain_timeout for itself; this bound only
    // guards against a session that never answers.
    self->request(st.session, timeout * 9 / 10, drain_atom::value)
        .then(
            [self](drain_report& report) {
              auto& r = self->state.drain.report;
              r.committed = report.committed;
              r.confirmed = report.confirmed;
              r.unconfirmed = report.unconfirmed;
              r.clean = report.clean;
              self->state.drain.session_done = true;
              advance_drain(self);
            },
            [self](caf::error& err) {
              spdlog::warn("account account={} session drain failed error=\"{}\"",
                           self->state.account(), describe(err));
              self->state.drain.report.clean = false;
              self->state.drain.session_done = true;
              advance_drain(self);
            });
  } else {
    // No session to drain (restarting, failed or not a drain): whatever its
    // upstream had not confirmed is redelivered on the next start.
    d.report.clean = !drain_session;
    d.session_done = true;
  }
  ++d.epoch;
  self->delayed_send(self, timeout, drain_atom::value, d.epoch);
  advance_drain(self);
}

void on_down(supervisor_self self, caf::down_msg& msg) {
  auto& st = self->state;
  const bool expected = st.stopping.erase(msg.source) > 0;
  const auto c = st.child_of(msg.source);
  if (!c) {
    advance_drain(self);
    return;
  }
  st.clear(*c);
  ++st.generation;
  const std::string why = reason_text(msg.reason);
  if (expected) {
    spdlog::info("account account={} actor={} stopped", st.account(), name_of(*c));
  } else if (st.drain.active) {
    spdlog::warn("account account={} actor={} exited reason=\"{}\" while draining; not restarted",
                 st.account(), name_of(*c), why);
  } else if (st.state == "failed" || st.state == "stopped") {
    spdlog::warn("account account={} actor={} exited reason=\"{}\" account={}", st.account(),
                 name_of(*c), why, st.state);
  } else if (is_normal_exit(msg.reason)) {
    on_normal_exit(self, *c, why);
  } else {
    on_failure(self, *c, why);
  }
  if (st.drain.active) {
    advance_drain(self);
  } else if (st.restart_due && st.stopping.empty()) {
    restart_pending(self);
  }
}

account_supervisor_actor::behavior_type supervisor_impl(supervisor_self self,
                                                        account_supervisor_config cfg,
                                                        journal_actor journal,
                                                        ack_tracker_actor acks,
                                                        session_actor session) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.intensity = supervisor::restart_intensity{st.cfg.supervisor.intensity_max,
                                               st.cfg.supervisor.intensity_window};
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    // The worker stops us (e.g. after a failed start): stop the children in
    // order first, then quit with the reason we were given.
    auto& d = self->state.drain;
    d.quit_after = true;
    d.quit_reason = msg.reason;
    if (d.done)
      self->quit(d.quit_reason);
    else if (!d.active)
      begin_drain(self, false);
  });
  st.journal = std::move(journal);
  st.acks = std::move(acks);
  st.session = std::move(session);
  // A child that died before this point is reported at once by monitor().
  self->monitor(st.journal);
  self->monitor(st.acks);
  self->monitor(st.session);
  return {
      [self](lookup_atom) -> account_handles {
        auto& s = self->state;
        account_handles out;
        if (s.is_live(child::journal)) out.journal = s.journal;
        if (s.is_live(child::acks)) out.acks = s.acks;
        if (s.is_live(child::session)) out.session = s.session;
        out.state = s.state;
        out.reason = s.reason;
        out.restarts = s.restarts;
        out.generation = s.generation;
        return out;
      },
      [self](drain_atom) -> caf::typed_response_promise<drain_report> {
        auto& d = self->state.drain;
        auto promise = self->make_response_promise<drain_report>();
        if (d.done) {
          promise.deliver(d.report);
          return promise;
        }
        d.promises.push_back(promise);
        if (!d.active) begin_drain(self, true);
        return promise;
      },
      [self](restart_atom, uint64_t epoch) {
        auto& s = self->state;
        if (epoch != s.restart_epoch || s.state != "restarting" || s.drain.active) return;
        if (!s.stopping.empty()) {
          // An old incarnation still holds its LMDB environment: start the
          // new one only after its down message.
          s.restart_due = true;
          return;
        }
        restart_pending(self);
      },
      [self](drain_atom, uint64_t epoch) {
        auto& s = self->state;
        if (epoch != s.drain.epoch || !s.drain.active || s.drain.done) return;
        spdlog::warn(
            "account account={} drain deadline passed journal_up={} ack_tracker_up={} "
            "session_up={}",
            s.account(), s.is_up(child::journal), s.is_up(child::acks), s.is_up(child::session));
        s.drain.report.clean = false;
        finish_drain(self);
      },
  };
}

}  // namespace

account_supervisor_config make_account_supervisor_config(const bridge_config& cfg,
                                                         const account_config& account,
                                                         const std::string& self_exe) {
  account_supervisor_config out;
  out.account = account;
  out.dir = account_dir(cfg, account.name);
  out.self_exe = self_exe;
  out.journal = cfg.journal;
  out.supervisor = cfg.supervisor;
  out.outbound = cfg.outbound;
  return out;
}

caf::expected<account_actors> spawn_account_supervisor(caf::actor_system& sys,
                                                       const account_supervisor_config& cfg) {
  auto journal = start_journal(sys, cfg);
  if (!journal) return journal.error();
  auto acks = start_acks(sys, cfg, *journal);
  if (!acks) {
    caf::anon_send_exit(*journal, caf::exit_reason::user_shutdown);
    return acks.error();
  }
  auto session = start_session(sys, cfg, *journal);
  account_handles first;
  first.journal = *journal;
  first.acks = *acks;
  first.session = session;
  account_actors out;
  out.config = cfg.account;
  out.dir = cfg.dir;
  out.supervisor = sys.spawn(supervisor_impl, cfg, *journal, *acks, session);
  out.cache = std::make_shared<account_handle_cache>(std::move(first));
  return out;
}

caf::expected<account_handles> refresh_handles(caf::actor_system& sys, const account_actors& acc,
                                               std::chrono::milliseconds timeout) {
  caf::scoped_actor self{sys};
  caf::expected<account_handles> result{
      make_error(errc::timeout, "account supervisor of " + acc.config.name + " did not answer")};
  self->request(acc.supervisor, timeout, lookup_atom::value)
      .receive(
          [&](account_handles& handles) {
            acc.cache->put(handles);
            result = std::move(handles);
          },
          [&](caf::error& err) {
            result =
                make_error(errc::account_unavailable, "account supervisor of " + acc.config.name +
                                                          " did not answer: " + describe(err));
          });
  return result;
}

}  // namespace wabridge
