// The worker: one CAF actor system holding every account's actors and the
// HTTP front end. run_worker() owns the process from start to exit: it takes
// the data-dir lock, spawns the accounts, serves HTTP and stops everything on
// SIGTERM/SIGINT. Must be entered before any other thread exists (it blocks
// the shutdown signals for all threads it creates and waits for them itself).
#pragma once

#include "config/config.hpp"

namespace wabridge {

struct worker_options {
  int listen_fd = -1;       // inherited listening socket; -1 = bind cfg.bridge.listen
  int ready_fd = -1;        // write "ready <port>\n" here once serving; -1 = none
  int supervisor_pid = 0;   // the supervisor that spawned us; 0 = run standalone
  uint64_t generation = 0;  // which worker generation this is (for /status and logs)
};

/// Runs until a shutdown signal; returns the process exit code.
int run_worker(const bridge_config& cfg, const worker_options& options);

}  // namespace wabridge
