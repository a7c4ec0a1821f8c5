// REST routes of the flows (SPEC.md §4): JSON in, JSON or SSE out. Every
// route runs the registered flow; invalid input never reaches the model.
//
// A REST alias of a flow, in the seed's path style, is one line in
// kUnaryRoutes (JSON reply) or kStreamRoutes (SSE); /openapi.json lists it
// from the same line. (Every registered flow is on the flow server anyway:
// POST /<flow> and /flows/<flow>, worker/flow_server_routes.cc.)
#include "worker/flow_routes.h"

#include "common/json.h"
#include "common/json_check.h"
#include "common/log.h"
#include "common/runtime/flow.h"
#include "common/schema/schema.h"
#include "common/state/flow_cache.h"
#include "worker/app_context.h"
#include "worker/errors.h"
#include "worker/flow_run.h"
#include "worker/request_key_memo.h"
#include "worker/router.h"

namespace genkit::http {

namespace {

// Builds the REST body from the flow's output, the request and its input.
using Shape = Json (*)(Json output, const Request& req, JsonView input);

struct FlowRoute {
  const char* path;
  const char* flow;      // the registered flow's name; the body is its input
  const char* summary;   // for /openapi.json and /docs
  Shape shape;           // unary routes
  const char* done_key;  // SSE routes: key of the full text in the final event
};

Json as_is(Json output, const Request&, JsonView) { return output; }

Json joke_body(Json output, const Request&, JsonView input) {
  Json body = Json::object();
  body.set("joke", std::move(output));
  body.set("username", Json::copy_of(input["username"]));
  return body;
}

Json image_body(Json output, const Request&, JsonView input) {
  Json body = Json::object();
  body.set("description", std::move(output));
  body.set("image_url", Json::copy_of(input["image_url"]));
  return body;
}

Json chat_body(Json output, const Request&, JsonView) {
  Json body = Json::object();
  body.set("answer", std::move(output));
  body.set("persona", Json::string("pirate captain"));
  return body;
}

// POST <path> → the flow's output as the JSON body (as_is), or shaped.
const FlowRoute kUnaryRoutes[] = {
    {"/tell-joke", "tell_joke", "Generate a joke", joke_body, nullptr},
    {"/translate", "translate_text", "Structured translation with tool use", as_is, nullptr},
    {"/describe-image", "describe_image", "Describe an image (multimodal)", image_body, nullptr},
    {"/generate-character", "generate_character", "Generate an RPG character (structured)", as_is, nullptr},
    {"/chat", "pirate_chat", "Chat with a pirate captain (system prompt)", chat_body, nullptr},
    {"/generate-code", "generate_code", "Generate code (structured)", as_is, nullptr},
    {"/review-code", "review_code", "Review code (Dotprompt)", as_is, nullptr},
};

// POST <path> → SSE: {"chunk": ...} events, then {"done": true, <done_key>: output}.
const FlowRoute kStreamRoutes[] = {
    {"/tell-joke/stream", "tell_joke", "Stream a joke (SSE)", nullptr, "joke"},
    {"/tell-story/stream", "tell_story", "Stream a story from the flow's own chunks (SSE)", nullptr, "story"},
};

// Parses the body (empty → {}) and validates it against the flow's input
// schema (defaults applied). tell_joke then takes the Authorization header
// as its username, as the seed does — only when API_KEYS is off: with auth
// on, the header is the key, which must never reach the model, the response
// or a log. A header used so is validated like the body's username.
Result<Json> read_input(const AppContext& app, const Request& req, const FlowAction& flow) {
  Result<Json> body = req.body.empty() ? Result<Json>(Json::object()) : parse_json_input(req.body);
  if (!body.ok()) return Status(Code::kInvalidArgument, "body: " + body.status().message());
  Result<Json> input = flow.input->validate(body->view());
  if (!input.ok() || flow.name != "tell_joke" || !app.config.api_keys.empty()) return input;
  const std::string* auth = req.header("authorization");
  if (!auth) return input;
  input->set("username", Json::string(*auth));
  return flow.input->validate(input->view());
}

void respond_json(Exchange& ex, std::string_view json) {
  Response r;
  r.body = json;
  ex.respond(std::move(r));
}

// `memo` (routes whose body is the output as is, on a cacheable flow): a
// repeated body is answered from the cache without being parsed again.
void run_unary(AppContext& app, const FlowRoute& route, RequestKeyMemo* memo, const std::shared_ptr<Exchange>& ex) {
  const FlowAction* action = app.runtime.registry().flow(route.flow);
  FlowCache* cache = app.runtime.options().cache;
  const std::string& body = ex->request().body;
  if (memo && cache) {
    if (const shm::CacheKey* key = memo->find(body)) {
      if (std::optional<std::string_view> hit = cache->peek_text(*key)) return respond_json(*ex, *hit);
    }
  }
  Result<Json> input = read_input(app, ex->request(), *action);
  if (!input.ok()) return ex->respond(error_response(400, input.status().message()));
  if (memo && cache) memo->remember(body, FlowCache::key_for(action->name, *input));
  FlowObserver obs;
  Shape shape = route.shape;
  // Only the shapes that echo input fields need a copy of it.
  Json raw = shape == as_is ? Json() : Json(input.value());
  obs.on_done = [ex, shape, raw = std::move(raw)](Result<Json> out) {
    if (!out.ok()) {
      log_failure(ex->request(), out.status());
      return ex->respond(error_response_for(out.status()));
    }
    Response r;
    r.body = shape(std::move(out).value(), ex->request(), raw.view()).dump();
    ex->respond(std::move(r));
  };
  if (shape == as_is) {
    // The body is the output itself: a cached result is sent as stored.
    obs.on_json_text = [ex](std::string_view json) { respond_json(*ex, json); };
  }
  run_validated_flow(app.runtime, *action, std::move(input).value(), Json::object(), ex->cancel_token(),
                     std::move(obs), trace_context(ex->request()));
  arm_deadline(app, ex, [](Exchange& x) { x.respond(error_response(504, kTimedOut)); });
}

std::string sse_event(const std::string& json) { return "data: " + json + "\n\n"; }

void start_sse(Exchange& ex) {
  if (ex.responded()) return;
  ex.start_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}});
}

