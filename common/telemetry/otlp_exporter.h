// Exports finished spans over OTLP/HTTP (JSON encoding) to
// <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces. Non-blocking: spans queue in a
// bounded buffer (the oldest are dropped, and counted, when it is full) and
// leave in batches on the loop, one request in flight at a time.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/json.h"
#include "common/net/http_client.h"
#include "common/runtime/loop.h"
#include "common/runtime/trace.h"

namespace genkit {

struct OtlpOptions {
  std::string endpoint;                 // e.g. http://127.0.0.1:4318
  std::string service_name = "genkit-endpoints";
  std::size_t max_queue = 4096;
  std::size_t batch_size = 256;
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::milliseconds timeout{10000};
};

class OtlpExporter {
 public:
  OtlpExporter(Loop& loop, HttpClient& client, OtlpOptions options);

  void enqueue(const Span& span);
  // Sends everything queued; `done` runs when the queue is empty or a send failed.
  void flush(std::function<void()> done = {});

  std::size_t queued() const { return queue_.size(); }
  std::size_t dropped() const { return dropped_; }
  std::size_t exported() const { return exported_; }

 private:
  void send_batch();
  void schedule();

  Loop& loop_;
  HttpClient& client_;
  OtlpOptions options_;
  std::deque<Span> queue_;
  std::unique_ptr<Timer> timer_;
  bool in_flight_ = false;
  std::function<void()> flushed_;
  std::size_t dropped_ = 0;
  std::size_t exported_ = 0;
};

// One OTLP/HTTP JSON ExportTraceServiceRequest for `spans` (exposed for tests).
Json otlp_request_body(const std::deque<Span>& spans, std::size_t count, const std::string& service_name);

// Parses a W3C traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"); false if malformed.
bool parse_traceparent(std::string_view header, std::string* trace_id, std::string* parent_span_id);

// The exporter a configuration asks for (OTEL_EXPORTER_OTLP_ENDPOINT set,
// telemetry not disabled), or null; and where a runtime's finished spans go.
std::unique_ptr<OtlpExporter> make_otlp_exporter(const Config& config, Loop& loop, HttpClient& client);
SpanSink span_sink_for(OtlpExporter* exporter);  // empty for null
// Runs `done` once the exporter's queued spans are sent (at once for null):
// how a process lets its last spans leave before it exits.
void after_spans_sent(OtlpExporter* exporter, std::function<void()> done);

}  // namespace genkit
