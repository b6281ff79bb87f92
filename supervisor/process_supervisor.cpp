#include "supervisor/process_supervisor.hpp"

#include "common/version.hpp"
#include "supervisor/backoff.hpp"
#include "supervisor/child_process.hpp"
#include "supervisor/file_identity.hpp"
#include "supervisor/listen_socket.hpp"
#include "supervisor/sd_notify.hpp"
#include "supervisor/spawn_request.hpp"
#include "supervisor/supervisor_state.hpp"
#include "supervisor/worker_process.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>
#include <variant>

namespace wabridge::supervisor {
namespace {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

millis since(time_point start) {
  return std::chrono::duration_cast<millis>(clock_type::now() - start);
}

const char* signal_name(int sig) {
  const char* name = sigabbrev_np(sig);
  return name != nullptr ? name : "?";
}

// Why a worker generation ends. Deliberate reasons never count as crashes.
enum class restart_reason { crash, stale_binary, stale_config, signal };

const char* to_string(restart_reason reason) {
  switch (reason) {
    case restart_reason::crash:
      return "crash";
    case restart_reason::stale_binary:
      return "stale-binary";
    case restart_reason::stale_config:
      return "stale-config";
    case restart_reason::signal:
      return "signal";
  }
  return "?";
}

// Where the supervisor is in a worker generation's life.
enum class phase {
  starting,  // spawned, not yet ready
  running,   // ready
  draining,  // SIGTERM sent for a deliberate restart
  backoff,   // no worker; waiting to restart after a crash
  stopping,  // SIGTERM sent because we are stopping
};

// Runs `argv` to completion with a deadline, output discarded; true when it
// exits 0. Used to check that a new binary runs and accepts the config before
// the working worker is drained for it.
bool preflight(const std::vector<std::string>& argv, millis timeout, std::string& detail) {
  spawn_request request;
  request.open_to("/dev/null", O_RDONLY, STDIN_FILENO);
  request.open_to("/dev/null", O_WRONLY, STDOUT_FILENO);
  auto spawned = request.spawn(argv);
  if (!spawned) {
    detail = "cannot execute: " + describe(spawned.error());
    return false;
  }
  const pid_t pid = *spawned;
  const auto start = clock_type::now();
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (since(start) > timeout) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      detail = "did not finish within " + std::to_string(timeout.count()) + " ms";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const exit_status exit = decode_wait_status(status);
  detail = exit.describe();
  return exit.signal == 0 && exit.code == 0;
}

class process_supervisor {
 public:
  process_supervisor(const bridge_config& cfg, const supervisor_options& options)
      : cfg_(cfg),
        options_(options),
        binary_path_(running_binary_path()),
        binary_watch_(stat_identity("/proc/self/exe")),
        config_watch_(options.config_path.empty() ? std::nullopt
                                                  : stat_identity(options.config_path)),
        intensity_(cfg.supervisor.intensity_max, cfg.supervisor.intensity_window),
        generation_(options.generation) {
    pub_.pid = ::getpid();
    pub_.started_at_ms = wall_clock_ms();
    pub_.binary = binary_path_;
    pub_.config = options.config_path;
    pub_.restarts = options.restarts;
    pub_.crashes = options.crashes;
    pub_.last_restart_reason = options.reexec_reason;
    pub_.last_exit = options.last_exit;
  }

