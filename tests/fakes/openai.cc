// fake_llm: OpenAI-compatible /chat/completions (plain and SSE streaming).
#include <ctime>
#include <string>

#include "tests/fakes/fake_json.h"
#include "tests/fakes/providers.h"

namespace fake {
namespace {

// Text of a message's content: a string, or the concatenated "text" parts.
std::string content_text(const cJSON* content) {
  if (cJSON_IsString(content)) return std::string(str_of(content));
  std::string out;
  const cJSON* part = nullptr;
  cJSON_ArrayForEach(part, content) {
    if (str_of(member(part, "type")) == "text") out += str_of(member(part, "text"));
  }
  return out;
}

struct Request {
  std::string model;
  std::string last_user_text;
  size_t prompt_chars = 0;
  std::string first_tool;
  bool has_tool_message = false;
  std::string format_type;  // response_format.type
  const cJSON* schema = nullptr;
  bool include_usage = false;
};

Request read_request(const cJSON* req) {
  Request r;
  r.model = str_of(member(req, "model"));
  if (r.model.empty()) r.model = "fake-model";
  const cJSON* msg = nullptr;
  cJSON_ArrayForEach(msg, member(req, "messages")) {
    std::string text = content_text(member(msg, "content"));
    r.prompt_chars += text.size();
    std::string_view role = str_of(member(msg, "role"));
    if (role == "user" && !text.empty()) r.last_user_text = std::move(text);
    if (role == "tool") r.has_tool_message = true;
  }
  const cJSON* tools = member(req, "tools");
  if (cJSON_GetArraySize(tools) > 0) {
    r.first_tool = str_of(member(member(cJSON_GetArrayItem(tools, 0), "function"), "name"));
  }
  const cJSON* fmt = member(req, "response_format");
  r.format_type = str_of(member(fmt, "type"));
  r.schema = member(member(fmt, "json_schema"), "schema");
  r.include_usage = cJSON_IsTrue(member(member(req, "stream_options"), "include_usage"));
  return r;
}

Reply default_reply(const Request& r) {
  bool json = r.format_type == "json_schema" || r.format_type == "json_object";
  return unscripted_reply(r.has_tool_message ? "" : r.first_tool, json,
                          r.format_type == "json_schema" ? r.schema : nullptr, "OpenAI says: " + r.last_user_text);
}

JsonPtr envelope(const Request& r, const char* object) {
  JsonPtr root(cJSON_CreateObject());
  cJSON_AddStringToObject(root.get(), "id", "chatcmpl-1");
  cJSON_AddStringToObject(root.get(), "object", object);
  cJSON_AddNumberToObject(root.get(), "created", static_cast<double>(std::time(nullptr)));
  add_str(root.get(), "model", r.model);
  return root;
}

cJSON* usage_json(int prompt_tokens, int reply_tokens) {
  cJSON* u = cJSON_CreateObject();
  cJSON_AddNumberToObject(u, "prompt_tokens", prompt_tokens);
  cJSON_AddNumberToObject(u, "completion_tokens", reply_tokens);
  cJSON_AddNumberToObject(u, "total_tokens", prompt_tokens + reply_tokens);
  return u;
}

// tool_calls[0]; `with_header` adds id/type/name (first streamed piece).
cJSON* tool_calls(const Reply& reply, const std::string& args, bool with_header, bool streamed) {
  cJSON* arr = cJSON_CreateArray();
  cJSON* call = cJSON_CreateObject();
  cJSON_AddItemToArray(arr, call);
  if (streamed) cJSON_AddNumberToObject(call, "index", 0);
  if (with_header) {
    cJSON_AddStringToObject(call, "id", "call_1");
    cJSON_AddStringToObject(call, "type", "function");
  }
  cJSON* fn = cJSON_AddObjectToObject(call, "function");
  if (with_header) add_str(fn, "name", reply.name);
  add_str(fn, "arguments", args);
  return arr;
}

// One chat.completion.chunk event with `delta` (owned) and finish_reason.
std::string chunk_event(const Request& r, cJSON* delta, const char* finish) {
  JsonPtr root = envelope(r, "chat.completion.chunk");
  cJSON* choice = cJSON_CreateObject();
  cJSON_AddItemToArray(cJSON_AddArrayToObject(root.get(), "choices"), choice);
  cJSON_AddNumberToObject(choice, "index", 0);
  cJSON_AddItemToObject(choice, "delta", delta);
  if (finish != nullptr) cJSON_AddStringToObject(choice, "finish_reason", finish);
  else cJSON_AddNullToObject(choice, "finish_reason");
  if (r.include_usage) cJSON_AddNullToObject(root.get(), "usage");
  return "data: " + print_json(root.get()) + "\n\n";
}

std::vector<std::string> stream_events(const Request& r, const Reply& reply, int prompt_tokens, int reply_tokens) {
  std::vector<std::string> ev;
  cJSON* first = cJSON_CreateObject();
  cJSON_AddStringToObject(first, "role", "assistant");
  if (reply.call) {
    cJSON_AddNullToObject(first, "content");
    cJSON_AddItemToObject(first, "tool_calls", tool_calls(reply, "", true, true));
    ev.push_back(chunk_event(r, first, nullptr));
    size_t half = reply.args.size() / 2;
    for (const std::string& piece : {reply.args.substr(0, half), reply.args.substr(half)}) {
      if (piece.empty()) continue;
      cJSON* delta = cJSON_CreateObject();
      cJSON_AddItemToObject(delta, "tool_calls", tool_calls(reply, piece, false, true));
      ev.push_back(chunk_event(r, delta, nullptr));
    }
  } else {
    cJSON_AddStringToObject(first, "content", "");
    ev.push_back(chunk_event(r, first, nullptr));
    for (const std::string& piece : reply.chunks) {
      cJSON* delta = cJSON_CreateObject();
      add_str(delta, "content", piece);
      ev.push_back(chunk_event(r, delta, nullptr));
    }
  }
  ev.push_back(chunk_event(r, cJSON_CreateObject(), reply.call ? "tool_calls" : "stop"));
  if (r.include_usage) {
    JsonPtr root = envelope(r, "chat.completion.chunk");
    cJSON_AddArrayToObject(root.get(), "choices");
    cJSON_AddItemToObject(root.get(), "usage", usage_json(prompt_tokens, reply_tokens));
    ev.push_back("data: " + print_json(root.get()) + "\n\n");
  }
  ev.push_back("data: [DONE]\n\n");
  return ev;
}

std::string completion(const Request& r, const Reply& reply, int prompt_tokens, int reply_tokens) {
  JsonPtr root = envelope(r, "chat.completion");
  cJSON* choice = cJSON_CreateObject();
  cJSON_AddItemToArray(cJSON_AddArrayToObject(root.get(), "choices"), choice);
  cJSON_AddNumberToObject(choice, "index", 0);
  cJSON* msg = cJSON_AddObjectToObject(choice, "message");
  cJSON_AddStringToObject(msg, "role", "assistant");
  if (reply.call) {
    cJSON_AddNullToObject(msg, "content");
    cJSON_AddItemToObject(msg, "tool_calls", tool_calls(reply, reply.args, true, false));
  } else {
    add_str(msg, "content", reply.text);
  }
  cJSON_AddNullToObject(choice, "logprobs");
  cJSON_AddStringToObject(choice, "finish_reason", reply.call ? "tool_calls" : "stop");
  cJSON_AddItemToObject(root.get(), "usage", usage_json(prompt_tokens, reply_tokens));
  return print_json(root.get());
}

}  // namespace

Plan openai_error(int status, std::string_view message) {
  const char* type = status >= 500 ? "server_error" : status == 429 ? "requests" : "invalid_request_error";
  const char* code = status == 429   ? "rate_limit_exceeded"
                     : status == 401 ? "invalid_api_key"
                     : status == 404 ? "model_not_found"
                                     : nullptr;
  JsonPtr root(cJSON_CreateObject());
  cJSON* err = cJSON_AddObjectToObject(root.get(), "error");
  add_str(err, "message", message);
  cJSON_AddStringToObject(err, "type", type);
  cJSON_AddNullToObject(err, "param");
  if (code != nullptr) cJSON_AddStringToObject(err, "code", code);
  else cJSON_AddNullToObject(err, "code");
  Plan p;
  p.status = status;
  p.body = print_json(root.get());
  return p;
}

Plan plan_openai(const cJSON* req, bool stream, const Behaviour& b) {
  Plan p;
  if (b.status != 0) {
    p = openai_error(b.status, "fake_llm: scripted error " + std::to_string(b.status));
  } else if (b.garbage) {
    p = garbage_plan(stream, "\n\n");
  } else {
    Request r = read_request(req);
    Reply reply;
    if (!scripted_reply(b, &reply)) reply = default_reply(r);
    int prompt_tokens = token_estimate(r.prompt_chars);
    int reply_tokens = token_estimate(reply.call ? reply.name.size() + reply.args.size() : reply.text.size());
    if (stream) {
      p.stream = true;
      p.content_type = "text/event-stream";
      p.events = stream_events(r, reply, prompt_tokens, reply_tokens);
    } else {
      p.body = completion(r, reply, prompt_tokens, reply_tokens);
    }
  }
  p.hang = b.hang;
  p.delay_ms = b.delay_ms;
  return p;
}

}  // namespace fake
