#include "supervisor/worker_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace wabridge::supervisor {

std::vector<std::string> worker_argv(const worker_launch& launch) {
  std::vector<std::string> argv{launch.binary, "worker"};
  if (!launch.config_path.empty()) {
    argv.push_back("-c");
    argv.push_back(launch.config_path);
  }
  argv.insert(argv.end(), {"--listen-fd", std::to_string(worker_listen_fd), "--ready-fd",
                           std::to_string(worker_ready_fd), "--supervisor-pid",
                           std::to_string(launch.supervisor_pid), "--generation",
                           std::to_string(launch.generation)});
  return argv;
}

caf::expected<spawned_worker> spawn_worker(const worker_launch& launch) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0)
    return make_error(errc::io_failure, std::string("pipe2: ") + std::strerror(errno));
  // Keep our read end above the numbers the child expects, for the same
  // reason as the listening socket (listen_socket.hpp).
  int write_end = ::fcntl(ready[1], F_DUPFD_CLOEXEC, 10);
  ::close(ready[1]);
  if (write_end < 0) {
    ::close(ready[0]);
    return make_error(errc::io_failure, std::string("fcntl: ") + std::strerror(errno));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, launch.listen_fd, worker_listen_fd);
  posix_spawn_file_actions_adddup2(&actions, write_end, worker_ready_fd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  const auto argv = worker_argv(launch);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(write_end);
  if (rc != 0) {
    ::close(ready[0]);
    return make_error(errc::io_failure,
                      "cannot start worker " + launch.binary + ": " + std::strerror(rc));
  }
  return spawned_worker{pid, ready[0]};
}

}  // namespace wabridge::supervisor
