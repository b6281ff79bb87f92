#include "supervisor/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

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
    const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
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
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with default signal dispositions and an empty mask even
  // though our threads block signals for sigwait.
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& e : extra_env) env_storage.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    return make_error(errc::io_failure, "spawn " + argv[0] + ": " + std::strerror(rc));
  }
  std::unique_ptr<child_process> child{new child_process()};
  child->pid_ = pid;
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
