// render_prometheus: the text exposition format 0.0.4, from the segment.
#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/shm/counters.h"
#include "common/shm/metrics.h"
#include "common/shm/segment.h"

namespace genkit::shm {

namespace {

// Every counter of every slot that was ever claimed, summed.
struct Totals {
  uint64_t requests[kMaxLabels][kStatusSlots] = {};
  uint64_t buckets[kMaxLabels][kDurationBuckets] = {};
  uint64_t sum_us[kMaxLabels] = {};
  int64_t in_flight = 0;
  int64_t connections = 0;
  uint64_t cache_hits = 0, cache_misses = 0, cache_coalesced = 0, rate_limited = 0;
  uint64_t upstream_calls[kMaxLabels] = {}, upstream_errors[kMaxLabels] = {};
  uint64_t tokens_in[kMaxLabels] = {}, tokens_out[kMaxLabels] = {};
  uint64_t grpc_calls[kGrpcMethodLabels][kGrpcCodes] = {};
  uint64_t grpc_buckets[kGrpcMethodLabels][kDurationBuckets] = {};
  uint64_t grpc_sum_us[kGrpcMethodLabels] = {};
  int64_t grpc_in_flight = 0;
  uint64_t redis_commands = 0, redis_cache_hits = 0;
  uint64_t redis_failures[kRedisFailureKinds] = {}, redis_fallbacks[kRedisDecisionKinds] = {};
  int64_t redis_connected = 0;
  int workers = 0;
  int grpc = 0;
};

void add_slot(const ProcessSlot& s, Totals& t) {
  const ProcessCounters& c = s.counters;
  for (int r = 0; r < kMaxLabels; ++r) {
    for (int k = 0; k < kStatusSlots; ++k) t.requests[r][k] += read_relaxed(c.requests[r][k]);
    for (int b = 0; b < kDurationBuckets; ++b) t.buckets[r][b] += read_relaxed(c.duration_buckets[r][b]);
    t.sum_us[r] += read_relaxed(c.duration_sum_us[r]);
    t.upstream_calls[r] += read_relaxed(c.upstream_calls[r]);
    t.upstream_errors[r] += read_relaxed(c.upstream_errors[r]);
    t.tokens_in[r] += read_relaxed(c.tokens_in[r]);
    t.tokens_out[r] += read_relaxed(c.tokens_out[r]);
  }
  for (int m = 0; m < kGrpcMethodLabels; ++m) {
    for (int k = 0; k < kGrpcCodes; ++k) t.grpc_calls[m][k] += read_relaxed(c.grpc_calls[m][k]);
    for (int b = 0; b < kDurationBuckets; ++b) t.grpc_buckets[m][b] += read_relaxed(c.grpc_duration_buckets[m][b]);
    t.grpc_sum_us[m] += read_relaxed(c.grpc_duration_sum_us[m]);
  }
  t.cache_hits += read_relaxed(c.cache_hits);
  t.cache_misses += read_relaxed(c.cache_misses);
  t.cache_coalesced += read_relaxed(c.cache_coalesced);
  t.rate_limited += read_relaxed(c.rate_limited);
  t.redis_commands += read_relaxed(c.redis_commands);
  t.redis_cache_hits += read_relaxed(c.redis_cache_hits);
  for (int k = 0; k < kRedisFailureKinds; ++k) t.redis_failures[k] += read_relaxed(c.redis_failures[k]);
  for (int k = 0; k < kRedisDecisionKinds; ++k) t.redis_fallbacks[k] += read_relaxed(c.redis_fallbacks[k]);
  int32_t pid = read_relaxed(s.pid);
  if (pid == 0) return;
  t.redis_connected += read_relaxed(c.redis_connected);
  t.in_flight += read_relaxed(c.in_flight);
  t.connections += read_relaxed(c.open_connections);
  t.grpc_in_flight += read_relaxed(c.grpc_in_flight);
  auto kind = static_cast<ProcessKind>(read_relaxed(s.kind));
  if (kind == ProcessKind::kWorker) ++t.workers;
  if (kind == ProcessKind::kGrpc) ++t.grpc;
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

// Appends straight into one buffer: /metrics lists every route x status x
// bucket ever seen, and a scrape should not cost an allocation per sample.
class Writer {
 public:
  Writer() { out_.reserve(64 * 1024); }

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // A sample labelled `labels` and then `more` (each `k="v"[,...]` or empty).
  void sample(std::string_view name, std::string_view labels, uint64_t v, std::string_view more = {}) {
    begin(name, labels, more);
    append_number(v);
    out_ += '\n';
  }
  void sample_signed(std::string_view name, std::string_view labels, int64_t v) {
    begin(name, labels, {});
    append_number(v);
    out_ += '\n';
  }
  void sample_seconds(std::string_view name, std::string_view labels, uint64_t us) {
    begin(name, labels, {});
    char buf[48];
    std::snprintf(buf, sizeof buf, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
    out_ += buf;
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  void begin(std::string_view name, std::string_view labels, std::string_view more) {
    out_ += name;
    if (!labels.empty() || !more.empty()) {
      out_ += '{';
      out_ += labels;
      if (!labels.empty() && !more.empty()) out_ += ',';
      out_ += more;
      out_ += '}';
    }
    out_ += ' ';
  }
  template <typename Integer>
  void append_number(Integer v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, ec == std::errc() ? end : buf);
  }
  std::string out_;
};

std::string label_name(const std::vector<std::string>& names, int i) {
  return i < static_cast<int>(names.size()) ? names[i] : "other";
}

std::string provider_of(const std::string& model) { return model.substr(0, model.find('/')); }

// status="200" ... status="other", one per status slot.
const std::vector<std::string>& status_labels() {
  static const std::vector<std::string> labels = [] {
    std::vector<std::string> out;
    for (int k = 0; k < kStatusSlots; ++k) {
      out.push_back("status=\"" + (k < kStatusSlots - 1 ? std::to_string(kCountedStatuses[k]) : "other") + "\"");
    }
    return out;
  }();
  return labels;
}

// le="0.005" ... le="+Inf", one per duration bucket.
const std::vector<std::string>& bucket_labels() {
  static const std::vector<std::string> labels = [] {
    std::vector<std::string> out;
    for (int b = 0; b < kDurationBuckets; ++b) {
      char buf[32] = "+Inf";
      if (b < kDurationBuckets - 1) std::snprintf(buf, sizeof buf, "%g", kDurationBounds[b]);
      out.push_back(std::string("le=\"") + buf + "\"");
    }
    return out;
  }();
  return labels;
}

void write_http(Writer& w, const Totals& t, const std::vector<std::string>& routes) {
  w.family("genkit_endpoints_http_requests_total", "counter", "HTTP requests answered, by route and status.");
  for (int r = 0; r < kMaxLabels; ++r) {
    std::string route = "route=\"" + escape_label(label_name(routes, r)) + "\"";
    for (int k = 0; k < kStatusSlots; ++k) {
      if (t.requests[r][k]) {
        w.sample("genkit_endpoints_http_requests_total", route, t.requests[r][k], status_labels()[k]);
      }
    }
  }
  w.family("genkit_endpoints_http_request_duration_seconds", "histogram",
           "Time from a request's arrival to its last response byte, by route.");
  for (int r = 0; r < kMaxLabels; ++r) {
    uint64_t count = 0;
    for (int b = 0; b < kDurationBuckets; ++b) count += t.buckets[r][b];
    if (count == 0) continue;
    std::string route = "route=\"" + escape_label(label_name(routes, r)) + "\"";
    uint64_t cumulative = 0;
    for (int b = 0; b < kDurationBuckets; ++b) {
      cumulative += t.buckets[r][b];
      w.sample("genkit_endpoints_http_request_duration_seconds_bucket", route, cumulative, bucket_labels()[b]);
    }
    w.sample_seconds("genkit_endpoints_http_request_duration_seconds_sum", route, t.sum_us[r]);
    w.sample("genkit_endpoints_http_request_duration_seconds_count", route, count);
  }
  w.family("genkit_endpoints_http_requests_in_flight", "gauge", "Requests being served now.");
  w.sample_signed("genkit_endpoints_http_requests_in_flight", "", t.in_flight < 0 ? 0 : t.in_flight);
  w.family("genkit_endpoints_http_connections_open", "gauge", "Client connections open now.");
  w.sample_signed("genkit_endpoints_http_connections_open", "", t.connections < 0 ? 0 : t.connections);
}

void write_grpc(Writer& w, const Totals& t, const std::vector<std::string>& methods) {
  auto method_label = [&](int m) {
    return "method=\"" + escape_label(m < kGrpcMethodLabels - 1 ? label_name(methods, m) : "other") + "\"";
  };
  int used = std::min(static_cast<int>(methods.size()), kGrpcMethodLabels - 1);
  w.family("genkit_endpoints_grpc_requests_total", "counter", "gRPC calls answered, by method and status code.");
  for (int m = 0; m < kGrpcMethodLabels; ++m) {
    if (m >= used && m != kGrpcMethodLabels - 1) continue;
    const std::string label = method_label(m);
    for (int k = 0; k < kGrpcCodes; ++k) {
      if (t.grpc_calls[m][k]) {
        w.sample("genkit_endpoints_grpc_requests_total", label, t.grpc_calls[m][k],
                 std::string("code=\"") + grpc_status_name(k) + "\"");
      }
    }
  }
  w.family("genkit_endpoints_grpc_request_duration_seconds", "histogram",
           "Time from a gRPC call's arrival to its status, by method.");
  for (int m = 0; m < used; ++m) {
    const std::string label = method_label(m);
    uint64_t count = 0;
    for (int b = 0; b < kDurationBuckets; ++b) {
      count += t.grpc_buckets[m][b];
      w.sample("genkit_endpoints_grpc_request_duration_seconds_bucket", label, count, bucket_labels()[b]);
    }
    w.sample_seconds("genkit_endpoints_grpc_request_duration_seconds_sum", label, t.grpc_sum_us[m]);
    w.sample("genkit_endpoints_grpc_request_duration_seconds_count", label, count);
  }
  w.family("genkit_endpoints_grpc_requests_in_flight", "gauge", "gRPC calls being served now.");
  w.sample_signed("genkit_endpoints_grpc_requests_in_flight", "", t.grpc_in_flight < 0 ? 0 : t.grpc_in_flight);
}

void write_upstream(Writer& w, const Totals& t, const std::vector<std::string>& models) {
  struct Family {
    const char* name;
    const char* help;
    const uint64_t* values;
  };
  const Family families[] = {
      {"genkit_endpoints_upstream_requests_total", "Model calls sent upstream, by provider and model.", t.upstream_calls},
      {"genkit_endpoints_upstream_errors_total", "Model calls that failed upstream, by provider and model.",
       t.upstream_errors},
      {"genkit_endpoints_model_input_tokens_total", "Prompt tokens reported by the model, by model.", t.tokens_in},
      {"genkit_endpoints_model_output_tokens_total", "Completion tokens reported by the model, by model.", t.tokens_out},
  };
  for (const Family& f : families) {
    w.family(f.name, "counter", f.help);
    for (int m = 0; m < static_cast<int>(models.size()); ++m) {
      std::string model = label_name(models, m);
      w.sample(f.name, "provider=\"" + escape_label(provider_of(model)) + "\",model=\"" + escape_label(model) + "\"",
               f.values[m]);
    }
  }
}

void write_redis(Writer& w, const Totals& t, const std::string& backend) {
  w.family("genkit_endpoints_state_backend_info", "gauge", "Where the cache, breaker and rate limiter live (STATE_BACKEND).");
  w.sample("genkit_endpoints_state_backend_info", "backend=\"" + escape_label(backend) + "\"", 1);
  if (backend != "redis") return;
  w.family("genkit_endpoints_redis_connected_processes", "gauge", "Processes whose Redis connection is usable now.");
  w.sample_signed("genkit_endpoints_redis_connected_processes", "", t.redis_connected);
  w.family("genkit_endpoints_redis_commands_total", "counter", "Commands sent to Redis.");
  w.sample("genkit_endpoints_redis_commands_total", "", t.redis_commands);
  w.family("genkit_endpoints_redis_failures_total", "counter",
           "Redis commands or connections that failed: timeout, connection (refused, lost), reply (not what was asked).");
  const char* kinds[kRedisFailureKinds] = {"timeout", "connection", "reply"};
  for (int k = 0; k < kRedisFailureKinds; ++k) {
    w.sample("genkit_endpoints_redis_failures_total", std::string("kind=\"") + kinds[k] + "\"", t.redis_failures[k]);
  }
  w.family("genkit_endpoints_redis_fallbacks_total", "counter",
           "Decisions taken on this machine's shared-memory state because Redis was unavailable, slow or wrong.");
  const char* decisions[kRedisDecisionKinds] = {"rate_limit", "cache", "breaker"};
  for (int k = 0; k < kRedisDecisionKinds; ++k) {
    w.sample("genkit_endpoints_redis_fallbacks_total", std::string("decision=\"") + decisions[k] + "\"",
             t.redis_fallbacks[k]);
  }
  w.family("genkit_endpoints_redis_cache_hits_total", "counter",
           "Cacheable requests the first-level (shared-memory) cache missed and Redis answered.");
  w.sample("genkit_endpoints_redis_cache_hits_total", "", t.redis_cache_hits);
}

}  // namespace

std::string render_prometheus(Segment& segment, const std::string& state_backend) {
  ProcessTable& table = segment.processes();
  auto totals = std::make_unique<Totals>();
  Totals& t = *totals;
  for (int i = 0; i < ProcessTable::capacity(); ++i) {
    const ProcessSlot& s = table.slot(i);
    if (read_relaxed(s.claims) != 0) add_slot(s, t);
  }
  Writer w;
  write_http(w, t, table.routes());

  w.family("genkit_endpoints_workers_alive", "gauge", "HTTP worker processes running.");
  w.sample("genkit_endpoints_workers_alive", "", static_cast<uint64_t>(t.workers));
  w.family("genkit_endpoints_grpc_daemons_alive", "gauge", "gRPC daemon processes running.");
  w.sample("genkit_endpoints_grpc_daemons_alive", "", static_cast<uint64_t>(t.grpc));
  w.family("genkit_endpoints_process_restarts_total", "counter",
           "Worker processes started to replace one that exited, crashed or was recycled.");
  w.sample("genkit_endpoints_process_restarts_total", "", read_relaxed(table.header().process_restarts));

  CacheZone::Stats cache = segment.cache().stats();
  w.family("genkit_endpoints_cache_hits_total", "counter", "Cacheable requests answered from the response cache.");
  w.sample("genkit_endpoints_cache_hits_total", "", t.cache_hits);
  w.family("genkit_endpoints_cache_misses_total", "counter", "Cacheable requests that ran their flow.");
  w.sample("genkit_endpoints_cache_misses_total", "", t.cache_misses);
  w.family("genkit_endpoints_cache_coalesced_total", "counter",
           "Cacheable requests that waited for an identical request's result instead of running the flow.");
  w.sample("genkit_endpoints_cache_coalesced_total", "", t.cache_coalesced);
  w.family("genkit_endpoints_cache_evictions_total", "counter", "Cached results evicted to make room (LRU).");
  w.sample("genkit_endpoints_cache_evictions_total", "", cache.evictions);
  w.family("genkit_endpoints_cache_entries", "gauge", "Results in the response cache.");
  w.sample("genkit_endpoints_cache_entries", "", cache.entries);

  BreakerZone& breaker = segment.breaker();
  CircuitState state = breaker.fleet_state().value_or(breaker.state());
  w.family("genkit_endpoints_circuit_breaker_state", "gauge", "1 for the circuit breaker's current state.");
  for (CircuitState s : {CircuitState::kClosed, CircuitState::kOpen, CircuitState::kHalfOpen}) {
    w.sample("genkit_endpoints_circuit_breaker_state", std::string("state=\"") + circuit_state_name(s) + "\"",
             s == state ? 1 : 0);
  }
  w.family("genkit_endpoints_circuit_breaker_transitions_total", "counter", "Circuit breaker state changes, by new state.");
  for (CircuitState s : {CircuitState::kClosed, CircuitState::kOpen, CircuitState::kHalfOpen}) {
    w.sample("genkit_endpoints_circuit_breaker_transitions_total", std::string("to=\"") + circuit_state_name(s) + "\"",
             breaker.transitions(s));
  }

  w.family("genkit_endpoints_rate_limit_rejections_total", "counter", "Requests refused with 429 by the rate limiter.");
  w.sample("genkit_endpoints_rate_limit_rejections_total", "", t.rate_limited);

  write_upstream(w, t, table.models());
  write_grpc(w, t, table.grpc_methods());
  write_redis(w, t, state_backend);
  return w.take();
}

uint64_t requests_served(Segment& segment) {
  ProcessTable& table = segment.processes();
  uint64_t total = 0;
  for (int i = 0; i < ProcessTable::capacity(); ++i) {
    const ProcessSlot& s = table.slot(i);
    if (read_relaxed(s.claims) == 0) continue;
    for (const auto& route : s.counters.requests) {
      for (const uint64_t& n : route) total += read_relaxed(n);
    }
    for (const auto& method : s.counters.grpc_calls) {
      for (const uint64_t& n : method) total += read_relaxed(n);
    }
  }
  return total;
}

}  // namespace genkit::shm
