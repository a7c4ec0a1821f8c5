// Spans for flow runs, traced steps, model and tool calls (Genkit's trace
// model). Finished spans go to a sink; exporters plug in there.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/json.h"

namespace genkit {

struct Span {
  std::string trace_id;        // 32 hex
  std::string span_id;         // 16 hex
  std::string parent_span_id;  // "" for the root
  std::string name;            // "tell_joke", "sanitize-input", "mock/echo"
  std::string type;            // genkit:type: action | util | flowStep
  std::string subtype;         // genkit:metadata:subtype: flow | model | tool | ""
  std::string path;            // genkit:path, e.g. /{translate_text,t:flow}/{sanitize-input,t:flowStep}
  std::string input;           // JSON text
  std::string output;          // JSON text
  std::string context;         // JSON text of the flow's context (root spans; "" → none)
  bool ok = true;
  bool failure_source = false;  // the first span of its trace to fail (genkit:isFailureSource)
  std::string error;
  double start_ms = 0;
  double end_ms = 0;           // 0 while the span runs

  // genkit:key for actions: /flow/tell_joke, /model/mock/echo, /tool/get_current_time.
  std::string key() const { return type == "action" ? "/" + subtype + "/" + name : std::string(); }
};

// Where spans go. on_end gets every finished span; on_start, when set, each
// span as it starts (end_ms 0): the Genkit tools' realtime telemetry;
// admit, when set, is asked as a trace starts whether to record it at all
// (an exporter with nowhere to send, or a full queue, declines: the trace
// then costs nothing, rather than being recorded and dropped at its end).
struct SpanSink {
  std::function<void(const Span&)> on_end;
  std::function<void(const Span&)> on_start;
  std::function<bool()> admit;

  SpanSink() = default;
  template <typename F, typename = std::enable_if_t<std::is_invocable_v<F&, const Span&>>>
  SpanSink(F end) : on_end(std::move(end)) {}  // NOLINT: a plain callable is an end-only sink
  explicit operator bool() const { return static_cast<bool>(on_end); }
};

// A span being recorded; ends (and reaches the sink) once, on finish() or destruction.
class ActiveSpan {
 public:
  ActiveSpan(SpanSink sink, Span span, std::shared_ptr<bool> trace_failed = nullptr);
  ~ActiveSpan();
  ActiveSpan(const ActiveSpan&) = delete;
  ActiveSpan& operator=(const ActiveSpan&) = delete;

  const Span& span() const { return span_; }
  // False when no exporter listens: callers then skip building payloads.
  bool recording() const { return static_cast<bool>(sink_); }
  // Starts a child of this span.
  std::shared_ptr<ActiveSpan> child(std::string name, std::string type, std::string subtype,
                                    std::string input_json) const;
  void set_output(std::string output_json) {
    if (recording()) span_.output = std::move(output_json);
  }
  void fail(std::string message);
  void finish();

 private:
  SpanSink sink_;
  Span span_;
  std::shared_ptr<bool> trace_failed_;  // shared by a trace's spans: who failed first
  bool finished_ = false;
};

// The sink a new trace records into: `sink`, or an empty one (nothing
// recorded; the root span still has its ids) when it declines the trace.
SpanSink admit_trace(const SpanSink& sink);

// Root span of a run of a flow (subtype "flow"), tool or model; `trace_id`/
// `parent` continue an incoming traceparent when given.
std::shared_ptr<ActiveSpan> start_root_span(SpanSink sink, std::string name, std::string subtype,
                                            std::string input_json, std::string trace_id = "",
                                            std::string parent_span_id = "", std::string context_json = "");

std::string random_hex(std::size_t bytes);  // 2×bytes lowercase hex chars
std::string uuid4();
// A client's request id (X-Request-ID, x-request-id metadata) we pass on as
// it is: 1-128 characters of [A-Za-z0-9-_.:]; anything else gets a new one.
bool valid_request_id(std::string_view id);

}  // namespace genkit
