// A deliberately small, blocking HTTP/1.1 client for the integration tests.
// It talks raw bytes over one TCP socket to 127.0.0.1 so tests can exercise
// framing the server must get right (pipelining, chunked bodies, slow
// clients) instead of trusting a library that would hide it. Every wait is
// bounded by a deadline, so a misbehaving server fails a test, never hangs it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"

namespace itest {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kDefaultTimeout{5000};

struct HttpResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;                                           // de-chunked
  bool chunked = false;

  // Case-insensitive lookup of the first header with this name.
  std::optional<std::string> header(std::string_view name) const;
  bool has_header(std::string_view name) const { return header(name).has_value(); }
  // The body parsed as JSON (an error Status when it is not JSON).
  genkit::Result<genkit::Json> json() const { return genkit::Json::parse(body); }
};

// One Server-Sent Event: the joined `data:` lines and when its last byte arrived.
struct SseEvent {
  std::string data;
  std::string raw;  // the event block exactly as framed on the wire, including "\n\n"
  Clock::time_point arrived;
};

// Builds a request. Adds Host, and Content-Length when a body is given (or the
// method is POST) unless `headers` already sets Content-Length/Transfer-Encoding.
std::string build_request(std::string_view method, std::string_view path, std::string_view body = {},
                          const std::vector<std::pair<std::string, std::string>>& headers = {});

class HttpClient {
 public:
  HttpClient() = default;
  explicit HttpClient(int port, milliseconds timeout = kDefaultTimeout) { connect(port, timeout); }
  ~HttpClient() { close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&& other) noexcept { *this = std::move(other); }
  HttpClient& operator=(HttpClient&& other) noexcept;

  bool connect(int port, milliseconds timeout = kDefaultTimeout);
  // A small SO_RCVBUF for the next connect(): the server then meets a full
  // socket sooner (partial writes, buffered output).
  void set_receive_buffer(int bytes) { receive_buffer_ = bytes; }
  // A local IPv4 address for the next connect() (e.g. "127.0.0.2": any
  // 127.0.0.0/8 address reaches the server on 127.0.0.1), so one test can
  // be several clients to a per-IP rate limit. Empty: the kernel's choice.
  void set_source_address(std::string address) { source_address_ = std::move(address); }
  bool connected() const { return fd_ >= 0; }
  void close();
  const std::string& error() const { return error_; }  // why the last call failed

  // Writes all of `bytes` (bounded by the timeout).
  bool send_raw(std::string_view bytes, milliseconds timeout = kDefaultTimeout);

  // Reads one complete response (interim 1xx responses are skipped).
  std::optional<HttpResponse> read_response(milliseconds timeout = kDefaultTimeout);

  // send_raw(build_request(...)) + read_response().
  std::optional<HttpResponse> request(std::string_view method, std::string_view path, std::string_view body = {},
                                      const std::vector<std::pair<std::string, std::string>>& headers = {},
                                      milliseconds timeout = kDefaultTimeout);

  // Incremental reading, for SSE: the status line and headers only...
  std::optional<HttpResponse> read_head(milliseconds timeout = kDefaultTimeout);
  // ...then one event at a time as it arrives; nullopt at the end of the body
  // (ended() is then true) or on error/timeout (error() says which).
  std::optional<SseEvent> next_event(milliseconds timeout = kDefaultTimeout);
  bool ended() const { return body_mode_ == BodyMode::kDone; }
  // The body bytes received so far by next_event (for framing checks).
  const std::string& body_so_far() const { return body_so_far_; }

  // True when the peer closes the connection (EOF or reset) within the timeout.
  bool wait_closed(milliseconds timeout = kDefaultTimeout);

 private:
  int receive_buffer_ = 0;
  std::string source_address_;
  enum class BodyMode { kNone, kLength, kChunked, kUntilClose, kDone };

  bool fill(Clock::time_point deadline);  // reads more bytes into buf_; false on EOF/error/timeout
  bool read_line(std::string* line, Clock::time_point deadline);
  std::optional<HttpResponse> read_head_until(Clock::time_point deadline);
  // Appends the next available decoded body bytes to *out; false on error.
  bool read_body_piece(std::string* out, Clock::time_point deadline);
  bool fail(std::string why);

  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;  // received, not yet consumed
  std::string error_;
  BodyMode body_mode_ = BodyMode::kNone;
  size_t remaining_ = 0;  // kLength: body bytes left; kChunked: bytes left in this chunk
  bool in_chunk_ = false;
  std::string sse_buf_;
  std::string body_so_far_;
};

// One-shot helpers on a fresh connection (closed afterwards). A transport
// failure comes back as status 0 with the reason in `reason`, so a test can
// write ASSERT_EQ(r.status, 200) << r.reason and still see why.
// `source_address`: connect from this local address (see set_source_address).
HttpResponse http_get(int port, std::string_view path,
                      const std::vector<std::pair<std::string, std::string>>& headers = {},
                      std::string_view source_address = {});
HttpResponse http_post(int port, std::string_view path, std::string_view body,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::string_view source_address = {});

}  // namespace itest