  ~process_supervisor() {
    if (signal_fd_ >= 0) ::close(signal_fd_);
    if (ready_fd_ >= 0) ::close(ready_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  int run() {
    if (!start()) return 2;
    spawn(options_.reexec_reason.empty() ? "start" : options_.reexec_reason);
    while (!exit_code_) {
      poll_once();
      on_timers();
    }
    return *exit_code_;
  }

 private:
  // ---- start-up --------------------------------------------------------------

  bool start() {
    // Signals are read from a signalfd in the loop, never handled
    // asynchronously. Children get a clean mask from spawn_worker().
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&mask, sig);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    signal_fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd_ < 0) {
      spdlog::error("supervisor cannot start: signalfd: {}", std::strerror(errno));
      return false;
    }
    auto lock = lock_supervisor(cfg_.bridge.data_dir);
    if (!lock) {
      spdlog::error("supervisor cannot start: {}", describe(lock.error()));
      return false;
    }
    lock_fd_ = *lock;
    if (options_.inherited_listen_fd >= 0) {
      if (!is_listening_socket(options_.inherited_listen_fd)) {
        spdlog::error("supervisor cannot start: fd {} is not a listening socket",
                      options_.inherited_listen_fd);
        return false;
      }
      listen_fd_ = options_.inherited_listen_fd;
      ::fcntl(listen_fd_, F_SETFD, FD_CLOEXEC);
    } else {
      // No retry on "address in use": a second bridge on the same address
      // is a mistake to report at once (systemd's Restart= handles a
      // previous instance that is still draining).
      auto fd = open_listen_socket(cfg_.bridge.listen_host, cfg_.bridge.listen_port);
      if (!fd) {
        spdlog::error("supervisor cannot start: {}", describe(fd.error()));
        return false;
      }
      listen_fd_ = *fd;
    }
    listen_desc_ = cfg_.bridge.listen_host + ":" + std::to_string(bound_port(listen_fd_));
    pub_.listen = listen_desc_;
    spdlog::info(
        "supervisor started pid={} version={} listen={} binary={} config={} data_dir={} "
        "reexec={}",
        ::getpid(), version, listen_desc_, binary_path_,
        options_.config_path.empty() ? "<demo>" : options_.config_path, cfg_.bridge.data_dir,
        !options_.reexec_reason.empty());
    return true;
  }

  // ---- the loop --------------------------------------------------------------

  void poll_once() {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {ready_fd_, POLLIN, 0}};
    const nfds_t count = ready_fd_ >= 0 ? 2 : 1;
    const int rc = ::poll(fds, count, poll_timeout_ms());
    if (rc < 0) return;  // EINTR: go round
    if (fds[0].revents & POLLIN) read_signals();
    if (count == 2 && ready_fd_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
      read_ready();
  }

