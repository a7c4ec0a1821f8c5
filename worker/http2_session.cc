// The session side of HTTP/2: nghttp2 set-up, input, the flood guards'
// verdicts, timers, drain and output. Requests arriving on streams are in
// http2_streams.cc, responses in http2_response.cc.
#include "worker/http2_session.h"

#include <event2/event.h>

#include <algorithm>
#include <optional>

#include "common/log.h"

namespace genkit::http {

namespace {

constexpr std::chrono::seconds kDrainNoticeGrace{1};  // shutdown notice → final GOAWAY (about an RTT, generously)
constexpr int kLingerS = 2;                           // a terminated connection's last bytes, then close
constexpr int kMaxBatchesPerPump = 16;                // see pump()
constexpr std::size_t kInputSlice = 8 * 1024;         // see on_data()

}  // namespace

Http2Session::Http2Session(Connection& conn) : conn_(conn), idle_since_(Clock::now()) {
  event_assign(&send_ev_, conn.context().base, -1, 0, &Http2Session::on_send_event, this);
  nghttp2_option* opt = nullptr;
  if (!callbacks() || nghttp2_option_new(&opt) != 0) return;
  nghttp2_option_set_no_closed_streams(opt, 1);  // no priority tree of closed streams to keep
  nghttp2_option_set_no_auto_window_update(opt, 1);  // on_data_chunk decides what opens the windows again
  // nghttp2's own flood limits stay on as a backstop, looser than ours so
  // that ours (which log and say ENHANCE_YOUR_CALM) act first.
  nghttp2_option_set_max_continuations(opt, 4 * h2::kMaxContinuations);
  nghttp2_option_set_stream_reset_rate_limit(opt, 10 * h2::kMaxResetsPerWindow, 2 * h2::kMaxResetsPerWindow);
  if (nghttp2_session_server_new2(&session_, callbacks(), this, opt) != 0) session_ = nullptr;
  nghttp2_option_del(opt);
  if (!session_) return;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h2::kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, h2::kMaxHeaderListSize},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h2::kInitialWindowSize},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, sizeof settings / sizeof settings[0]);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, h2::kConnectionWindowSize);
}

Http2Session::~Http2Session() {
  on_close();  // (no-op when the connection already said so)
  nghttp2_session_del(session_);  // runs no callbacks
}

void Http2Session::start() {
  if (!session_) {
    log_error("http2_session_failed", {{"client", conn_.client_ip()}});
    return conn_.close_now();
  }
  if (conn_.context().draining) begin_drain();
}

bool Http2Session::upgrade(Connection& conn, const std::string& settings, Request& request) {
  auto next = std::make_unique<Http2Session>(conn);
  if (!next->session_) return false;
  bool head = request.method == "HEAD";
  int rv = nghttp2_session_upgrade2(next->session_, reinterpret_cast<const uint8_t*>(settings.data()),
                                    settings.size(), head ? 1 : 0, nullptr);
  if (rv != 0) {
    log_info("h2c_upgrade_refused", {{"client", conn.client_ip()}, {"error", nghttp2_strerror(rv)}});
    return false;
  }
  Http2Session* s = next.get();
  conn.switch_session(std::move(next));
  static const char k101[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  conn.write(k101, sizeof k101 - 1);
  if (s->closed_) return true;  // the write failed: the connection is closing
  // Stream 1 is the request itself, half-closed (remote) already.
  Http2Stream& st = s->open_stream(1);
  st.request = std::move(request);
  st.request_done = true;
  st.head_request = head;
  s->start();
  s->dispatch(st);
  s->pump();
  return true;
}

// ---- input ----

// Input goes to nghttp2 a slice at a time, with the answers sent between
// slices. Once the socket is full (the client is not reading what we
// send), the rest is left to the connection, which buffers a bounded
// amount and then stops reading: a client that writes without reading is
// held back instead of making us queue answers without end. (A slice
// answers in fewer frames than nghttp2's limit of queued PING/SETTINGS
// acknowledgements, 1000.)
std::size_t Http2Session::on_data(std::string_view input) {
  std::size_t used = 0;
  while (used < input.size()) {
    if (closed_ || terminating_) return input.size();  // a connection being ended reads nothing more
    if (conn_.pending_output() > 0) {
      input_paused_ = true;  // on_output_drained() resumes
      return used;
    }
    std::size_t slice = std::min(input.size() - used, kInputSlice);
    in_nghttp2_ = true;
    ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(input.data() + used), slice);
    in_nghttp2_ = false;
    if (closed_) return input.size();
    if (rv < 0) {
      fail(rv);
      return input.size();
    }
    used += slice;
    pump();
  }
  return used;
}

