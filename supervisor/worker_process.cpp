#include "supervisor/worker_process.hpp"

#include "supervisor/spawn_request.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

  spawn_request request;
  request.open_to("/dev/null", O_RDONLY, STDIN_FILENO);
  request.dup_to(launch.listen_fd, worker_listen_fd);
  request.dup_to(write_end, worker_ready_fd);
  auto pid = request.spawn(worker_argv(launch));
  ::close(write_end);
  if (!pid) {
    ::close(ready[0]);
    return make_error(errc::io_failure,
                      "cannot start worker " + launch.binary + ": " + describe(pid.error()));
  }
  return spawned_worker{*pid, ready[0]};
}

}  // namespace wabridge::supervisor
