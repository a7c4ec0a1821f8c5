// HTTP/2 on a connection, with nghttp2: h2c with prior knowledge, h2 over
// TLS, and h2c after an HTTP/1.1 "Upgrade: h2c". Each stream's request
// becomes an Http2Exchange for the same router as HTTP/1.1.
//
// Input is fed with nghttp2_session_mem_recv; frames are pulled with
// nghttp2_session_mem_send into Connection::write, only while the
// connection's unsent output is below h2::kOutputHighWater (more on
// on_output_drained), so a slow reader holds nghttp2's queue, not ours.
// nghttp2 calls must not nest: what is written from inside its callbacks is
// sent once it returns (or later in the same loop turn). Exchanges may
// outlive their stream or the whole session: detach() cuts them loose.
//
// http2_session.cc: set-up, input, errors, timers, drain, output;
// http2_streams.cc: requests on streams; http2_response.cc: responses;
// http2_limits.h: what a connection may cost, and the flood guards.
#pragma once

#include <event2/event_struct.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "worker/connection.h"
#include "worker/exchange.h"
#include "worker/http2_limits.h"

namespace genkit::http {

class Http2Exchange;
class Http2Session;

// One stream: its request while it arrives, then its response body while
// nghttp2 has not taken it.
struct Http2Stream {
  using Clock = std::chrono::steady_clock;

  int32_t id = 0;
  Request request;
  std::string authority;
  std::size_t header_bytes = 0;  // of the request's header list
  Clock::time_point deadline;    // READ_TIMEOUT for the whole request
  bool headers_complete = false;  // its header block has ended
  bool request_done = false;     // END_STREAM received (or the h2c upgrade's request)
  bool answered_early = false;   // 408/413/431 before the request ended: the rest is not read
  Clock::time_point reset_at{};  // an early answer has gone out: RST_STREAM(NO_ERROR) then
  bool head_request = false;
  std::shared_ptr<Http2Exchange> exchange;

  // Response body: one chunk per write, each sent as its own DATA frame.
  std::deque<std::string> chunks;
  std::size_t chunk_offset = 0;
  std::size_t buffered = 0;
  bool has_body = false;    // submitted with a data provider
  bool body_ended = false;  // write_end seen
  bool deferred = false;    // the data provider waits for a write
  bool dropped = false;     // reset by us: its writes are discarded
};

class Http2Session : public Session {
 public:
  explicit Http2Session(Connection& conn);
  ~Http2Session() override;
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Prior knowledge (or TLS): the client preface starts the input.
  void start();
  // "Upgrade: h2c" on an HTTP/1.1 request: validates `settings` (the
  // decoded HTTP2-Settings), writes the 101, hands the connection to a new
  // session and serves `request` as stream 1. False (request untouched,
  // nothing written) when nghttp2 refuses the settings.
  static bool upgrade(Connection& conn, const std::string& settings, Request& request);

  std::size_t on_data(std::string_view input) override;
  void on_output_drained() override;
  void on_close() override;
  void on_timeout() override;
  void begin_drain() override;

  // From Http2Exchange.
  void submit_head(Http2Stream& st, const ResponseHead& head);
  void submit_body(Http2Stream& st, std::string_view data);
  void submit_end(Http2Stream& st);

 private:
  using Clock = std::chrono::steady_clock;

  // nghttp2 callbacks (user_data is the session).
  static const nghttp2_session_callbacks* callbacks();
  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* self);
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t flags, void* self);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_invalid_frame_recv(nghttp2_session*, const nghttp2_frame* frame, int error, void* self);
  static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data, size_t len,
                           void* self);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* self);
  static ssize_t read_body(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source* source, void* self);
  static void on_send_event(int, short, void* arg);

  Http2Stream* stream(int32_t id);
  Http2Stream& open_stream(int32_t id);
  void headers_done(Http2Stream& st);
  void request_done(Http2Stream& st);
  void dispatch(Http2Stream& st);
  void answer_early(Http2Stream& st, int status, const std::string& detail);
  void drop_stream(Http2Stream& st, const char* why);
  bool count_reset();                    // false: the client is flooding us
  int abuse(const char* what);           // logs once; returns NGHTTP2_ERR_CALLBACK_FAILURE
  void fail(long error);                 // mem_recv/mem_send failed
  void terminate(uint32_t error_code);   // GOAWAY, then close
  void send_final_goaway();
  void schedule_send();
  void pump();                           // frames → connection, within the output bound
  void update_timer();

  Connection& conn_;  // owns this session
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Http2Stream>> streams_;
  h2::HeaderBlockGuard header_guard_;
  h2::ResetRateGuard reset_guard_;
  std::size_t total_buffered_ = 0;  // response bytes held by all streams
  Clock::time_point idle_since_;    // when the last stream closed
  Clock::time_point drain_goaway_at_;
  event send_ev_;
  bool send_scheduled_ = false;
  bool in_nghttp2_ = false;   // inside mem_recv/mem_send: no nested calls
  bool input_paused_ = false; // input left unconsumed while output is backed up
  bool timer_dirty_ = true;
  bool draining_ = false;
  bool final_goaway_ = false;
  bool terminating_ = false;
  bool abusive_ = false;
  bool closed_ = false;
};

class Http2Exchange : public Exchange {
 public:
  Http2Exchange(Http2Session* session, Http2Stream* stream, Request request, const ResponsePolicy& policy)
      : Exchange(std::move(request), policy), session_(session), stream_(stream) {}
  // The stream (or the whole connection) is gone: later writes are dropped.
  void detach() {
    session_ = nullptr;
    stream_ = nullptr;
  }

 protected:
  void write_head(const ResponseHead& head) override {
    if (session_) session_->submit_head(*stream_, head);
  }
  void write_body(std::string_view data) override {
    if (session_) session_->submit_body(*stream_, data);
  }
  void write_end() override {
    if (session_) session_->submit_end(*stream_);
  }

 private:
  Http2Session* session_;
  Http2Stream* stream_;
};

}  // namespace genkit::http
