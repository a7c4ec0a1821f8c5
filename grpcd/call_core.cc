#include "grpcd/call_core.h"

#include <grpcpp/server_context.h>

#include <chrono>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/telemetry/otlp_exporter.h"
#include "common/schema/schema.h"
#include "common/state/rate_limiter.h"

namespace genkit::grpcd {

std::string address_of_peer(std::string_view peer) {
  if (peer.starts_with("ipv4:")) {
    peer.remove_prefix(5);
    return std::string(peer.substr(0, peer.rfind(':')));
  }
  if (peer.starts_with("ipv6:[")) {
    peer.remove_prefix(6);
    std::string_view host = peer.substr(0, peer.find(']'));
    // (A scope id, "%eth0", is not part of the address.)
    return std::string(host.substr(0, host.find('%')));
  }
  return "";
}

namespace {

std::vector<std::string_view> forwarded_entries(const grpc::CallbackServerContext* ctx) {
  std::vector<std::string_view> out;
  auto range = ctx->client_metadata().equal_range("x-forwarded-for");
  for (auto it = range.first; it != range.second; ++it) {
    split_forwarded_for(std::string_view(it->second.data(), it->second.size()), &out);
  }
  return out;
}

}  // namespace

std::string metadata_value(const grpc::CallbackServerContext* ctx, const char* key) {
  auto it = ctx->client_metadata().find(key);
  return it == ctx->client_metadata().end() ? std::string() : std::string(it->second.data(), it->second.size());
}

CallCore::CallCore(DaemonContext& daemon, grpc::CallbackServerContext* ctx, const char* flow,
                   Result<Json> raw_input)
    : daemon_(daemon), ctx_(ctx), flow_(flow), raw_input_(std::move(raw_input)),
      request_id_(metadata_value(ctx, "x-request-id")) {}

bool CallCore::enter() { return daemon_.calls_in_flight.fetch_add(1) < kMaxCallsInFlight; }

grpc::Status CallCore::too_busy() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "the server has too many calls in flight");
}

void CallCore::leave(std::shared_ptr<void> self) {
  daemon_.calls_in_flight.fetch_sub(1);
  daemon_.inbox.post([self = std::move(self)] {});
}

// Repeated values joined with ", ", as HTTP joins repeated headers.
std::optional<std::string> CallCore::authorization() const {
  std::optional<std::string> value;
  auto range = ctx_->client_metadata().equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view v(it->second.data(), it->second.size());
    if (value) {
      *value += ", ";
      *value += v;
    } else {
      value.emplace(v);
    }
  }
  return value;
}

std::string CallCore::client_ip() const {
  std::string peer = address_of_peer(ctx_->peer());
  if (daemon_.trusted_proxies.empty()) return peer;
  return client_behind_proxies(peer, forwarded_entries(ctx_), daemon_.trusted_proxies);
}

void CallCore::check_rate_limit(std::function<void(Status)> then) {
  RateLimiter& limiter = daemon_.shared.rate_limiter();
  std::optional<IpBytes> ip = limiter.enabled() ? parse_ip(client_ip()) : std::nullopt;
  if (!ip) return then(Status::ok());
  auto verdict = [&limiter, metrics = &daemon_.shared.metrics()](const shm::RateDecision& d) {
    if (d.allowed) return Status::ok();
    metrics->rate_limited();
    return Status(Code::kResourceExhausted, "rate limit exceeded: " + std::to_string(d.limit) + " requests per " +
                                                limiter.period_name() + " per client")
        .with_retry_after(d.retry_after_s);
  };
  std::optional<shm::RateDecision> now =
      limiter.take(*ip, [then, verdict](shm::RateDecision d) { then(verdict(d)); });
  if (now) then(verdict(*now));
}

Result<Json> CallCore::admit() {
  if (daemon_.api_keys.enabled()) {
    std::optional<std::string> key = authorization();
    Status auth = daemon_.api_keys.check(key ? &*key : nullptr);
    if (!auth.is_ok()) return auth;
  }
  action_ = daemon_.runtime.registry().flow(flow_);
  if (!action_) return internal_error(std::string("flow not registered: ") + flow_);
  if (!raw_input_.ok()) return raw_input_.status();
  return action_->input->validate(raw_input_->view());
}

void CallCore::arm_deadline(std::function<void(Status)> on_expiry) {
  using namespace std::chrono;
  auto budget = duration_cast<milliseconds>(seconds(daemon_.config.request_timeout));
  Status why(Code::kDeadlineExceeded, "the call took longer than REQUEST_TIMEOUT");
  auto client_deadline = ctx_->deadline();
  if (client_deadline < system_clock::time_point::max() - hours(24 * 365)) {
    auto left = duration_cast<milliseconds>(client_deadline - system_clock::now());
    if (left < budget) {
      budget = std::max(left, milliseconds(0));
      why = Status(Code::kDeadlineExceeded, "deadline exceeded");
    }
  }
  deadline_ = std::make_unique<Timer>(daemon_.runtime.loop().base(),
                                      [this, on_expiry = std::move(on_expiry), why]() mutable {
                                        log_warning("request_timeout", {{"request_id", request_id_}, {"flow", flow_}});
                                        cancel_.cancel();
                                        on_expiry(std::move(why));
                                      });
  deadline_->start(budget);
}

TraceContext CallCore::trace() const {
  TraceContext t;
  std::string tp = metadata_value(ctx_, "traceparent");
  if (tp.empty() || !parse_traceparent(tp, &t.trace_id, &t.parent_span_id)) t = TraceContext{};
  return t;
}

void CallCore::log_failure(const Status& status) const {
  if (status.code() == Code::kCancelled) return;
  log_error("flow_failed", {{"request_id", request_id_}, {"flow", flow_},
                            {"code", code_name(status.code())}, {"message", status.message()}});
}

}  // namespace genkit::grpcd
