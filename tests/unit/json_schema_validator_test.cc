// validate_json_schema beyond the official suite: messages, paths, limits and
// schemas it must refuse cleanly.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/schema/json_schema_validator.h"
#include "common/schema/models.h"
#include "tests/unit/test_helpers.h"

namespace genkit {
namespace {

using testing_json::parse;

std::string error_of(std::string_view schema, std::string_view instance) {
  Status s = validate_json_schema(parse(schema), parse(instance));
  EXPECT_FALSE(s.is_ok()) << schema << " accepted " << instance;
  EXPECT_EQ(s.code(), s.is_ok() ? Code::kOk : Code::kInvalidArgument);
  return s.message();
}

TEST(JsonSchemaValidator, MessagesNameTheInstancePath) {
  Json schema = rpg_character_schema().json_schema();
  Json c = parse(R"({"name":"a","backStory":"b","abilities":["x","y",3],)"
                 R"("skills":{"strength":150,"charisma":1,"endurance":1}})");
  Status s = validate_json_schema(schema, c);
  EXPECT_EQ(s.message(), "abilities.2: 3 is not of type \"string\"; skills.strength: 150 is greater than the maximum of 100");
  EXPECT_EQ(error_of(R"({"type":"object"})", "[1]"), "(root): [1] is not of type \"object\"");
  EXPECT_EQ(error_of(R"({"required":["a","b"]})", "{}"),
            "(root): \"a\" is a required property; (root): \"b\" is a required property");
  EXPECT_EQ(error_of(R"({"type":["string","null"]})", "1"), "(root): 1 is not of type \"string\", \"null\"");
  EXPECT_EQ(error_of(R"({"properties":{"a":{"items":{"minimum":1}}}})", R"({"a":[1,0]})"),
            "a.1: 0 is less than the minimum of 1");
  EXPECT_EQ(error_of(R"({"additionalProperties":false,"properties":{"a":{}}})", R"({"a":1,"b":2,"c":3})"),
            "(root): additional properties are not allowed (\"b\", \"c\" unexpected)");
}

TEST(JsonSchemaValidator, ReportsAtMostFiveErrors) {
  std::string message = error_of(R"({"items":{"type":"string"}})", "[1,2,3,4,5,6,7,8]");
  EXPECT_EQ(message,
            "0: 1 is not of type \"string\"; 1: 2 is not of type \"string\"; 2: 3 is not of type \"string\"; "
            "3: 4 is not of type \"string\"; 4: 5 is not of type \"string\"");
}

TEST(JsonSchemaValidator, LongInstancesAreShortenedInMessages) {
  std::string big = "\"" + std::string(500, 'x') + "\"";
  std::string message = error_of(R"({"maxLength":3})", big);
  EXPECT_LT(message.size(), 150u);
  EXPECT_NE(message.find("is too long"), std::string::npos);
}

TEST(JsonSchemaValidator, CyclicRefsFailCleanly) {
  for (const char* schema : {
           R"({"$ref":"#"})",
           R"({"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}},"$ref":"#/definitions/a"})",
           R"({"not":{"$ref":"#"}})",
           R"({"anyOf":[{"$ref":"#"},{"$ref":"#"}]})",
           R"({"oneOf":[{"allOf":[{"$ref":"#"},{"$ref":"#"}]},{"$ref":"#"}]})",
           R"({"if":{"$ref":"#"},"then":true,"else":true})",
       }) {
    auto start = std::chrono::steady_clock::now();
    std::string message = error_of(schema, R"({"a":1})");
    EXPECT_NE(message.find("cyclic $ref?"), std::string::npos) << schema << ": " << message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << schema;
  }
  // Recursion that follows the instance is fine.
  EXPECT_TRUE(validate_json_schema(parse(R"({"properties":{"next":{"$ref":"#"}},"required":["v"]})"),
                                   parse(R"({"v":1,"next":{"v":2,"next":{"v":3}}})"))
                  .is_ok());
}

