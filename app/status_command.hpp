// `wabridge status`: the process table from the supervisor's state file
// (<data_dir>/supervisor.json, trusted only while the supervisor holds its
// lock) and the account table from the running worker's GET /status, as text
// or JSON. Exit code: 0 healthy, 1 degraded (an account or the journal is not
// well, or the worker is restarting), 2 not running (or gave up).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace wabridge {

struct status_options {
  std::string url;    // "http://127.0.0.1:3000"
  std::string token;  // bearer token for the bare /status (the default account's)
  bool json = false;
  /// From the config: each account's name and token. An account with a token
  /// is asked at /accounts/{name}/status with that token, since the bare
  /// listing shows its detail only to holders of its token.
  std::vector<std::pair<std::string, std::string>> account_tokens;
  /// From the config: where the supervisor publishes its state. "" (with
  /// --url) = ask HTTP only.
  std::string data_dir;
};

int run_status_command(const status_options& options);

}  // namespace wabridge
