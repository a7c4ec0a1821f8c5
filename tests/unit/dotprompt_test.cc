#include "common/prompt/dotprompt.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/prompt/yaml_to_json.h"

namespace genkit {
namespace {

std::string canon(std::string_view json) {
  Result<Json> j = Json::parse(json);
  EXPECT_TRUE(j.ok()) << json;
  return j.ok() ? j->dump() : "";
}

std::string yaml_error(std::string_view yaml) {
  Result<Json> j = yaml_to_json(yaml);
  EXPECT_FALSE(j.ok()) << j->dump();
  return j.ok() ? "" : j.status().message();
}

TEST(YamlToJson, MappingsSequencesAndScalars) {
  Result<Json> j = yaml_to_json(
      "name: demo\n"
      "count: 42\n"
      "neg: -7\n"
      "ratio: 0.5\n"
      "exp: 1.5e3\n"
      "hex: 0x1F\n"
      "oct: 0o17\n"
      "on: true\n"
      "off: False\n"
      "nothing: null\n"
      "tilde: ~\n"
      "empty:\n"
      "yes_is_text: yes\n"
      "version: 1.2.3\n"
      "quoted: \"123\"\n"
      "single: 'true'\n"
      "tagged: !!str 12\n"
      "list: [a, 1, {k: v}]\n"
      "block:\n"
      "  - x\n"
      "  - y: z\n"
      "text: |\n"
      "  line one\n"
      "  line two\n"
      "123: numeric key\n");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(j->dump(), canon(R"({"name":"demo","count":42,"neg":-7,"ratio":0.5,"exp":1500,"hex":31,"oct":15,
      "on":true,"off":false,"nothing":null,"tilde":null,"empty":null,"yes_is_text":"yes","version":"1.2.3",
      "quoted":"123","single":"true","tagged":"12","list":["a",1,{"k":"v"}],"block":["x",{"y":"z"}],
      "text":"line one\nline two\n","123":"numeric key"})"));
}

TEST(YamlToJson, EmptyDocumentIsNull) {
  EXPECT_TRUE(yaml_to_json("").value().view().is_null());
  EXPECT_TRUE(yaml_to_json("# only a comment\n").value().view().is_null());
  EXPECT_EQ(yaml_to_json("plain").value().dump(), "\"plain\"");
}

TEST(YamlToJson, ErrorsCarryLineAndColumn) {
  std::string e = yaml_error("a: 1\nb: [unclosed\nc: 3\n");
  EXPECT_NE(e.find("line "), std::string::npos) << e;
  EXPECT_NE(yaml_error("a: 1\nb: c: d\n").find("line 2, column 5"), std::string::npos);
  EXPECT_NE(yaml_error("a: 1\na: 2\n").find("line 2, column 1: duplicate key 'a'"), std::string::npos);
  EXPECT_NE(yaml_error("a: &x 1\nb: *x\n").find("line 2, column 4: YAML aliases are not supported"),
            std::string::npos);
  EXPECT_NE(yaml_error("a: 1\n---\nb: 2\n").find("only one YAML document"), std::string::npos);
  EXPECT_NE(yaml_error("? [a, b]\n: c\n").find("mapping keys must be scalars"), std::string::npos);
}

TEST(YamlToJson, NestingIsBounded) {
  EXPECT_TRUE(yaml_to_json(std::string(60, '[') + std::string(60, ']')).ok());
  EXPECT_NE(yaml_error(std::string(100, '[') + std::string(100, ']')).find("nesting deeper than 64"),
            std::string::npos);
  EXPECT_FALSE(yaml_to_json(std::string(100000, '[')).ok());
}

constexpr const char* kFull = R"(---
model: googleai/gemini-2.5-flash
config:
  temperature: 0.2
input:
  schema:
    topic: string
    count?: integer
  default:
    count: 3
output:
  format: json
  schema:
    items(array): string
---

{{role "system"}}
You list things.
{{role "user"}}
List {{count}} {{topic}}.
)";

TEST(DotpromptParse, FrontMatterFields) {
  Result<PromptTemplate> p = parse_dotprompt("lister.prompt", kFull);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, "lister");
  EXPECT_EQ(p->variant, "");
  EXPECT_EQ(p->model, "googleai/gemini-2.5-flash");
  EXPECT_EQ(p->config.dump(), R"({"temperature":0.2})");
  EXPECT_EQ(p->input_schema.dump(),
            canon(R"({"type":"object","properties":{"topic":{"type":"string"},"count":{"type":["integer","null"]}},
                      "required":["topic"],"additionalProperties":false})"));
  EXPECT_EQ(p->input_defaults.dump(), R"({"count":3})");
  EXPECT_EQ(p->output_format, "json");
  EXPECT_EQ(p->output_schema.dump(),
            canon(R"({"type":"object","properties":{"items":{"type":"array","items":{"type":"string"}}},
                      "required":["items"],"additionalProperties":false})"));
  EXPECT_EQ(p->metadata["model"].as_string(), "googleai/gemini-2.5-flash");
  EXPECT_EQ(p->metadata["output"]["schema"]["items(array)"].as_string(), "string");
  EXPECT_EQ(p->template_source.substr(0, 15), "{{role \"system\"");
}

