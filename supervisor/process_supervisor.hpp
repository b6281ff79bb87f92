// The supervisor process (`wabridge run`, SPEC §1). It validates the config,
// binds the listening socket once, and runs one worker generation after
// another: it restarts a crashed worker with capped exponential backoff under
// an intensity limit, and restarts a healthy one gracefully (drain, then the
// new binary and config) on SIGHUP/SIGUSR1 or when the binary or config file
// changes on disk. When its own binary is stale it re-execs itself after the
// worker drained, keeping the socket. docs/supervisor.md tells the whole story.
//
// Concurrency contract: single-threaded by design. It never creates an actor
// system or any thread, so spawning children (posix_spawn) and exec'ing
// itself are always safe. Signals arrive through a signalfd, child readiness
// through a pipe, timers through poll's timeout: one loop, no handlers.
#pragma once

#include "config/config.hpp"

#include <cstdint>
#include <string>

namespace wabridge::supervisor {

/// What a supervisor carries across a re-exec of itself (hidden `run` options).
struct supervisor_options {
  std::string config_path;       // "" = the embedded demo config
  int inherited_listen_fd = -1;  // the socket kept across a re-exec
  uint64_t generation = 0;       // worker generations spawned before the re-exec
  uint32_t restarts = 0;
  uint32_t crashes = 0;
  std::string reexec_reason;  // why the previous image exec'd us ("" = fresh start)
  std::string last_exit;      // how the previous image's last worker ended
};

/// Runs until told to stop (SIGTERM/SIGINT: exit code 0 once the worker has
/// drained) or until the restart intensity is exceeded (exit code 1). Returns
/// 2 when it cannot start at all (socket, lock). `cfg` must be valid.
int run_supervisor(const bridge_config& cfg, const supervisor_options& options);

}  // namespace wabridge::supervisor
