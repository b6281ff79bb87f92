#include "common/duration.hpp"

#include <cctype>
#include <limits>
#include <utility>

namespace wabridge {
namespace {

// Splits "123unit" into its number and unit; false when there is no leading number.
bool split_number(std::string_view text, uint64_t& number, std::string_view& unit) {
  size_t i = 0;
  number = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    number = number * 10 + digit;
    ++i;
  }
  if (i == 0) return false;
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<millis> parse_duration(std::string_view text) {
  uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) return std::nullopt;
  static constexpr std::pair<std::string_view, uint64_t> units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  if (unit.empty()) {
    if (n == 0) return millis{0};
    return std::nullopt;  // a bare number is ambiguous: say the unit
  }
  for (const auto& [name, factor] : units) {
    if (unit == name) {
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / factor)
        return std::nullopt;
      return millis{static_cast<int64_t>(n * factor)};
    }
  }
  return std::nullopt;
}

std::string format_duration(millis value) {
  const int64_t ms = value.count();
  if (ms == 0) return "0s";
  static constexpr std::pair<const char*, int64_t> units[] = {
      {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}};
  for (const auto& [name, factor] : units)
    if (ms % factor == 0) return std::to_string(ms / factor) + name;
  return std::to_string(ms) + "ms";
}

std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) return std::nullopt;
  static constexpr std::pair<std::string_view, uint64_t> units[] = {{"", 1},
                                                                    {"B", 1},
                                                                    {"KiB", 1ull << 10},
                                                                    {"MiB", 1ull << 20},
                                                                    {"GiB", 1ull << 30},
                                                                    {"TiB", 1ull << 40},
                                                                    {"KB", 1000ull},
                                                                    {"MB", 1000ull * 1000},
                                                                    {"GB", 1000ull * 1000 * 1000}};
  for (const auto& [name, factor] : units) {
    if (unit == name) {
      if (n > std::numeric_limits<uint64_t>::max() / factor) return std::nullopt;
      return n * factor;
    }
  }
  return std::nullopt;
}

}  // namespace wabridge
