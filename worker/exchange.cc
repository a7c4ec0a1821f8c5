#include "worker/exchange.h"

#include "common/log.h"
#include "common/shm/metrics.h"

namespace genkit::http {

namespace {

// OWASP headers every response carries (API-only server: nothing may load).
constexpr std::string_view kSecurityHeaders =
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: strict-origin-when-cross-origin\r\n"
    "Permissions-Policy: geolocation=(), camera=(), microphone=()\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Content-Security-Policy: default-src 'none'\r\n";

}  // namespace

Exchange::Exchange(Request request) : request_(std::move(request)), started_(std::chrono::steady_clock::now()) {}

// Dropped before it completed (the client went away and the handler never
// answered, or a stream was cut): logged and counted as 499, as nginx does.
Exchange::~Exchange() {
  if (state_ == State::kDone) return;
  status_ = 499;
  completed();
}

void Exchange::count_in(shm::ProcessMetrics* metrics, int route_label) {
  if (!metrics || !metrics->enabled()) return;
  metrics_ = metrics;
  route_label_ = route_label;
  metrics_->request_started();
}

std::string Exchange::common_fields(const std::string& content_type, const std::vector<Header>& extra) const {
  std::string f;
  f.reserve(512);
  f += "Content-Type: ";
  f += content_type;
  f += "\r\nX-Request-ID: ";
  f += request_.request_id;
  f += "\r\n";
  f += kSecurityHeaders;
  for (const Header& h : extra) {
    f += h.name;
    f += ": ";
    f += h.value;
    f += "\r\n";
  }
  return f;
}

void Exchange::respond(Response response) {
  if (state_ != State::kPending) return;
  state_ = State::kDone;
  status_ = response.status;
  bytes_sent_ = response.body.size();
  if (!gone_) {
    write_head(response.status, common_fields(response.content_type, response.headers),
               static_cast<long>(response.body.size()));
    if (!response.body.empty()) write_body(response.body);
    write_end();
  }
  completed();
}

void Exchange::start_stream(int status, std::string content_type, std::vector<Header> headers) {
  if (state_ != State::kPending) return;
  state_ = State::kStreaming;
  status_ = status;
  if (!gone_) write_head(status, common_fields(content_type, headers), -1);
}

void Exchange::write_stream(std::string_view data) {
  if (state_ != State::kStreaming) return;
  bytes_sent_ += data.size();
  if (!gone_) write_body(data);
}

void Exchange::end_stream() {
  if (state_ != State::kStreaming) return;
  state_ = State::kDone;
  if (!gone_) write_end();
  completed();
}

void Exchange::client_gone() {
  if (gone_) return;
  gone_ = true;
  if (state_ != State::kDone) {
    log_info("client_disconnected", {{"request_id", request_.request_id}, {"path", request_.path}});
  }
  cancel_.cancel();
}

void Exchange::completed() {
  // Disarmed, not destroyed: this may run inside the timer's own callback.
  if (deadline_) deadline_->cancel();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (metrics_) {
    metrics_->request_finished(route_label_, status_, seconds);
    metrics_ = nullptr;
  }
  if (!log_enabled(LogLevel::kInfo)) return;
  double ms = seconds * 1000;
  log_info("request", {{"request_id", request_.request_id},
                       {"method", request_.method},
                       {"path", request_.path},
                       {"status", status_},
                       {"duration_ms", ms},
                       {"bytes", bytes_sent_},
                       {"client", request_.client_ip}});
}

}  // namespace genkit::http
