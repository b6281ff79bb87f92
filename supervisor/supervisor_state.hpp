// The supervisor's view of itself, published for operators: written to
// <data_dir>/supervisor.json on every lifecycle transition (write to a temp
// file, then rename, so a reader never sees half a file) and read back by
// `wabridge status`. Whether a supervisor is alive is told by its lock on
// <data_dir>/supervisor.lock, not by the file (a kill -9 leaves the file).
// Values only; the supervisor is the only writer.
#pragma once

#include "common/error.hpp"

#include <sys/types.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace wabridge::supervisor {

struct supervisor_state {
  int64_t pid = 0;
  int64_t started_at_ms = 0;  // wall clock, ms since the epoch
  std::string state;          // starting|running|restarting|backoff|stopping|gave_up|stopped
  int64_t state_since_ms = 0;
  std::string listen;       // host:port actually bound
  std::string binary;       // path the workers are spawned from
  std::string config;       // config file path, "" = embedded demo
  uint64_t generation = 0;  // worker generations spawned so far
  int64_t worker_pid = 0;   // 0 when no worker runs
  int64_t worker_started_at_ms = 0;
  bool worker_ready = false;
  uint32_t restarts = 0;  // worker restarts of any kind
  uint32_t crashes = 0;   // unexpected worker exits
  std::string last_exit;  // "code=0", "signal=KILL", "" before the first exit
  bool last_exit_expected = true;
  std::string last_restart_reason;  // crash|stale-binary|stale-config|signal
  int64_t next_restart_at_ms = 0;   // while in backoff
  std::string message;              // the last problem worth showing (invalid config, gave up)
};

std::string state_file_path(const std::string& data_dir);
std::string lock_file_path(const std::string& data_dir);

/// Writes `state` to state_file_path(data_dir) atomically.
caf::error write_state_file(const std::string& data_dir, const supervisor_state& state);

/// Reads the state file; nullopt when missing or unreadable.
std::optional<supervisor_state> read_state_file(const std::string& data_dir);

/// Takes the supervisor lock (exclusive, non-blocking). Returns the fd to keep
/// open for the supervisor's lifetime, or an error naming the holder.
caf::expected<int> lock_supervisor(const std::string& data_dir);

/// True when some process holds the supervisor lock of `data_dir`.
bool supervisor_alive(const std::string& data_dir);

/// The state as JSON (the file's format; `wabridge status --json` embeds it).
nlohmann::json to_json(const supervisor_state& state);

/// Wall clock in ms since the epoch.
int64_t wall_clock_ms();

}  // namespace wabridge::supervisor
