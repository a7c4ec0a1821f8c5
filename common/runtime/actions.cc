#include "common/runtime/actions.h"

#include <memory>
#include <string>

#include "common/prompt/dotprompt.h"
#include "common/runtime/flow.h"
#include "common/runtime/generate.h"
#include "common/runtime/runtime.h"
#include "common/schema/json_schema_validator.h"
#include "common/schema/schema.h"

namespace genkit {

namespace {

constexpr const char* kDraft07 = "http://json-schema.org/draft-07/schema#";

// A copy of `schema` that says it is draft-07 (an empty one for null).
Json draft07(JsonView schema) {
  Json out = schema.is_object() ? Json::copy_of(schema) : Json::object();
  if (!out.view()["$schema"].present()) out.set("$schema", Json::string(kDraft07));
  return out;
}

Json object_schema(std::initializer_list<std::pair<const char*, Json>> properties, const char* required) {
  Json props = Json::object();
  for (const auto& [name, schema] : properties) props.set(name, Json(schema));
  Json s = Json::object();
  s.set("type", Json::string("object"));
  s.set("properties", std::move(props));
  if (required) s.set("required", Json::array().push(Json::string(required)));
  return draft07(s.view());
}

Json typed(const char* type) { return Json::object().set("type", Json::string(type)); }

// Genkit's GenerateRequest and GenerateResponse, in the parts we read and write.
Json generate_request_schema() {
  return object_schema({{"messages", Json::object().set("type", Json::string("array")).set("items", typed("object"))},
                        {"config", typed("object")},
                        {"tools", Json::object().set("type", Json::string("array")).set("items", typed("object"))},
                        {"output", typed("object")}},
                       "messages");
}

Json generate_response_schema() {
  return object_schema({{"message", typed("object")}, {"finishReason", typed("string")}, {"usage", typed("object")}},
                       nullptr);
}

Json action(const std::string& key, const std::string& name, Json input_schema, Json output_schema) {
  Json a = Json::object();
  a.set("key", Json::string(key));
  a.set("name", Json::string(name));
  a.set("inputSchema", std::move(input_schema));
  if (!output_schema.view().is_null()) a.set("outputSchema", std::move(output_schema));
  return a;
}

std::string prompt_name(const PromptTemplate& p) { return p.variant.empty() ? p.name : p.name + "." + p.variant; }

Json prompt_metadata(const PromptTemplate& p) {
  Json prompt = Json::object();
  prompt.set("name", Json::string(p.name));
  if (!p.variant.empty()) prompt.set("variant", Json::string(p.variant));
  if (!p.model.empty()) prompt.set("model", Json::string(p.model));
  if (!p.config.view().is_null()) prompt.set("config", Json(p.config));
  Json input = Json::object();
  input.set("schema", draft07(p.input_schema.view()));
  if (!p.input_defaults.view().is_null()) input.set("default", Json(p.input_defaults));
  prompt.set("input", std::move(input));
  Json output = Json::object();
  if (!p.output_format.empty()) output.set("format", Json::string(p.output_format));
  if (!p.output_schema.view().is_null()) output.set("schema", draft07(p.output_schema.view()));
  prompt.set("output", std::move(output));
  prompt.set("template", Json::string(p.template_source));
  Json meta = Json::object();
  meta.set("type", Json::string("prompt"));
  meta.set("prompt", std::move(prompt));
  return meta;
}

Json message_list(const std::vector<Message>& messages) {
  Json list = Json::array();
  for (const Message& m : messages) list.push(m.to_json());
  return list;
}

Json response_json(const ModelResponse& r, const Json* structured = nullptr) {
  Json usage = Json::object();
  usage.set("inputTokens", Json::number(static_cast<double>(r.usage.input_tokens)));
  usage.set("outputTokens", Json::number(static_cast<double>(r.usage.output_tokens)));
  Json out = Json::object();
  out.set("message", r.message.to_json());
  out.set("finishReason", Json::string(r.finish_reason));
  out.set("usage", std::move(usage));
  if (structured && !structured->view().is_null()) out.set("output", Json(*structured));
  return out;
}

Json text_chunk(const std::string& text) {
  Json part = Json::object().set("text", Json::string(text));
  Json chunk = Json::object();
  chunk.set("index", Json::number(0));
  chunk.set("role", Json::string("model"));
  chunk.set("content", Json::array().push(std::move(part)));
  return chunk;
}

Result<ModelRequest> model_request(JsonView in) {
  if (!in.is_object()) return Status(Code::kInvalidArgument, "the input must be a GenerateRequest object");
  if (!in["messages"].is_array() || in["messages"].size() == 0) {
    return Status(Code::kInvalidArgument, "messages: must be a non-empty array");
  }
  ModelRequest req;
  for (std::size_t i = 0; i < in["messages"].size(); ++i) {
    Result<Message> m = Message::from_json(in["messages"].at(i));
    if (!m.ok()) return Status(Code::kInvalidArgument, "messages." + std::to_string(i) + ": " + m.status().message());
    req.messages.push_back(std::move(m).value());
  }
  if (in["config"].is_object()) req.config = Json::copy_of(in["config"]);
  for (std::size_t i = 0; i < in["tools"].size(); ++i) {
    JsonView t = in["tools"].at(i);
    if (!t["name"].is_string())
      return Status(Code::kInvalidArgument, "tools." + std::to_string(i) + ".name: must be a string");
    ToolDefinition d;
    d.name = std::string(t["name"].as_string());
    d.description = std::string(t["description"].as_string());
    d.input_schema = Json::copy_of(t["inputSchema"]);
    d.output_schema = Json::copy_of(t["outputSchema"]);
    req.tools.push_back(std::move(d));
  }
  if (in["output"]["schema"].is_object()) {
    req.output_schema = Json::copy_of(in["output"]["schema"]);
    req.output_format = "json";
  }
  return req;
}

// The run's root span ends with the run.
using Finish = std::function<void(Result<Json>)>;

Finish finisher(std::shared_ptr<ActiveSpan> span, std::function<void(Result<Json>)> done) {
  return [span, done = std::move(done)](Result<Json> out) {
    if (out.ok()) {
      span->set_output(out->dump());
    } else {
      span->fail(out.status().message());
    }
    span->finish();
    done(std::move(out));
  };
}

void run_tool(Runtime& rt, const ToolAction& tool, JsonView input, ActionObserver obs) {
  if (!tool.definition.input_schema.view().is_null()) {
    Status valid = validate_json_schema(tool.definition.input_schema.view(), input);
    if (!valid.is_ok()) return obs.on_done(valid);
  }
  auto span = start_root_span(admit_trace(rt.options().span_sink), tool.definition.name, "tool", input.dump());
  if (obs.on_start) obs.on_start(span->span());
  tool.run(input, finisher(span, std::move(obs.on_done)));
}

void run_model(Runtime& rt, Model& model, JsonView input, CancelToken cancel, ActionObserver obs) {
  Result<ModelRequest> req = model_request(input);
  if (!req.ok()) return obs.on_done(req.status());
  req->stream = static_cast<bool>(obs.on_chunk);
  auto span = start_root_span(admit_trace(rt.options().span_sink), model.name(), "model", input.dump());
  if (obs.on_start) obs.on_start(span->span());
  ModelCallbacks cb;
  if (obs.on_chunk) cb.on_chunk = [chunk = obs.on_chunk](const std::string& text) { chunk(text_chunk(text)); };
  cb.on_done = [finish = finisher(span, std::move(obs.on_done))](Result<ModelResponse> r) {
    if (!r.ok()) return finish(r.status());
    finish(response_json(*r));
  };
  model.generate(rt.loop(), std::move(req).value(), std::move(cb), std::move(cancel));
}

// The prompt's variables: its defaults with `input` over them, checked against its schema.
Result<Json> prompt_input(const PromptTemplate& p, JsonView input) {
  if (input.present() && !input.is_null() && !input.is_object()) {
    return Status(Code::kInvalidArgument, "the input of a prompt must be an object");
  }
  Json vars = p.input_defaults.view().is_object() ? Json(p.input_defaults) : Json::object();
  input.for_each([&](std::string_view k, JsonView v) { vars.set(k, Json::copy_of(v)); });
  if (!p.input_schema.view().is_null()) {
    Status valid = validate_json_schema(p.input_schema.view(), vars.view());
    if (!valid.is_ok()) return valid;
  }
  return vars;
}

void run_prompt(Runtime& rt, const PromptTemplate& p, bool execute, JsonView input, CancelToken cancel,
                ActionObserver obs) {
  Result<Json> vars = prompt_input(p, input);
  if (!vars.ok()) return obs.on_done(vars.status());
  auto span = start_root_span(admit_trace(rt.options().span_sink), prompt_name(p),
                              execute ? "executable-prompt" : "prompt", vars->dump());
  if (obs.on_start) obs.on_start(span->span());
  Finish finish = finisher(span, std::move(obs.on_done));
  Result<std::vector<Message>> messages = render_prompt(p, vars->view());
  if (!messages.ok()) return finish(messages.status());
  std::string model = rt.registry().model(p.model) ? p.model : rt.options().default_model;
  if (!execute) {
    Json req = Json::object();
    req.set("model", Json::string(model));
    req.set("messages", message_list(*messages));
    if (!p.config.view().is_null()) req.set("config", Json(p.config));
    if (!p.output_schema.view().is_null()) {
      req.set("output", Json::object().set("format", Json::string("json")).set("schema", Json(p.output_schema)));
    }
    return finish(std::move(req));
  }
  GenerateOptions opts;
  opts.model = model;
  opts.messages = std::move(messages).value();
  opts.config = p.config;
  opts.output_schema = p.output_schema;
  if (obs.on_chunk) opts.on_chunk = [chunk = obs.on_chunk](const std::string& text) { chunk(text_chunk(text)); };
  generate(rt, span, std::move(cancel), std::move(opts), [finish](Result<GenerateResult> r) {
    if (!r.ok()) return finish(r.status());
    finish(response_json(r->response, &r->output));
  });
}

void run_flow_action(Runtime& rt, const FlowAction& flow, JsonView input, Json context, CancelToken cancel,
                     ActionObserver obs) {
  FlowObserver fo;
  fo.own_run = true;
  if (obs.on_chunk) fo.on_chunk = [chunk = obs.on_chunk](const std::string& text) { chunk(Json::string(text)); };
  fo.on_start = std::move(obs.on_start);
  fo.on_done = std::move(obs.on_done);
  run_flow(rt, flow, input, std::move(context), std::move(cancel), std::move(fo));
}

}  // namespace

Json describe_actions(const Registry& registry) {
  Json all = Json::object();
  for (const FlowAction* f : registry.flows()) {
    std::string key = "/flow/" + f->name;
    all.set(key, action(key, f->name, f->input ? f->input->json_schema() : draft07(JsonView()),
                        draft07(f->output_schema.view())));
  }
  for (const ToolAction* t : registry.tools()) {
    const ToolDefinition& d = t->definition;
    for (const char* type : {"/tool/", "/tool.v2/"}) {
      std::string key = type + d.name;
      Json a = action(key, d.name, draft07(d.input_schema.view()), draft07(d.output_schema.view()));
      a.set("description", Json::string(d.description));
      a.set("metadata", Json::object().set("type", Json::string("tool")));
      all.set(key, std::move(a));
    }
  }
  for (const Model* m : registry.models()) {
    std::string key = "/model/" + m->name();
    Json a = action(key, m->name(), generate_request_schema(), generate_response_schema());
    a.set("metadata", Json::object().set("model", m->info()));
    all.set(key, std::move(a));
  }
  for (const auto& p : registry.prompts()) {
    std::string name = prompt_name(*p);
    for (const char* type : {"/prompt/", "/executable-prompt/"}) {
      std::string key = type + name;
      bool execute = type[1] == 'e';
      Json a = action(key, name, draft07(p->input_schema.view()),
                      execute ? generate_response_schema() : generate_request_schema());
      a.set("metadata", prompt_metadata(*p));
      all.set(key, std::move(a));
    }
  }
  return all;
}

void run_action(Runtime& runtime, std::string_view key, JsonView input, Json context, CancelToken cancel,
                ActionObserver observer) {
  const Registry& reg = runtime.registry();
  std::size_t slash = key.size() > 1 && key[0] == '/' ? key.find('/', 1) : std::string_view::npos;
  std::string type(slash == std::string_view::npos ? std::string_view() : key.substr(1, slash - 1));
  std::string name(slash == std::string_view::npos ? std::string_view() : key.substr(slash + 1));
  if (type == "flow") {
    if (const FlowAction* f = reg.flow(name)) {
      return run_flow_action(runtime, *f, input, std::move(context), std::move(cancel), std::move(observer));
    }
  } else if (type == "tool" || type == "tool.v2") {
    if (const ToolAction* t = reg.tool(name)) return run_tool(runtime, *t, input, std::move(observer));
  } else if (type == "model") {
    if (Model* m = reg.model(name)) return run_model(runtime, *m, input, std::move(cancel), std::move(observer));
  } else if (type == "prompt" || type == "executable-prompt") {
    if (auto p = reg.prompt(name)) {
      return run_prompt(runtime, *p, type == "executable-prompt", input, std::move(cancel), std::move(observer));
    }
  }
  observer.on_done(Status(Code::kNotFound, "action " + std::string(key) + " not found"));
}

}  // namespace genkit
