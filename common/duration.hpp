// Parsing and printing of the human durations and sizes used in the config
// ("10s", "250ms", "5m", "1h", "7d"; "512MiB", "4GiB"). Pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wabridge {

using millis = std::chrono::milliseconds;

/// "10s" -> 10000 ms. Units: ms, s, m, h, d. A bare "0" is zero. nullopt when malformed.
std::optional<millis> parse_duration(std::string_view text);

/// 10000 ms -> "10s"; picks the largest unit that divides evenly.
std::string format_duration(millis value);

/// "4GiB" -> 4294967296. Units: B, KiB, MiB, GiB, TiB (and KB/MB/GB as powers of 1000).
std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace wabridge
