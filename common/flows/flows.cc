#include "common/flows/flows.h"

#include "common/prompt/dotprompt.h"
#include "common/runtime/flow.h"
#include "common/runtime/runtime.h"
#include "common/schema/models.h"
#include "common/schema/schema.h"

namespace genkit {

namespace {

using Run = std::shared_ptr<FlowRun>;

Json string_schema() {
  Json s = Json::object();
  s.set("type", Json::string("string"));
  return s;
}

std::string str(JsonView v) { return std::string(v.as_string()); }

// Finishes the run with the reply text, or the structured output when asked.
GenerateDone finish_with(const Run& run, bool structured) {
  return [run, structured](Result<GenerateResult> r) {
    if (!r.ok()) return run->finish(r.status());
    run->finish(structured ? std::move(r->output) : Json::string(r->text));
  };
}

// Streams the model's chunks to the caller when the caller consumes chunks.
void stream_into(const Run& run, GenerateOptions& opts) {
  if (run->streaming()) opts.on_chunk = [run](const std::string& chunk) { run->send_chunk(chunk); };
}

void tell_joke(Run run) {
  std::string username = run->input()["username"].is_string() ? str(run->input()["username"]) : "anonymous";
  GenerateOptions opts;
  opts.prompt = "Tell a medium-length joke about " + str(run->input()["name"]) + " for user " + username + ".";
  stream_into(run, opts);
  run->generate(std::move(opts), finish_with(run, false));
}

// Python's str.strip()[:2000]: whitespace trimmed, then the first 2000 code points.
Json sanitize_text(JsonView in) {
  std::string_view s = in.as_string();
  const char* ws = " \t\n\r\f\v";
  std::size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return Json::string("");
  std::size_t e = s.find_last_not_of(ws);
  s = s.substr(b, e - b + 1);
  std::size_t points = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && points++ == 2000) break;
  }
  return Json::string(s.substr(0, i));
}

void translate_text(Run run) {
  Json sanitized = run->run_step("sanitize-input", run->input()["text"], sanitize_text);
  GenerateOptions opts;
  opts.prompt = "Translate the following text to " + str(run->input()["target_language"]) +
                ". Use the get_current_time tool to note when the translation was done.\n\nText: " +
                str(sanitized.view());
  opts.tools = {"get_current_time"};
  opts.output_schema = translation_result_schema().json_schema();
  run->generate(std::move(opts), finish_with(run, true));
}

void describe_image(Run run) {
  GenerateOptions opts;
  opts.messages.push_back(Message{Role::kUser,
                                  {Part::text_part("Describe this image in detail."),
                                   Part::media_part(str(run->input()["image_url"]), "image/jpeg")}});
  run->generate(std::move(opts), finish_with(run, false));
}

void generate_character(Run run) {
  GenerateOptions opts;
  opts.prompt = "Generate a creative RPG character named " + str(run->input()["name"]) +
                ". Output ONLY the JSON object.";
  opts.output_schema = rpg_character_schema().json_schema();
  run->generate(std::move(opts), finish_with(run, true));
}

void pirate_chat(Run run) {
  GenerateOptions opts;
  opts.prompt = str(run->input()["question"]);
  opts.system =
      "You are a pirate captain from the 18th century. "
      "Always respond in character, using pirate slang and nautical terminology.";
  run->generate(std::move(opts), finish_with(run, false));
}

void tell_story(Run run) {
  GenerateOptions opts;
  opts.prompt = "Write a short story (3-4 paragraphs) about " + str(run->input()["topic"]) + ".";
  stream_into(run, opts);
  run->generate(std::move(opts), finish_with(run, false));
}

void generate_code(Run run) {
  GenerateOptions opts;
  opts.prompt = "Generate " + str(run->input()["language"]) + " code for: " + str(run->input()["description"]) +
                "\n\n"
                "Requirements:\n"
                "- Write clean, idiomatic, production-quality code\n"
                "- Include docstrings/comments where helpful\n"
                "- Follow language conventions and best practices\n"
                "- Suggest an appropriate filename\n"
                "- Explain what the code does briefly";
  opts.output_schema = code_output_schema().json_schema();
  run->generate(std::move(opts), finish_with(run, true));
}

void review_code(Run run) {
  auto prompt = run->runtime().registry().prompt("code_review");
  if (!prompt) return run->finish(Status(Code::kInternal, "prompt code_review is not loaded"));
  Json vars = Json::object();
  vars.set("code", Json::copy_of(run->input()["code"]));
  vars.set("language", Json::string(run->input()["language"].as_string()));
  Result<std::vector<Message>> messages = render_prompt(*prompt, vars.view());
  if (!messages.ok()) return run->finish(Status(Code::kInternal, "code_review prompt: " + messages.status().message()));
  GenerateOptions opts;
  // The prompt's own model when its provider is configured, else the default.
  if (run->runtime().registry().model(prompt->model)) opts.model = prompt->model;
  opts.messages = std::move(messages).value();
  opts.config = prompt->config;
  opts.output_schema = prompt->output_schema;
  run->generate(std::move(opts), finish_with(run, !prompt->output_schema.view().is_null()));
}

enum class Kind { kPlain, kStreams, kCacheable };

void add(Registry& registry, const char* name, const ObjectSchema& input, Json output_schema, FlowFn fn,
         Kind kind = Kind::kPlain) {
  FlowAction flow;
  flow.name = name;
  flow.input = &input;
  flow.output_schema = std::move(output_schema);
  flow.streams = kind == Kind::kStreams;
  flow.cacheable = kind == Kind::kCacheable;
  flow.fn = std::move(fn);
  registry.add_flow(std::move(flow));
}

}  // namespace

// The five idempotent flows are cacheable; a joke, a chat and a story are
// meant to differ each time.
void register_builtin_flows(Registry& registry) {
  add(registry, "tell_joke", joke_input_schema(), string_schema(), tell_joke, Kind::kStreams);
  add(registry, "translate_text", translate_input_schema(), translation_result_schema().json_schema(), translate_text,
      Kind::kCacheable);
  add(registry, "describe_image", image_input_schema(), string_schema(), describe_image, Kind::kCacheable);
  add(registry, "generate_character", character_input_schema(), rpg_character_schema().json_schema(),
      generate_character, Kind::kCacheable);
  add(registry, "pirate_chat", chat_input_schema(), string_schema(), pirate_chat);
  add(registry, "tell_story", story_input_schema(), string_schema(), tell_story, Kind::kStreams);
  add(registry, "generate_code", code_input_schema(), code_output_schema().json_schema(), generate_code,
      Kind::kCacheable);
  Json review_schema = Json::object();
  review_schema.set("type", Json::string("object"));
  add(registry, "review_code", code_review_input_schema(), std::move(review_schema), review_code, Kind::kCacheable);
}

}  // namespace genkit