  int poll_timeout_ms() const {
    time_point next = next_watch_;
    for (const auto& deadline : {ready_deadline_, drain_deadline_, backoff_until_})
      if (deadline) next = std::min(next, *deadline);
    const auto wait = std::chrono::duration_cast<millis>(next - clock_type::now()).count();
    return static_cast<int>(std::clamp<int64_t>(wait + 1, 0, 60'000));
  }

  void read_signals() {
    signalfd_siginfo info{};
    while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      const int sig = static_cast<int>(info.ssi_signo);
      switch (sig) {
        case SIGCHLD:
          reap();
          break;
        case SIGTERM:
        case SIGINT:
          request_stop(sig);
          break;
        case SIGHUP:
        case SIGUSR1:
          spdlog::info("supervisor restart requested signal={}", signal_name(sig));
          request_restart(restart_reason::signal);
          break;
        default:
          break;
      }
    }
  }

  void read_ready() {
    char buf[64];
    const ssize_t n = ::read(ready_fd_, buf, sizeof buf);
    if (n <= 0) {  // EOF: the worker died before it was ready; SIGCHLD follows
      close_ready_fd();
      return;
    }
    ready_line_.append(buf, static_cast<size_t>(n));
    if (ready_line_.find('\n') == std::string::npos) return;
    close_ready_fd();
    if (ready_line_.rfind("ready", 0) != 0 || phase_ != phase::starting) return;
    phase_ = phase::running;
    ready_deadline_.reset();
    pub_.worker_ready = true;
    spdlog::info("supervisor worker ready pid={} generation={} startup_ms={}", worker_pid_,
                 generation_, since(worker_started_).count());
    set_state("running");
    notifier_.notify("READY=1\nSTATUS=serving on " + listen_desc_ + ", worker pid " +
                     std::to_string(worker_pid_) + "\nMAINPID=" + std::to_string(::getpid()));
    // A change seen while the worker started is acted on now.
    if (pending_) {
      const restart_reason reason = *pending_;
      pending_.reset();
      begin_drain(reason);
    }
  }

  void on_timers() {
    const auto now = clock_type::now();
    if (ready_deadline_ && now >= *ready_deadline_ && phase_ == phase::starting) {
      ready_deadline_.reset();
      spdlog::error("supervisor worker not ready pid={} generation={} after_ms={} action=kill",
                    worker_pid_, generation_, cfg_.supervisor.ready_timeout.count());
      ::kill(worker_pid_, SIGKILL);
    }
    if (drain_deadline_ && now >= *drain_deadline_ && worker_pid_ > 0) {
      drain_deadline_.reset();
      drain_killed_ = true;
      spdlog::error("supervisor drain timeout pid={} generation={} timeout_ms={} action=kill",
                    worker_pid_, generation_, cfg_.supervisor.drain_timeout.count());
      ::kill(worker_pid_, SIGKILL);
    }
    if (backoff_until_ && now >= *backoff_until_ && phase_ == phase::backoff) {
      backoff_until_.reset();
      spawn("crash");
    }
    if (now >= next_watch_) {
      next_watch_ = now + cfg_.supervisor.watch_interval;
      check_stale();
    }
  }

  // ---- stale code ------------------------------------------------------------

  void check_stale() {
    if (phase_ == phase::stopping) return;
    if (binary_watch_.observe(stat_identity(binary_path_))) {
      spdlog::info("supervisor stale binary path={} new=\"{}\"", binary_path_,
                   to_string(*binary_watch_.candidate()));
      request_restart(restart_reason::stale_binary);
    }
    if (!options_.config_path.empty() &&
        config_watch_.observe(stat_identity(options_.config_path))) {
      spdlog::info("supervisor stale config path={} new=\"{}\"", options_.config_path,
                   to_string(*config_watch_.candidate()));
      request_restart(restart_reason::stale_config);
    }
  }

  bool binary_stale() const {
    auto on_disk = stat_identity(binary_path_);
    auto running = stat_identity("/proc/self/exe");
    return on_disk && running && *on_disk != *running;
  }

  // Loads and validates the config file (the demo config never changes).
  // Returns false, after logging every problem, when it is invalid: then the
  // running worker stays.
  bool reload_config(restart_reason reason) {
    if (options_.config_path.empty()) return true;
    const auto identity = stat_identity(options_.config_path);
    auto result = load_config_file(options_.config_path);
    if (auto* problems = std::get_if<std::vector<config_problem>>(&result)) {
      for (const auto& p : *problems) spdlog::error("supervisor config problem {}", to_string(p));
      spdlog::error(
          "supervisor config invalid path={} problems={} reason={} action=keep-running "
          "worker_pid={}",
          options_.config_path, problems->size(), to_string(reason), worker_pid_);
      pub_.message = "config " + options_.config_path + " is invalid (" +
                     std::to_string(problems->size()) + " problems); still running the old one";
      write_state();
      config_watch_.reject(identity);
      return false;
    }
    bridge_config next = std::get<bridge_config>(std::move(result));
    if (next.bridge.listen != cfg_.bridge.listen) {
      auto fd = open_listen_socket(next.bridge.listen_host, next.bridge.listen_port);
      if (!fd) {
        spdlog::error("supervisor config listen={} cannot be bound ({}); action=keep-running",
                      next.bridge.listen, describe(fd.error()));
        pub_.message = "cannot bind " + next.bridge.listen + "; still running the old config";
        write_state();
        return false;
      }
      // The old socket closes once no worker holds it; connections still in
      // its backlog are refused then, a price of moving the address.
      ::close(listen_fd_);
      listen_fd_ = *fd;
      listen_desc_ = next.bridge.listen_host + ":" + std::to_string(bound_port(listen_fd_));
      pub_.listen = listen_desc_;
      spdlog::info("supervisor listen moved to {}", listen_desc_);
    }
    if (next.bridge.data_dir != cfg_.bridge.data_dir)
      spdlog::warn(
          "supervisor config data_dir changed from {} to {}; the supervisor lock stays on the "
          "old one until the supervisor restarts",
          cfg_.bridge.data_dir, next.bridge.data_dir);
    cfg_ = std::move(next);
    intensity_ = restart_intensity(cfg_.supervisor.intensity_max, cfg_.supervisor.intensity_window);
    config_watch_.reset(identity);
    pub_.message.clear();
    return true;
  }

  // A deliberate restart: validate what the new worker will run, then drain.
  void request_restart(restart_reason reason) {
    if (phase_ == phase::stopping) return;
    if (reason == restart_reason::stale_binary || binary_stale()) {
      std::vector<std::string> check{binary_path_};
      if (options_.config_path.empty())
        check.push_back("--version");
      else
        check.insert(check.end(), {"check-config", "-c", options_.config_path});
      std::string detail;
      if (!preflight(check, millis(10'000), detail)) {
        spdlog::error(
            "supervisor new binary rejected path={} check=\"{}\" result={} action=keep-running",
            binary_path_, check.size() > 1 ? check[1] : "", detail);
        pub_.message = "the binary at " + binary_path_ + " does not run (" + detail +
                       "); still running the old one";
        write_state();
        binary_watch_.reject(stat_identity(binary_path_));
        return;
      }
      binary_watch_.reset(stat_identity(binary_path_));
    }
    if (!reload_config(reason)) return;
    switch (phase_) {
      case phase::starting:
        pending_ = reason;  // drain once it is ready: draining a half-started worker gains nothing
        break;
      case phase::running:
        begin_drain(reason);
        break;
      case phase::draining:
        drain_reason_ = reason;  // the restart under way picks up the newest state
        break;
      case phase::backoff:
        backoff_until_.reset();
        pub_.last_restart_reason = to_string(reason);
        if (binary_stale()) {
          reexec(reason);
          return;
        }
        spawn(to_string(reason));
        break;
      case phase::stopping:
        break;
    }
  }

  void begin_drain(restart_reason reason) {
    phase_ = phase::draining;
    drain_reason_ = reason;
    drain_started_ = clock_type::now();
    drain_deadline_ = drain_started_ + cfg_.supervisor.drain_timeout;
    drain_killed_ = false;
    spdlog::info("supervisor restart scheduled reason={} delay_ms=0 worker_pid={}",
                 to_string(reason), worker_pid_);
    spdlog::info("supervisor drain begin pid={} generation={} reason={} timeout_ms={}", worker_pid_,
                 generation_, to_string(reason), cfg_.supervisor.drain_timeout.count());
    set_state("restarting");
    notifier_.notify("RELOADING=1\nSTATUS=restarting worker (" + std::string(to_string(reason)) +
                     ")");
    ::kill(worker_pid_, SIGTERM);
  }

  void request_stop(int sig) {
    if (phase_ == phase::stopping) {
      spdlog::info("supervisor stop already in progress signal={}", signal_name(sig));
      return;
    }
    spdlog::info("supervisor stopping signal={} worker_pid={} timeout_ms={}", signal_name(sig),
                 worker_pid_, cfg_.supervisor.drain_timeout.count());
    notifier_.notify("STOPPING=1\nSTATUS=stopping");
    const bool had_worker = worker_pid_ > 0;
    phase_ = phase::stopping;
    set_state("stopping");
    pending_.reset();
    backoff_until_.reset();
    ready_deadline_.reset();
    if (!had_worker) {
      finish(0);
      return;
    }
    drain_started_ = clock_type::now();
    drain_deadline_ = drain_started_ + cfg_.supervisor.drain_timeout;
    drain_killed_ = false;
    spdlog::info("supervisor drain begin pid={} generation={} reason=stop timeout_ms={}",
                 worker_pid_, generation_, cfg_.supervisor.drain_timeout.count());
    ::kill(worker_pid_, SIGTERM);
  }

  // ---- worker generations ----------------------------------------------------

  void spawn(const std::string& why) {
    ++generation_;
    worker_launch launch;
    launch.binary = binary_path_;
    launch.config_path = options_.config_path;
    launch.listen_fd = listen_fd_;
    launch.supervisor_pid = ::getpid();
    launch.generation = generation_;
    auto spawned = spawn_worker(launch);
    worker_started_ = clock_type::now();
    if (!spawned) {
      // Treated like a crash: the binary may be mid-install.
      spdlog::error("supervisor worker spawn failed generation={} error=\"{}\"", generation_,
                    describe(spawned.error()));
      on_crash("spawn-failed");
      return;
    }
    worker_pid_ = spawned->pid;
    ready_fd_ = spawned->ready_fd;
    ready_line_.clear();
    phase_ = phase::starting;
    ready_deadline_ = worker_started_ + cfg_.supervisor.ready_timeout;
    pub_.generation = generation_;
    pub_.worker_pid = worker_pid_;
    pub_.worker_started_at_ms = wall_clock_ms();
    pub_.worker_ready = false;
    pub_.next_restart_at_ms = 0;
    spdlog::info("supervisor worker spawned pid={} generation={} reason={} binary={}", worker_pid_,
                 generation_, why, binary_path_);
    set_state("starting");
  }

  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == worker_pid_) on_worker_exit(decode_wait_status(status));
    }
  }

