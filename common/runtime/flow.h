// Running a registered flow: input validation, the root span, chunks sent by
// the flow, and exactly one final result.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/runtime/generate.h"
#include "common/runtime/loop.h"
#include "common/runtime/registry.h"
#include "common/runtime/trace.h"
#include "common/status.h"

namespace genkit {

class Runtime;

struct FlowObserver {
  std::function<void(const std::string& chunk)> on_chunk;  // may be empty
  std::function<void(Result<Json> output)> on_done;         // exactly once (but see on_json_text)
  // Optional, for callers that only need the output's JSON text: a success
  // whose text is already at hand (a cache hit, a run shared by identical
  // requests, or a run whose span recorded it) comes here instead of
  // on_done, with no parse or second dump.
  std::function<void(std::string_view json)> on_json_text;
  // Optional: the run's root span as it starts (before the flow function
  // runs), e.g. for the flow server's x-genkit-trace-id/x-genkit-span-id.
  // Not called when no run starts for this request (a cache hit, or a run
  // shared with an identical request).
  std::function<void(const Span& root)> on_start;
  // A run of its own, never answered from the cache or shared with an
  // identical request (the Genkit tools show each run's trace).
  bool own_run = false;
};

struct TraceContext {
  std::string trace_id;        // from an incoming traceparent, else ""
  std::string parent_span_id;
};

// The state a flow function works with.
class FlowRun : public std::enable_shared_from_this<FlowRun> {
 public:
  FlowRun(Runtime& runtime, const FlowAction& action, Json input, Json context, CancelToken cancel,
          std::shared_ptr<ActiveSpan> span, FlowObserver observer);

  Runtime& runtime() { return runtime_; }
  const FlowAction& action() const { return action_; }
  JsonView input() const { return input_.view(); }
  JsonView context() const { return context_.view(); }  // e.g. {"auth":{...}}
  const CancelToken& cancel_token() const { return cancel_; }
  const std::shared_ptr<ActiveSpan>& span() const { return span_; }

  // True when the caller consumes chunks (SSE, gRPC stream): flows then ask
  // the model to stream; otherwise they take the cheaper unary path.
  bool streaming() const { return static_cast<bool>(observer_.on_chunk); }
  void send_chunk(const std::string& chunk);
  void finish(Result<Json> output);  // later calls are ignored

  // generate() as a child of this flow's span.
  void generate(GenerateOptions options, GenerateDone done);
  // A traced step (Genkit's run()): a child span of type flowStep around fn.
  Json run_step(const std::string& name, JsonView input, const std::function<Json(JsonView)>& fn);

 private:
  Runtime& runtime_;
  const FlowAction& action_;
  Json input_;
  Json context_;
  CancelToken cancel_;
  std::shared_ptr<ActiveSpan> span_;
  FlowObserver observer_;
  bool finished_ = false;
};

// Validates `raw_input` against the flow's input schema (defaults applied; a
// failure calls on_done with INVALID_ARGUMENT before anything runs), then
// runs the flow. Returns the run's trace id ("" when validation failed).
std::string run_flow(Runtime& runtime, const FlowAction& action, JsonView raw_input, Json context,
                     CancelToken cancel, FlowObserver observer, const TraceContext& trace = {});

// Runs the flow on an input run_flow would have produced: already validated
// against the flow's input schema, defaults applied. Returns the trace id.
// A unary run of a cacheable flow goes through the runtime's cache: it may
// be answered from it, or share another request's run (then "" is returned).
std::string run_validated_flow(Runtime& runtime, const FlowAction& action, Json input, Json context,
                               CancelToken cancel, FlowObserver observer, const TraceContext& trace = {});

}  // namespace genkit
