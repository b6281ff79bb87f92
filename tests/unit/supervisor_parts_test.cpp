// Unit tests for the supervisor's building blocks that need no child process:
// the stale-file detector (supervisor/file_identity.hpp), the published state
// file and lock (supervisor/supervisor_state.hpp) and the shared listening
// socket (supervisor/listen_socket.hpp). Real files and sockets in a temp dir.
#include "supervisor/file_identity.hpp"
#include "supervisor/listen_socket.hpp"
#include "supervisor/supervisor_state.hpp"
#include "support/scratch_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace wabridge::supervisor;
using wabridge::test::scratch_dir;

namespace {

file_identity id(uint64_t inode, int64_t size = 10, int64_t mtime = 1) {
  return file_identity{1, inode, size, mtime};
}

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

}  // namespace

TEST_CASE("a change is reported only once it has settled over two checks", "[supervisor][watch]") {
  change_detector watch(id(1));
  CHECK_FALSE(watch.observe(id(1)));
  CHECK_FALSE(watch.observe(id(2, 5)));   // new inode, still being written
  CHECK_FALSE(watch.observe(id(2, 10)));  // grew: not settled yet
  CHECK(watch.observe(id(2, 10)));        // same twice: settled
  REQUIRE(watch.candidate().has_value());
  CHECK(*watch.candidate() == id(2, 10));
}

TEST_CASE("a missing file is not a change (an install in progress)", "[supervisor][watch]") {
  change_detector watch(id(1));
  CHECK_FALSE(watch.observe(std::nullopt));
  CHECK_FALSE(watch.observe(std::nullopt));
  CHECK_FALSE(watch.observe(id(1)));
}

TEST_CASE("a change that goes back before settling is no change", "[supervisor][watch]") {
  change_detector watch(id(1));
  CHECK_FALSE(watch.observe(id(1, 10, 2)));
  CHECK_FALSE(watch.observe(id(1)));
  CHECK_FALSE(watch.observe(id(1)));
}

TEST_CASE("a rejected change is not reported again until the file changes once more",
          "[supervisor][watch]") {
  change_detector watch(id(1));
  CHECK_FALSE(watch.observe(id(2)));
  REQUIRE(watch.observe(id(2)));
  watch.reject(id(2));
  for (int i = 0; i < 5; ++i) CHECK_FALSE(watch.observe(id(2)));
  CHECK_FALSE(watch.observe(id(3)));
  CHECK(watch.observe(id(3)));
}

TEST_CASE("after reset the new identity is the running one", "[supervisor][watch]") {
  change_detector watch(id(1));
  CHECK_FALSE(watch.observe(id(2)));
  REQUIRE(watch.observe(id(2)));
  watch.reset(id(2));
  CHECK_FALSE(watch.observe(id(2)));
  CHECK_FALSE(watch.observe(id(2)));
  CHECK_FALSE(watch.observe(id(1)));
  CHECK(watch.observe(id(1)));  // going back to the old file is a change too
}

TEST_CASE("stat_identity sees rename installs, rewrites and touches", "[supervisor][watch]") {
  scratch_dir dir;
  const std::string path = dir.sub("bin");
  CHECK_FALSE(stat_identity(path).has_value());
  write(path, "one");
  const auto first = stat_identity(path);
  REQUIRE(first.has_value());
  CHECK(first->size == 3);

  write(dir.sub("bin.new"), "two");
  std::filesystem::rename(dir.sub("bin.new"), path);
  const auto renamed = stat_identity(path);
  REQUIRE(renamed.has_value());
  CHECK(renamed->inode != first->inode);

  write(path, "three");  // in place: same inode, new size
  const auto rewritten = stat_identity(path);
  REQUIRE(rewritten.has_value());
  CHECK(rewritten->inode == renamed->inode);
  CHECK(*rewritten != *renamed);

  timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};  // touch: only the mtime
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  const auto touched = stat_identity(path);
  REQUIRE(touched.has_value());
  CHECK(*touched != *rewritten);
  CHECK(to_string(*touched).find("mtime=12345.000000000") != std::string::npos);
}

TEST_CASE("the state file round-trips and is replaced atomically", "[supervisor][state]") {
  scratch_dir dir;
  CHECK_FALSE(read_state_file(dir.path()).has_value());
  supervisor_state s;
  s.pid = 42;
  s.state = "backoff";
  s.listen = "127.0.0.1:3000";
  s.generation = 7;
  s.worker_pid = 0;
  s.restarts = 6;
  s.crashes = 4;
  s.last_exit = "signal=KILL";
  s.last_exit_expected = false;
  s.last_restart_reason = "crash";
  s.next_restart_at_ms = 1234;
  s.message = "hello";
  REQUIRE_FALSE(write_state_file(dir.path(), s));
  auto back = read_state_file(dir.path());
  REQUIRE(back.has_value());
  CHECK(back->pid == 42);
  CHECK(back->state == "backoff");
  CHECK(back->generation == 7);
  CHECK(back->restarts == 6);
  CHECK(back->crashes == 4);
  CHECK(back->last_exit == "signal=KILL");
  CHECK_FALSE(back->last_exit_expected);
  CHECK(back->last_restart_reason == "crash");
  CHECK(back->next_restart_at_ms == 1234);
  CHECK(back->message == "hello");
  CHECK_FALSE(std::filesystem::exists(state_file_path(dir.path()) + ".tmp"));

  write(state_file_path(dir.path()), "{ not json");
  CHECK_FALSE(read_state_file(dir.path()).has_value());
}

TEST_CASE("the supervisor lock is exclusive and tells who holds it", "[supervisor][state]") {
  scratch_dir dir;
  CHECK_FALSE(supervisor_alive(dir.path()));
  auto first = lock_supervisor(dir.path());
  REQUIRE(first);
  CHECK(supervisor_alive(dir.path()));
  auto second = lock_supervisor(dir.path());
  REQUIRE_FALSE(second);
  CHECK(wabridge::describe(second.error()).find("another wabridge supervisor") !=
        std::string::npos);
  ::close(*first);
  CHECK_FALSE(supervisor_alive(dir.path()));
}

TEST_CASE("the listening socket is above the inherited fds and close-on-exec",
          "[supervisor][socket]") {
  auto fd = open_listen_socket("127.0.0.1", 0);
  REQUIRE(fd);
  CHECK(*fd >= 10);
  CHECK(is_listening_socket(*fd));
  CHECK(bound_port(*fd) != 0);
  CHECK((::fcntl(*fd, F_GETFD) & FD_CLOEXEC) != 0);

  // A second bind of the same port fails with a message naming it.
  auto again = open_listen_socket("127.0.0.1", bound_port(*fd));
  REQUIRE_FALSE(again);
  CHECK(wabridge::describe(again.error()).find(std::to_string(bound_port(*fd))) !=
        std::string::npos);
  ::close(*fd);

  auto bad = open_listen_socket("no.such.host.invalid", 0);
  CHECK_FALSE(bad);
  CHECK_FALSE(is_listening_socket(0));
}
