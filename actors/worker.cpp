#include "actors/worker.hpp"

#include "actors/account.hpp"
#include "actors/account_supervisor.hpp"
#include "actors/http_front_end.hpp"
#include "common/version.hpp"
#include "supervisor/data_dir_lock.hpp"
#include "supervisor/file_identity.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

namespace wabridge {
namespace {

struct drain_totals {
  uint64_t committed = 0;
  uint64_t confirmed = 0;
  uint64_t unconfirmed = 0;
  bool clean = true;
};

// The worker side of a graceful stop (docs/architecture.md, "Graceful stop"):
// no new connections; every account supervisor runs its account's drain
// (parked long-polls return early, the session stops its upstream's intake
// and commits and confirms what it had received, then the account's actors
// stop and close LMDB). Accounts drain in parallel.
drain_totals drain(caf::actor_system& sys, http_front_end& http,
                   const std::map<std::string, account_actors>& accounts, millis drain_timeout) {
  http.begin_drain();
  drain_totals totals;
  caf::scoped_actor self{sys};
  // Every supervisor answers by drain_timeout at the latest (it reports
  // then even if an actor is still stopping); the slack only covers a
  // supervisor that cannot answer at all.
  const auto timeout = drain_timeout + std::chrono::seconds(2);
  using handle = decltype(self->request(account_supervisor_actor{}, timeout, drain_atom::value));
  std::vector<std::pair<std::string, handle>> pending;
  for (const auto& [name, a] : accounts)
    pending.emplace_back(name, self->request(a.supervisor, timeout, drain_atom::value));
  for (auto& entry : pending) {
    const std::string& name = entry.first;
    entry.second.receive(
        [&](drain_report& report) {
          spdlog::info(
              "upstream account={} drain done committed={} confirmed={} "
              "unconfirmed={} clean={} took_ms={} journal_closed={} state={}",
              report.account, report.committed, report.confirmed, report.unconfirmed, report.clean,
              report.took_ms, report.journal_closed, report.account_state);
          totals.committed += report.committed;
          totals.confirmed += report.confirmed;
          totals.unconfirmed += report.unconfirmed;
          totals.clean = totals.clean && report.clean && report.journal_closed;
        },
        [&](caf::error& err) {
          spdlog::warn("upstream account={} drain failed error=\"{}\"", name, describe(err));
          totals.clean = false;
        });
  }
  http.stop();
  return totals;
}

}  // namespace

int run_worker(const bridge_config& cfg, const worker_options& options) {
  // Shutdown signals are taken by sigwait below; every thread created from
  // here on (CAF's, httplib's, readers) inherits this mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a dead upstream is an EPIPE error, not a dead worker
  // Restart requests are the supervisor's business; a worker that drained on
  // a stray SIGHUP (a closing terminal) would look like a crash to it.
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGUSR1, SIG_IGN);

  std::string lock_error;
  const int lock_fd = supervisor::lock_data_dir(cfg.bridge.data_dir, lock_error);
  if (lock_fd < 0) {
    spdlog::error("worker cannot start: {}", lock_error);
    return 2;
  }

  const auto started = std::chrono::steady_clock::now();
  int exit_code = 0;
  {
    caf::actor_system_config sys_cfg;
    // Work sharing wakes an idle worker on enqueue. CAF's default work
    // stealing lets idle workers sleep up to 10 ms between polls, which put
    // ~10 ms on every actor hop of a poll/ack round trip when traffic is
    // light, and it burns CPU polling when idle.
    sys_cfg.set("scheduler.policy", caf::atom("sharing"));
    caf::actor_system sys{sys_cfg};
    const std::string self_exe = supervisor::running_binary_path();
    std::map<std::string, account_actors> accounts;
    for (const auto& account : cfg.accounts) {
      // The supervisor opens the account's journal and cursors before it
      // exists, so an account that cannot start is an error here.
      auto actors =
          spawn_account_supervisor(sys, make_account_supervisor_config(cfg, account, self_exe));
      if (!actors) {
        spdlog::error("worker cannot start account={} error=\"{}\"", account.name,
                      describe(actors.error()));
        exit_code = 2;
        break;
      }
      accounts.emplace(account.name, std::move(*actors));
    }
    auto stop_accounts = [&] {
      // Each supervisor stops its session, ack tracker and journal in that
      // order (a no-op after a drain), then itself; the actor_system
      // destructor below waits for all of them.
      for (auto& [name, a] : accounts)
        caf::anon_send_exit(a.supervisor, caf::exit_reason::user_shutdown);
    };
    if (exit_code != 0) {
      stop_accounts();
      ::close(lock_fd);
      return exit_code;
    }
    http_front_end http{sys, cfg, accounts};
    auto port = http.bind(options.listen_fd);
    if (!port) {
      spdlog::error("worker cannot listen on {}: {}", cfg.bridge.listen, describe(port.error()));
      stop_accounts();
      ::close(lock_fd);
      return 2;
    }
    std::thread server([&] { http.serve(); });
    spdlog::info(
        "worker ready pid={} generation={} version={} listen={}:{} accounts={} data_dir={} "
        "startup_ms={}",
        ::getpid(), options.generation, version, cfg.bridge.listen_host, *port, accounts.size(),
        cfg.bridge.data_dir,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              started)
            .count());
    if (options.ready_fd >= 0) {
      const std::string line = "ready " + std::to_string(*port) + "\n";
      (void)!::write(options.ready_fd, line.data(), line.size());
      ::close(options.ready_fd);
    }
    // Wait for a stop signal. Every few seconds meanwhile, hand memory that
    // an ingest burst left in glibc's malloc arenas back to the kernel: the
    // pipeline holds up to max_in_flight parsed events per account at full
    // speed, and glibc keeps what is freed (72 MiB RssAnon after a 1M-event
    // burst, 2 MiB after a trim; docs/benchmarks.md). Cheap when idle.
    int sig = -1;
    const timespec trim_every{5, 0};
    while (sig < 0) {
      sig = sigtimedwait(&stop_signals, nullptr, &trim_every);
      if (sig < 0) ::malloc_trim(0);
    }
    // Watchdog: a drain that hangs must not leave an orphan when no
    // supervisor is left to kill us (SIGALRM's default action ends the process).
    ::alarm(static_cast<unsigned>(cfg.supervisor.drain_timeout.count() / 1000 + 5));
    const auto drain_start = std::chrono::steady_clock::now();
    spdlog::info("worker drain begin signal={} accounts={}", sigabbrev_np(sig), accounts.size());
    const drain_totals totals = drain(sys, http, accounts, cfg.supervisor.drain_timeout);
    server.join();
    stop_accounts();
    const auto drain_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - drain_start)
                              .count();
    const auto up_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
            .count();
    spdlog::info(
        "worker drain done drain_ms={} committed={} confirmed={} unconfirmed={} "
        "clean={} uptime_s={}",
        drain_ms, totals.committed, totals.confirmed, totals.unconfirmed, totals.clean, up_s);
  }  // actor_system destructor waits for every actor to finish
  ::close(lock_fd);
  return exit_code;
}

}  // namespace wabridge
