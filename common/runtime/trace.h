// Spans for flow runs, traced steps, model and tool calls (Genkit's trace
// model). Finished spans go to a sink; exporters plug in there.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

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
  bool ok = true;
  std::string error;
  double start_ms = 0;
  double end_ms = 0;
};

using SpanSink = std::function<void(const Span&)>;

// A span being recorded; ends (and reaches the sink) once, on finish() or destruction.
class ActiveSpan {
 public:
  ActiveSpan(SpanSink sink, Span span);
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
  bool finished_ = false;
};

// Root span of a flow run; `trace_id`/`parent` continue an incoming traceparent when given.
std::shared_ptr<ActiveSpan> start_root_span(SpanSink sink, std::string name, std::string subtype,
                                            std::string input_json, std::string trace_id = "",
                                            std::string parent_span_id = "");

std::string random_hex(std::size_t bytes);  // 2×bytes lowercase hex chars
std::string uuid4();
// A client's request id (X-Request-ID, x-request-id metadata) we pass on as
// it is: 1-128 characters of [A-Za-z0-9-_.:]; anything else gets a new one.
bool valid_request_id(std::string_view id);

}  // namespace genkit
