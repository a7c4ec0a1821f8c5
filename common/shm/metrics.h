// What a process records about itself into its slot of the process table,
// and the Prometheus text (format 0.0.4) summed over every slot. The
// recorder is cheap (a relaxed load and store per counter, no lock); a
// process without a segment (unit tests) records nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/shm/process_table.h"

namespace genkit::shm {

class Segment;

// HTTP statuses with a series of their own; the rest count as "other".
constexpr int kCountedStatuses[kStatusSlots - 1] = {200, 204, 400, 401, 403, 404, 405, 408,
                                                    413, 429, 499, 500, 501, 502, 503, 504};
// Request duration histogram upper bounds, seconds (LLM calls are long).
constexpr double kDurationBounds[kDurationBuckets - 1] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                          1,     2.5,  5,     10,   30,  60,  120};

// The name of a gRPC status code (0..16, "OK" .. "UNAUTHENTICATED"), for
// /metrics labels and log lines; "UNKNOWN" for anything else.
const char* grpc_status_name(int code);

class ProcessMetrics {
 public:
  ProcessMetrics() = default;  // records nothing
  ProcessMetrics(ProcessTable* table, int slot);

  bool enabled() const { return c_ != nullptr; }
  int route_label(std::string_view route);
  int model_label(std::string_view model);

  void connections_changed(int64_t delta);
  void request_started();
  void request_finished(int route, int status, double seconds);
  void cache_hit();
  void cache_miss();
  void cache_coalesced();
  void rate_limited();
  void upstream_call(int model, bool failed, int64_t tokens_in, int64_t tokens_out);
  void redis_command();
  void redis_failure(RedisFailure kind);
  void redis_fallback(RedisDecision decision);
  void redis_cache_hit();
  void redis_connected(bool connected);

  // gRPC calls (grpcd): safe from any thread, unlike the recorders above.
  int grpc_method_label(std::string_view method);
  void grpc_call_started();
  void grpc_call_finished(int method, int code, double seconds);

 private:
  ProcessTable* table_ = nullptr;
  ProcessCounters* c_ = nullptr;
};

// The /metrics body: every counter summed over all process slots, plus the
// cache, circuit breaker and rate limiter state of the segment.
// `state_backend`: STATE_BACKEND's value, for its info series.
std::string render_prometheus(Segment& segment, const std::string& state_backend);
// HTTP requests and gRPC calls finished so far by every process (the
// supervisor's STATUS= line).
uint64_t requests_served(Segment& segment);

}  // namespace genkit::shm
