// Genkit's message model: a conversation of role-tagged messages whose
// content is a list of parts (text, media, tool request, tool response).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace genkit {

enum class Role { kUser, kModel, kSystem, kTool };

const char* role_name(Role role);                       // "user", "model", "system", "tool"
bool parse_role(std::string_view text, Role* out);      // accepts the names above

struct Part {
  enum class Kind { kText, kMedia, kToolRequest, kToolResponse };
  Kind kind = Kind::kText;
  std::string text;                 // kText
  std::string media_url;            // kMedia: http(s) or data: URL
  std::string media_content_type;   // kMedia: may be empty
  std::string tool_name;            // kToolRequest / kToolResponse
  std::string tool_ref;             // call id, echoed in the response
  Json tool_data;                   // kToolRequest: input; kToolResponse: output

  static Part text_part(std::string text);
  static Part media_part(std::string url, std::string content_type = "");
  static Part tool_request(std::string name, Json input, std::string ref = "");
  static Part tool_response(std::string name, Json output, std::string ref = "");
};

struct Message {
  Role role = Role::kUser;
  std::vector<Part> content;

  std::string text() const;  // concatenated text parts
  // Genkit's wire shape: {"role":..,"content":[{"text":..},{"media":{..}}]}.
  std::string json_text() const;
  Json to_json() const;
  // The reverse, checked: INVALID_ARGUMENT naming what is wrong ("content.1: ...").
  static Result<Message> from_json(JsonView json);
};

}  // namespace genkit
