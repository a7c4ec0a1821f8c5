// Dev mode: posts spans to the Genkit tools' telemetry server as TraceData
// (POST <url>/api/traces; docs in ../shared/docs/genkit-protocols.md §5), so
// `genkit start` and the Dev UI show our runs. Each span leaves as it ends
// (and as it starts, with realtime telemetry). Non-blocking: spans wait in a
// bounded queue; a trace is recorded only if it starts while the queue is
// below half full and traces keep to the pace POSTs leave at (others are
// not recorded at all, and counted), and the oldest spans are dropped
// should the queue fill; one
// POST is in flight at a time, carrying every queued span of one trace, and
// POSTs are at least `min_gap` apart (but for a flush: an exit, a
// runAction's last line): the tools' server (Node, a file per trace) takes a
// few hundred a second, and a server under load in dev mode should spend its
// CPU on requests, not on traces nobody can read.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/json.h"
#include "common/net/http_client.h"
#include "common/runtime/loop.h"
#include "common/runtime/trace.h"

namespace genkit {

struct GenkitTraceOptions {
  std::string url;          // GENKIT_TELEMETRY_SERVER: fixed; "" → the URL /api/notify announces
  bool realtime = false;    // GENKIT_ENABLE_REALTIME_TELEMETRY
  std::size_t max_queue = 4096;
  std::size_t max_spans_per_post = 256;
  std::chrono::milliseconds timeout{5000};
  std::chrono::microseconds min_gap{5000};
  // The URL /api/notify announced to one process reaches the others through
  // these (the shared segment): publish_url on announce; poll_url, asked as
  // each trace starts, returns true with a newer URL. Both may be empty.
  std::function<void(const std::string&)> publish_url;
  std::function<bool(std::string*)> poll_url;
};

class GenkitTraceExporter {
 public:
  GenkitTraceExporter(Loop& loop, HttpClient& client, GenkitTraceOptions options);

  SpanSink sink();
  // The tools announced their telemetry server (/api/notify). A URL set by
  // GENKIT_TELEMETRY_SERVER wins. Returns whether it was adopted.
  bool announce(const std::string& url);
  const std::string& url() const { return url_; }

  // Runs `done` once what is queued now has been posted (or failed).
  void flush(std::function<void()> done);

  std::size_t dropped() const { return dropped_; }     // spans lost to a full queue or a failed POST
  std::size_t declined() const { return declined_; }   // traces not recorded (see sink())
  std::size_t exported() const { return exported_; }

 private:
  void adopt(std::string url);
  void enqueue(const Span& span);
  void send_next();
  void send_after_gap();

  Loop& loop_;
  HttpClient& client_;
  GenkitTraceOptions options_;
  std::string url_;
  std::deque<Span> queue_;
  bool in_flight_ = false;  // a POST, or the wait before the next one
  std::unique_ptr<Timer> gap_;
  std::chrono::steady_clock::time_point last_post_{};
  static constexpr double kAdmitBurst = 64;
  double admit_tokens_ = kAdmitBurst;  // traces that may start recording now
  std::chrono::steady_clock::time_point admit_refilled_ = std::chrono::steady_clock::now();
  bool failing_ = false;  // logs once per outage, not per span
  std::vector<std::function<void()>> flushed_;
  std::size_t dropped_ = 0;
  std::size_t declined_ = 0;
  std::size_t exported_ = 0;
};

// One TraceData body (JSON text) for `spans`, all of one trace; a span
// listed twice (its start, then its end) appears in its last state.
std::string genkit_trace_data(const std::vector<const Span*>& spans);

// http://localhost:4033 → http://127.0.0.1:4033: the tools listen on the
// IPv4 loopback, and an IP literal takes our own fast transport.
std::string loopback_url(std::string url);

}  // namespace genkit
