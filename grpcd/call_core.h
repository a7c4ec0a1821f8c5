// The loop-side steps every flow RPC takes, whatever its reactor: the client
// address (peer, or X-Forwarded-For metadata from a trusted proxy), the
// shared per-IP rate limit, the API key (API_KEYS: "authorization" metadata,
// verbatim, as the HTTP side reads its header; the health services take no
// flow call and are exempt), the flow's input validation, the deadline
// (the client's, bounded by REQUEST_TIMEOUT), the trace context and the
// request id (x-request-id, which the access-log interceptor guarantees).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/runtime/flow.h"
#include "common/runtime/loop.h"
#include "common/status.h"
#include "grpcd/daemon_context.h"

namespace grpc {
class CallbackServerContext;
class Status;
}

namespace genkit::grpcd {

class CallCore {
 public:
  // Any thread (grpc's, when the call arrives). `raw_input`: the request
  // as the flow's JSON, or why it cannot be (admit() answers with that).
  CallCore(DaemonContext& daemon, grpc::CallbackServerContext* ctx, const char* flow, Result<Json> raw_input);

  // Any thread, as the call starts: counts it in flight. False past
  // kMaxCallsInFlight: finish it at once with too_busy().
  bool enter();
  static grpc::Status too_busy();
  // OnDone (grpc's thread): the call leaves the count, and `self`, its last
  // reference, is dropped on the loop after every closure posted before.
  void leave(std::shared_ptr<void> self);

  // Loop thread, once: the rate limit. `then` gets OK or the status to
  // finish the call with — at once (shared memory) or when Redis answers.
  void check_rate_limit(std::function<void(Status)> then);
  // Loop thread, once, after the rate limit: the API key, then the request
  // and the flow's schema (defaults applied). An error is the status to
  // finish the call with.
  Result<Json> admit();
  // Loop thread: cancels the run and calls on_expiry when the call's time is up.
  void arm_deadline(std::function<void(Status)> on_expiry);
  void disarm() { deadline_.reset(); }
  TraceContext trace() const;
  // Logs a failed run (not a cancellation) with the request id.
  void log_failure(const Status& status) const;

  DaemonContext& daemon() { return daemon_; }
  grpc::CallbackServerContext* ctx() { return ctx_; }
  const FlowAction* action() const { return action_; }
  CancelToken& cancel_token() { return cancel_; }
  const std::string& request_id() const { return request_id_; }

 private:
  std::string client_ip() const;
  std::optional<std::string> authorization() const;  // nullopt: none sent

  DaemonContext& daemon_;
  grpc::CallbackServerContext* ctx_;
  const char* flow_;
  Result<Json> raw_input_;
  const FlowAction* action_ = nullptr;
  CancelToken cancel_;
  std::unique_ptr<Timer> deadline_;
  std::string request_id_;
};

// The address in a grpc peer string: "ipv4:10.0.0.1:5000" → "10.0.0.1",
// "ipv6:[::1]:5000" → "::1"; "" for other transports (unix sockets).
std::string address_of_peer(std::string_view peer);

// The value of a metadata key the client sent ("" when absent).
std::string metadata_value(const grpc::CallbackServerContext* ctx, const char* key);

}  // namespace genkit::grpcd
