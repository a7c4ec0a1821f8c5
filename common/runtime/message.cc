#include "common/runtime/message.h"

namespace genkit {

const char* role_name(Role role) {
  switch (role) {
    case Role::kUser: return "user";
    case Role::kModel: return "model";
    case Role::kSystem: return "system";
    case Role::kTool: return "tool";
  }
  return "user";
}

bool parse_role(std::string_view text, Role* out) {
  if (text == "user") *out = Role::kUser;
  else if (text == "model") *out = Role::kModel;
  else if (text == "system") *out = Role::kSystem;
  else if (text == "tool") *out = Role::kTool;
  else return false;
  return true;
}

Part Part::text_part(std::string text) {
  Part p;
  p.kind = Kind::kText;
  p.text = std::move(text);
  return p;
}

Part Part::media_part(std::string url, std::string content_type) {
  Part p;
  p.kind = Kind::kMedia;
  p.media_url = std::move(url);
  p.media_content_type = std::move(content_type);
  return p;
}

Part Part::tool_request(std::string name, Json input, std::string ref) {
  Part p;
  p.kind = Kind::kToolRequest;
  p.tool_name = std::move(name);
  p.tool_data = std::move(input);
  p.tool_ref = std::move(ref);
  return p;
}

Part Part::tool_response(std::string name, Json output, std::string ref) {
  Part p;
  p.kind = Kind::kToolResponse;
  p.tool_name = std::move(name);
  p.tool_data = std::move(output);
  p.tool_ref = std::move(ref);
  return p;
}

std::string Message::text() const {
  std::string out;
  for (const Part& p : content) {
    if (p.kind == Part::Kind::kText) out += p.text;
  }
  return out;
}

// Written straight into text (no JSON tree): traces record every model
// call's messages, on every request.
std::string Message::json_text() const {
  std::string out = "{\"role\":\"";
  out.append(role_name(role)).append("\",\"content\":[");
  for (std::size_t i = 0; i < content.size(); ++i) {
    const Part& p = content[i];
    if (i) out.push_back(',');
    switch (p.kind) {
      case Part::Kind::kText:
        out.append("{\"text\":");
        append_json_quoted(out, p.text);
        break;
      case Part::Kind::kMedia:
        out.append("{\"media\":{\"url\":");
        append_json_quoted(out, p.media_url);
        if (!p.media_content_type.empty()) {
          out.append(",\"contentType\":");
          append_json_quoted(out, p.media_content_type);
        }
        out.push_back('}');
        break;
      case Part::Kind::kToolRequest:
      case Part::Kind::kToolResponse: {
        bool request = p.kind == Part::Kind::kToolRequest;
        out.append(request ? "{\"toolRequest\":{\"name\":" : "{\"toolResponse\":{\"name\":");
        append_json_quoted(out, p.tool_name);
        if (!p.tool_ref.empty()) {
          out.append(",\"ref\":");
          append_json_quoted(out, p.tool_ref);
        }
        out.append(request ? ",\"input\":" : ",\"output\":").append(p.tool_data.dump());
        out.push_back('}');
        break;
      }
    }
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

Json Message::to_json() const {
  Result<Json> j = Json::parse(json_text());
  return j.ok() ? std::move(j).value() : Json::object();
}

Result<Message> Message::from_json(JsonView json) {
  if (!json.is_object()) return Status(Code::kInvalidArgument, "a message must be an object");
  Message m;
  if (!json["role"].is_string() || !parse_role(json["role"].as_string(), &m.role)) {
    return Status(Code::kInvalidArgument, "role: must be one of user, model, system, tool");
  }
  JsonView content = json["content"];
  if (!content.is_array()) return Status(Code::kInvalidArgument, "content: must be an array of parts");
  for (std::size_t i = 0; i < content.size(); ++i) {
    JsonView p = content.at(i);
    std::string where = "content." + std::to_string(i) + ": ";
    if (p["text"].is_string()) {
      m.content.push_back(Part::text_part(std::string(p["text"].as_string())));
    } else if (p["media"].is_object() && p["media"]["url"].is_string()) {
      JsonView type = p["media"]["contentType"];
      m.content.push_back(Part::media_part(std::string(p["media"]["url"].as_string()),
                                           type.is_string() ? std::string(type.as_string()) : ""));
    } else if (p["toolRequest"]["name"].is_string() || p["toolResponse"]["name"].is_string()) {
      bool request = p["toolRequest"].is_object();
      JsonView call = request ? p["toolRequest"] : p["toolResponse"];
      std::string name(call["name"].as_string());
      std::string ref = call["ref"].is_string() ? std::string(call["ref"].as_string()) : "";
      Json data = Json::copy_of(call[request ? "input" : "output"]);
      m.content.push_back(request ? Part::tool_request(std::move(name), std::move(data), std::move(ref))
                                  : Part::tool_response(std::move(name), std::move(data), std::move(ref)));
    } else {
      return Status(Code::kInvalidArgument, where + "a part holds text, media, toolRequest or toolResponse");
    }
  }
  return m;
}

}  // namespace genkit
