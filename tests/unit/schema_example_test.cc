// example_for_schema must produce documents the validator accepts.
#include <gtest/gtest.h>

#include <string>

#include "common/schema/json_schema_validator.h"
#include "common/schema/models.h"
#include "common/schema/schema_example.h"
#include "tests/unit/test_helpers.h"

namespace genkit {
namespace {

using testing_json::parse;

// The example, after checking it is valid.
Json valid_example(JsonView schema, std::string_view text = "Echo: hi") {
  Json example = example_for_schema(schema, text);
  Status s = validate_json_schema(schema, example);
  EXPECT_TRUE(s.is_ok()) << schema.dump() << "\n  example: " << example.dump() << "\n  " << s.message();
  return example;
}

TEST(ExampleForSchema, EveryModelSchema) {
  for (const ObjectSchema* model : all_model_schemas()) {
    Json example = valid_example(model->json_schema());
    EXPECT_TRUE(model->validate(example).ok()) << model->name << ": " << example.dump();
  }
}

TEST(ExampleForSchema, OutputModelsLookReasonable) {
  Json rpg = valid_example(rpg_character_schema().json_schema());
  EXPECT_EQ(rpg.dump(),
            R"({"name":"Echo: hi","backStory":"Echo: hi","abilities":["Echo: hi"],)"
            R"("skills":{"strength":50,"charisma":50,"endurance":50}})");
  Json code = valid_example(code_output_schema().json_schema());
  EXPECT_EQ(code["filename"].as_string(), "Echo: hi");
  Json joke = valid_example(joke_response_schema().json_schema());
  EXPECT_EQ(joke.dump(), R"({"joke":"Echo: hi","username":"Echo: hi"})");
}

TEST(ExampleForSchema, StringsFitLengthAndPattern) {
  EXPECT_EQ(valid_example(parse(R"({"type":"string","maxLength":3})")).dump(), R"("Ech")");
  EXPECT_EQ(valid_example(parse(R"({"type":"string","minLength":10})")).dump(), R"("Echo: hiii")");
  EXPECT_EQ(valid_example(parse(R"({"type":"string","maxLength":2})"), "\xc3\xa9\xc3\xa9\xc3\xa9").dump(),
            "\"\xc3\xa9\xc3\xa9\"");
  EXPECT_EQ(valid_example(parse(R"({"type":"string","pattern":"^[0-9]+$"})")).dump(), R"("0")");
  EXPECT_EQ(valid_example(parse(R"({"type":"string","pattern":"^[a-z]+$","minLength":5})")).dump(), R"("aaaaa")");
  valid_example(parse(R"({"type":"string","pattern":"^[a-zA-Z#+]+$","maxLength":50})"));
  valid_example(parse(R"({"type":"string","pattern":"Echo"})"));
  EXPECT_EQ(valid_example(parse(R"({"enum":["red","green"]})")).dump(), R"("red")");
  EXPECT_EQ(valid_example(parse(R"({"const":{"a":[1]}})")).dump(), R"({"a":[1]})");
}

TEST(ExampleForSchema, Numbers) {
  EXPECT_EQ(valid_example(parse(R"({"type":"integer","minimum":0,"maximum":100})")).dump(), "50");
  EXPECT_EQ(valid_example(parse(R"({"type":"integer","minimum":7})")).dump(), "7");
  EXPECT_EQ(valid_example(parse(R"({"type":"integer","maximum":-3})")).dump(), "-3");
  EXPECT_EQ(valid_example(parse(R"({"type":"integer"})")).dump(), "0");
  EXPECT_EQ(valid_example(parse(R"({"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":2})")).dump(), "1");
  EXPECT_EQ(valid_example(parse(R"({"type":"integer","minimum":10,"maximum":20,"multipleOf":7})")).dump(), "14");
  valid_example(parse(R"({"type":"integer","multipleOf":1.5,"minimum":1})"));
  valid_example(parse(R"({"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1})"));
  valid_example(parse(R"({"type":"number","exclusiveMinimum":5})"));
  valid_example(parse(R"({"type":"number","minimum":0.1,"maximum":0.2,"multipleOf":0.05})"));
  EXPECT_EQ(valid_example(parse(R"({"type":"boolean"})")).dump(), "true");
  EXPECT_EQ(valid_example(parse(R"({"type":"null"})")).dump(), "null");
}

TEST(ExampleForSchema, ArraysAndObjects) {
  EXPECT_EQ(valid_example(parse(R"({"type":"array","items":{"type":"string"},"minItems":3,"uniqueItems":true})")).dump(),
            R"(["Echo: hi","Echo: hi 2","Echo: hi 3"])");
  EXPECT_EQ(valid_example(parse(R"({"type":"array","maxItems":0})")).dump(), "[]");
  valid_example(parse(R"({"type":"array","items":[{"type":"integer"},{"type":"boolean"}],"additionalItems":false})"));
  valid_example(parse(R"({"type":"array","contains":{"type":"integer","minimum":3}})"));
  Json obj = valid_example(parse(
      R"({"type":"object","properties":{"b":{"type":"integer"},"a":{"type":"string"}},"required":["a","c"],)"
      R"("additionalProperties":{"type":"boolean"}})"));
  EXPECT_EQ(obj.dump(), R"({"a":"Echo: hi","c":true,"b":0})");
  valid_example(parse(R"({"type":["null","object"],"properties":{"x":{"type":"string"}},"required":["x"]})"));
}

TEST(ExampleForSchema, RefsAndCombinators) {
  valid_example(parse(R"({"definitions":{"pt":{"type":"object","properties":{"x":{"type":"integer","minimum":3}},)"
                      R"("required":["x"]}},"type":"array","items":{"$ref":"#/definitions/pt"},"minItems":2})"));
  valid_example(parse(R"({"anyOf":[{"type":"integer","minimum":5},{"type":"string"}]})"));
  valid_example(parse(R"({"oneOf":[{"type":"string","maxLength":2},{"type":"integer"}]})"));
  Json merged = valid_example(parse(
      R"({"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},)"
      R"({"$ref":"#/definitions/b"}],"definitions":{"b":{"properties":{"b":{"type":"integer"}},"required":["b"]}}})"));
  EXPECT_EQ(merged.dump(), R"({"a":"Echo: hi","b":0})");
  // A cyclic schema cannot be satisfied, but must not crash or hang.
  example_for_schema(parse(R"({"$ref":"#"})"), "x");
  example_for_schema(parse(R"({"type":"object","properties":{"self":{"$ref":"#"}},"required":["self"]})"), "x");
}

}  // namespace
}  // namespace genkit