  void on_worker_exit(const exit_status& exit) {
    const bool expected = phase_ == phase::draining || phase_ == phase::stopping;
    const millis uptime = since(worker_started_);
    const pid_t pid = worker_pid_;
    worker_pid_ = -1;
    close_ready_fd();
    ready_deadline_.reset();
    drain_deadline_.reset();
    pub_.worker_pid = 0;
    pub_.last_exit = exit.describe();
    pub_.last_exit_expected = expected && !drain_killed_;
    // A worker still starting may die of the SIGTERM itself before it took
    // over the signal: it had nothing to drain, so that is a clean stop too.
    const bool clean = !drain_killed_ && ((exit.signal == 0 && exit.code == 0) ||
                                          (exit.signal == SIGTERM && !pub_.worker_ready));
    spdlog::log(expected ? spdlog::level::info : spdlog::level::warn,
                "supervisor worker exited pid={} generation={} {} expected={} uptime_ms={}", pid,
                generation_, exit.describe(), expected, uptime.count());
    if (expected) {
      spdlog::info("supervisor drain done pid={} took_ms={} {} clean={}", pid,
                   since(drain_started_).count(), exit.describe(), clean);
    }
    pub_.worker_ready = false;
    if (phase_ == phase::stopping) {
      finish(clean ? 0 : 1);
      return;
    }
    if (phase_ == phase::draining) {
      ++pub_.restarts;
      pub_.last_restart_reason = to_string(drain_reason_);
      if (binary_stale()) {
        reexec(drain_reason_);
        return;
      }
      spawn(to_string(drain_reason_));
      return;
    }
    if (uptime >= cfg_.supervisor.stable_after) consecutive_crashes_ = 0;
    on_crash(exit.describe());
  }

