#include "common/prompt/dotprompt.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/prompt/picoschema.h"
#include "common/prompt/yaml_to_json.h"

namespace genkit {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

int count_newlines(std::string_view s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// A delimiter line is "---" with optional trailing blanks (and a CR).
bool is_delimiter(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  return line == "---";
}

struct Split {
  bool has_front_matter = false;
  std::string_view front_matter;
  std::string_view body;
  int body_line = 1;  // file line where `body` starts
};

Result<Split> split_front_matter(std::string_view src) {
  Split out;
  std::size_t nl = src.find('\n');
  if (!is_delimiter(src.substr(0, nl))) {
    out.body = src;
    return out;
  }
  if (nl == std::string_view::npos) return invalid_argument("front matter opened on line 1 is never closed with '---'");
  std::size_t fm_start = nl + 1;
  for (std::size_t line_start = fm_start; line_start <= src.size();) {
    std::size_t end = src.find('\n', line_start);
    std::string_view line = src.substr(line_start, end == std::string_view::npos ? std::string_view::npos : end - line_start);
    if (is_delimiter(line)) {
      out.has_front_matter = true;
      out.front_matter = src.substr(fm_start, line_start - fm_start);
      std::size_t body_start = end == std::string_view::npos ? src.size() : end + 1;
      out.body = src.substr(body_start);
      out.body_line = 1 + count_newlines(src.substr(0, body_start));
      return out;
    }
    if (end == std::string_view::npos) break;
    line_start = end + 1;
  }
  return invalid_argument("front matter opened on line 1 is never closed with '---'");
}

class FrontMatter {
 public:
  FrontMatter(std::string label, JsonView fm) : label_(std::move(label)), fm_(fm) {}

  Status fail(const std::string& key, const std::string& problem) const {
    return invalid_argument(label_ + ": front matter '" + key + "' " + problem);
  }

  // Optional string member of `obj` named `key` (reported as `path`).
  Status string_at(JsonView obj, const char* key, const std::string& path, std::string* out) const {
    JsonView v = obj[key];
    if (!v.present() || v.is_null()) return Status::ok();
    if (!v.is_string()) return fail(path, "must be a string");
    *out = std::string(v.as_string());
    return Status::ok();
  }

  Status object_at(JsonView obj, const char* key, const std::string& path) const {
    JsonView v = obj[key];
    if (v.present() && !v.is_null() && !v.is_object()) return fail(path, "must be a mapping");
    return Status::ok();
  }

  Status schema_at(JsonView obj, const std::string& path, Json* out) const {
    Result<Json> schema = picoschema_to_json_schema(obj["schema"]);
    if (!schema.ok()) return invalid_argument(label_ + ": front matter '" + path + "': " + schema.status().message());
    *out = std::move(schema).value();
    return Status::ok();
  }

  Status fill(PromptTemplate* p) const {
    std::string ignored;
    for (const char* key : {"name", "variant", "description"}) {
      if (Status s = string_at(fm_, key, key, &ignored); !s.is_ok()) return s;
    }
    if (Status s = string_at(fm_, "model", "model", &p->model); !s.is_ok()) return s;
    if (Status s = object_at(fm_, "config", "config"); !s.is_ok()) return s;
    p->config = Json::copy_of(fm_["config"]);
    JsonView tools = fm_["tools"];
    if (tools.present() && !tools.is_null()) {
      bool ok = tools.is_array();
      tools.for_each([&](std::string_view, JsonView t) { ok = ok && t.is_string(); });
      if (!ok) return fail("tools", "must be a list of tool names");
    }
    for (const char* key : {"input", "output"}) {
      if (Status s = object_at(fm_, key, key); !s.is_ok()) return s;
    }
    JsonView input = fm_["input"];
    if (Status s = schema_at(input, "input.schema", &p->input_schema); !s.is_ok()) return s;
    if (Status s = object_at(input, "default", "input.default"); !s.is_ok()) return s;
    p->input_defaults = Json::copy_of(input["default"]);
    JsonView output = fm_["output"];
    if (Status s = schema_at(output, "output.schema", &p->output_schema); !s.is_ok()) return s;
    if (Status s = string_at(output, "format", "output.format", &p->output_format); !s.is_ok()) return s;
    if (!p->output_format.empty() && p->output_format != "json" && p->output_format != "text") {
      return fail("output.format", "must be json or text, got '" + p->output_format + "'");
    }
    if (p->output_format.empty() && !p->output_schema.view().is_null()) p->output_format = "json";
    return Status::ok();
  }

 private:
  std::string label_;
  JsonView fm_;
};

// `label` prefixes errors; `file_name` gives the prompt name and variant.
Result<PromptTemplate> parse_file(const std::string& label, std::string_view file_name, std::string_view source) {
  PromptTemplate p;
  std::string_view base = file_name;
  if (base.ends_with(".prompt")) base.remove_suffix(7);
  std::size_t dot = base.find('.');
  p.name = std::string(base.substr(0, dot));
  if (dot != std::string_view::npos) p.variant = std::string(base.substr(dot + 1));
  if (p.name.empty() || (dot != std::string_view::npos && p.variant.empty())) {
    return invalid_argument(label + ": invalid prompt file name");
  }

  if (source.starts_with("\xEF\xBB\xBF")) source.remove_prefix(3);
  Result<Split> split = split_front_matter(source);
  if (!split.ok()) return invalid_argument(label + ": " + split.status().message());

  p.metadata = Json::object();
  if (split->has_front_matter) {
    // The leading newline makes libyaml's line numbers match the file's.
    Result<Json> fm = yaml_to_json("\n" + std::string(split->front_matter));
    if (!fm.ok()) return invalid_argument(label + ": front matter " + fm.status().message());
    if (fm->view().is_object()) {
      p.metadata = std::move(fm).value();
    } else if (!fm->view().is_null()) {
      return invalid_argument(label + ": front matter must be a YAML mapping");
    }
  }
  if (Status s = FrontMatter(label, p.metadata).fill(&p); !s.is_ok()) return s;

  // Dotprompt trims the template; keep counting lines from where it starts.
  std::string_view body = split->body;
  int line = split->body_line;
  while (!body.empty() && is_space(body.front())) {
    line += body.front() == '\n';
    body.remove_prefix(1);
  }
  while (!body.empty() && is_space(body.back())) body.remove_suffix(1);
  Result<HandlebarsTemplate> compiled = HandlebarsTemplate::parse(body, line);
  if (!compiled.ok()) return invalid_argument(label + ": " + compiled.status().message());
  p.template_source = std::string(body);
  p.body = std::move(compiled).value();
  return p;
}

}  // namespace

Result<PromptTemplate> parse_dotprompt(std::string_view name, std::string_view source) {
  return parse_file(std::string(name), name, source);
}

Result<std::vector<Message>> render_prompt(const PromptTemplate& prompt, JsonView input) {
  if (input.present() && !input.is_null() && !input.is_object()) {
    return invalid_argument("prompt '" + prompt.name + "': input must be a JSON object");
  }
  Json merged = prompt.input_defaults.view().is_object() ? prompt.input_defaults : Json::object();
  input.for_each([&](std::string_view key, JsonView value) { merged.set(key, Json::copy_of(value)); });
  Result<std::vector<Message>> messages = prompt.body.render(merged);
  if (!messages.ok()) {
    return Status(messages.status().code(), "prompt '" + prompt.name + "': " + messages.status().message());
  }
  return messages;
}

Result<std::vector<PromptTemplate>> load_prompt_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return not_found("cannot read prompt directory '" + dir + "': " + ec.message());
  std::vector<fs::path> files;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    std::string file = path.filename().string();
    if (!file.ends_with(".prompt") || file.starts_with("_")) continue;
    if (!fs::is_regular_file(path, ec)) {
      return invalid_argument(path.string() + ": not a regular file" + (ec ? " (" + ec.message() + ")" : ""));
    }
    files.push_back(path);
  }
  if (ec) return internal_error("cannot list prompt directory '" + dir + "': " + ec.message());
  std::sort(files.begin(), files.end());

  std::vector<PromptTemplate> prompts;
  for (const fs::path& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) return invalid_argument(path.string() + ": cannot open file");
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return invalid_argument(path.string() + ": cannot read file");
    Result<PromptTemplate> prompt = parse_file(path.string(), path.filename().string(), text);
    if (!prompt.ok()) return prompt.status();
    prompts.push_back(std::move(prompt).value());
  }
  return prompts;
}

}  // namespace genkit
