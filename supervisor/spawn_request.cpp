#include "supervisor/spawn_request.hpp"

#include <signal.h>

#include <cstring>

extern char** environ;

namespace wabridge::supervisor {

spawn_request::spawn_request() {
  posix_spawn_file_actions_init(&actions_);
  posix_spawnattr_init(&attr_);
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr_, &all);
  posix_spawnattr_setsigmask(&attr_, &none);
  posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
}

spawn_request::~spawn_request() {
  posix_spawn_file_actions_destroy(&actions_);
  posix_spawnattr_destroy(&attr_);
}

void spawn_request::dup_to(int fd, int target) {
  posix_spawn_file_actions_adddup2(&actions_, fd, target);
}

void spawn_request::open_to(const char* path, int flags, int target) {
  posix_spawn_file_actions_addopen(&actions_, target, path, flags, 0);
}

caf::expected<pid_t> spawn_request::spawn(const std::vector<std::string>& argv,
                                          const std::vector<std::string>& extra_env) {
  if (argv.empty()) return make_error(errc::invalid_argument, "spawn: empty argv");
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
  const int rc = ::posix_spawnp(&pid, args[0], &actions_, &attr_, args.data(), envp.data());
  if (rc != 0) return make_error(errc::io_failure, "spawn " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

}  // namespace wabridge::supervisor
