#include "common/shm/metrics.h"

#include "common/shm/counters.h"

namespace genkit::shm {

namespace {

int status_slot(int status) {
  for (int i = 0; i < kStatusSlots - 1; ++i) {
    if (kCountedStatuses[i] == status) return i;
  }
  return kStatusSlots - 1;
}

int duration_bucket(double seconds) {
  for (int i = 0; i < kDurationBuckets - 1; ++i) {
    if (seconds <= kDurationBounds[i]) return i;
  }
  return kDurationBuckets - 1;
}

int clamp_label(int label) { return label < 0 || label >= kMaxLabels ? kMaxLabels - 1 : label; }

}  // namespace

ProcessMetrics::ProcessMetrics(ProcessTable* table, int slot)
    : table_(table), c_(table && slot >= 0 ? &table->slot(slot).counters : nullptr) {}

int ProcessMetrics::route_label(std::string_view route) { return table_ ? table_->intern_route(route) : 0; }
int ProcessMetrics::model_label(std::string_view model) { return table_ ? table_->intern_model(model) : 0; }

void ProcessMetrics::connections_changed(int64_t delta) {
  if (c_) add_gauge(c_->open_connections, delta);
}

void ProcessMetrics::request_started() {
  if (c_) add_gauge(c_->in_flight, 1);
}

void ProcessMetrics::request_finished(int route, int status, double seconds) {
  if (!c_) return;
  add_gauge(c_->in_flight, -1);
  int r = clamp_label(route);
  bump(c_->requests[r][status_slot(status)]);
  bump(c_->duration_buckets[r][duration_bucket(seconds)]);
  bump(c_->duration_sum_us[r], static_cast<uint64_t>(seconds > 0 ? seconds * 1e6 : 0));
}

void ProcessMetrics::cache_hit() {
  if (c_) bump(c_->cache_hits);
}
void ProcessMetrics::cache_miss() {
  if (c_) bump(c_->cache_misses);
}
void ProcessMetrics::cache_coalesced() {
  if (c_) bump(c_->cache_coalesced);
}
void ProcessMetrics::rate_limited() {
  if (c_) bump(c_->rate_limited);
}

void ProcessMetrics::redis_command() {
  if (c_) bump(c_->redis_commands);
}
void ProcessMetrics::redis_failure(RedisFailure kind) {
  if (c_) bump(c_->redis_failures[static_cast<int>(kind)]);
}
void ProcessMetrics::redis_fallback(RedisDecision decision) {
  if (c_) bump(c_->redis_fallbacks[static_cast<int>(decision)]);
}
void ProcessMetrics::redis_cache_hit() {
  if (c_) bump(c_->redis_cache_hits);
}
void ProcessMetrics::redis_connected(bool connected) {
  if (c_) write_relaxed(c_->redis_connected, int64_t{connected ? 1 : 0});
}

void ProcessMetrics::upstream_call(int model, bool failed, int64_t tokens_in, int64_t tokens_out) {
  if (!c_) return;
  int m = clamp_label(model);
  bump(c_->upstream_calls[m]);
  if (failed) bump(c_->upstream_errors[m]);
  if (tokens_in > 0) bump(c_->tokens_in[m], static_cast<uint64_t>(tokens_in));
  if (tokens_out > 0) bump(c_->tokens_out[m], static_cast<uint64_t>(tokens_out));
}

const char* grpc_status_name(int code) {
  static constexpr const char* kNames[kGrpcCodes] = {
      "OK",           "CANCELLED",          "UNKNOWN",        "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED",      "INTERNAL",       "UNAVAILABLE",      "DATA_LOSS",         "UNAUTHENTICATED"};
  return code >= 0 && code < kGrpcCodes ? kNames[code] : "UNKNOWN";
}

int ProcessMetrics::grpc_method_label(std::string_view method) {
  return table_ ? table_->intern_grpc_method(method) : 0;
}

void ProcessMetrics::grpc_call_started() {
  if (c_) add_gauge_shared(c_->grpc_in_flight, 1);
}

void ProcessMetrics::grpc_call_finished(int method, int code, double seconds) {
  if (!c_) return;
  add_gauge_shared(c_->grpc_in_flight, -1);
  int m = method < 0 || method >= kGrpcMethodLabels ? kGrpcMethodLabels - 1 : method;
  int k = code < 0 || code >= kGrpcCodes ? 2 /* UNKNOWN */ : code;
  bump_shared(c_->grpc_calls[m][k]);
  bump_shared(c_->grpc_duration_buckets[m][duration_bucket(seconds)]);
  bump_shared(c_->grpc_duration_sum_us[m], static_cast<uint64_t>(seconds > 0 ? seconds * 1e6 : 0));
}

}  // namespace genkit::shm
