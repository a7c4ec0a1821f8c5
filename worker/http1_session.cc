#include "worker/http1_session.h"

#include <event2/event.h>

#include <algorithm>
#include <cctype>

#include "common/runtime/trace.h"
#include "worker/errors.h"
#include "worker/http1_framing.h"
#include "worker/http2_session.h"
#include "worker/http2_upgrade.h"
#include "worker/router.h"

namespace genkit::http {

namespace {

constexpr std::size_t kMaxHeaders = 100;
// Response bytes not yet taken by the socket above which no further
// pipelined request is parsed.
constexpr std::size_t kMaxPendingOutput = 256 * 1024;
constexpr int kDrainIdleGraceS = 1;

Http1Session* session_of(http_parser* p) { return static_cast<Http1Session*>(p->data); }

}  // namespace

const http_parser_settings& Http1Session::settings() {
  static const http_parser_settings s = [] {
    http_parser_settings x{};
    x.on_message_begin = &Http1Session::on_message_begin;
    x.on_url = &Http1Session::on_url;
    x.on_header_field = &Http1Session::on_header_field;
    x.on_header_value = &Http1Session::on_header_value;
    x.on_headers_complete = &Http1Session::on_headers_complete;
    x.on_body = &Http1Session::on_body;
    x.on_message_complete = &Http1Session::on_message_complete;
    return x;
  }();
  return s;
}

Http1Session::Http1Session(Connection& conn) : conn_(conn) {
  event_assign(&resume_ev_, conn.context().base, -1, 0, &Http1Session::on_resume, this);
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

Http1Session::~Http1Session() {
  if (active_) active_->detach();
  event_del(&resume_ev_);
}

std::size_t Http1Session::on_data(std::string_view input) {
  std::size_t used = 0;
  while (takes_input() && used < input.size()) {
    // Paused after the last message (or its response): this one may go on.
    if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
    std::string_view offered = input.substr(used);
    if (head_guard_.active()) {
      Http1HeadGuard::Scan scan = head_guard_.scan(offered);
      if (scan.violation) {
        reject(400, scan.violation);
        return input.size();
      }
      offered = offered.substr(0, scan.head_bytes);  // the body, if any, once the guard is done
    }
    in_parser_ = true;
    std::size_t n = http_parser_execute(&parser_, &settings(), offered.data(), offered.size());
    in_parser_ = false;
    used += n;
    http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_PAUSED) continue;  // state decides whether we go on
    if (err != HPE_OK) {
      // The connection closes after the answer: the rest is not wanted.
      refuse_unparsable(err);
      return input.size();
    }
    if (n < offered.size()) {
      // http_parser stops after a request with "Connection: Upgrade" (what
      // follows would be another protocol). One we did not switch for was
      // plain HTTP/1.1: what follows is the next request.
      if (parser_.upgrade && n > 0 && state_ == State::kIdle) continue;
      break;  // defensive: the parser stopped without saying why
    }
  }
  return used;
}

// Between requests, a client that sends more while it does not read what
// we answered is not parsed further until its responses have gone out: its
// pipelined requests wait in the connection's bounded input buffer instead
// of becoming responses we would have to hold.
bool Http1Session::takes_input() const {
  if (state_ == State::kReading) return true;
  return state_ == State::kIdle && conn_.pending_output() <= kMaxPendingOutput;
}

void Http1Session::refuse_unparsable(http_errno err) {
  if (state_ == State::kClosing) return;  // (413 was already answered)
  if (err == HPE_HEADER_OVERFLOW) {
    // (The parser counts the request line, the fields, and after the head
    // each chunk-size line and the trailer section, against one limit.)
    if (header_count_ == 0) return reject(414, "the request target is too long");
    if (in_trailers_ && header_count_ == head_fields_) return reject(400, "a chunk-size line is too long");
    return reject(431, "request headers are too large");
  }
  if (too_many_headers_) return reject(431, "too many header fields (at most " + std::to_string(kMaxHeaders) + ")");
  reject(400, std::string("malformed HTTP request: ") + http_errno_description(err));
}

int Http1Session::on_message_begin(http_parser* p) {
  Http1Session* s = session_of(p);
  s->state_ = State::kReading;
  s->current_ = Request{};
  s->current_.client_ip = s->conn_.client_ip();
  s->current_.secure = s->conn_.secure();
  s->url_.clear();
  s->field_.clear();
  s->in_value_ = false;
  s->header_count_ = 0;
  s->too_many_headers_ = false;
  s->in_trailers_ = false;
  s->conn_.arm_timer(s->conn_.context().limits.read_timeout_s);
  return 0;
}

int Http1Session::on_url(http_parser* p, const char* at, size_t len) {
  session_of(p)->url_.append(at, len);
  return 0;
}

void Http1Session::finish_header() {
  if (!in_value_) return;
  in_value_ = false;
  field_.clear();
}

int Http1Session::on_header_field(http_parser* p, const char* at, size_t len) {
  Http1Session* s = session_of(p);
  if (s->in_value_) s->finish_header();
  if (s->field_.empty() && ++s->header_count_ > kMaxHeaders) {
    s->too_many_headers_ = true;
    return 1;
  }
  if (s->in_trailers_) return 0;  // counted, never kept
  for (size_t i = 0; i < len; ++i) s->field_.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(at[i]))));
  return 0;
}