// Found by tests/fuzz/fuzz_json_schema: libstdc++'s regex compiler read a
// count or a back-reference into a long that overflowed (undefined behaviour).
TEST(JsonSchemaValidator, RepetitionCountsAndBackReferencesPastAThousandAreUnsupportedRegexes) {
  for (const char* pattern : {"a{7777777777777777777}", "a{1,99999999999999999999}", "(b){1001}", "x{2,1001}",
                              "(a)\\\\4444444444444444444", "(a)\\\\1001"}) {
    std::string schema = std::string(R"({"pattern":")") + pattern + "\"}";
    EXPECT_NE(error_of(schema, "\"a\"").find("unsupported regex"), std::string::npos) << pattern;
  }
  EXPECT_TRUE(validate_json_schema(parse(R"({"pattern":"^a{2,1000}$"})"), parse("\"aaa\"")).is_ok());
  // Braces that are no quantifier, escaped or in a bracket expression, count nothing.
  EXPECT_TRUE(validate_json_schema(parse(R"({"pattern":"^[{]9999999|\\{9999999$"})"), parse("\"{9999999\"")).is_ok());
}

// Found by tests/fuzz/fuzz_json_schema (its memory grew past 900 MB): each
// pattern could unroll into 100,000 automaton states (~10 MB) and 512 of them
// stayed cached. The tree's _GLIBCXX_REGEX_STATE_LIMIT holds one to 10,000.
TEST(JsonSchemaValidator, PatternsPastTenThousandAutomatonStatesAreUnsupported) {
  std::string huge;
  for (int i = 0; i < 11; ++i) huge += "[a-z]{1000}";
  EXPECT_NE(error_of(R"({"pattern":")" + huge + "\"}", "\"a\"").find("unsupported regex"), std::string::npos);
  // ~4,000 states still compile (the subject matches the pattern's other branch).
  std::string large;
  for (int i = 0; i < 4; ++i) large += "[a-z]{1000}";
  EXPECT_TRUE(validate_json_schema(parse(R"({"pattern":")" + large + "|^ok$\"}"), parse("\"ok\"")).is_ok());
}

// Found by tests/fuzz/fuzz_json_schema (a timeout): a backtracking matcher
// takes exponential time on "(a*)*b" against a run of a's; 64 of them would
// not end in this test's lifetime.
TEST(JsonSchemaValidator, NestedQuantifiersMatchInLinearTime) {
  std::string run(64, 'a');
  EXPECT_FALSE(validate_json_schema(parse(R"({"pattern":"^(a*)*b$"})"), parse("\"" + run + "\"")).is_ok());
  EXPECT_TRUE(validate_json_schema(parse(R"({"pattern":"^(a*)*b$"})"), parse("\"" + run + "b\"")).is_ok());
}

