// Starting one worker generation: `wabridge worker` with the shared listening
// socket at fd 3 and the write end of a readiness pipe at fd 4 (both without
// close-on-exec, nothing else inherited), stdin from /dev/null, stdout and
// stderr shared with the supervisor. Used only by the supervisor process,
// which is single-threaded and has no actor system, so posix_spawn here is
// plain fork+exec semantics without the hazards of forking CAF.
#pragma once

#include "common/error.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace wabridge::supervisor {

/// fds every worker finds at these numbers.
constexpr int worker_listen_fd = 3;
constexpr int worker_ready_fd = 4;

struct worker_launch {
  std::string binary;       // the wabridge binary to exec (the path, so a new install is used)
  std::string config_path;  // "" = the embedded demo config
  int listen_fd = -1;       // supervisor's listening socket
  pid_t supervisor_pid = 0;
  uint64_t generation = 0;
};

struct spawned_worker {
  pid_t pid = -1;
  int ready_fd = -1;  // read end: the worker writes "ready <port>\n"; EOF if it dies first
};

/// The argv of a worker generation (exposed for tests and logs).
std::vector<std::string> worker_argv(const worker_launch& launch);

caf::expected<spawned_worker> spawn_worker(const worker_launch& launch);

}  // namespace wabridge::supervisor