int Http1Session::on_header_value(http_parser* p, const char* at, size_t len) {
  Http1Session* s = session_of(p);
  if (s->in_trailers_) {
    s->in_value_ = true;  // (so that the next field counts)
    return 0;
  }
  if (!s->in_value_) {
    s->in_value_ = true;
    s->current_.headers.push_back(Header{s->field_, std::string()});
  }
  s->current_.headers.back().value.append(at, len);
  return 0;
}

int Http1Session::on_headers_complete(http_parser* p) {
  Http1Session* s = session_of(p);
  s->finish_header();
  Request& r = s->current_;
  r.method = http_method_str(static_cast<http_method>(p->method));
  std::size_t q = s->url_.find('?');
  r.path = s->url_.substr(0, q);
  if (q != std::string::npos) r.query = s->url_.substr(q + 1);
  const std::string* rid = r.header("x-request-id");
  r.request_id = rid && valid_request_id(*rid) ? *rid : uuid4();
  s->keep_alive_ = http_should_keep_alive(p) != 0;
  // Fields after a chunked body (a trailer section) never join the request's
  // headers (RFC 9110 §6.5.1): what was checked and routed stays what it is.
  s->in_trailers_ = true;
  s->head_fields_ = s->header_count_;
  if (std::optional<Refusal> refusal = framing_refusal(r, p->http_major, p->http_minor)) {
    s->reject(refusal->status, refusal->detail);
    http_parser_pause(p, 1);
    return 0;
  }

  const int64_t max_body = s->conn_.context().limits.max_body_size;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > static_cast<uint64_t>(max_body)) {
    s->reject(413, body_too_large_detail(max_body));
    http_parser_pause(p, 1);
    return 0;
  }
  const std::string* expect = r.header("expect");
  if (expect && (*expect == "100-continue" || *expect == "100-Continue")) {
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    s->conn_.write(kContinue, sizeof kContinue - 1);
  }
  return 0;
}

int Http1Session::on_body(http_parser* p, const char* at, size_t len) {
  Http1Session* s = session_of(p);
  const int64_t max_body = s->conn_.context().limits.max_body_size;
  if (s->current_.body.size() + len > static_cast<std::size_t>(max_body)) {
    s->reject(413, body_too_large_detail(max_body));
    http_parser_pause(p, 1);
    return 0;
  }
  s->current_.body.append(at, len);
  return 0;
}

int Http1Session::on_message_complete(http_parser* p) {
  Http1Session* s = session_of(p);
  s->conn_.disarm_timer();
  if (p->upgrade && s->switch_to_h2c()) {
    // The connection is HTTP/2's now, and this request its stream 1; the
    // rest of the input goes to the new session.
    s->state_ = State::kClosing;
    http_parser_pause(p, 1);
    return 0;
  }
  s->state_ = State::kProcessing;
  // Always a pause: the next message's head goes through the guard first
  // (and, when the response is not done yet, waits for it).
  s->head_guard_.expect_head();
  http_parser_pause(p, 1);
  s->dispatch();
  return 0;
}

// "Upgrade: h2c" (RFC 7540 §3.2). Ignored, and the request answered over
// HTTP/1.1, over TLS (h2 is chosen by ALPN there), on HTTP/1.0, while
// draining, or without a valid HTTP2-Settings.
bool Http1Session::switch_to_h2c() {
  if (conn_.secure() || draining() || parser_.http_major != 1 || parser_.http_minor != 1) return false;
  std::optional<std::string> settings = h2c_upgrade_settings(current_);
  return settings && Http2Session::upgrade(conn_, *settings, current_);
}

void Http1Session::dispatch() {
  bool http10 = parser_.http_major == 1 && parser_.http_minor == 0;
  bool keep_alive = keep_alive_ && !draining_ && !conn_.context().draining;
  active_ = std::make_shared<Http1Exchange>(this, std::move(current_), keep_alive, http10);
  active_->count_in(conn_.context().metrics, conn_.context().unrouted_label);
  current_ = Request{};
  // Counted before the response is written: the request that reaches
  // MAX_REQUESTS starts the drain, so its own response says Connection: close.
  if (conn_.context().on_request_start) conn_.context().on_request_start();
  auto ex = active_;  // the handler may finish it synchronously
  conn_.context().router->handle(ex);
}

