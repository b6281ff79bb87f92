// Unit tests for supervisor/backoff.hpp: the capped exponential restart delay
// and the OTP-style restart intensity limit. Pure functions of the time passed
// in, so every expectation is exact.
#include "supervisor/backoff.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

using namespace wabridge;
using namespace wabridge::supervisor;

namespace {

backoff_policy policy(int64_t initial_ms, int64_t max_ms, double factor = 2.0) {
  backoff_policy p;
  p.initial = millis{initial_ms};
  p.max = millis{max_ms};
  p.factor = factor;
  return p;
}

}  // namespace

TEST_CASE("no failures means no backoff delay", "[backoff]") {
  CHECK(backoff_delay(backoff_policy{}, 0) == millis{0});
  CHECK(backoff_delay(policy(1'000, 60'000), 0) == millis{0});
}

TEST_CASE("the first failure waits the initial delay and each further one doubles it",
          "[backoff]") {
  const auto p = policy(250, 30'000);
  CHECK(backoff_delay(p, 1) == millis{250});
  CHECK(backoff_delay(p, 2) == millis{500});
  CHECK(backoff_delay(p, 3) == millis{1'000});
  CHECK(backoff_delay(p, 4) == millis{2'000});
  CHECK(backoff_delay(p, 5) == millis{4'000});
  CHECK(backoff_delay(p, 7) == millis{16'000});
}

TEST_CASE("the default policy starts at 250ms and caps at 30s", "[backoff]") {
  const backoff_policy p;
  CHECK(backoff_delay(p, 1) == millis{250});
  CHECK(backoff_delay(p, 8) == millis{30'000});
}

TEST_CASE("the backoff delay is capped at max and never decreases", "[backoff]") {
  const auto p = policy(250, 30'000);
  CHECK(backoff_delay(p, 8) == millis{30'000});  // 32000 would exceed the cap
  CHECK(backoff_delay(p, 20) == millis{30'000});
  millis previous{0};
  for (uint32_t n = 1; n <= 200; ++n) {
    INFO("failures " << n);
    const millis d = backoff_delay(p, n);
    CHECK(d >= previous);
    CHECK(d <= p.max);
    previous = d;
  }
}

TEST_CASE("huge failure counts give the cap without overflowing", "[backoff]") {
  const auto p = policy(250, 30'000);
  for (uint32_t n : {63u, 64u, 65u, 1'024u, 1'000'000u, std::numeric_limits<uint32_t>::max()}) {
    INFO("failures " << n);
    CHECK(backoff_delay(p, n) == millis{30'000});
  }
}

TEST_CASE("a cap at the top of the millis range is returned as is", "[backoff]") {
  // A cap that does not fit a double exactly must not turn into a negative delay.
  const auto p = policy(250, std::numeric_limits<int64_t>::max());
  CHECK(backoff_delay(p, std::numeric_limits<uint32_t>::max()) == p.max);
  CHECK(backoff_delay(p, 1) == millis{250});
  CHECK(backoff_delay(p, 3) == millis{1'000});
}

TEST_CASE("an initial delay above the cap is cut to the cap", "[backoff]") {
  CHECK(backoff_delay(policy(5'000, 1'000), 1) == millis{1'000});
}

TEST_CASE("a backoff factor below one never shrinks the delay", "[backoff]") {
  const auto p = policy(400, 30'000, 0.5);
  CHECK(backoff_delay(p, 1) == millis{400});
  CHECK(backoff_delay(p, 5) == millis{400});
  CHECK(backoff_delay(policy(100, 30'000, 3.0), 3) == millis{900});
}

TEST_CASE("restart intensity is exceeded exactly at max+1 crashes within the window",
          "[restart_intensity]") {
  restart_intensity limit{3, millis{10'000}};
  CHECK_FALSE(limit.record_crash(millis{0}));
  CHECK_FALSE(limit.record_crash(millis{1'000}));
  CHECK_FALSE(limit.record_crash(millis{2'000}));
  CHECK(limit.recent(millis{2'000}) == 3);
  CHECK(limit.record_crash(millis{3'000}));
  CHECK(limit.recent(millis{3'000}) == 4);
}

TEST_CASE("a zero restart intensity gives up on the first crash", "[restart_intensity]") {
  restart_intensity limit{0, millis{60'000}};
  CHECK(limit.record_crash(millis{5}));
}

TEST_CASE("crashes older than the window expire", "[restart_intensity]") {
  restart_intensity limit{2, millis{1'000}};
  CHECK_FALSE(limit.record_crash(millis{0}));
  CHECK_FALSE(limit.record_crash(millis{100}));
  CHECK(limit.recent(millis{500}) == 2);
  // Both earlier crashes are more than a window old by now.
  CHECK_FALSE(limit.record_crash(millis{1'500}));
  CHECK(limit.recent(millis{1'500}) == 1);
  CHECK(limit.recent(millis{5'000}) == 0);
}

TEST_CASE("the restart intensity window slides with time", "[restart_intensity]") {
  restart_intensity limit{2, millis{1'000}};
  CHECK_FALSE(limit.record_crash(millis{0}));
  CHECK_FALSE(limit.record_crash(millis{600}));
  // 0 has left the window, 600 has not: two in window, not more than two.
  CHECK_FALSE(limit.record_crash(millis{1'200}));
  CHECK(limit.recent(millis{1'200}) == 2);
  // 600 and 1200 are still inside: the third in the window exceeds.
  CHECK(limit.record_crash(millis{1'500}));
  CHECK(limit.recent(millis{1'500}) == 3);
  // A long quiet period: counting starts over.
  CHECK_FALSE(limit.record_crash(millis{10'000}));
  CHECK(limit.recent(millis{10'000}) == 1);
}

TEST_CASE("a steady crash rate below the intensity never gives up", "[restart_intensity]") {
  restart_intensity limit{3, millis{1'000}};
  // One crash every 400 ms: at most three inside any 1 s window.
  for (int64_t t = 0; t < 100'000; t += 400) {
    INFO("t=" << t);
    REQUIRE_FALSE(limit.record_crash(millis{t}));
  }
}
