// Process-wide logging setup: spdlog to stderr, one line per record with an
// ISO-8601 timestamp, flushed at once (a supervisor's, a worker's and a crash's
// last lines must all reach the log). Call once per process, before threads.
#pragma once

#include <string>

namespace wabridge {

/// Configures the default spdlog logger; `level` is trace|debug|info|warn|error.
void setup_logging(const std::string& level);

}  // namespace wabridge
