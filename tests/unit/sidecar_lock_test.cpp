// upstream::lock_sidecar_state: one sidecar per state dir, and the lock
// travels with the fd into the child that inherits it (child_process's
// pass_fds), so it is held exactly as long as that child lives.
#include "supervisor/child_process.hpp"
#include "upstream/baileys_launch.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace wabridge;

namespace {

struct scratch_dir {
  fs::path path =
      fs::temp_directory_path() / ("wabridge_sidecar_lock_test_" + std::to_string(::getpid()));
  scratch_dir() { fs::remove_all(path); }
  ~scratch_dir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("the sidecar state lock admits one holder and creates a private state dir",
          "[upstream]") {
  scratch_dir scratch;
  const std::string state = upstream::sidecar_state_dir((scratch.path / "accounts/phone").string());
  CHECK(state == (scratch.path / "accounts/phone/baileys").string());

  auto first = upstream::lock_sidecar_state(state);
  REQUIRE(first);
  struct stat st {};
  REQUIRE(::stat(state.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  auto second = upstream::lock_sidecar_state(state);
  REQUIRE_FALSE(second);
  CHECK_THAT(describe(second.error()), Catch::Contains("still running"));

  ::close(*first);
  auto third = upstream::lock_sidecar_state(state);
  REQUIRE(third);
  ::close(*third);
}

TEST_CASE("a child given the lock fd holds the lock until it exits", "[upstream]") {
  scratch_dir scratch;
  const std::string state = (scratch.path / "baileys").string();
  auto lock = upstream::lock_sidecar_state(state);
  REQUIRE(lock);
  // The child waits for stdin EOF, like the sidecar.
  auto child = supervisor::child_process::spawn({"/bin/sh", "-c", "cat >/dev/null"}, {}, {*lock});
  ::close(*lock);
  REQUIRE(child);

  // Our copy is closed, yet the lock stays taken: the child has it.
  auto while_child_lives = upstream::lock_sidecar_state(state);
  CHECK_FALSE(while_child_lives);

  (*child)->close_stdin();
  CHECK((*child)->wait().code == 0);
  auto after_exit = upstream::lock_sidecar_state(state);
  REQUIRE(after_exit);
  ::close(*after_exit);
}
