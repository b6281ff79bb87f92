#include "supervisor/supervisor_state.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace wabridge::supervisor {
namespace {

using nlohmann::json;

template <class T>
void get_to(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  try {
    it->get_to(out);
  } catch (const json::exception&) {
    // A field of the wrong type keeps its default: status shows what it can.
  }
}

}  // namespace

json to_json(const supervisor_state& s) {
  return json{{"pid", s.pid},
              {"startedAtMs", s.started_at_ms},
              {"state", s.state},
              {"stateSinceMs", s.state_since_ms},
              {"listen", s.listen},
              {"binary", s.binary},
              {"config", s.config},
              {"generation", s.generation},
              {"workerPid", s.worker_pid},
              {"workerStartedAtMs", s.worker_started_at_ms},
              {"workerReady", s.worker_ready},
              {"restarts", s.restarts},
              {"crashes", s.crashes},
              {"lastExit", s.last_exit},
              {"lastExitExpected", s.last_exit_expected},
              {"lastRestartReason", s.last_restart_reason},
              {"nextRestartAtMs", s.next_restart_at_ms},
              {"message", s.message}};
}

std::string state_file_path(const std::string& data_dir) {
  return data_dir + "/supervisor.json";
}

std::string lock_file_path(const std::string& data_dir) {
  return data_dir + "/supervisor.lock";
}

caf::error write_state_file(const std::string& data_dir, const supervisor_state& state) {
  const std::string path = state_file_path(data_dir);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << to_json(state).dump(2) << '\n';
    if (!out) return make_error(errc::io_failure, "cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return make_error(errc::io_failure, "cannot rename " + tmp + ": " + std::strerror(errno));
  return caf::none;
}

std::optional<supervisor_state> read_state_file(const std::string& data_dir) {
  std::ifstream in(state_file_path(data_dir));
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  supervisor_state s;
  get_to(j, "pid", s.pid);
  get_to(j, "startedAtMs", s.started_at_ms);
  get_to(j, "state", s.state);
  get_to(j, "stateSinceMs", s.state_since_ms);
  get_to(j, "listen", s.listen);
  get_to(j, "binary", s.binary);
  get_to(j, "config", s.config);
  get_to(j, "generation", s.generation);
  get_to(j, "workerPid", s.worker_pid);
  get_to(j, "workerStartedAtMs", s.worker_started_at_ms);
  get_to(j, "workerReady", s.worker_ready);
  get_to(j, "restarts", s.restarts);
  get_to(j, "crashes", s.crashes);
  get_to(j, "lastExit", s.last_exit);
  get_to(j, "lastExitExpected", s.last_exit_expected);
  get_to(j, "lastRestartReason", s.last_restart_reason);
  get_to(j, "nextRestartAtMs", s.next_restart_at_ms);
  get_to(j, "message", s.message);
  return s;
}

caf::expected<int> lock_supervisor(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec)
    return make_error(errc::io_failure, "cannot create data_dir " + data_dir + ": " + ec.message());
  const std::string path = lock_file_path(data_dir);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return make_error(errc::io_failure, "cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    std::string holder;
    if (auto s = read_state_file(data_dir)) holder = " (pid " + std::to_string(s->pid) + ")";
    return make_error(errc::io_failure,
                      "another wabridge supervisor runs on data_dir " + data_dir + holder);
  }
  return fd;
}

bool supervisor_alive(const std::string& data_dir) {
  int fd = ::open(lock_file_path(data_dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace wabridge::supervisor
