// Unit tests for common/duration.hpp: the duration and size strings used in
// the config. Malformed or overflowing input must come back as nullopt, never
// as a wrapped-around or partially parsed value.
#include "common/duration.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

using namespace wabridge;

TEST_CASE("parse_duration reads every unit", "[duration]") {
  CHECK(parse_duration("250ms") == millis{250});
  CHECK(parse_duration("10s") == millis{10'000});
  CHECK(parse_duration("5m") == millis{300'000});
  CHECK(parse_duration("1h") == millis{3'600'000});
  CHECK(parse_duration("7d") == millis{7 * 86'400'000LL});
}

TEST_CASE("parse_duration accepts zero with or without a unit", "[duration]") {
  CHECK(parse_duration("0") == millis{0});
  CHECK(parse_duration("0s") == millis{0});
  CHECK(parse_duration("0ms") == millis{0});
}

TEST_CASE("parse_duration allows a space between number and unit", "[duration]") {
  CHECK(parse_duration("10 s") == millis{10'000});
}

TEST_CASE("parse_duration rejects a bare non-zero number as ambiguous", "[duration]") {
  CHECK_FALSE(parse_duration("10"));
  CHECK_FALSE(parse_duration("1000"));
}

TEST_CASE("parse_duration rejects malformed input", "[duration]") {
  for (const char* bad : {"", "s", "ms", "-1s", "+1s", "1.5s", "10x", "10S", "10sec", "10 ", " 10s",
                          "10s ", "1h30m", "ten s", "0x10s", "10ss", "1e3ms"}) {
    INFO("input: '" << bad << "'");
    CHECK_FALSE(parse_duration(bad));
  }
}

TEST_CASE("parse_duration rejects values that overflow", "[duration]") {
  // More digits than fit in uint64_t.
  CHECK_FALSE(parse_duration("99999999999999999999999ms"));
  // Fits in uint64_t but not in int64_t milliseconds.
  CHECK_FALSE(parse_duration("18446744073709551615ms"));
  CHECK_FALSE(parse_duration("9223372036854776s"));
  CHECK_FALSE(parse_duration("106751991168d"));
  CHECK(parse_duration("106751991167d") == millis{106751991167LL * 86'400'000});
  // The largest representable values still parse.
  CHECK(parse_duration("9223372036854775807ms") == millis{std::numeric_limits<int64_t>::max()});
  CHECK(parse_duration("9223372036854775s") == millis{9223372036854775000LL});
}

TEST_CASE("format_duration picks the largest unit that divides evenly", "[duration]") {
  CHECK(format_duration(millis{0}) == "0s");
  CHECK(format_duration(millis{250}) == "250ms");
  CHECK(format_duration(millis{1500}) == "1500ms");
  CHECK(format_duration(millis{10'000}) == "10s");
  CHECK(format_duration(millis{90'000}) == "90s");
  CHECK(format_duration(millis{300'000}) == "5m");
  CHECK(format_duration(millis{3'600'000}) == "1h");
  CHECK(format_duration(millis{7 * 86'400'000LL}) == "7d");
}

TEST_CASE("format_duration output parses back to the same value", "[duration]") {
  for (int64_t ms : {0LL, 1LL, 999LL, 1000LL, 61'000LL, 3'600'000LL, 86'400'000LL, 86'400'001LL,
                     123'456'789LL}) {
    INFO(ms);
    CHECK(parse_duration(format_duration(millis{ms})) == millis{ms});
  }
}

TEST_CASE("parse_size reads binary and decimal units", "[duration]") {
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("123") == 123u);
  CHECK(parse_size("123B") == 123u);
  CHECK(parse_size("1KiB") == 1024u);
  CHECK(parse_size("512MiB") == 512ull << 20);
  CHECK(parse_size("4GiB") == 4ull << 30);
  CHECK(parse_size("2TiB") == 2ull << 40);
  CHECK(parse_size("1KB") == 1000u);
  CHECK(parse_size("3MB") == 3'000'000u);
  CHECK(parse_size("5GB") == 5'000'000'000ull);
  CHECK(parse_size("64 KiB") == 65536u);
}

TEST_CASE("parse_size rejects malformed input", "[duration]") {
  for (const char* bad : {"", "KiB", "-1", "-1KiB", "1.5GiB", "1kib", "1Kib", "1K", "1G", "1 GiB ",
                          " 1GiB", "1GiBB", "1TB", "abc", "1e6"}) {
    INFO("input: '" << bad << "'");
    CHECK_FALSE(parse_size(bad));
  }
}

TEST_CASE("parse_size rejects values that overflow uint64_t", "[duration]") {
  CHECK(parse_size("18446744073709551615") == std::numeric_limits<uint64_t>::max());
  CHECK_FALSE(parse_size("18446744073709551616"));
  CHECK_FALSE(parse_size("99999999999999999999999"));
  CHECK(parse_size("16777215TiB") == 16777215ull << 40);
  CHECK_FALSE(parse_size("16777216TiB"));
  CHECK(parse_size("18446744073GB") == 18446744073ull * 1'000'000'000);
  CHECK_FALSE(parse_size("18446744074GB"));
}
