// fake_llm: what the Gemini and OpenAI fakes answer (pure; no I/O).
#pragma once

#include <cjson/cJSON.h>

#include <string>
#include <string_view>
#include <vector>

namespace fake {

// One scripted behaviour (POST /_script entry); default-constructed = default.
struct Behaviour {
  int status = 0;        // != 0: reply with this HTTP status + provider error JSON
  bool garbage = false;  // 200 with a non-JSON body / SSE event
  bool hang = false;     // never answer
  int delay_ms = -1;     // >= 0: overrides --delay-ms for this request
  bool has_text = false;
  std::string text;
  bool has_chunks = false;
  std::vector<std::string> chunks;
  bool has_call = false;
  std::string call_name;
  std::string call_args = "{}";  // JSON text of the arguments object
  bool has_json = false;
  std::string json_text;
  std::string raw;  // the entry as posted, for GET /_script
};

// Parses one /_script entry; false (with *err) when it is not an object.
bool parse_behaviour(const cJSON* entry, Behaviour* out, std::string* err);

// What to send back for one model request.
struct Plan {
  int status = 200;
  bool stream = false;  // send `events` one by one (SSE); else `body`
  bool hang = false;
  int delay_ms = -1;  // -1: the server default
  const char* content_type = "application/json; charset=UTF-8";
  std::string body;
  std::vector<std::string> events;  // complete SSE events ("data: ...\n\n")
};

Plan plan_gemini(const cJSON* req, std::string_view model, bool stream, const Behaviour& b);
Plan plan_openai(const cJSON* req, bool stream, const Behaviour& b);
Plan gemini_error(int status, std::string_view message);
Plan openai_error(int status, std::string_view message);

// Splits a reply into stream pieces whose concatenation is `text`: one per
// word (at most 16), or three pieces for a single long word (e.g. JSON).
std::vector<std::string> split_text(const std::string& text);

// Shared by the two providers.
struct Reply {
  bool call = false;  // a function/tool call instead of text
  std::string text;
  std::vector<std::string> chunks;  // stream pieces of `text`
  std::string name;                 // call: function name
  std::string args = "{}";          // call: arguments (JSON text)
};
// The reply when nothing is scripted: a call of `tool` when one is named
// (the first offered, until its result comes back), else `text`; in JSON
// mode a value valid for `schema`, or {"text": text} without one.
Reply unscripted_reply(const std::string& tool, bool json, const cJSON* schema, std::string text);
// Fills `out` from the behaviour's content overrides; false when it has none.
bool scripted_reply(const Behaviour& b, Reply* out);
// Deterministic token estimate: ceil(chars / 4), at least 1.
int token_estimate(size_t chars);
// A 200 reply whose body (or single SSE event) is not JSON.
Plan garbage_plan(bool stream, std::string_view sse_sep);

}  // namespace fake