// A stream that fails once started ends with an error event.
void end_with_error(Exchange& ex, const std::string& message) {
  ex.write_stream(sse_event("{\"error\": " + json_quote(message) + ", \"done\": true}"));
  ex.end_stream();
}

void run_stream(AppContext& app, const FlowRoute& route, const std::shared_ptr<Exchange>& ex) {
  const FlowAction* action = app.runtime.registry().flow(route.flow);
  Result<Json> input = read_input(app, ex->request(), *action);
  if (!input.ok()) return ex->respond(error_response(400, input.status().message()));
  FlowObserver obs;
  obs.on_chunk = [ex](const std::string& chunk) {
    start_sse(*ex);
    ex->write_stream(sse_event("{\"chunk\": " + json_quote(chunk) + "}"));
  };
  std::string key = route.done_key;
  obs.on_done = [ex, key](Result<Json> out) {
    if (!out.ok()) {
      log_failure(ex->request(), out.status());
      if (!ex->responded()) return ex->respond(error_response_for(out.status()));
      return end_with_error(*ex, public_message(out.status()));
    }
    start_sse(*ex);
    ex->write_stream(sse_event("{\"done\": true, " + json_quote(key) + ": " + out->dump() + "}"));
    ex->end_stream();
  };
  run_validated_flow(app.runtime, *action, std::move(input).value(), Json::object(), ex->cancel_token(),
                     std::move(obs), trace_context(ex->request()));
  start_sse(*ex);  // (a flow that fails at once has answered already)
  arm_deadline(app, ex, [](Exchange& x) {
    if (!x.responded()) return x.respond(error_response(504, kTimedOut));
    end_with_error(x, kTimedOut);
  });
}

// A route whose flow is not registered is left out (and said so), not a crash per request.
bool flow_known(const AppContext& app, const FlowRoute& route) {
  if (app.runtime.registry().flow(route.flow)) return true;
  log_error("flow_route_without_flow", {{"path", route.path}, {"flow", route.flow}});
  return false;
}

}  // namespace

std::vector<RestFlowRouteDoc> rest_flow_routes() {
  std::vector<RestFlowRouteDoc> out;
  for (const FlowRoute& r : kUnaryRoutes) out.push_back({r.path, r.flow, r.summary, false});
  for (const FlowRoute& r : kStreamRoutes) out.push_back({r.path, r.flow, r.summary, true});
  return out;
}

void add_flow_routes(Router& router, AppContext& app) {
  for (const FlowRoute& route : kUnaryRoutes) {
    if (!flow_known(app, route)) continue;
    const FlowAction* action = app.runtime.registry().flow(route.flow);
    std::shared_ptr<RequestKeyMemo> memo;
    if (action && action->cacheable && route.shape == as_is) memo = std::make_shared<RequestKeyMemo>();
    router.add("POST", route.path, [&app, &route, memo](const std::shared_ptr<Exchange>& ex) {
      run_unary(app, route, memo.get(), ex);
    });
  }
  for (const FlowRoute& route : kStreamRoutes) {
    if (!flow_known(app, route)) continue;
    router.add("POST", route.path, [&app, &route](const std::shared_ptr<Exchange>& ex) { run_stream(app, route, ex); });
  }
}

}  // namespace genkit::http