TEST(DotpromptRender, MergesInputOverDefaults) {
  Result<PromptTemplate> p = parse_dotprompt("lister", kFull);
  ASSERT_TRUE(p.ok()) << p.status().message();
  Result<std::vector<Message>> m = render_prompt(*p, Json::parse(R"({"topic":"birds"})").value());
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].role, Role::kSystem);
  EXPECT_EQ((*m)[0].text(), "\nYou list things.\n");
  EXPECT_EQ((*m)[1].role, Role::kUser);
  EXPECT_EQ((*m)[1].text(), "\nList 3 birds.");
  m = render_prompt(*p, Json::parse(R"({"topic":"cats","count":5})").value());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)[1].text(), "\nList 5 cats.");
  m = render_prompt(*p, JsonView());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)[1].text(), "\nList 3 .");
  Result<std::vector<Message>> bad = render_prompt(*p, Json::parse("[1]").value());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("input must be a JSON object"), std::string::npos);
}

TEST(DotpromptParse, NoFrontMatterAndVariants) {
  Result<PromptTemplate> p = parse_dotprompt("greet.formal.prompt", "Good day, {{name}}.");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, "greet");
  EXPECT_EQ(p->variant, "formal");
  EXPECT_EQ(p->model, "");
  EXPECT_TRUE(p->config.view().is_null());
  EXPECT_TRUE(p->input_schema.view().is_null());
  EXPECT_TRUE(p->output_schema.view().is_null());
  EXPECT_EQ(p->output_format, "");
  EXPECT_EQ(p->metadata.dump(), "{}");
  Result<std::vector<Message>> m = render_prompt(*p, Json::parse(R"({"name":"Sir"})").value());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)[0].text(), "Good day, Sir.");
  EXPECT_TRUE(parse_dotprompt("e", "---\n---\nbody").ok());
}

TEST(DotpromptParse, SchemaWithoutFormatImpliesJson) {
  Result<PromptTemplate> p = parse_dotprompt("x", "---\noutput:\n  schema:\n    a: string\n---\nhi");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->output_format, "json");
}

std::string parse_error(std::string_view source) {
  Result<PromptTemplate> p = parse_dotprompt("bad.prompt", source);
  EXPECT_FALSE(p.ok());
  return p.ok() ? "" : p.status().message();
}

TEST(DotpromptParse, FrontMatterErrorsNameFileAndKey) {
  EXPECT_NE(parse_error("---\nmodel: 5\n---\nx").find("bad.prompt: front matter 'model' must be a string"),
            std::string::npos);
  EXPECT_NE(parse_error("---\noutput:\n  format: xml\n---\nx").find("'output.format' must be json or text"),
            std::string::npos);
  EXPECT_NE(parse_error("---\nconfig: [1]\n---\nx").find("'config' must be a mapping"), std::string::npos);
  EXPECT_NE(parse_error("---\ninput: text\n---\nx").find("'input' must be a mapping"), std::string::npos);
  EXPECT_NE(parse_error("---\ninput:\n  default: 3\n---\nx").find("'input.default' must be a mapping"),
            std::string::npos);
  EXPECT_NE(parse_error("---\ntools: wrong\n---\nx").find("'tools'"), std::string::npos);
  EXPECT_NE(parse_error("---\ninput:\n  schema:\n    a: strng\n---\nx").find("'input.schema': picoschema: field 'a'"),
            std::string::npos);
  EXPECT_NE(parse_error("---\n- a\n---\nx").find("front matter must be a YAML mapping"), std::string::npos);
  EXPECT_NE(parse_error("---\nmodel: x\nbody").find("bad.prompt: front matter opened on line 1 is never closed"),
            std::string::npos);
}

TEST(DotpromptParse, ErrorLinesAreFileLines) {
  std::string e = parse_error("---\nmodel: a\nconfig: b: c\n---\nx");
  EXPECT_NE(e.find("bad.prompt: front matter line 3, column 10"), std::string::npos) << e;
  e = parse_error("---\nmodel: a\n---\n\n\nfirst\n{{#if x}}\nnever closed\n");
  EXPECT_NE(e.find("bad.prompt: line 7: {{#if}} is never closed"), std::string::npos) << e;
  e = parse_error("no front matter\n{{/each}}");
  EXPECT_NE(e.find("bad.prompt: line 2: unexpected {{/each}}"), std::string::npos) << e;
  e = parse_error("---\nmodel: a\n---\nhello {{oops");
  EXPECT_NE(e.find("bad.prompt: line 4: unterminated"), std::string::npos) << e;
}

class DotpromptDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dotprompt_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(DotpromptDir, LoadsPromptsSkipsPartialsAndOtherFiles) {
  write("b.prompt", "B {{x}}");
  write("a.prompt", "---\nmodel: m\n---\nA");
  write("a.short.prompt", "A short");
  write("_partial.prompt", "{{#if broken");
  write("notes.txt", "{{#if broken");
  Result<std::vector<PromptTemplate>> prompts = load_prompt_dir(dir_.string());
  ASSERT_TRUE(prompts.ok()) << prompts.status().message();
  ASSERT_EQ(prompts->size(), 3u);
  EXPECT_EQ((*prompts)[0].name, "a");
  EXPECT_EQ((*prompts)[0].model, "m");
  EXPECT_EQ((*prompts)[1].name, "a");
  EXPECT_EQ((*prompts)[1].variant, "short");
  EXPECT_EQ((*prompts)[2].name, "b");
}

TEST_F(DotpromptDir, InvalidFileFailsNamingIt) {
  write("good.prompt", "fine");
  write("broken.prompt", "---\nmodel: m\n---\n{{#each items}}\n");
  Result<std::vector<PromptTemplate>> prompts = load_prompt_dir(dir_.string());
  ASSERT_FALSE(prompts.ok());
  EXPECT_NE(prompts.status().message().find("broken.prompt: line 4: {{#each}} is never closed"), std::string::npos)
      << prompts.status().message();
}

TEST_F(DotpromptDir, MissingDirectoryIsAnError) {
  Result<std::vector<PromptTemplate>> prompts = load_prompt_dir((dir_ / "nope").string());
  ASSERT_FALSE(prompts.ok());
  EXPECT_NE(prompts.status().message().find("nope"), std::string::npos);
}

const PromptTemplate* find_code_review(const std::vector<PromptTemplate>& prompts) {
  for (const PromptTemplate& p : prompts) {
    if (p.name == "code_review" && p.variant.empty()) return &p;
  }
  return nullptr;
}

TEST(DotpromptCodeReview, LoadsFromPromptsDir) {
  Result<std::vector<PromptTemplate>> prompts = load_prompt_dir(GENKIT_SOURCE_DIR "/prompts");
  ASSERT_TRUE(prompts.ok()) << prompts.status().message();
  const PromptTemplate* p = find_code_review(*prompts);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->model, "googleai/gemini-2.5-flash");
  EXPECT_EQ(p->output_format, "json");

  JsonView in = p->input_schema;
  EXPECT_EQ(in["properties"]["code"]["type"].as_string(), "string");
  EXPECT_EQ(in["properties"]["language"]["type"].dump(), R"(["string","null"])");
  EXPECT_EQ(in["required"].dump(), R"(["code"])");

  JsonView out = p->output_schema;
  EXPECT_EQ(out["type"].as_string(), "object");
  EXPECT_EQ(out["required"].dump(), R"(["summary","issues","score","language"])");
  EXPECT_EQ(out["properties"]["score"]["type"].as_string(), "integer");
  EXPECT_EQ(out["properties"]["summary"]["description"].as_string(), "One-line summary of what the code does");
  JsonView issues = out["properties"]["issues"];
  EXPECT_EQ(issues["type"].as_string(), "array");
  EXPECT_EQ(issues["items"]["type"].as_string(), "object");
  EXPECT_EQ(issues["items"]["required"].dump(), R"(["severity","line","message","suggestion"])");
  EXPECT_EQ(issues["items"]["properties"]["severity"]["description"].as_string(), "error | warning | info");
  EXPECT_FALSE(issues["items"]["additionalProperties"].as_bool());
}

TEST(DotpromptCodeReview, RendersWithAndWithoutLanguage) {
  Result<std::vector<PromptTemplate>> prompts = load_prompt_dir(GENKIT_SOURCE_DIR "/prompts");
  ASSERT_TRUE(prompts.ok()) << prompts.status().message();
  const PromptTemplate* p = find_code_review(*prompts);
  ASSERT_NE(p, nullptr);

  Result<std::vector<Message>> m = render_prompt(*p, Json::parse(R"({"code":"x=1","language":"python"})").value());
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].role, Role::kUser);
  std::string text = (*m)[0].text();
  EXPECT_NE(text.find("python code"), std::string::npos) << text;
  EXPECT_NE(text.find("```python\nx=1\n```"), std::string::npos) << text;
  EXPECT_NE(text.find("Be concise but thorough. Focus on actionable feedback."), std::string::npos);
  for (const char* word : {"bugs", "style", "security", "best practices"}) {
    EXPECT_NE(text.find(word), std::string::npos) << word;
  }

  m = render_prompt(*p, Json::parse(R"({"code":"x=1"})").value());
  ASSERT_TRUE(m.ok()) << m.status().message();
  text = (*m)[0].text();
  EXPECT_EQ(text.find("python"), std::string::npos) << text;
  EXPECT_NE(text.find("following code"), std::string::npos) << text;
  EXPECT_NE(text.find("```\nx=1\n```"), std::string::npos) << text;
}

}  // namespace
}  // namespace genkit
