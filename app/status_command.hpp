// `wabridge status`: asks the running bridge for GET /status and prints the
// account table (or the JSON). Exit code: 0 healthy, 1 degraded, 2 not running.
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
};

int run_status_command(const status_options& options);

}  // namespace wabridge
