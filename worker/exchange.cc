#include "worker/exchange.h"

#include "common/log.h"
#include "common/shm/metrics.h"
#include "worker/middleware/cors.h"
#include "worker/middleware/gzip.h"
#include "worker/middleware/security_headers.h"

namespace genkit::http {

Exchange::Exchange(Request request, const ResponsePolicy& policy)
    : request_(std::move(request)), policy_(policy), started_(std::chrono::steady_clock::now()) {}

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

void Exchange::add_response_header(std::string name, std::string value) {
  decorations_.push_back({std::move(name), std::move(value)});
}

void Exchange::add_vary(std::string_view field) {
  std::string_view have = vary_;
  while (!have.empty()) {
    std::size_t comma = have.find(", ");
    if (have.substr(0, comma) == field) return;
    have = comma == std::string_view::npos ? std::string_view() : have.substr(comma + 2);
  }
  if (!vary_.empty()) vary_ += ", ";
  vary_ += field;
}

void Exchange::send_head(int status, const std::string& content_type, const std::vector<Header>& extra,
                         long content_length, bool gzipped) {
  std::string allow_origin;  // (the head's fields point into it)
  if (policy_.cors && !cors_suppressed_) {
    allow_origin = allow_origin_for(*policy_.cors, request_);
    if (!allow_origin.empty() && allow_origin != "*") add_vary("Origin");
  }
  ResponseHead head;
  head.status = status;
  head.content_length = content_length;
  head.fields.reserve(12 + decorations_.size() + extra.size());
  head.fields.push_back({"Content-Type", content_type});
  if (gzipped) head.fields.push_back({"Content-Encoding", "gzip"});
  if (!vary_.empty()) head.fields.push_back({"Vary", vary_});
  head.fields.push_back({"X-Request-ID", request_.request_id});
  if (!allow_origin.empty()) head.fields.push_back({"Access-Control-Allow-Origin", allow_origin});
  add_security_headers(head.fields, policy_, request_.secure);
  for (const Header& h : decorations_) head.fields.push_back({h.name, h.value});
  for (const Header& h : extra) head.fields.push_back({h.name, h.value});
  write_head(head);
}

void Exchange::respond(Response response) {
  if (state_ != State::kPending) return;
  state_ = State::kDone;
  status_ = response.status;
  bool gzipped = false;
  if (!gone_ && response.body.size() >= policy_.gzip_min_size && !response.body.empty() &&
      compressible(response.content_type)) {
    add_vary("Accept-Encoding");
    if (accepts_gzip(request_)) {
      if (std::optional<std::string> z = gzip_body(response.body)) {
        response.body = std::move(*z);
        gzipped = true;
      }
    }
  }
  bytes_sent_ = response.body.size();
  if (!gone_) {
    send_head(response.status, response.content_type, response.headers, static_cast<long>(response.body.size()),
              gzipped);
    if (!response.body.empty()) write_body(response.body);
    write_end();
  }
  completed();
}

void Exchange::start_stream(int status, std::string content_type, std::vector<Header> headers) {
  if (state_ != State::kPending) return;
  state_ = State::kStreaming;
  status_ = status;
  if (!gone_) send_head(status, content_type, headers, -1, false);
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
