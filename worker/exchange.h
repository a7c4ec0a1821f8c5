// One request/response exchange, whatever the protocol. Handlers respond
// once (respond) or stream (start_stream, write_stream..., end_stream). The
// exchange finishes every response the same way for HTTP/1.1 and HTTP/2:
// gzip (middleware/gzip.h), the headers middleware asked for (CORS), the
// security headers and the request id; and it writes the access-log line
// when it completes. If the client goes away, the cancel token fires and
// later writes are dropped.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/runtime/loop.h"
#include "worker/http_types.h"
#include "worker/response_policy.h"

namespace genkit::shm {
class ProcessMetrics;
}

namespace genkit::http {

// The error format of the route a request is for: ours (errors.h), or that
// of Genkit's flow server (genkit_error_response). The router sets it before
// the gates run, so that their refusals (API key, rate limit) speak it too.
enum class ErrorFormat { kRest, kGenkit };

class Exchange {
 public:
  Exchange(Request request, const ResponsePolicy& policy);
  virtual ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const Request& request() const { return request_; }
  CancelToken& cancel_token() { return cancel_; }

  // Counted in /metrics from now until it completes (or is dropped), under
  // `route_label` (the router refines it once the route is known).
  void count_in(shm::ProcessMetrics* metrics, int route_label);
  void set_route_label(int label) { route_label_ = label; }
  void set_error_format(ErrorFormat format) { error_format_ = format; }
  ErrorFormat error_format() const { return error_format_; }
  // The client behind a trusted proxy (X-Forwarded-For), once resolved.
  void set_client_ip(std::string ip) { request_.client_ip = std::move(ip); }
  // The REQUEST_TIMEOUT timer of a request still running: held here so that
  // the answer (or the end of its stream) disarms it.
  void hold_deadline(std::unique_ptr<Timer> timer) { deadline_ = std::move(timer); }
  void set_secure(bool secure) { request_.secure = secure; }
  // Request-side middleware decorating whatever response comes (CORS).
  void add_response_header(std::string name, std::string value);
  void add_vary(std::string_view field);  // once per field
  void suppress_cors() { cors_suppressed_ = true; }  // a refused preflight

  bool responded() const { return state_ != State::kPending; }  // head sent (or dropped)
  bool finished() const { return state_ == State::kDone; }

  void respond(Response response);
  void start_stream(int status, std::string content_type, std::vector<Header> headers);
  void write_stream(std::string_view data);
  void end_stream();

  // Called by the protocol session when the client has gone.
  void client_gone();

 protected:
  // Protocol hooks.
  virtual void write_head(const ResponseHead& head) = 0;
  virtual void write_body(std::string_view data) = 0;
  virtual void write_end() = 0;
  bool gone() const { return gone_; }

 private:
  enum class State { kPending, kStreaming, kDone };
  void send_head(int status, const std::string& content_type, const std::vector<Header>& extra, long content_length,
                 bool gzipped);
  void completed();  // access log line and metrics, once

  Request request_;
  const ResponsePolicy& policy_;
  std::vector<Header> decorations_;
  std::string vary_;
  bool cors_suppressed_ = false;
  CancelToken cancel_;
  State state_ = State::kPending;
  bool gone_ = false;
  int status_ = 0;
  std::size_t bytes_sent_ = 0;
  std::chrono::steady_clock::time_point started_;
  shm::ProcessMetrics* metrics_ = nullptr;
  int route_label_ = 0;
  ErrorFormat error_format_ = ErrorFormat::kRest;
  std::unique_ptr<Timer> deadline_;
};

}  // namespace genkit::http
