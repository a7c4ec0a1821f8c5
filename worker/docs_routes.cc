// Debug-only API docs: the OpenAPI 3 document of every route, built from the
// flows' schemas, and a small HTML index of it.
#include "common/json.h"
#include "common/schema/schema.h"
#include "worker/app_context.h"
#include "worker/router.h"

namespace genkit::http {

namespace {

struct DocRoute {
  const char* method;
  const char* path;
  const char* flow;     // input schema source; nullptr for built-ins
  const char* summary;
  bool sse;
};

const DocRoute kDocRoutes[] = {
    {"get", "/health", nullptr, "Liveness check", false},
    {"get", "/ready", nullptr, "Readiness check", false},
    {"post", "/tell-joke", "tell_joke", "Generate a joke", false},
    {"post", "/tell-joke/stream", "tell_joke", "Stream a joke (SSE)", true},
    {"post", "/tell-story/stream", "tell_story", "Stream a story from the flow's own chunks (SSE)", true},
    {"post", "/translate", "translate_text", "Structured translation with tool use", false},
    {"post", "/describe-image", "describe_image", "Describe an image (multimodal)", false},
    {"post", "/generate-character", "generate_character", "Generate an RPG character (structured)", false},
    {"post", "/chat", "pirate_chat", "Chat with a pirate captain (system prompt)", false},
    {"post", "/generate-code", "generate_code", "Generate code (structured)", false},
    {"post", "/review-code", "review_code", "Review code (Dotprompt)", false},
};

Json content(const char* type, Json schema) {
  Json media = Json::object();
  media.set("schema", std::move(schema));
  Json c = Json::object();
  c.set(type, std::move(media));
  return c;
}

std::string openapi_document(const AppContext& app) {
  Json paths = Json::object();
  for (const DocRoute& r : kDocRoutes) {
    Json op = Json::object();
    op.set("summary", Json::string(r.summary));
    Json ok = Json::object();
    ok.set("description", Json::string("OK"));
    if (r.flow) {
      const FlowAction* flow = app.runtime.registry().flow(r.flow);
      Json body = Json::object();
      body.set("required", Json::boolean(false));
      body.set("content", content("application/json", flow->input->json_schema()));
      op.set("requestBody", std::move(body));
      Json out = Json::object();
      out.set("type", Json::string(r.sse ? "string" : "object"));
      ok.set("content", content(r.sse ? "text/event-stream" : "application/json", std::move(out)));
    }
    Json responses = Json::object();
    responses.set("200", std::move(ok));
    op.set("responses", std::move(responses));
    Json item = Json::object();
    item.set(r.method, std::move(op));
    paths.set(r.path, std::move(item));
  }
  Json info = Json::object();
  info.set("title", Json::string("genkit-endpoints"));
  info.set("version", Json::string(version_string()));
  Json doc = Json::object();
  doc.set("openapi", Json::string("3.0.3"));
  doc.set("info", std::move(info));
  doc.set("paths", std::move(paths));
  return doc.dump();
}

}  // namespace

void add_docs_routes(Router& router, AppContext& app) {
  auto doc = std::make_shared<std::string>(openapi_document(app));
  router.add("GET", "/openapi.json", [doc](const std::shared_ptr<Exchange>& ex) {
    Response r;
    r.body = *doc;
    ex->respond(std::move(r));
  });
  router.add("GET", "/docs", [](const std::shared_ptr<Exchange>& ex) {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    std::string html = "<!doctype html><title>genkit-endpoints API</title><h1>genkit-endpoints API</h1>"
                       "<p>OpenAPI document: <a href=\"/openapi.json\">/openapi.json</a></p><ul>";
    for (const DocRoute& d : kDocRoutes) {
      html += "<li><code>";
      html += d.method;
      html += " ";
      html += d.path;
      html += "</code> — ";
      html += d.summary;
      html += "</li>";
    }
    r.body = html + "</ul>";
    ex->respond(std::move(r));
  });
}

}  // namespace genkit::http