void Http1Session::exchange_done(Http1Exchange* exchange, bool keep_alive) {
  if (!active_ || active_.get() != exchange) return;
  active_->detach();
  active_.reset();
  if (!keep_alive || draining_ || conn_.context().draining) {
    state_ = State::kClosing;
    conn_.close_after_write();
    return;
  }
  state_ = State::kIdle;
  conn_.arm_timer(conn_.context().limits.keep_alive_timeout_s);
  if (!in_parser_) {
    // Pipelined bytes may already be buffered: parse them on the next tick.
    http_parser_pause(&parser_, 0);
    event_active(&resume_ev_, 0, 0);
  }
}

void Http1Session::on_output_drained() {
  if (state_ == State::kIdle) event_active(&resume_ev_, 0, 0);  // pipelined input may wait for this
}

void Http1Session::on_resume(int, short, void* arg) {
  auto* s = static_cast<Http1Session*>(arg);
  s->conn_.resume_reading();
}

void Http1Session::reject(int status, const std::string& detail) {
  if (state_ == State::kClosing) return;
  bool http10 = parser_.http_major == 1 && parser_.http_minor == 0;
  if (current_.request_id.empty()) current_.request_id = uuid4();
  if (current_.method.empty()) current_.method.push_back('-');  // (= "-" trips GCC 12 -O3 -Wrestrict)
  current_.client_ip = conn_.client_ip();
  current_.secure = conn_.secure();
  active_ = std::make_shared<Http1Exchange>(this, std::move(current_), false, http10);
  active_->count_in(conn_.context().metrics, conn_.context().unrouted_label);
  current_ = Request{};
  state_ = State::kProcessing;
  auto ex = active_;
  ex->respond(error_response(status, detail));
}

void Http1Session::on_timeout() {
  if (state_ == State::kReading) return reject(408, "the request was not received in time");
  if (state_ == State::kIdle) conn_.close_now();
}

void Http1Session::begin_drain() {
  draining_ = true;
  // An idle keep-alive client may already be sending its next request:
  // closing now would fail it. Give it a moment; what arrives is answered
  // with Connection: close. Requests in flight also end with a close.
  if (state_ == State::kIdle) conn_.arm_timer(std::min(conn_.context().limits.keep_alive_timeout_s, kDrainIdleGraceS));
}

void Http1Session::on_close() {
  state_ = State::kClosing;
  if (active_) {
    auto ex = active_;
    active_->detach();
    active_.reset();
    ex->client_gone();
  }
}

Http1Exchange::Http1Exchange(Http1Session* session, Request request, bool keep_alive, bool http10)
    : Exchange(std::move(request), session->connection().context().policy),
      session_(session),
      keep_alive_(keep_alive),
      http10_(http10) {}

void Http1Exchange::write_head(const ResponseHead& response) {
  if (!session_) return;
  const long content_length = response.content_length;
  if (session_->draining()) keep_alive_ = false;
  if (content_length < 0 && http10_) keep_alive_ = false;  // no chunking in 1.0: the close ends the body
  chunked_ = content_length < 0 && !http10_;
  std::string head;
  head.reserve(640);
  head += http10_ ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(response.status);
  head += ' ';
  head += reason_phrase(response.status);
  head += "\r\n";
  head += "Date: ";
  head += http_date();
  head += "\r\n";
  for (const HeadField& f : response.fields) {
    head += f.name;
    head += ": ";
    head += f.value;
    head += "\r\n";
  }
  if (content_length >= 0) {
    head += "Content-Length: ";
    head += std::to_string(content_length);
    head += "\r\n";
  } else if (chunked_) {
    head += "Transfer-Encoding: chunked\r\n";
  }
  if (!keep_alive_) {
    head += "Connection: close\r\n";
  } else if (http10_) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  if (chunked_ || content_length <= 0) {
    session_->connection().write(head.data(), head.size());
  } else {
    unsent_ = std::move(head);  // sent with the body in one write
  }
}

void Http1Exchange::write_body(std::string_view data) {
  if (!session_ || data.empty()) return;
  Connection& c = session_->connection();
  if (!unsent_.empty()) {
    unsent_.append(data);
    c.write(unsent_.data(), unsent_.size());
    unsent_.clear();
  } else if (chunked_) {
    // One write per chunk: with TCP_NODELAY each write can be a packet.
    char size_line[32];
    int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    std::string framed;
    framed.reserve(static_cast<std::size_t>(n) + data.size() + 2);
    framed.append(size_line, static_cast<std::size_t>(n)).append(data).append("\r\n");
    c.write(framed.data(), framed.size());
  } else {
    c.write(data.data(), data.size());
  }
}

void Http1Exchange::write_end() {
  if (!session_) return;
  if (chunked_) session_->connection().write("0\r\n\r\n", 5);
  Http1Session* s = session_;
  s->exchange_done(this, keep_alive_);
}

}  // namespace genkit::http
