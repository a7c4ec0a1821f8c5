// Debug-only API docs: the OpenAPI 3 document of every route, built from the
// flows' schemas, and a small HTML index of it. The flow routes come from
// where they are defined: the REST aliases from their table
// (worker/flow_routes.cc), and the flow server's POST /<flow> and
// /flows/<flow> from the registry, so a new flow file or a new alias line
// shows up here with no edit.
#include <string>
#include <vector>

#include "common/json.h"
#include "common/schema/schema.h"
#include "worker/app_context.h"
#include "worker/flow_routes.h"
#include "worker/router.h"

namespace genkit::http {

namespace {

struct DocEntry {
  std::string method;
  std::string path;
  std::string summary;
};

Json content(const char* type, Json schema) {
  Json media = Json::object();
  media.set("schema", std::move(schema));
  Json c = Json::object();
  c.set(type, std::move(media));
  return c;
}

Json type_only(const char* type) {
  Json s = Json::object();
  s.set("type", Json::string(type));
  return s;
}

// A JSON Schema for use inside another one (no "$schema" of its own).
Json nested(Json schema) {
  if (schema.view().is_object()) schema.erase("$schema");
  return schema;
}

// Genkit's envelope: {"<key>": <schema>}.
Json wrapped(const char* key, Json schema, bool required) {
  Json props = Json::object();
  props.set(key, nested(std::move(schema)));
  Json s = type_only("object");
  s.set("properties", std::move(props));
  if (required) s.set("required", Json::array().push(Json::string(key)));
  return s;
}

class Document {
 public:
  void add(const std::string& method, const std::string& path, const std::string& summary, Json op) {
    op.set("summary", Json::string(summary));
    Json item = Json::object();
    item.set(method, std::move(op));
    paths_.set(path, std::move(item));
    entries_.push_back({method, path, summary});
  }
  bool has(const std::string& path) const { return paths_.view()[path].present(); }
  const std::vector<DocEntry>& entries() const { return entries_; }
  Json take_paths() { return std::move(paths_); }

 private:
  Json paths_ = Json::object();
  std::vector<DocEntry> entries_;
};

Json responses_of(Json ok) {
  Json responses = Json::object();
  responses.set("200", std::move(ok));
  return responses;
}

Json plain_get() {
  Json ok = Json::object();
  ok.set("description", Json::string("OK"));
  Json op = Json::object();
  op.set("responses", responses_of(std::move(ok)));
  return op;
}

// A REST alias: the body is the flow's input (defaults applied).
Json rest_operation(const FlowAction& flow, bool sse) {
  Json body = Json::object();
  body.set("required", Json::boolean(false));
  body.set("content", content("application/json", flow.input->json_schema()));
  Json ok = Json::object();
  ok.set("description", Json::string("OK"));
  ok.set("content", content(sse ? "text/event-stream" : "application/json", type_only(sse ? "string" : "object")));
  Json op = Json::object();
  op.set("requestBody", std::move(body));
  op.set("responses", responses_of(std::move(ok)));
  return op;
}

// Genkit's flow server: {"data": <input>} → {"result": <output>}, or a
// stream of `data:` blocks with ?stream=true (or Accept: text/event-stream).
Json flow_server_operation(const FlowAction& flow) {
  Json body = Json::object();
  body.set("required", Json::boolean(false));
  body.set("content", content("application/json", wrapped("data", flow.input->json_schema(), false)));
  Json ok = Json::object();
  ok.set("description", Json::string("OK: {\"result\": <output>}; streamed: data: {\"message\": <chunk>} blocks, "
                                     "then data: {\"result\": <output>}"));
  Json media = content("application/json", wrapped("result", Json::copy_of(flow.output_schema.view()), true));
  media.set("text/plain", Json::object().set("schema", type_only("string")));
  ok.set("content", std::move(media));
  Json invalid = Json::object();
  invalid.set("description", Json::string("INVALID_ARGUMENT: the input does not match the flow's schema"));
  Json responses = responses_of(std::move(ok));
  responses.set("400", std::move(invalid));
  Json stream = Json::object();
  stream.set("name", Json::string("stream"));
  stream.set("in", Json::string("query"));
  stream.set("required", Json::boolean(false));
  stream.set("schema", type_only("boolean"));
  Json op = Json::object();
  op.set("parameters", Json::array().push(std::move(stream)));
  op.set("requestBody", std::move(body));
  op.set("responses", std::move(responses));
  return op;
}

Document build_document(const AppContext& app, const Router& router) {
  Document doc;
  doc.add("get", "/health", "Liveness check", plain_get());
  doc.add("get", "/ready", "Readiness check", plain_get());
  const Registry& registry = app.runtime.registry();
  for (const RestFlowRouteDoc& r : rest_flow_routes()) {
    const FlowAction* flow = registry.flow(r.flow);
    if (flow) doc.add("post", r.path, r.summary, rest_operation(*flow, r.sse));
  }
  for (const FlowAction* flow : registry.flows()) {
    std::string summary = "Run flow " + flow->name + " (Genkit flow server)";
    // As the flow server does: a bare path another route has taken stays that route's.
    std::string bare = "/" + flow->name;
    if (!doc.has(bare) && !router.has(bare) && bare != "/docs" && bare != "/openapi.json") {
      doc.add("post", bare, summary, flow_server_operation(*flow));
    }
    doc.add("post", "/flows/" + flow->name, summary, flow_server_operation(*flow));
  }
  return doc;
}

std::string openapi_json(Document& doc) {
  Json info = Json::object();
  info.set("title", Json::string("genkit-endpoints"));
  info.set("version", Json::string(version_string()));
  Json out = Json::object();
  out.set("openapi", Json::string("3.0.3"));
  out.set("info", std::move(info));
  out.set("paths", doc.take_paths());
  return out.dump();
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

std::string docs_html(const std::vector<DocEntry>& entries) {
  std::string html = "<!doctype html><title>genkit-endpoints API</title><h1>genkit-endpoints API</h1>"
                     "<p>OpenAPI document: <a href=\"/openapi.json\">/openapi.json</a></p><ul>";
  for (const DocEntry& d : entries) {
    html += "<li><code>" + d.method + " " + html_escape(d.path) + "</code> — " + html_escape(d.summary) + "</li>";
  }
  return html + "</ul>";
}

}  // namespace

void add_docs_routes(Router& router, AppContext& app) {
  Document doc = build_document(app, router);
  auto html = std::make_shared<std::string>(docs_html(doc.entries()));
  auto json = std::make_shared<std::string>(openapi_json(doc));
  router.add("GET", "/openapi.json", [json](const std::shared_ptr<Exchange>& ex) {
    Response r;
    r.body = *json;
    ex->respond(std::move(r));
  });
  router.add("GET", "/docs", [html](const std::shared_ptr<Exchange>& ex) {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = *html;
    ex->respond(std::move(r));
  });
}

}  // namespace genkit::http
