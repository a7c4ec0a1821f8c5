// Genkit messages ⇄ Gemini's generateContent JSON.
#include <string>

#include "common/models/gemini_model.h"

namespace genkit {

namespace {

// Counts a reply may claim (beyond them: saturated, never undefined).
constexpr int64_t kMaxTokens = int64_t{1} << 53;

const char* gemini_role(Role role) {
  switch (role) {
    case Role::kModel: return "model";
    case Role::kTool: return "function";
    default: return "user";
  }
}

std::string finish_reason(std::string_view gemini) {
  if (gemini == "STOP" || gemini.empty()) return "stop";
  if (gemini == "MAX_TOKENS") return "length";
  if (gemini == "SAFETY" || gemini == "RECITATION" || gemini == "BLOCKLIST" || gemini == "PROHIBITED_CONTENT" ||
      gemini == "SPII") {
    return "blocked";
  }
  return "other";
}

void copy_if_present(JsonView from, const char* from_key, Json& to, const char* to_key) {
  if (from[from_key].present()) to.set(to_key, Json::copy_of(from[from_key]));
}

}  // namespace

Json to_gemini_schema(JsonView s) {
  Json out = Json::object();
  if (!s.is_object()) return out;
  JsonView type = s["type"];
  std::string t;
  bool nullable = false;
  if (type.is_string()) {
    t = std::string(type.as_string());
  } else if (type.is_array()) {
    type.for_each([&](std::string_view, JsonView v) {
      if (v.as_string() == "null") nullable = true;
      else if (t.empty()) t = std::string(v.as_string());
    });
  }
  if (!t.empty()) {
    for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out.set("type", Json::string(t));
  }
  if (nullable) out.set("nullable", Json::boolean(true));
  copy_if_present(s, "description", out, "description");
  copy_if_present(s, "enum", out, "enum");
  copy_if_present(s, "format", out, "format");
  copy_if_present(s, "minimum", out, "minimum");
  copy_if_present(s, "maximum", out, "maximum");
  copy_if_present(s, "minItems", out, "minItems");
  copy_if_present(s, "maxItems", out, "maxItems");
  copy_if_present(s, "required", out, "required");
  if (s["items"].is_object()) out.set("items", to_gemini_schema(s["items"]));
  if (s["properties"].is_object()) {
    Json props = Json::object();
    s["properties"].for_each([&](std::string_view key, JsonView v) { props.set(key, to_gemini_schema(v)); });
    out.set("properties", std::move(props));
  }
  return out;
}

Json gemini_request_body(const ModelRequest& request, const std::vector<InlineMedia>& media) {
  Json body = Json::object();
  Json contents = Json::array();
  Json system_parts = Json::array();
  std::size_t media_index = 0;
  for (const Message& m : request.messages) {
    Json parts = Json::array();
    for (const Part& p : m.content) {
      Json part = Json::object();
      switch (p.kind) {
        case Part::Kind::kText:
          part.set("text", Json::string(p.text));
          break;
        case Part::Kind::kMedia: {
          if (media_index >= media.size()) continue;
          const InlineMedia& im = media[media_index++];
          Json inline_data = Json::object();
          inline_data.set("mimeType", Json::string(im.mime_type));
          inline_data.set("data", Json::string(im.base64));
          part.set("inlineData", std::move(inline_data));
          break;
        }
        case Part::Kind::kToolRequest: {
          Json call = Json::object();
          call.set("name", Json::string(p.tool_name));
          call.set("args", p.tool_data.view().is_object() ? p.tool_data : Json::object());
          part.set("functionCall", std::move(call));
          break;
        }
        case Part::Kind::kToolResponse: {
          Json resp = Json::object();
          resp.set("name", Json::string(p.tool_name));
          Json content = Json::object();
          content.set("name", Json::string(p.tool_name));
          content.set("content", p.tool_data);
          resp.set("response", std::move(content));
          part.set("functionResponse", std::move(resp));
          break;
        }
      }
      parts.push(std::move(part));
    }
    if (m.role == Role::kSystem) {
      parts.view().for_each([&](std::string_view, JsonView v) { system_parts.push(Json::copy_of(v)); });
      continue;
    }
    Json content = Json::object();
    content.set("role", Json::string(gemini_role(m.role)));
    content.set("parts", std::move(parts));
    contents.push(std::move(content));
  }
  body.set("contents", std::move(contents));
  if (system_parts.view().size() > 0) {
    Json sys = Json::object();
    sys.set("parts", std::move(system_parts));
    body.set("systemInstruction", std::move(sys));
  }
  if (!request.tools.empty()) {
    Json decls = Json::array();
    for (const ToolDefinition& t : request.tools) {
      Json d = Json::object();
      d.set("name", Json::string(t.name));
      d.set("description", Json::string(t.description));
      Json params = to_gemini_schema(t.input_schema.view());
      // Gemini rejects an OBJECT without properties; omit parameters then.
      if (params.view()["properties"].size() > 0) d.set("parameters", std::move(params));
      decls.push(std::move(d));
    }
    Json tool = Json::object();
    tool.set("functionDeclarations", std::move(decls));
    Json tools = Json::array();
    tools.push(std::move(tool));
    body.set("tools", std::move(tools));
  }
  Json gen = Json::object();
  JsonView cfg = request.config.view();
  for (const char* key : {"temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount"}) {
    if (cfg[key].present()) gen.set(key, Json::copy_of(cfg[key]));
  }
  if (!request.output_schema.view().is_null()) {
    gen.set("responseMimeType", Json::string("application/json"));
    gen.set("responseSchema", to_gemini_schema(request.output_schema.view()));
  }
  if (gen.view().size() > 0) body.set("generationConfig", std::move(gen));
  return body;
}

Result<ModelResponse> parse_gemini_response(JsonView reply) {
  if (!reply.is_object()) return Status(Code::kUpstream, "googleai: the reply is not a JSON object");
  ModelResponse out;
  out.message.role = Role::kModel;
  JsonView usage = reply["usageMetadata"];
  out.usage.input_tokens = usage["promptTokenCount"].as_int(0, kMaxTokens);
  out.usage.output_tokens = usage["candidatesTokenCount"].as_int(0, kMaxTokens);
  JsonView candidate = reply["candidates"].at(0);
  if (!candidate.is_object()) {
    std::string reason(reply["promptFeedback"]["blockReason"].as_string());
    if (!reason.empty()) return Status(Code::kUpstream, "googleai: the prompt was blocked (" + reason + ")");
    if (usage.is_object()) return out;  // a usage-only stream event
    return Status(Code::kUpstream, "googleai: the reply has no candidates");
  }
  out.finish_reason = finish_reason(candidate["finishReason"].as_string());
  JsonView parts = candidate["content"]["parts"];
  int call_index = 0;
  parts.for_each([&](std::string_view, JsonView part) {
    if (part["text"].is_string() && !part["thought"].as_bool()) {
      out.message.content.push_back(Part::text_part(std::string(part["text"].as_string())));
    } else if (part["functionCall"].is_object()) {
      JsonView call = part["functionCall"];
      out.message.content.push_back(Part::tool_request(std::string(call["name"].as_string()),
                                                       Json::copy_of(call["args"]),
                                                       std::to_string(call_index++)));
    }
  });
  return out;
}

}  // namespace genkit
