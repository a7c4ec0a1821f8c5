// Genkit's flow server (docs/genkit-protocols.md §1) for every registered
// flow: POST /<flow> and POST /flows/<flow>, body {"data": <input>} →
// {"result": <output>}, or with ?stream=true / Accept: text/event-stream
// `data: {"message": <chunk>}` blocks then `data: {"result": <output>}` (or
// an `error: {"error": {...}}` block). Errors in Genkit's format. The runs
// are those of the REST routes: the same gates (auth answered in Genkit's
// words, see middleware/api_key.h), the shared cache, the breaker of the
// model layer, and REQUEST_TIMEOUT.
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/json_check.h"
#include "common/runtime/flow.h"
#include "common/schema/schema.h"
#include "worker/app_context.h"
#include "worker/errors.h"
#include "worker/flow_run.h"
#include "worker/middleware/api_key.h"
#include "worker/router.h"

namespace genkit::http {

namespace {

// ?stream=true or an Accept header naming text/event-stream.
bool wants_stream(const Request& req) {
  if (query_param(req.query, "stream") == "true") return true;
  for (const Header& h : req.headers) {
    if (h.name == "accept" && h.value.find("text/event-stream") != std::string::npos) return true;
  }
  return false;
}

// The request's `data`: absent (null) when the body is empty or has none.
Result<Json> read_data(const Request& req) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return Json();
  Result<Json> body = parse_json_input(req.body);
  if (!body.ok()) return Status(Code::kInvalidArgument, "Malformed JSON body: " + body.status().message());
  if (!body->view().is_object()) {
    return Status(Code::kInvalidArgument, "The body must be a JSON object: {\"data\": <input>}");
  }
  return Json::copy_of(body->view()["data"]);
}

// Validates `data` against the flow's input schema, defaults applied. An
// absent or null `data` is checked as {} (as run_flow does for every
// transport): the schema's defaults, or the fields it requires. A failure
// is Genkit's: INVALID_ARGUMENT with details {errors: [{path, message}],
// schema} and the message "Schema validation failed. Parse Errors: ...".
Result<Json> validate(const FlowAction& flow, JsonView data, Json* details) {
  Json empty = Json::object();
  JsonView in = data.present() && !data.is_null() ? data : empty.view();
  if (!flow.input) return Json::copy_of(in);
  std::vector<FieldError> failures;
  Result<Json> input = flow.input->validate(in, &failures);
  if (input.ok()) return input;
  Json errors = Json::array();
  std::string listed;
  for (const FieldError& f : failures) {
    // (Genkit's name for the input itself.)
    std::string path = f.path.empty() || f.path == "body" ? "(root)" : f.path;
    listed += "\n- " + path + ": " + f.message;
    Json e = Json::object();
    e.set("path", Json::string(path));
    e.set("message", Json::string(f.message));
    errors.push(std::move(e));
  }
  Json schema = flow.input->json_schema();
  std::string message = "Schema validation failed. Parse Errors:\n" + listed + "\n\nProvided data:\n\n" +
                        in.dump() + "\n\nRequired JSON schema:\n\n" + schema.dump();
  *details = Json::object();
  details->set("errors", std::move(errors));
  details->set("schema", std::move(schema));
  return Status(Code::kInvalidArgument, std::move(message));
}

// The context the api-key provider gives the flow: {"auth":{"apiKey":...}}
// when API_KEYS is on (the gate has checked the key by now).
Json context_for(const AppContext& app, const Request& req) {
  Json context = Json::object();
  if (app.config.api_keys.empty()) return context;
  if (std::optional<std::string> key = authorization_of(req)) {
    context.set("auth", Json::object().set("apiKey", Json::string(*key)));
  }
  return context;
}

// The ids of the run's root span, once it starts. A request answered
// without a run of its own (a cache hit, or a run shared with an identical
// request) gets fresh ids, in the caller's trace when it sent one.
struct RunIds {
  std::string trace_id;
  std::string span_id;
};

void respond_result(Exchange& ex, const RunIds& ids, std::string_view output_json) {
  Response r;
  r.body.reserve(output_json.size() + 11);
  r.body.append("{\"result\":").append(output_json).append("}");
  std::string trace_id = ids.trace_id;
  std::string span_id = ids.span_id;
  if (trace_id.empty()) {
    trace_id = trace_context(ex.request()).trace_id;
    if (trace_id.empty()) trace_id = random_hex(16);
    span_id = random_hex(8);
  }
  r.headers = {{"x-genkit-trace-id", std::move(trace_id)}, {"x-genkit-span-id", std::move(span_id)}};
  ex.respond(std::move(r));
}

void run_unary(AppContext& app, const FlowAction& flow, Json input, Json context,
               const std::shared_ptr<Exchange>& ex) {
  auto ids = std::make_shared<RunIds>();
  FlowObserver obs;
  obs.on_start = [ids](const Span& root) {
    ids->trace_id = root.trace_id;
    ids->span_id = root.span_id;
  };
  obs.on_done = [ex, ids](Result<Json> out) {
    if (!out.ok()) {
      log_failure(ex->request(), out.status());
      return ex->respond(genkit_error_response(out.status()));
    }
    respond_result(*ex, *ids, out->dump());
  };
  // A cached result is sent as stored.
  obs.on_json_text = [ex, ids](std::string_view json) { respond_result(*ex, *ids, json); };
  run_validated_flow(app.runtime, flow, std::move(input), std::move(context), ex->cancel_token(), std::move(obs),
                     trace_context(ex->request()));
  arm_deadline(app, ex, [](Exchange& x) {
    x.respond(genkit_error_response(Status(Code::kDeadlineExceeded, kTimedOut)));
  });
}

void write_block(Exchange& ex, std::string_view kind, std::string_view key, std::string_view json) {
  std::string block;
  block.reserve(json.size() + 24);
  block.append(kind).append(": {\"").append(key).append("\":").append(json).append("}\n\n");
  ex.write_stream(block);
}

// Once 200 is sent, a failure ends the body with an `error:` block.
void end_with_error(Exchange& ex, const Status& status, const Json* details = nullptr) {
  write_block(ex, "error", "error", genkit_error_json(status, details).dump());
  ex.end_stream();
}

void end_with_result(Exchange& ex, std::string_view output_json) {
  write_block(ex, "data", "result", output_json);
  ex.end_stream();
}

// Streams as Genkit does: the head (200, text/plain, chunked) first, then
// validation, chunks and the result; so every failure is an error block.
void run_stream(AppContext& app, const FlowAction& flow, JsonView data, Json context,
                const std::shared_ptr<Exchange>& ex) {
  ex->start_stream(200, "text/plain", {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}});
  Json details;
  Result<Json> input = validate(flow, data, &details);
  if (!input.ok()) return end_with_error(*ex, input.status(), &details);
  FlowObserver obs;
  // Only a flow that sends chunks is run as a stream: the others take the
  // unary path, through the cache when they are cacheable.
  if (flow.streams) {
    obs.on_chunk = [ex](const std::string& chunk) { write_block(*ex, "data", "message", json_quote(chunk)); };
  }
  obs.on_done = [ex](Result<Json> out) {
    if (!out.ok()) {
      log_failure(ex->request(), out.status());
      return end_with_error(*ex, out.status());
    }
    end_with_result(*ex, out->dump());
  };
  obs.on_json_text = [ex](std::string_view json) { end_with_result(*ex, json); };
  run_validated_flow(app.runtime, flow, std::move(input).value(), std::move(context), ex->cancel_token(),
                     std::move(obs), trace_context(ex->request()));
  arm_deadline(app, ex, [](Exchange& x) { end_with_error(x, Status(Code::kDeadlineExceeded, kTimedOut)); });
}

void serve(AppContext& app, const FlowAction& flow, const std::shared_ptr<Exchange>& ex) {
  Result<Json> data = read_data(ex->request());
  if (!data.ok()) return ex->respond(genkit_error_response(data.status()));
  Json context = context_for(app, ex->request());
  if (wants_stream(ex->request())) return run_stream(app, flow, data->view(), std::move(context), ex);
  Json details;
  Result<Json> input = validate(flow, data->view(), &details);
  if (!input.ok()) return ex->respond(genkit_error_response(input.status(), &details));
  run_unary(app, flow, std::move(input).value(), std::move(context), ex);
}

}  // namespace

void add_flow_server_routes(Router& router, AppContext& app) {
  for (const FlowAction* flow : app.runtime.registry().flows()) {
    // (The registry outlives the router: the handler keeps the flow itself.)
    Handler handler = [&app, flow](const std::shared_ptr<Exchange>& ex) { serve(app, *flow, ex); };
    // (A bare path some other route has taken stays that route's.)
    if (!router.has("/" + flow->name)) router.add("POST", "/" + flow->name, handler, ErrorFormat::kGenkit);
    router.add("POST", "/flows/" + flow->name, handler, ErrorFormat::kGenkit);
  }
}

}  // namespace genkit::http
