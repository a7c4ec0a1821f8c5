// A fixed-size log-linear histogram of non-negative nanosecond values: exact
// below 128, then 64 buckets per power of two (≤ 1.6 % wide). Plain counters
// in one struct, so it can live in a shared mapping and be summed across
// processes; recording is one index computation and one increment, cheap
// enough to run inside the critical section it measures.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace bench {

struct LogHistogram {
  static constexpr std::size_t kBuckets = 58 * 64;  // the last index is 56 * 64 + 127 (2^62 <= v < 2^63)

  uint64_t count = 0;
  int64_t max = 0;
  uint64_t buckets[kBuckets] = {};

  static std::size_t index_of(int64_t v) {
    auto u = static_cast<uint64_t>(std::max<int64_t>(v, 0));
    if (u < 128) return u;
    int k = 63 - std::countl_zero(u);  // 2^k <= u < 2^(k+1), k >= 7
    return static_cast<std::size_t>(k - 6) * 64 + (u >> (k - 6));
  }
  // The largest value that falls in bucket i (reported percentiles err high).
  static int64_t upper_bound_of(std::size_t i) {
    if (i < 128) return static_cast<int64_t>(i);
    int k = static_cast<int>(i / 64) + 5;
    uint64_t sub = i % 64 + 64;
    return static_cast<int64_t>(((sub + 1) << (k - 6)) - 1);
  }

  void record(int64_t v) {
    ++count;
    ++buckets[index_of(v)];
    max = std::max(max, v);
  }
  void add(const LogHistogram& other) {
    count += other.count;
    max = std::max(max, other.max);
    for (std::size_t i = 0; i < kBuckets; ++i) buckets[i] += other.buckets[i];
  }
  // Nearest-rank percentile (p in 0..100), capped at the exact maximum.
  int64_t percentile(double p) const {
    if (count == 0) return 0;
    auto rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(count) + 0.999999);
    rank = std::clamp<uint64_t>(rank, 1, count);
    uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += buckets[i];
      if (seen >= rank) return std::min(upper_bound_of(i), max);
    }
    return max;
  }
};

}  // namespace bench
