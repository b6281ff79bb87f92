#include "supervisor/child_process.hpp"

#include "supervisor/spawn_request.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wabridge::supervisor {

std::string exit_status::describe() const {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return std::string("signal=") + (name != nullptr ? name : std::to_string(signal).c_str());
  }
  return "code=" + std::to_string(code);
}

exit_status decode_wait_status(int status) {
  exit_status out;
  if (WIFEXITED(status)) out.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  return out;
}

caf::expected<std::unique_ptr<child_process>> child_process::spawn(
    const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
    const std::vector<int>& pass_fds) {
  if (argv.empty()) return make_error(errc::invalid_argument, "spawn: empty argv");
  // O_CLOEXEC on every pipe end: a child must inherit only its own two pipe
  // ends (dup2 onto 0/1 clears the flag), never a sibling's, or EOF detection
  // breaks when one child outlives another.
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0)
    return make_error(errc::io_failure, std::string("pipe2: ") + std::strerror(errno));
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    int saved = errno;
    close(in_pipe[0]);
    close(in_pipe[1]);
    return make_error(errc::io_failure, std::string("pipe2: ") + std::strerror(saved));
  }
  spawn_request request;
  request.dup_to(in_pipe[0], STDIN_FILENO);
  request.dup_to(out_pipe[1], STDOUT_FILENO);
  int target = STDERR_FILENO + 1;
  for (int fd : pass_fds) request.dup_to(fd, target++);
  auto pid = request.spawn(argv, extra_env);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (!pid) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    return pid.error();
  }
  std::unique_ptr<child_process> child{new child_process()};
  child->pid_ = *pid;
  child->stdin_fd_ = in_pipe[1];
  child->stdout_fd_ = out_pipe[0];
  return child;
}

child_process::~child_process() {
  close_stdin();
  if (!status_) {
    send_signal(SIGKILL);
    wait();
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

caf::error child_process::write_all(std::string_view data) {
  if (stdin_fd_ < 0) return make_error(errc::io_failure, "child stdin is closed");
  while (!data.empty()) {
    ssize_t n = ::write(stdin_fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(errc::io_failure, std::string("write to child: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

void child_process::close_stdin() {
  if (stdin_fd_ >= 0) {
    close(stdin_fd_);
    stdin_fd_ = -1;
  }
}

std::optional<exit_status> child_process::try_wait() {
  if (status_) return status_;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) status_ = decode_wait_status(status);
  return status_;
}

void child_process::send_signal(int signal) {
  if (!status_ && pid_ > 0) ::kill(pid_, signal);
}

exit_status child_process::wait() {
  while (!status_) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, 0);
    if (r == pid_) {
      status_ = decode_wait_status(status);
    } else if (r < 0 && errno != EINTR) {
      status_ = exit_status{};  // already reaped elsewhere; unknown status
    }
  }
  return *status_;
}

}  // namespace wabridge::supervisor
