// Genkit messages ⇄ OpenAI chat-completions JSON.
#include "common/models/openai_model.h"

namespace genkit {

namespace {

// Counts a reply may claim (beyond them: saturated, never undefined).
constexpr int64_t kMaxTokens = int64_t{1} << 53;
constexpr int64_t kMaxToolCalls = 1024;  // a stream's tool-call indexes

std::string finish_reason(std::string_view r) {
  if (r == "stop" || r == "tool_calls" || r.empty()) return "stop";
  if (r == "length") return "length";
  if (r == "content_filter") return "blocked";
  return "other";
}

std::string tool_call_id(const Part& p) { return p.tool_ref.empty() ? "call_" + p.tool_name : p.tool_ref; }

Json user_content(const Message& m) {
  bool has_media = false;
  for (const Part& p : m.content) has_media |= p.kind == Part::Kind::kMedia;
  if (!has_media) return Json::string(m.text());
  Json parts = Json::array();
  for (const Part& p : m.content) {
    Json part = Json::object();
    if (p.kind == Part::Kind::kText) {
      part.set("type", Json::string("text"));
      part.set("text", Json::string(p.text));
    } else if (p.kind == Part::Kind::kMedia) {
      Json url = Json::object();
      url.set("url", Json::string(p.media_url));
      part.set("type", Json::string("image_url"));
      part.set("image_url", std::move(url));
    } else {
      continue;
    }
    parts.push(std::move(part));
  }
  return parts;
}

}  // namespace

Json openai_request_body(const std::string& model_id, const ModelRequest& request) {
  Json messages = Json::array();
  for (const Message& m : request.messages) {
    if (m.role == Role::kTool) {
      // One tool message per response, linked to its call id.
      for (const Part& p : m.content) {
        if (p.kind != Part::Kind::kToolResponse) continue;
        Json msg = Json::object();
        msg.set("role", Json::string("tool"));
        msg.set("tool_call_id", Json::string(tool_call_id(p)));
        msg.set("content", Json::string(p.tool_data.view().is_string() ? std::string(p.tool_data.view().as_string())
                                                                       : p.tool_data.dump()));
        messages.push(std::move(msg));
      }
      continue;
    }
    Json msg = Json::object();
    if (m.role == Role::kModel) {
      msg.set("role", Json::string("assistant"));
      std::string text = m.text();
      msg.set("content", text.empty() ? Json::null() : Json::string(text));
      Json calls = Json::array();
      for (const Part& p : m.content) {
        if (p.kind != Part::Kind::kToolRequest) continue;
        Json fn = Json::object();
        fn.set("name", Json::string(p.tool_name));
        fn.set("arguments", Json::string(p.tool_data.view().is_null() ? "{}" : p.tool_data.dump()));
        Json call = Json::object();
        call.set("id", Json::string(tool_call_id(p)));
        call.set("type", Json::string("function"));
        call.set("function", std::move(fn));
        calls.push(std::move(call));
      }
      if (calls.view().size() > 0) msg.set("tool_calls", std::move(calls));
    } else {
      msg.set("role", Json::string(m.role == Role::kSystem ? "system" : "user"));
      msg.set("content", m.role == Role::kSystem ? Json::string(m.text()) : user_content(m));
    }
    messages.push(std::move(msg));
  }
  Json body = Json::object();
  body.set("model", Json::string(model_id));
  body.set("messages", std::move(messages));
  if (!request.tools.empty()) {
    Json tools = Json::array();
    for (const ToolDefinition& t : request.tools) {
      Json fn = Json::object();
      fn.set("name", Json::string(t.name));
      fn.set("description", Json::string(t.description));
      fn.set("parameters", t.input_schema.view().is_object() ? t.input_schema : Json::object());
      Json tool = Json::object();
      tool.set("type", Json::string("function"));
      tool.set("function", std::move(fn));
      tools.push(std::move(tool));
    }
    body.set("tools", std::move(tools));
  }
  if (!request.output_schema.view().is_null()) {
    Json schema = Json::object();
    schema.set("name", Json::string("output"));
    schema.set("schema", request.output_schema);
    Json format = Json::object();
    format.set("type", Json::string("json_schema"));
    format.set("json_schema", std::move(schema));
    body.set("response_format", std::move(format));
  }
  JsonView cfg = request.config.view();
  if (cfg["temperature"].present()) body.set("temperature", Json::copy_of(cfg["temperature"]));
  if (cfg["topP"].present()) body.set("top_p", Json::copy_of(cfg["topP"]));
  if (cfg["maxOutputTokens"].present()) body.set("max_tokens", Json::copy_of(cfg["maxOutputTokens"]));
  if (cfg["stopSequences"].present()) body.set("stop", Json::copy_of(cfg["stopSequences"]));
  if (request.stream) {
    body.set("stream", Json::boolean(true));
    Json opts = Json::object();
    opts.set("include_usage", Json::boolean(true));
    body.set("stream_options", std::move(opts));
  }
  return body;
}

Result<ModelResponse> parse_openai_response(JsonView reply) {
  JsonView choice = reply["choices"].at(0);
  if (!choice.is_object()) return Status(Code::kUpstream, "openai: the reply has no choices");
  ModelResponse out;
  out.message.role = Role::kModel;
  JsonView msg = choice["message"];
  if (msg["content"].is_string() && !msg["content"].as_string().empty()) {
    out.message.content.push_back(Part::text_part(std::string(msg["content"].as_string())));
  }
  bool bad_call = false;
  msg["tool_calls"].for_each([&](std::string_view, JsonView call) {
    JsonView fn = call["function"];
    std::string_view args = fn["arguments"].as_string();
    Result<Json> parsed = args.empty() ? Result<Json>(Json::object()) : Json::parse(args);
    if (!parsed.ok() || fn["name"].as_string().empty()) {
      bad_call = true;
      return;
    }
    out.message.content.push_back(Part::tool_request(std::string(fn["name"].as_string()), std::move(parsed).value(),
                                                     std::string(call["id"].as_string())));
  });
  if (bad_call) return Status(Code::kUpstream, "openai: a tool call has malformed arguments");
  out.finish_reason = finish_reason(choice["finish_reason"].as_string());
  out.usage.input_tokens = reply["usage"]["prompt_tokens"].as_int(0, kMaxTokens);
  out.usage.output_tokens = reply["usage"]["completion_tokens"].as_int(0, kMaxTokens);
  return out;
}

Result<std::string> OpenAiStreamAccumulator::add(JsonView chunk) {
  if (!chunk.is_object()) return Status(Code::kUpstream, "openai: malformed stream chunk");
  ++chunks_;
  if (chunk["usage"].is_object()) {
    usage_.input_tokens = chunk["usage"]["prompt_tokens"].as_int(0, kMaxTokens);
    usage_.output_tokens = chunk["usage"]["completion_tokens"].as_int(0, kMaxTokens);
  }
  JsonView choice = chunk["choices"].at(0);
  if (!choice.is_object()) return std::string();
  if (choice["finish_reason"].is_string()) finish_reason_ = finish_reason(choice["finish_reason"].as_string());
  JsonView delta = choice["delta"];
  delta["tool_calls"].for_each([&](std::string_view, JsonView call) {
    PendingCall& pc = calls_[static_cast<int>(call["index"].as_int(0, kMaxToolCalls))];
    if (call["id"].is_string()) pc.id = std::string(call["id"].as_string());
    if (call["function"]["name"].is_string()) pc.name += call["function"]["name"].as_string();
    if (call["function"]["arguments"].is_string()) pc.arguments += call["function"]["arguments"].as_string();
  });
  std::string text(delta["content"].as_string());
  text_ += text;
  return text;
}

ModelResponse OpenAiStreamAccumulator::finish() {
  ModelResponse out;
  out.message.role = Role::kModel;
  if (!text_.empty()) out.message.content.push_back(Part::text_part(text_));
  for (auto& [_, c] : calls_) {
    Result<Json> args = c.arguments.empty() ? Result<Json>(Json::object()) : Json::parse(c.arguments);
    out.message.content.push_back(Part::tool_request(c.name, args.ok() ? std::move(args).value() : Json::object(), c.id));
  }
  out.finish_reason = finish_reason_;
  out.usage = usage_;
  return out;
}

}  // namespace genkit
