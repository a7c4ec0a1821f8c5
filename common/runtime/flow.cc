#include "common/runtime/flow.h"

#include <utility>

#include "common/runtime/runtime.h"
#include "common/schema/schema.h"
#include "common/state/flow_cache.h"

namespace genkit {

FlowRun::FlowRun(Runtime& runtime, const FlowAction& action, Json input, Json context, CancelToken cancel,
                 std::shared_ptr<ActiveSpan> span, FlowObserver observer)
    : runtime_(runtime), action_(action), input_(std::move(input)), context_(std::move(context)),
      cancel_(std::move(cancel)), span_(std::move(span)), observer_(std::move(observer)) {}

void FlowRun::send_chunk(const std::string& chunk) {
  if (finished_ || cancel_.cancelled()) return;
  if (observer_.on_chunk) observer_.on_chunk(chunk);
}

void FlowRun::finish(Result<Json> output) {
  if (finished_) return;
  finished_ = true;
  FlowObserver observer = std::exchange(observer_, {});
  if (!output.ok()) {
    span_->fail(output.status().message());
    span_->finish();
    if (observer.on_done) observer.on_done(std::move(output));
    return;
  }
  if (span_->recording()) {
    // The text the span records is the reply a text-taking caller sends.
    std::string text = output->dump();
    span_->set_output(text);
    span_->finish();
    if (observer.on_json_text) return observer.on_json_text(text);
  } else {
    span_->finish();
  }
  if (observer.on_done) observer.on_done(std::move(output));
}

void FlowRun::generate(GenerateOptions options, GenerateDone done) {
  genkit::generate(runtime_, span_, cancel_, std::move(options), std::move(done));
}

Json FlowRun::run_step(const std::string& name, JsonView input, const std::function<Json(JsonView)>& fn) {
  auto step = span_->child(name, "flowStep", "", span_->recording() ? input.dump() : "");
  Json out = fn(input);
  if (step->recording()) step->set_output(out.dump());
  step->finish();
  return out;
}

std::string run_flow(Runtime& runtime, const FlowAction& action, JsonView raw_input, Json context,
                     CancelToken cancel, FlowObserver observer, const TraceContext& trace) {
  // Genkit treats a missing input as {} for object schemas, so defaults apply.
  Json empty = Json::object();
  JsonView in = raw_input.present() && !raw_input.is_null() ? raw_input : empty.view();
  Result<Json> input = action.input ? action.input->validate(in) : Result<Json>(Json::copy_of(in));
  if (!input.ok()) {
    observer.on_done(input.status());
    return "";
  }
  return run_validated_flow(runtime, action, std::move(input).value(), std::move(context), std::move(cancel),
                            std::move(observer), trace);
}

namespace {

std::string start_run(Runtime& runtime, const FlowAction& action, Json input, Json context, CancelToken cancel,
                      FlowObserver observer, const TraceContext& trace) {
  SpanSink sink = admit_trace(runtime.options().span_sink);
  auto span = start_root_span(sink, action.name, "flow", sink ? input.dump() : "", trace.trace_id,
                              trace.parent_span_id, sink ? context.dump() : "");
  std::string trace_id = span->span().trace_id;
  if (observer.on_start) observer.on_start(span->span());
  auto run = std::make_shared<FlowRun>(runtime, action, std::move(input), std::move(context),
                                       std::move(cancel), std::move(span), std::move(observer));
  action.fn(run);
  return trace_id;
}

}  // namespace

std::string run_validated_flow(Runtime& runtime, const FlowAction& action, Json input, Json context,
                               CancelToken cancel, FlowObserver observer, const TraceContext& trace) {
  FlowCache* cache = runtime.options().cache;
  if (!cache || !action.cacheable || observer.on_chunk || observer.own_run) {
    return start_run(runtime, action, std::move(input), std::move(context), std::move(cancel), std::move(observer),
                     trace);
  }
  shm::CacheKey key = FlowCache::key_for(action.name, input);
  auto compute = [&runtime, &action, input = std::move(input), context = std::move(context), trace,
                  on_start = std::move(observer.on_start)](CancelToken flight_cancel, FlowCache::Finish finish) {
    FlowObserver o;
    o.on_done = std::move(finish);
    o.on_start = on_start;  // (this request's own compute: it leads the run)
    start_run(runtime, action, Json(input), Json(context), std::move(flight_cancel), std::move(o), trace);
  };
  cache->fetch(key, cancel, std::move(compute),
               FlowCache::Delivery{std::move(observer.on_done), std::move(observer.on_json_text)});
  return "";
}

}  // namespace genkit
