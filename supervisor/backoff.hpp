// Restart policy as pure functions: capped exponential backoff and an
// OTP-style restart intensity limit. No clocks or threads inside: callers pass
// the time in, so the policy is unit-tested exactly. Used by the supervisor
// for workers and by sessions for upstream children.
#pragma once

#include "common/duration.hpp"

#include <cstdint>
#include <deque>

namespace wabridge::supervisor {

struct backoff_policy {
  millis initial{250};
  millis max{30'000};
  double factor = 2.0;
};

/// Delay before restart number `consecutive_failures` (1 = first failure):
/// initial * factor^(n-1), capped at max. 0 failures -> 0.
millis backoff_delay(const backoff_policy& policy, uint32_t consecutive_failures);

/// Counts crashes inside a sliding window; more than `max_restarts` within
/// `window` means give up (OTP's intensity/period).
class restart_intensity {
 public:
  restart_intensity(uint32_t max_restarts, millis window)
      : max_restarts_(max_restarts), window_(window) {}

  /// Records a crash at `now`; true when the limit is exceeded.
  bool record_crash(millis now);

  /// Crashes still inside the window at `now`.
  uint32_t recent(millis now) const;

 private:
  uint32_t max_restarts_;
  millis window_;
  std::deque<millis> crashes_;
};

}  // namespace wabridge::supervisor
