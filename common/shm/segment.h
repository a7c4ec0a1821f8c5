// The shared-memory segment: one memfd that the supervisor creates and sizes
// before it forks; every HTTP worker inherits the mapping, and grpcd maps
// the same fd. Fixed size (sealed against growing or shrinking), reserved up
// front with posix_fallocate so a full tmpfs is an error at start-up rather
// than a SIGBUS later.
//
// Layout (offsets from the start, each zone 64-byte aligned; offsets only,
// never pointers, so every process may map it anywhere):
//
//   SegmentHeader   magic "GKENDSHM", layout version, total size, the sizes
//                   it was built for, a random instance id (names each
//                   process's wake-up socket) and the zone offsets
//   ProcessTable    label tables (routes, models), the dev-mode telemetry URL,
//                   then kMaxProcesses slots:
//                   owner pid + the counters only that owner writes
//   BreakerZone     the circuit breaker: one robust mutex, a few words
//   RateLimitZone   stripes of robust mutexes over fixed token-bucket arrays
//   CacheZone       one robust mutex, LRU/free list ends, a hash index, the
//                   entry headers, then capacity × CACHE_MAX_ENTRY_BYTES of values
//
// Every process checks the header (magic, version, sizes) before use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/shm/breaker_zone.h"
#include "common/shm/cache_zone.h"
#include "common/shm/process_table.h"
#include "common/shm/rate_limit_zone.h"
#include "common/status.h"

namespace genkit::shm {

constexpr char kSegmentMagic[8] = {'G', 'K', 'E', 'N', 'D', 'S', 'H', 'M'};
constexpr uint32_t kLayoutVersion = 5;

struct SegmentSizes {
  uint32_t cache_entries = 1024;        // CACHE_MAX_SIZE
  uint32_t cache_entry_bytes = 65536;   // CACHE_MAX_ENTRY_BYTES
  uint32_t rate_limit_buckets = 65536;  // RATE_LIMIT_TABLE_SIZE
  bool operator==(const SegmentSizes&) const = default;
};

struct SegmentHeader {
  char magic[8];
  uint32_t layout_version;
  uint32_t header_bytes;
  uint64_t total_bytes;
  SegmentSizes sizes;
  uint64_t instance_id;
  uint64_t processes_offset;
  uint64_t breaker_offset;
  uint64_t rate_limit_offset;
  uint64_t cache_offset;
};

class Segment {
 public:
  // Creates, reserves, seals and maps a new segment (the supervisor).
  static Result<std::unique_ptr<Segment>> create(const SegmentSizes& sizes);
  // Maps an existing segment from its fd (grpcd) and checks its header.
  static Result<std::unique_ptr<Segment>> attach(int fd);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  static std::size_t bytes_for(const SegmentSizes& sizes);

  int fd() const { return fd_; }
  std::size_t size() const { return size_; }
  const SegmentHeader& header() const { return *static_cast<const SegmentHeader*>(base_); }
  const SegmentSizes& sizes() const { return header().sizes; }
  uint64_t instance_id() const { return header().instance_id; }

  ProcessTable& processes() { return processes_; }
  BreakerZone& breaker() { return breaker_; }
  RateLimitZone& rate_limits() { return rate_limits_; }
  CacheZone& cache() { return cache_; }

 private:
  Segment(int fd, void* base, std::size_t size);

  int fd_;
  void* base_;
  std::size_t size_;
  ProcessTable processes_;
  BreakerZone breaker_;
  RateLimitZone rate_limits_;
  CacheZone cache_;
};

}  // namespace genkit::shm
