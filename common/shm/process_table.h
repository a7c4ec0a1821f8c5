// The process table of the segment: one slot per live process (HTTP worker,
// grpcd), claimed at start and released when the process is gone. A slot
// holds the counters its owner writes (summed by /metrics), and names the
// process in cache flights (which processes wait for a result). Counters
// survive a slot's reuse: they only ever grow, so the sum over all slots is
// the server's total however often workers were replaced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/shm/robust_mutex.h"

namespace genkit::shm {

constexpr int kMaxProcesses = 528;  // 2 × 256 workers (a reload's two generations) + grpcd + room
constexpr int kProcessWords = (kMaxProcesses + 63) / 64;
constexpr int kMaxLabels = 48;      // per label table; the last one is "other"
constexpr int kLabelBytes = 64;
constexpr int kStatusSlots = 17;    // HTTP statuses counted one by one, then "other" (metrics.h)
constexpr int kDurationBuckets = 15;  // 14 upper bounds + overflow (metrics.h)
constexpr int kGrpcMethodLabels = 16;  // the service's 9 RPCs, health, reflection; the last one is "other"
constexpr int kGrpcCodes = 17;         // grpc::StatusCode 0..16

constexpr int kRedisFailureKinds = 3;   // timeout, connection, reply
constexpr int kRedisDecisionKinds = 3;  // rate_limit, cache, breaker
enum class RedisFailure : int { kTimeout = 0, kConnection = 1, kReply = 2 };
enum class RedisDecision : int { kRateLimit = 0, kCache = 1, kBreaker = 2 };

enum class ProcessKind : int32_t { kNone = 0, kWorker = 1, kGrpc = 2, kOther = 3 };

struct ProcessCounters {
  uint64_t requests[kMaxLabels][kStatusSlots];          // by route label, status slot
  uint64_t duration_buckets[kMaxLabels][kDurationBuckets];
  uint64_t duration_sum_us[kMaxLabels];
  int64_t in_flight;                                     // gauge: reset when the slot is claimed
  int64_t open_connections;                              // gauge: likewise
  uint64_t cache_hits;
  uint64_t cache_misses;
  uint64_t cache_coalesced;
  uint64_t rate_limited;
  uint64_t upstream_calls[kMaxLabels];                  // by model label
  uint64_t upstream_errors[kMaxLabels];
  uint64_t tokens_in[kMaxLabels];
  uint64_t tokens_out[kMaxLabels];
  // gRPC calls, by method label and status code. grpcd writes these from
  // grpc's threads: atomic adds (counters.h bump_shared), not bump().
  uint64_t grpc_calls[kGrpcMethodLabels][kGrpcCodes];
  uint64_t grpc_duration_buckets[kGrpcMethodLabels][kDurationBuckets];
  uint64_t grpc_duration_sum_us[kGrpcMethodLabels];
  int64_t grpc_in_flight;                                // gauge, likewise atomic
  // The Redis state backend (STATE_BACKEND=redis), from the process's loop.
  uint64_t redis_commands;
  uint64_t redis_failures[kRedisFailureKinds];    // RedisFailure
  uint64_t redis_fallbacks[kRedisDecisionKinds];  // RedisDecision: taken on local state instead
  uint64_t redis_cache_hits;                      // first-level misses Redis answered
  int64_t redis_connected;                        // gauge: 1 while its connection is usable
};

struct alignas(64) ProcessSlot {
  int32_t pid;   // 0: free
  int32_t kind;  // ProcessKind
  uint64_t claims;
  uint64_t heartbeat_ms;  // CLOCK_MONOTONIC (one clock for every process), stamped by the owner's loop
  ProcessCounters counters;
};

// Interned label values (route paths, model names), so counters are arrays.
struct LabelTable {
  RobustMutex mu;
  uint32_t count;
  char names[kMaxLabels][kLabelBytes];
};

// A short text one process publishes for every other: in dev mode, the
// telemetry URL the Genkit tools announced (/api/notify) to the worker that
// serves the reflection API, so that every process exports its traces there.
// Readers poll `version` without the lock and copy the text under it.
constexpr std::size_t kSharedNoteBytes = 1024;
struct SharedNote {
  RobustMutex mu;
  uint64_t version;  // bumped (atomically) after each change
  uint32_t length;
  char text[kSharedNoteBytes];
};

struct ProcessTableHeader {
  LabelTable routes;
  LabelTable models;
  LabelTable grpc_methods;  // only the first kGrpcMethodLabels are used
  uint64_t process_restarts;  // the supervisor's replacements of dead or recycled processes
  SharedNote telemetry_url;   // dev mode: see SharedNote
};

class ProcessTable {
 public:
  static std::size_t bytes();
  static Status init(void* at);  // the segment's creator, once
  explicit ProcessTable(void* at);

  // Claims a free slot, or one whose owner no longer exists. -1 when full.
  int claim(int32_t pid, ProcessKind kind);
  // Frees pid's slot (the supervisor, after reaping it). Its in-flight gauge
  // drops to 0; its counters stay in the totals.
  void release(int32_t pid);
  int slot_of(int32_t pid) const;
  // The dev-mode telemetry URL (SharedNote): publish a new one (false when
  // too long); read it when its version differs from `*seen` (then updates
  // `*seen` and returns true).
  bool publish_telemetry_url(std::string_view url);
  bool read_telemetry_url(uint64_t* seen, std::string* url);
  // The owner's event loop proves it turns (the supervisor's WORKER_TIMEOUT).
  void stamp_heartbeat(int slot);
  // Milliseconds since pid's last stamp; -1 when pid holds no slot.
  int64_t heartbeat_age_ms(int32_t pid) const;
  // Claimed slots of this kind (processes running now).
  int count(ProcessKind kind) const;

  ProcessSlot& slot(int index) { return slots_[index]; }
  const ProcessSlot& slot(int index) const { return slots_[index]; }
  static constexpr int capacity() { return kMaxProcesses; }
  ProcessTableHeader& header() { return *header_; }
  const ProcessTableHeader& header() const { return *header_; }

  // Index of a label value (added if new; the last index "other" when full).
  int intern_route(std::string_view name) { return intern(header_->routes, name); }
  int intern_model(std::string_view name) { return intern(header_->models, name); }
  int intern_grpc_method(std::string_view name) { return intern(header_->grpc_methods, name, kGrpcMethodLabels); }
  // Label values in index order (copied under the table's lock).
  std::vector<std::string> routes() const { return names(header_->routes); }
  std::vector<std::string> models() const { return names(header_->models); }
  std::vector<std::string> grpc_methods() const { return names(header_->grpc_methods); }

 private:
  static int intern(LabelTable& table, std::string_view name, int capacity = kMaxLabels);
  static std::vector<std::string> names(LabelTable& table);

  ProcessTableHeader* header_;
  ProcessSlot* slots_;
};

bool process_alive(int32_t pid);

}  // namespace genkit::shm
