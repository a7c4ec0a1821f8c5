// fake_llm: Google AI (Gemini REST) generateContent / streamGenerateContent.
#include <string>

#include "tests/fakes/fake_json.h"
#include "tests/fakes/providers.h"

namespace fake {
namespace {

constexpr std::string_view kSep = "\r\n\r\n";

// proto-JSON accepts lowerCamel and snake_case field names.
const cJSON* field(const cJSON* obj, const char* camel, const char* snake) {
  const cJSON* v = member(obj, camel);
  return v != nullptr ? v : member(obj, snake);
}

std::string parts_text(const cJSON* content) {
  std::string out;
  const cJSON* part = nullptr;
  cJSON_ArrayForEach(part, member(content, "parts")) out += str_of(member(part, "text"));
  return out;
}

struct Request {
  std::string last_user_text;
  size_t prompt_chars = 0;
  std::string first_function;  // first declared function ("" if none)
  bool has_function_response = false;
  bool json_mode = false;
  const cJSON* schema = nullptr;
};

Request read_request(const cJSON* req) {
  Request r;
  const cJSON* content = nullptr;
  cJSON_ArrayForEach(content, member(req, "contents")) {
    std::string text = parts_text(content);
    r.prompt_chars += text.size();
    std::string_view role = str_of(member(content, "role"));
    // The last user turn that has text (a functionResponse-only turn is skipped).
    if ((role.empty() || role == "user") && !text.empty()) r.last_user_text = std::move(text);
    const cJSON* part = nullptr;
    cJSON_ArrayForEach(part, member(content, "parts")) {
      if (field(part, "functionResponse", "function_response") != nullptr) r.has_function_response = true;
    }
  }
  r.prompt_chars += parts_text(field(req, "systemInstruction", "system_instruction")).size();
  const cJSON* tool = nullptr;
  cJSON_ArrayForEach(tool, member(req, "tools")) {
    const cJSON* decls = field(tool, "functionDeclarations", "function_declarations");
    if (r.first_function.empty() && cJSON_GetArraySize(decls) > 0) {
      r.first_function = str_of(member(cJSON_GetArrayItem(decls, 0), "name"));
    }
  }
  const cJSON* gc = field(req, "generationConfig", "generation_config");
  r.json_mode = str_of(field(gc, "responseMimeType", "response_mime_type")) == "application/json";
  r.schema = field(gc, "responseSchema", "response_schema");
  if (r.schema == nullptr) r.schema = field(gc, "responseJsonSchema", "response_json_schema");
  return r;
}

Reply default_reply(const Request& r) {
  return unscripted_reply(r.has_function_response ? "" : r.first_function, r.json_mode, r.schema,
                          "Gemini says: " + r.last_user_text);
}

cJSON* make_part(const Reply& reply, const std::string* text) {
  cJSON* part = cJSON_CreateObject();
  if (text != nullptr) {
    add_str(part, "text", *text);
    return part;
  }
  cJSON* call = cJSON_AddObjectToObject(part, "functionCall");
  add_str(call, "name", reply.name);
  JsonPtr args = parse_json(reply.args);
  cJSON_AddItemToObject(call, "args", args && cJSON_IsObject(args.get()) ? args.release() : cJSON_CreateObject());
  return part;
}

// One GenerateContentResponse; `final` adds finishReason and usageMetadata.
std::string response_json(const Reply& reply, const std::string* text, bool final, int prompt_tokens,
                          int reply_tokens, std::string_view model) {
  JsonPtr root(cJSON_CreateObject());
  cJSON* cands = cJSON_AddArrayToObject(root.get(), "candidates");
  cJSON* cand = cJSON_CreateObject();
  cJSON_AddItemToArray(cands, cand);
  cJSON* content = cJSON_AddObjectToObject(cand, "content");
  cJSON_AddStringToObject(content, "role", "model");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(content, "parts"), make_part(reply, text));
  if (final) cJSON_AddStringToObject(cand, "finishReason", "STOP");
  cJSON_AddNumberToObject(cand, "index", 0);
  if (final) {
    cJSON* usage = cJSON_AddObjectToObject(root.get(), "usageMetadata");
    cJSON_AddNumberToObject(usage, "promptTokenCount", prompt_tokens);
    cJSON_AddNumberToObject(usage, "candidatesTokenCount", reply_tokens);
    cJSON_AddNumberToObject(usage, "totalTokenCount", prompt_tokens + reply_tokens);
  }
  add_str(root.get(), "modelVersion", model);
  return print_json(root.get());
}

const char* status_name(int status) {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 500: return "INTERNAL";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

}  // namespace

Plan gemini_error(int status, std::string_view message) {
  JsonPtr root(cJSON_CreateObject());
  cJSON* err = cJSON_AddObjectToObject(root.get(), "error");
  cJSON_AddNumberToObject(err, "code", status);
  add_str(err, "message", message);
  cJSON_AddStringToObject(err, "status", status_name(status));
  Plan p;
  p.status = status;
  p.body = print_json(root.get());
  return p;
}

Plan plan_gemini(const cJSON* req, std::string_view model, bool stream, const Behaviour& b) {
  Plan p;
  if (b.status != 0) {
    p = gemini_error(b.status, "fake_llm: scripted error " + std::to_string(b.status));
  } else if (b.garbage) {
    p = garbage_plan(stream, kSep);
  } else {
    Request r = read_request(req);
    Reply reply;
    if (!scripted_reply(b, &reply)) reply = default_reply(r);
    int prompt_tokens = token_estimate(r.prompt_chars);
    int reply_tokens = token_estimate(reply.call ? reply.name.size() + reply.args.size() : reply.text.size());
    if (!stream) {
      p.body = response_json(reply, reply.call ? nullptr : &reply.text, true, prompt_tokens, reply_tokens, model);
    } else {
      p.stream = true;
      p.content_type = "text/event-stream";
      if (reply.call) {
        p.events.push_back("data: " + response_json(reply, nullptr, true, prompt_tokens, reply_tokens, model) +
                           std::string(kSep));
      } else {
        for (size_t i = 0; i < reply.chunks.size(); ++i) {
          bool last = i + 1 == reply.chunks.size();
          p.events.push_back("data: " +
                             response_json(reply, &reply.chunks[i], last, prompt_tokens, reply_tokens, model) +
                             std::string(kSep));
        }
      }
    }
  }
  p.hang = b.hang;
  p.delay_ms = b.delay_ms;
  return p;
}

}  // namespace fake