  void on_crash(const std::string& what) {
    ++pub_.crashes;
    ++consecutive_crashes_;
    const auto now = std::chrono::duration_cast<millis>(clock_type::now().time_since_epoch());
    if (intensity_.record_crash(now)) {
      spdlog::critical(
          "supervisor gave up crashes={} window_ms={} limit={} last_exit={} action=exit code=1",
          intensity_.recent(now), cfg_.supervisor.intensity_window.count(),
          cfg_.supervisor.intensity_max, what);
      pub_.message = "gave up after " + std::to_string(intensity_.recent(now)) + " crashes in " +
                     std::to_string(cfg_.supervisor.intensity_window.count()) + " ms";
      set_state("gave_up");
      notifier_.notify("STATUS=gave up: too many worker crashes");
      exit_code_ = 1;
      return;
    }
    const millis delay = backoff_delay(
        {cfg_.supervisor.backoff_initial, cfg_.supervisor.backoff_max, 2.0}, consecutive_crashes_);
    phase_ = phase::backoff;
    backoff_until_ = clock_type::now() + delay;
    ++pub_.restarts;
    pub_.last_restart_reason = "crash";
    pub_.next_restart_at_ms = wall_clock_ms() + delay.count();
    spdlog::warn(
        "supervisor restart scheduled reason=crash delay_ms={} consecutive_crashes={} "
        "crashes_in_window={}",
        delay.count(), consecutive_crashes_, intensity_.recent(now));
    set_state("backoff");
    notifier_.notify("STATUS=worker crashed (" + what + "); restarting in " +
                     std::to_string(delay.count()) + " ms");
  }

