// `wabridge status`: asks the running bridge for GET /status and prints the
// account table (or the JSON). Exit code: 0 healthy, 1 degraded, 2 not running.
#pragma once

#include <string>

namespace wabridge {

struct status_options {
  std::string url;   // "http://127.0.0.1:3000"
  std::string token; // bearer token, if the default account has one
  bool json = false;
};

int run_status_command(const status_options& options);

} // namespace wabridge
