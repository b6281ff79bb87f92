// A child process with pipes to its stdin and stdout, started with
// posix_spawn (safe in a multi-threaded process, unlike fork: see
// docs/architecture.md). Owned by one actor (the session, for upstreams);
// not thread-safe except that stdout_fd() may be read by one reader thread
// while the owner writes to stdin. The destructor kills and reaps the child.
#pragma once

#include "common/error.hpp"

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wabridge::supervisor {

/// How a process ended: exit code or terminating signal.
struct exit_status {
  int code = -1;                 // valid when signal == 0
  int signal = 0;                // terminating signal, 0 if it exited
  std::string describe() const;  // "code=0" or "signal=KILL"
};

exit_status decode_wait_status(int status);

class child_process {
 public:
  /// Spawns argv[0] (looked up in PATH when it has no '/') with piped
  /// stdin/stdout and inherited stderr. `extra_env` entries ("K=V") are added
  /// to this process's environment. `pass_fds` are given to the child at
  /// fds 3, 4, ... (e.g. a lock the child must hold for its lifetime); the
  /// caller keeps its own copies and closes them when it likes.
  static caf::expected<std::unique_ptr<child_process>> spawn(
      const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
      const std::vector<int>& pass_fds = {});

  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  int stdout_fd() const { return stdout_fd_; }

  /// Writes all of `data` to the child's stdin (blocking). io_failure when
  /// the child has gone (EPIPE) or stdin was closed.
  caf::error write_all(std::string_view data);

  /// Closes our end of the child's stdin: the child sees EOF.
  void close_stdin();

  /// Non-blocking reap: the exit status once the child has exited.
  std::optional<exit_status> try_wait();

  /// Sends `signal` to the child if it has not been reaped yet.
  void send_signal(int signal);

  /// Blocks until the child exits.
  exit_status wait();

 private:
  child_process() = default;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::optional<exit_status> status_;
};

}  // namespace wabridge::supervisor
