// One posix_spawn call with what every child of wabridge needs: default
// signal dispositions and an empty signal mask (the spawning thread may block
// signals for sigwait/signalfd), plus the fds to place at fixed numbers.
// posix_spawn, not fork: safe from a process with other threads (a worker
// with an actor system). A value used once by one thread: configure, spawn().
#pragma once

#include "common/error.hpp"

#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace wabridge::supervisor {

class spawn_request {
 public:
  spawn_request();
  ~spawn_request();
  spawn_request(const spawn_request&) = delete;
  spawn_request& operator=(const spawn_request&) = delete;

  /// The child gets `fd` at `target` (close-on-exec cleared there).
  void dup_to(int fd, int target);
  /// The child gets `path` opened with `flags` at `target`.
  void open_to(const char* path, int flags, int target);

  /// Starts argv[0] (looked up in PATH when it has no '/') with this
  /// process's environment plus `extra_env` ("K=V" entries).
  caf::expected<pid_t> spawn(const std::vector<std::string>& argv,
                             const std::vector<std::string>& extra_env = {});

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

}  // namespace wabridge::supervisor
