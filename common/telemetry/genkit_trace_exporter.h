// Dev mode: posts spans to the Genkit tools' telemetry server as TraceData
// (POST <url>/api/traces; docs in ../shared/docs/genkit-protocols.md §5), so
// `genkit start` and the Dev UI show our runs. Each span leaves as it ends
// (and as it starts, with realtime telemetry). Non-blocking: spans wait in a
// bounded queue (the oldest are dropped, and counted, when it is full); one
// POST is in flight at a time, carrying every queued span of one trace.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
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

  std::size_t dropped() const { return dropped_; }
  std::size_t exported() const { return exported_; }

 private:
  void enqueue(const Span& span);
  void send_next();

  Loop& loop_;
  HttpClient& client_;
  GenkitTraceOptions options_;
  std::string url_;
  std::deque<Span> queue_;
  bool in_flight_ = false;
  bool failing_ = false;  // logs once per outage, not per span
  std::vector<std::function<void()>> flushed_;
  std::size_t dropped_ = 0;
  std::size_t exported_ = 0;
};

// One TraceData body for the spans of `trace_id` among `spans` (for tests).
Json genkit_trace_data(const std::vector<const Span*>& spans);

// http://localhost:4033 → http://127.0.0.1:4033: the tools listen on the
// IPv4 loopback, and an IP literal takes our own fast transport.
std::string loopback_url(std::string url);

}  // namespace genkit