// Found by tests/fuzz/fuzz_json_schema (a timeout): a back-reference kept the
// backtracking matcher, and with nested quantifiers a run of a's kept it busy
// for good. A pattern with a back-reference is unsupported, and says so at once.
TEST(JsonSchemaValidator, BackReferencesAreUnsupported) {
  std::string run(64, 'a');
  auto start = std::chrono::steady_clock::now();
  EXPECT_NE(error_of(R"({"pattern":"^(a*)*\\1b$"})", "\"" + run + "\"").find("unsupported regex"), std::string::npos);
  EXPECT_NE(error_of(R"({"pattern":"^(ab)\\1$"})", "\"abab\"").find("unsupported regex"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(JsonSchemaValidator, UnsupportedSchemasFailInsteadOfPassing) {
  EXPECT_NE(error_of(R"({"pattern":"(?<=a)b"})", "\"ab\"").find("unsupported regex"), std::string::npos);
  // Inside `not`, an unusable regex must not turn into a pass.
  EXPECT_NE(error_of(R"({"not":{"pattern":"(?<=a)b"}})", "\"ab\"").find("unsupported regex"), std::string::npos);
  EXPECT_NE(error_of(R"({"patternProperties":{"(":{}}})", R"({"a":1})").find("unsupported regex"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref":"#/definitions/missing"})", "1").find("unresolvable $ref"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref":"http://example.com/s.json"})", "1").find("unresolvable $ref"), std::string::npos);
  EXPECT_NE(error_of(R"({"items":5})", "[1]").find("invalid schema"), std::string::npos);
}

TEST(JsonSchemaValidator, PatternSubjectLengthIsBounded) {
  std::string ok = "\"" + std::string(1000, 'a') + "\"";
  EXPECT_TRUE(validate_json_schema(parse(R"({"pattern":"^a+$"})"), parse(ok)).is_ok());
  std::string longer = "\"" + std::string(100000, 'a') + "\"";
  EXPECT_NE(error_of(R"({"pattern":"^a+$"})", longer).find("cannot be checked against pattern"), std::string::npos);
  // Long strings without a pattern are fine.
  EXPECT_TRUE(validate_json_schema(parse(R"({"maxLength":100000})"), parse(longer)).is_ok());
}

TEST(JsonSchemaValidator, IntegerAndNumberTypes) {
  EXPECT_TRUE(validate_json_schema(parse(R"({"type":"integer"})"), parse("1.0")).is_ok());
  EXPECT_FALSE(validate_json_schema(parse(R"({"type":"integer"})"), parse("1.5")).is_ok());
  EXPECT_FALSE(validate_json_schema(parse(R"({"type":"integer"})"), parse("true")).is_ok());
  EXPECT_FALSE(validate_json_schema(parse(R"({"type":"number"})"), parse("\"1\"")).is_ok());
  EXPECT_EQ(error_of(R"({"exclusiveMaximum":3})", "3"), "(root): 3 is greater than or equal to the maximum of 3");
  EXPECT_EQ(error_of(R"({"multipleOf":0.5})", "1.2"), "(root): 1.2 is not a multiple of 0.5");
}

TEST(JsonSchemaEqual, DeepEquality) {
  EXPECT_TRUE(json_equal(parse("1"), parse("1.0")));
  EXPECT_FALSE(json_equal(parse("1"), parse("true")));
  EXPECT_FALSE(json_equal(parse("0"), parse("false")));
  EXPECT_TRUE(json_equal(parse(R"({"a":1,"b":[1,{"c":null}]})"), parse(R"({"b":[1.0,{"c":null}],"a":1})")));
  EXPECT_FALSE(json_equal(parse(R"({"a":1})"), parse(R"({"a":1,"b":2})")));
  EXPECT_FALSE(json_equal(parse(R"({"a":1,"c":2})"), parse(R"({"a":1,"b":2})")));
  EXPECT_FALSE(json_equal(parse("[1,2]"), parse("[2,1]")));
  EXPECT_TRUE(json_equal(parse("null"), parse("null")));
  EXPECT_FALSE(json_equal(parse("null"), parse("\"\"")));
  EXPECT_FALSE(json_equal(parse("[]"), parse("{}")));
}

TEST(JsonSchemaRef, ResolvesLocalPointers) {
  Json root = parse(R"({"a/b":{"c~d":1},"arr":[10,20],"p%q":2,"":3})");
  EXPECT_EQ(resolve_local_ref(root, "#").dump(), root.dump());
  EXPECT_EQ(resolve_local_ref(root, "#/a~1b/c~0d").dump(), "1");
  EXPECT_EQ(resolve_local_ref(root, "#/arr/1").dump(), "20");
  EXPECT_EQ(resolve_local_ref(root, "#/p%25q").dump(), "2");
  EXPECT_EQ(resolve_local_ref(root, "#/").dump(), "3");
  EXPECT_FALSE(resolve_local_ref(root, "#/arr/01").present());
  EXPECT_FALSE(resolve_local_ref(root, "#/arr/2").present());
  EXPECT_FALSE(resolve_local_ref(root, "#/nope").present());
  EXPECT_FALSE(resolve_local_ref(root, "#/a~2b").present());
  EXPECT_FALSE(resolve_local_ref(root, "#/p%2").present());
  EXPECT_FALSE(resolve_local_ref(root, "#anchor").present());
  EXPECT_FALSE(resolve_local_ref(root, "other.json#/a").present());
}

}  // namespace
}  // namespace genkit