  // Replaces this process image with the new binary, keeping the listening
  // socket (and our pid, which systemd tracks). On failure the old image
  // carries on and starts the worker itself.
  void reexec(restart_reason reason) {
    std::vector<std::string> argv{binary_path_, "run"};
    if (!options_.config_path.empty()) argv.insert(argv.end(), {"-c", options_.config_path});
    argv.insert(
        argv.end(),
        {"--listen-fd", std::to_string(listen_fd_), "--generation", std::to_string(generation_),
         "--restarts", std::to_string(pub_.restarts), "--crashes", std::to_string(pub_.crashes),
         "--reexec-reason", to_string(reason), "--last-exit", pub_.last_exit});
    spdlog::info("supervisor re-exec binary={} reason={} listen_fd={}", binary_path_,
                 to_string(reason), listen_fd_);
    set_state("restarting");
    ::fcntl(listen_fd_, F_SETFD, 0);  // survive the exec
    if (notifier_.enabled()) ::putenv(const_cast<char*>(notify_env_.c_str()));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(binary_path_.c_str(), args.data());
    const int err = errno;
    ::fcntl(listen_fd_, F_SETFD, FD_CLOEXEC);
    ::unsetenv("NOTIFY_SOCKET");
    spdlog::error("supervisor re-exec failed binary={} error=\"{}\"; starting the worker anyway",
                  binary_path_, std::strerror(err));
    spawn(to_string(reason));
  }

  void finish(int code) {
    spdlog::info("supervisor stopped code={} restarts={} crashes={}", code, pub_.restarts,
                 pub_.crashes);
    set_state("stopped");
    exit_code_ = code;
  }

  void close_ready_fd() {
    if (ready_fd_ >= 0) ::close(ready_fd_);
    ready_fd_ = -1;
  }

  void set_state(const std::string& state) {
    pub_.state = state;
    pub_.state_since_ms = wall_clock_ms();
    write_state();
  }

  void write_state() {
    if (auto err = write_state_file(cfg_.bridge.data_dir, pub_))
      spdlog::warn("supervisor cannot write state file: {}", describe(err));
  }

  bridge_config cfg_;
  supervisor_options options_;
  sd_notifier notifier_;
  std::string notify_env_ = notifier_.env_entry();
  std::string binary_path_;
  change_detector binary_watch_;
  change_detector config_watch_;
  restart_intensity intensity_;
  uint32_t consecutive_crashes_ = 0;
  uint64_t generation_ = 0;

  int signal_fd_ = -1;
  int lock_fd_ = -1;
  int listen_fd_ = -1;
  std::string listen_desc_;

  phase phase_ = phase::starting;
  pid_t worker_pid_ = -1;
  int ready_fd_ = -1;
  std::string ready_line_;
  time_point worker_started_ = clock_type::now();
  std::optional<restart_reason> pending_;
  restart_reason drain_reason_ = restart_reason::signal;
  time_point drain_started_ = clock_type::now();
  bool drain_killed_ = false;

  time_point next_watch_ = clock_type::now();
  std::optional<time_point> ready_deadline_;
  std::optional<time_point> drain_deadline_;
  std::optional<time_point> backoff_until_;

  supervisor_state pub_;
  std::optional<int> exit_code_;
};

}  // namespace

int run_supervisor(const bridge_config& cfg, const supervisor_options& options) {
  process_supervisor supervisor{cfg, options};
  return supervisor.run();
}

}  // namespace wabridge::supervisor
