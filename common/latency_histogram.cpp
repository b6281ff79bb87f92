#include "common/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace wabridge {

int latency_histogram::index_of(uint64_t v) {
  // Values below 2^sub_bits map linearly; above, bucket = (exponent, top bits).
  if (v < (1u << sub_bits)) return static_cast<int>(v);
  const int exponent = 63 - __builtin_clzll(v);
  const int shift = exponent - sub_bits;
  const int sub = static_cast<int>((v >> shift) & ((1u << sub_bits) - 1));
  return ((shift + 1) << sub_bits) + sub;
}

uint64_t latency_histogram::upper_edge(int index) {
  if (index < (1 << sub_bits)) return static_cast<uint64_t>(index);
  const int shift = (index >> sub_bits) - 1;
  const uint64_t sub = static_cast<uint64_t>(index & ((1 << sub_bits) - 1));
  const uint64_t base = ((1ull << sub_bits) | sub) << shift;
  return base + ((1ull << shift) - 1);
}

void latency_histogram::record(uint64_t micros, uint64_t count) {
  counts_[static_cast<size_t>(std::min(index_of(micros), buckets - 1))] += count;
  count_ += count;
  max_ = std::max(max_, micros);
}

uint64_t latency_histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < buckets; ++i) {
    seen += counts_[static_cast<size_t>(i)];
    if (seen >= rank) return std::min(upper_edge(i), max_);
  }
  return max_;
}

}  // namespace wabridge
