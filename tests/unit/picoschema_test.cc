#include "common/prompt/picoschema.h"

#include <gtest/gtest.h>

#include <string>

#include "common/prompt/yaml_to_json.h"

namespace genkit {
namespace {

Result<Json> convert_yaml(std::string_view yaml) {
  Result<Json> pico = yaml_to_json(yaml);
  EXPECT_TRUE(pico.ok()) << pico.status().message();
  if (!pico.ok()) return pico.status();
  return picoschema_to_json_schema(*pico);
}

// Converts `yaml` and compares with `expected` JSON (member order matters).
void expect_schema(std::string_view yaml, std::string_view expected) {
  Result<Json> schema = convert_yaml(yaml);
  ASSERT_TRUE(schema.ok()) << schema.status().message();
  Result<Json> want = Json::parse(expected);
  ASSERT_TRUE(want.ok()) << expected;
  EXPECT_EQ(schema->dump(), want->dump());
}

std::string error_of(std::string_view yaml) {
  Result<Json> schema = convert_yaml(yaml);
  EXPECT_FALSE(schema.ok()) << schema->dump();
  return schema.ok() ? "" : schema.status().message();
}

TEST(Picoschema, ScalarFieldsAreRequired) {
  expect_schema("name: string\nage: integer\nscore: number\nok: boolean\nnothing: \"null\"",
                R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
                    "score":{"type":"number"},"ok":{"type":"boolean"},"nothing":{"type":"null"}},
                    "required":["name","age","score","ok","nothing"],"additionalProperties":false})");
}

TEST(Picoschema, DescriptionsMayContainCommas) {
  expect_schema("summary: string, One-line summary, short",
                R"({"type":"object","properties":{"summary":{"type":"string","description":"One-line summary, short"}},
                    "required":["summary"],"additionalProperties":false})");
}

TEST(Picoschema, OptionalFieldsAreNullableAndNotRequired) {
  expect_schema("code: string\nlanguage?: string, The language\nanything?: any",
                R"({"type":"object","properties":{"code":{"type":"string"},
                    "language":{"type":["string","null"],"description":"The language"},"anything":{}},
                    "required":["code"],"additionalProperties":false})");
  expect_schema("a?: string", R"({"type":"object","properties":{"a":{"type":["string","null"]}},
                                  "additionalProperties":false})");
}

TEST(Picoschema, AnyIsUnconstrained) {
  expect_schema("x: any, Whatever", R"({"type":"object","properties":{"x":{"description":"Whatever"}},
                                         "required":["x"],"additionalProperties":false})");
}

TEST(Picoschema, Arrays) {
  expect_schema("tags(array): string\nnotes?(array, Free-form notes): string",
                R"({"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"}},
                    "notes":{"type":["array","null"],"items":{"type":"string"},"description":"Free-form notes"}},
                    "required":["tags"],"additionalProperties":false})");
}

TEST(Picoschema, ArrayOfObjects) {
  expect_schema(
      "issues(array, Found issues):\n"
      "  severity: string, error | warning | info\n"
      "  line?: integer\n",
      R"({"type":"object","properties":{"issues":{"type":"array","items":{"type":"object",
          "properties":{"severity":{"type":"string","description":"error | warning | info"},
                        "line":{"type":["integer","null"]}},
          "required":["severity"],"additionalProperties":false},"description":"Found issues"}},
          "required":["issues"],"additionalProperties":false})");
}

TEST(Picoschema, NestedObjects) {
  expect_schema(
      "address(object, Postal address):\n  street: string\n  zip?: string\nmeta?(object):\n  k: string\n"
      "plain:\n  x: number\n",
      R"({"type":"object","properties":{
          "address":{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":["string","null"]}},
                     "required":["street"],"additionalProperties":false,"description":"Postal address"},
          "meta":{"type":["object","null"],"properties":{"k":{"type":"string"}},"required":["k"],
                  "additionalProperties":false},
          "plain":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"],"additionalProperties":false}},
          "required":["address","plain"],"additionalProperties":false})");
}

TEST(Picoschema, Enums) {
  expect_schema("color(enum, Pick one): [RED, GREEN]\nsize?(enum): [S, M]",
                R"({"type":"object","properties":{"color":{"enum":["RED","GREEN"],"description":"Pick one"},
                    "size":{"enum":["S","M",null]}},"required":["color"],"additionalProperties":false})");
}

TEST(Picoschema, WildcardSetsAdditionalProperties) {
  expect_schema("id: string\n(*): number",
                R"({"type":"object","properties":{"id":{"type":"string"}},"required":["id"],
                    "additionalProperties":{"type":"number"}})");
}

TEST(Picoschema, TopLevelScalarString) {
  expect_schema("string, A bare string", R"({"type":"string","description":"A bare string"})");
}

TEST(Picoschema, JsonSchemaPassesThrough) {
  const char* schema = R"({"type":"object","properties":{"a":{"type":"string","minLength":2}},"required":["a"]})";
  Result<Json> in = Json::parse(schema);
  Result<Json> out = picoschema_to_json_schema(*in);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->dump(), in->dump());
  expect_schema("type: array\nitems:\n  type: string", R"({"type":"array","items":{"type":"string"}})");
  expect_schema("properties:\n  a:\n    type: string",
                R"({"properties":{"a":{"type":"string"}},"type":"object"})");
}

TEST(Picoschema, NullOrAbsentGivesNull) {
  EXPECT_TRUE(picoschema_to_json_schema(JsonView()).value().view().is_null());
  EXPECT_TRUE(picoschema_to_json_schema(Json::null()).value().view().is_null());
}

TEST(Picoschema, ErrorsNameTheField) {
  EXPECT_NE(error_of("name: strin").find("field 'name' has unknown type 'strin'"), std::string::npos);
  EXPECT_NE(error_of("outer(object):\n  inner: widget").find("'outer(object).inner'"), std::string::npos);
  EXPECT_NE(error_of("x(list): string").find("unknown parenthetical type 'list'"), std::string::npos);
  EXPECT_NE(error_of("x(enum): A").find("(enum) needs a list"), std::string::npos);
  EXPECT_NE(error_of("x(array: string").find("missing ')'"), std::string::npos);
  EXPECT_NE(error_of("x: 5").find("field 'x' must be a type string or a mapping"), std::string::npos);
  EXPECT_NE(error_of("x:").find("field 'x' must be a type string or a mapping, got null (write \"null\" quoted"),
            std::string::npos);
  EXPECT_NE(error_of("x(object): string").find("needs a mapping"), std::string::npos);
  EXPECT_NE(error_of("- a\n- b").find("(root)"), std::string::npos);
}

TEST(Picoschema, DeepNestingIsBounded) {
  std::string yaml;
  for (int i = 0; i < 60; ++i) yaml += std::string(static_cast<std::size_t>(i) * 2, ' ') + "a:\n";
  yaml += std::string(120, ' ') + "b: string\n";
  Result<Json> pico = yaml_to_json(yaml);
  ASSERT_TRUE(pico.ok()) << pico.status().message();
  EXPECT_TRUE(picoschema_to_json_schema(*pico).ok());
  std::string json;
  for (int i = 0; i < 200; ++i) json += "{\"a\":";
  json += "\"string\"";
  for (int i = 0; i < 200; ++i) json += "}";
  Result<Json> deep = Json::parse(json);
  ASSERT_TRUE(deep.ok());
  Result<Json> out = picoschema_to_json_schema(*deep);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("nested too deeply"), std::string::npos);
}

}  // namespace
}  // namespace genkit
