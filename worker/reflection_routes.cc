#include "worker/reflection_routes.h"

#include <memory>

#include "common/config.h"
#include "common/json.h"
#include "common/json_check.h"
#include "common/log.h"
#include "common/runtime/actions.h"
#include "common/telemetry/genkit_trace_exporter.h"
#include "worker/errors.h"

namespace genkit::http {

namespace {

Response text(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

Response json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response json(int status, const Json& body) { return json(status, body.dump()); }

Response message(int status, const char* key, const char* text) {
  return json(status, Json::object().set(key, Json::string(text)));
}

// {"error":{"code":<number>,"message":...,"details":{"traceId"?}}}: how a
// failed run ends (with HTTP 200: the head may be long gone). An error
// before the trace starts (bad JSON, input the schema refuses) is 13,
// whatever its status, as Genkit answers it.
std::string run_error(const Status& status, const std::string& trace_id) {
  Json details = Json::object();
  if (!trace_id.empty()) details.set("traceId", Json::string(trace_id));
  Json error = Json::object();
  error.set("code", Json::number(trace_id.empty() ? genkit_status_number(Code::kInternal)
                                                  : genkit_status_number(status.code())));
  error.set("message", Json::string(status.message()));
  error.set("details", std::move(details));
  return Json::object().set("error", std::move(error)).dump();
}

std::string run_result(JsonView output, const std::string& trace_id) {
  Json telemetry = Json::object().set("traceId", Json::string(trace_id));
  Json body = Json::object();
  body.set("result", Json::copy_of(output));
  body.set("telemetry", std::move(telemetry));
  return body.dump();
}

// One runAction call. The head goes out as the trace starts (with its ids);
// the final line once the run's spans have been handed to the tools.
struct RunCall : std::enable_shared_from_this<RunCall> {
  ReflectionState& state;
  std::shared_ptr<Exchange> ex;
  bool stream;
  CancelToken cancel;  // the run's own: cancelAction and a vanished client fire it
  std::string trace_id;
  bool done = false;

  RunCall(ReflectionState& s, std::shared_ptr<Exchange> e, bool streaming)
      : state(s), ex(std::move(e)), stream(streaming) {}

  void started(const Span& root) {
    trace_id = root.trace_id;
    state.running[trace_id] = cancel;
    ex->start_stream(200, stream ? "text/plain" : "application/json",
                     {{"X-Genkit-Trace-Id", root.trace_id}, {"X-Genkit-Span-Id", root.span_id}});
  }

  void chunk(const Json& c) {
    if (!done) ex->write_stream(c.dump() + "\n");
  }

  void finish(std::string last_line) {
    if (done) return;
    done = true;
    if (!trace_id.empty()) state.running.erase(trace_id);
    if (!ex->responded()) {
      // (Failed before its trace started: the head goes out now.)
      if (!stream) return ex->respond(json(200, std::move(last_line)));
      ex->start_stream(200, "text/plain", {});
    }
    auto self = shared_from_this();
    auto end = [self, line = std::move(last_line)] {
      self->ex->write_stream(line);  // (no newline: the tools parse the rest as one JSON value)
      self->ex->end_stream();
    };
    if (state.exporter) return state.exporter->flush(std::move(end));
    end();
  }

  void ended(Result<Json> out) {
    if (!out.ok()) {
      if (out.status().code() != Code::kCancelled) {
        log_warning(
            "reflection_run_failed",
            {{"request_id", ex->request().request_id}, {"trace_id", trace_id}, {"reason", out.status().message()}});
      }
      return finish(run_error(out.status(), trace_id));
    }
    finish(run_result(out->view(), trace_id));
  }
};

void run_action_route(ReflectionState& state, const std::shared_ptr<Exchange>& ex) {
  Result<Json> body = parse_json_input(ex->request().body);
  if (!body.ok() || !body->view().is_object()) {
    std::string why = body.ok() ? "the body must be a JSON object" : "malformed JSON: " + body.status().message();
    return ex->respond(json(200, run_error(Status(Code::kInvalidArgument, why), "")));
  }
  JsonView req = body->view();
  if (!req["key"].is_string() || req["key"].as_string().empty()) {
    return ex->respond(message(400, "error", "key is required"));
  }
  JsonView context = req["context"];
  if (context.present() && !context.is_null() && !context.is_object()) {
    return ex->respond(message(400, "error", "context must be an object"));
  }
  bool stream = query_param(ex->request().query, "stream") == "true";
  auto call = std::make_shared<RunCall>(state, ex, stream);
  // The client's going away cancels the run; so does cancelAction, which
  // answers the run itself: its upstream call, torn down, never will.
  ex->cancel_token().on_cancel([cancel = call->cancel]() mutable { cancel.cancel(); });
  call->cancel.on_cancel([weak = std::weak_ptr<RunCall>(call)] {
    if (auto c = weak.lock()) c->finish(run_error(Status(Code::kCancelled, "Action was cancelled"), c->trace_id));
  });
  ActionObserver obs;
  obs.on_start = [call](const Span& root) { call->started(root); };
  if (stream) obs.on_chunk = [call](Json chunk) { call->chunk(chunk); };
  obs.on_done = [call](Result<Json> out) {
    // An unknown key is 404 text, as Genkit answers it (before any trace).
    if (!out.ok() && out.status().code() == Code::kNotFound && call->trace_id.empty()) {
      call->done = true;
      return call->ex->respond(text(404, out.status().message()));
    }
    call->ended(std::move(out));
  };
  std::string key(req["key"].as_string());
  if (key[0] != '/') key.insert(0, "/");
  Json ctx = context.is_object() ? Json::copy_of(context) : Json::object();
  run_action(state.app.runtime, key, req["input"], std::move(ctx), call->cancel, std::move(obs));
}

void cancel_action_route(ReflectionState& state, const std::shared_ptr<Exchange>& ex) {
  Result<Json> body = parse_json_input(ex->request().body);
  JsonView id = body.ok() ? body->view()["traceId"] : JsonView();
  if (!id.is_string() || id.as_string().empty()) return ex->respond(message(400, "error", "traceId is required"));
  auto it = state.running.find(std::string(id.as_string()));
  if (it == state.running.end()) return ex->respond(message(404, "message", "Action not found or already completed"));
  CancelToken cancel = it->second;
  cancel.cancel();  // (answers the run and leaves `running`)
  ex->respond(message(200, "message", "Action cancelled"));
}

void notify_route(ReflectionState& state, const std::shared_ptr<Exchange>& ex) {
  Result<Json> body = parse_json_input(ex->request().body);
  if (!body.ok() || !body->view().is_object())
    return ex->respond(message(400, "error", "the body must be a JSON object"));
  JsonView url = body->view()["telemetryServerUrl"];
  if (url.present() && !url.is_string())
    return ex->respond(message(400, "error", "telemetryServerUrl must be a string"));
  std::string_view u = url.as_string();
  if (url.is_string() && u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
    return ex->respond(message(400, "error", "telemetryServerUrl must be an http(s) URL"));
  }
  if (url.is_string() && state.exporter) state.exporter->announce(std::string(u));
  JsonView version = body->view()["reflectionApiSpecVersion"];
  if (version.is_number() && version.as_number() != 1) {
    log_warning("reflection_spec_version", {{"tools", version.as_number()}, {"runtime", 1}});
  }
  ex->respond(text(200, "OK"));
}

void values_route(ReflectionState& state, const std::shared_ptr<Exchange>& ex) {
  std::optional<std::string_view> type = query_param(ex->request().query, "type");
  if (!type || type->empty()) return ex->respond(text(400, "Query parameter \"type\" is required."));
  if (*type == "defaultModel") {
    return ex->respond(json(200, Json::object().set("defaultModel", Json::string(state.app.model_name))));
  }
  if (*type == "middleware") return ex->respond(json(200, Json::object()));
  ex->respond(text(400, "'type' " + std::string(*type) +
                            " is not supported. Only 'defaultModel' and "
                            "'middleware' are supported"));
}

}  // namespace

const std::string& genkit_version_header() {
  static const std::string v = std::string("genkit-endpoints/") + version_string();
  return v;
}

void add_reflection_routes(Router& router, ReflectionState& state) {
  router.add_gate([](const std::shared_ptr<Exchange>& ex) {
    ex->add_response_header("x-genkit-version", genkit_version_header());
    return true;
  });
  router.add("GET", "/api/__health", [&state](const std::shared_ptr<Exchange>& ex) {
    std::optional<std::string_view> id = query_param(ex->request().query, "id");
    if (id && !id->empty() && *id != state.runtime_id) return ex->respond(text(503, "Invalid runtime ID"));
    ex->respond(text(200, "OK"));
  });
  router.add("GET", "/api/actions", [&state](const std::shared_ptr<Exchange>& ex) {
    ex->respond(json(200, describe_actions(state.app.runtime.registry())));
  });
  router.add("POST", "/api/runAction", [&state](const std::shared_ptr<Exchange>& ex) { run_action_route(state, ex); });
  router.add("POST", "/api/cancelAction",
             [&state](const std::shared_ptr<Exchange>& ex) { cancel_action_route(state, ex); });
  router.add("POST", "/api/notify", [&state](const std::shared_ptr<Exchange>& ex) { notify_route(state, ex); });
  router.add("GET", "/api/values", [&state](const std::shared_ptr<Exchange>& ex) { values_route(state, ex); });
  router.add("GET", "/api/envs", [](const std::shared_ptr<Exchange>& ex) {
    ex->respond(json(200, Json::array().push(Json::string("dev"))));
  });
  router.add("GET", "/api/__quitquitquit", [&state](const std::shared_ptr<Exchange>& ex) {
    ex->respond(text(200, "OK"));
    state.app.runtime.loop().defer([&state] {
      if (state.on_quit) state.on_quit();
    });
  });
}

}  // namespace genkit::http
