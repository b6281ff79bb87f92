// A fixed-size log-linear histogram of durations in microseconds (16
// sub-buckets per power of two, so quantiles are within ~6%). Records in O(1)
// with no allocation; used for receipt-to-confirm latency. Not thread-safe:
// owned by one actor.
#pragma once

#include <array>
#include <cstdint>

namespace wabridge {

class latency_histogram {
 public:
  void record(uint64_t micros, uint64_t count = 1);

  /// The value at quantile q in [0, 1] (upper edge of its bucket); 0 when empty.
  uint64_t quantile(double q) const;

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }

 private:
  static constexpr int sub_bits = 4;
  static constexpr int buckets = 64 << sub_bits;
  static int index_of(uint64_t v);
  static uint64_t upper_edge(int index);

  std::array<uint64_t, buckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace wabridge