// ---- flood guards and errors ----

bool Http2Session::count_reset() { return reset_guard_.count(Clock::now()); }

int Http2Session::abuse(const char* what) {
  if (!abusive_) {
    abusive_ = true;
    log_warning("http2_abuse", {{"client", conn_.client_ip()}, {"reason", what}});
  }
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // nghttp2 stops at once; fail() sends the GOAWAY
}

void Http2Session::fail(long error) {
  if (error == NGHTTP2_ERR_CALLBACK_FAILURE && abusive_) return terminate(NGHTTP2_ENHANCE_YOUR_CALM);
  if (error == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
    log_info("http2_bad_preface", {{"client", conn_.client_ip()}});
    return conn_.close_now();
  }
  const char* what = nghttp2_strerror(static_cast<int>(error));
  if (error == NGHTTP2_ERR_FLOODED || error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
    abuse(what);
    return terminate(NGHTTP2_ENHANCE_YOUR_CALM);
  }
  log_info("http2_error", {{"client", conn_.client_ip()}, {"error", what}});
  terminate(NGHTTP2_PROTOCOL_ERROR);
}

// GOAWAY (with the last stream we processed), then close. An idle
// connection closes once the GOAWAY is written. One ended for an error has
// unread input behind it, and closing a socket with unread input sends a
// TCP reset that can destroy the GOAWAY before the client reads it: that
// connection lingers, reading and discarding, until the client closes or
// kLingerS passes.
void Http2Session::terminate(uint32_t error_code) {
  if (terminating_ || closed_) return;
  terminating_ = true;
  nghttp2_session_terminate_session(session_, error_code);
  pump();
  if (closed_) return;
  conn_.arm_timer(kLingerS);  // (also for a client that does not take the GOAWAY)
  if (error_code == NGHTTP2_NO_ERROR) conn_.close_after_write();
}

// ---- timers and drain ----

void Http2Session::on_timeout() {
  if (closed_) return;
  if (terminating_) return conn_.close_now();
  Clock::time_point now = Clock::now();
  if (draining_ && !final_goaway_ && now >= drain_goaway_at_) send_final_goaway();
  bool stalled_block = false;
  for (auto& [id, st] : streams_) {  // (neither adds nor frees a stream)
    if (st->request_done) continue;
    if (!st->answered_early && st->deadline <= now) {
      // Nothing else may come on a connection until a header block ends
      // (RFC 9113 §6.10): one stalled past READ_TIMEOUT holds the whole
      // connection, a slowloris that a 408 on the stream would not end.
      if (!st->headers_complete) {
        stalled_block = true;
        break;
      }
      answer_early(*st, 408, "the request was not received in time");
    }
    if (st->reset_at != Clock::time_point{} && st->reset_at <= now) {
      st->reset_at = {};
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    }
  }
  if (stalled_block) {
    log_info("http2_headers_timeout", {{"client", conn_.client_ip()}});
    return terminate(NGHTTP2_NO_ERROR);
  }
  const auto keep_alive = std::chrono::seconds(conn_.context().limits.keep_alive_timeout_s);
  if (streams_.empty() && !draining_ && now - idle_since_ >= keep_alive) return terminate(NGHTTP2_NO_ERROR);
  timer_dirty_ = true;
  pump();
}

