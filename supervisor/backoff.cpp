#include "supervisor/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace wabridge::supervisor {

millis backoff_delay(const backoff_policy& policy, uint32_t consecutive_failures) {
  if (consecutive_failures == 0) return millis{0};
  const double max_ms = static_cast<double>(policy.max.count());
  double delay = static_cast<double>(policy.initial.count()) *
                 std::pow(std::max(policy.factor, 1.0), consecutive_failures - 1.0);
  // Return the cap itself: max_ms may have rounded up past INT64_MAX, and
  // converting that back to int64 is undefined (it came out negative).
  if (!std::isfinite(delay) || delay >= max_ms) return policy.max;
  return millis{static_cast<int64_t>(delay)};
}

bool restart_intensity::record_crash(millis now) {
  crashes_.push_back(now);
  while (!crashes_.empty() && now - crashes_.front() > window_) crashes_.pop_front();
  return crashes_.size() > max_restarts_;
}

uint32_t restart_intensity::recent(millis now) const {
  return static_cast<uint32_t>(std::count_if(crashes_.begin(), crashes_.end(),
                                             [&](millis t) { return now - t <= window_; }));
}

}  // namespace wabridge::supervisor
