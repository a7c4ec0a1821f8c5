// fake_llm: behaviours and helpers shared by the Gemini and OpenAI fakes.
#include "tests/fakes/providers.h"

#include "tests/fakes/fake_json.h"
#include "tests/fakes/schema_fake.h"

namespace fake {

bool parse_behaviour(const cJSON* entry, Behaviour* out, std::string* err) {
  if (!cJSON_IsObject(entry)) {
    *err = "each script entry must be a JSON object";
    return false;
  }
  Behaviour b;
  b.raw = print_json(entry);
  b.status = static_cast<int>(num_of(member(entry, "status"), 0));
  b.garbage = cJSON_IsTrue(member(entry, "garbage"));
  b.hang = cJSON_IsTrue(member(entry, "hang"));
  b.delay_ms = static_cast<int>(num_of(member(entry, "delay_ms"), -1));
  if (const cJSON* t = member(entry, "text"); cJSON_IsString(t)) {
    b.has_text = true;
    b.text = str_of(t);
  }
  if (const cJSON* c = member(entry, "stream_chunks"); cJSON_IsArray(c)) {
    b.has_chunks = true;
    const cJSON* e = nullptr;
    cJSON_ArrayForEach(e, c) b.chunks.emplace_back(str_of(e));
  }
  if (const cJSON* f = member(entry, "function_call"); cJSON_IsObject(f)) {
    b.has_call = true;
    b.call_name = str_of(member(f, "name"));
    const cJSON* args = member(f, "args");
    if (cJSON_IsString(args)) b.call_args = str_of(args);
    else if (args != nullptr) b.call_args = print_json(args);
  }
  if (const cJSON* j = member(entry, "json"); j != nullptr) {
    b.has_json = true;
    b.json_text = print_json(j);
  }
  if (b.status != 0 && (b.status < 100 || b.status > 599)) {
    *err = "status must be an HTTP status code";
    return false;
  }
  *out = std::move(b);
  return true;
}

bool scripted_reply(const Behaviour& b, Reply* out) {
  if (b.has_call) {
    out->call = true;
    out->name = b.call_name;
    out->args = b.call_args;
    return true;
  }
  if (b.has_json) {
    out->text = b.json_text;
  } else if (b.has_text) {
    out->text = b.text;
  } else if (b.has_chunks) {
    for (const std::string& c : b.chunks) out->text += c;
  } else {
    return false;
  }
  out->chunks = b.has_chunks ? b.chunks : split_text(out->text);
  return true;
}

Reply unscripted_reply(const std::string& tool, bool json, const cJSON* schema, std::string text) {
  Reply out;
  if (!tool.empty()) {
    out.call = true;
    out.name = tool;
    return out;
  }
  if (json) {
    JsonPtr v;
    if (schema != nullptr) {
      v.reset(fake_value_for_schema(schema));
    } else {
      v.reset(cJSON_CreateObject());
      add_str(v.get(), "text", text);
    }
    text = print_json(v.get());
  }
  out.text = std::move(text);
  out.chunks = split_text(out.text);
  return out;
}

std::vector<std::string> split_text(const std::string& text) {
  constexpr size_t kMaxChunks = 16;
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    if (out.size() + 1 == kMaxChunks) j = text.size();
    out.push_back(text.substr(i, j - i));
    i = j;
  }
  if (out.size() == 1 && text.size() >= 6) {  // one long word (e.g. JSON): three pieces
    out.clear();
    size_t start = 0;
    for (int k = 1; k <= 3; ++k) {
      size_t end = k == 3 ? text.size() : text.size() * static_cast<size_t>(k) / 3;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      if (end > start) out.push_back(text.substr(start, end - start));
      start = end;
    }
  }
  if (out.empty()) out.emplace_back();
  return out;
}

int token_estimate(size_t chars) { return chars == 0 ? 1 : static_cast<int>((chars + 3) / 4); }

Plan garbage_plan(bool stream, std::string_view sse_sep) {
  Plan p;
  if (stream) {
    p.stream = true;
    p.content_type = "text/event-stream";
    p.events.push_back("data: this is not JSON {\"oops\"" + std::string(sse_sep));
  } else {
    p.body = "<html><body>fake_llm: this is not JSON</body></html>";
  }
  return p;
}

}  // namespace fake