// One connection timer for everything that can time out: a request not
// received within READ_TIMEOUT, the reset after an early answer, an idle
// connection (no stream) past KEEP_ALIVE_TIMEOUT, the final GOAWAY of a
// drain. (A terminating connection's timer is set by terminate().)
void Http2Session::update_timer() {
  timer_dirty_ = false;
  if (closed_ || terminating_) return;
  std::optional<Clock::time_point> next;
  auto consider = [&next](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  if (draining_ && !final_goaway_) consider(drain_goaway_at_);
  for (const auto& [id, st] : streams_) {
    if (st->request_done) continue;
    if (!st->answered_early) consider(st->deadline);
    if (st->reset_at != Clock::time_point{}) consider(st->reset_at);
  }
  if (streams_.empty() && !draining_) {
    consider(idle_since_ + std::chrono::seconds(conn_.context().limits.keep_alive_timeout_s));
  }
  if (!next) return conn_.disarm_timer();
  auto left = std::chrono::ceil<std::chrono::seconds>(*next - Clock::now()).count();
  conn_.arm_timer(static_cast<int>(std::max<decltype(left)>(left, 0)));
}

// Drain: a shutdown notice (GOAWAY with the largest stream id) at once, so
// the client opens no more streams; the final GOAWAY with the last stream
// we took after a grace, for streams already on the way; open streams end
// normally, and the connection closes after the last (pump()).
void Http2Session::begin_drain() {
  if (draining_ || closed_ || terminating_ || !session_) return;
  draining_ = true;
  nghttp2_submit_shutdown_notice(session_);
  drain_goaway_at_ = Clock::now() + kDrainNoticeGrace;
  timer_dirty_ = true;
  pump();
}

void Http2Session::send_final_goaway() {
  final_goaway_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  timer_dirty_ = true;
}

// ---- output ----

void Http2Session::schedule_send() {
  if (closed_ || send_scheduled_) return;
  send_scheduled_ = true;
  event_active(&send_ev_, 0, 0);  // this loop turn, after the current callback
}

void Http2Session::on_send_event(int, short, void* arg) {
  auto* s = static_cast<Http2Session*>(arg);
  s->send_scheduled_ = false;
  s->pump();
}

void Http2Session::pump() {
  if (closed_ || !session_) return;
  if (in_nghttp2_) return schedule_send();
  if (send_scheduled_) {
    send_scheduled_ = false;
    event_del(&send_ev_);
  }
  // Batches of up to kOutputHighWater, each one write (one send(2)), while
  // the socket takes them; what it does not take waits in the connection
  // and on_output_drained() pulls the next. A few batches per call, so a
  // fast reader of a long stream does not hold the loop.
  long error = 0;
  bool more = true;
  for (int round = 0; more && round < kMaxBatchesPerPump; ++round) {
    std::string batch;
    more = false;
    in_nghttp2_ = true;
    for (;;) {
      if (terminating_ ? !nghttp2_session_want_write(session_)
                       : conn_.pending_output() + batch.size() >= h2::kOutputHighWater) {
        more = !terminating_;
        break;
      }
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) {
        error = n;
        break;
      }
      batch.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    in_nghttp2_ = false;
    if (!batch.empty()) conn_.write(batch.data(), batch.size());
    if (closed_) return;
    if (conn_.pending_output() > 0) more = false;  // (the socket is full: on_output_drained)
  }
  if (more) schedule_send();
  if (error < 0) {
    log_error("http2_send_failed",
              {{"client", conn_.client_ip()}, {"error", nghttp2_strerror(static_cast<int>(error))}});
    return conn_.close_now();
  }
  // Both sides are done (GOAWAY sent or received and no stream left).
  // (terminate() closes a terminated session.)
  if (!terminating_ && !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
    return conn_.close_after_write();
  }
  if (timer_dirty_) update_timer();
}

void Http2Session::on_output_drained() {
  pump();
  if (input_paused_ && !closed_ && conn_.pending_output() == 0) {
    input_paused_ = false;
    conn_.resume_reading();
  }
}

void Http2Session::on_close() {
  if (closed_) return;
  closed_ = true;
  if (send_scheduled_) event_del(&send_ev_);
  send_scheduled_ = false;
  auto streams = std::move(streams_);
  streams_.clear();
  total_buffered_ = 0;
  for (auto& [id, st] : streams) {
    if (std::shared_ptr<Http2Exchange> ex = std::move(st->exchange)) {
      ex->detach();
      if (!ex->finished()) ex->client_gone();
    }
  }
}

// One set for every session of the process (never freed).
const nghttp2_session_callbacks* Http2Session::callbacks() {
  static nghttp2_session_callbacks* const set = [] {
    nghttp2_session_callbacks* cb = nullptr;
    if (nghttp2_session_callbacks_new(&cb) != 0) return cb;
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &Http2Session::on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Http2Session::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Http2Session::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Http2Session::on_frame_recv);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, &Http2Session::on_invalid_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Http2Session::on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, &Http2Session::on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Http2Session::on_stream_close);
    return cb;
  }();
  return set;
}

}  // namespace genkit::http
