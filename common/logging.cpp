#include "common/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace wabridge {

void setup_logging(const std::string& level) {
  auto logger = spdlog::get("wabridge");
  if (!logger) logger = spdlog::stderr_logger_mt("wabridge");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace wabridge
