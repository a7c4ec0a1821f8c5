// ObjectSchema validation (pydantic v2 wording) and JSON Schema export for
// every model in common/schema/models.h.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/schema/json_schema_validator.h"
#include "common/schema/models.h"
#include "common/schema/schema.h"
#include "tests/unit/test_helpers.h"

namespace genkit {
namespace {

using testing_json::parse;

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// The validated output, compact.
std::string ok_dump(const ObjectSchema& schema, JsonView body) {
  Result<Json> r = schema.validate(body);
  EXPECT_TRUE(r.ok()) << schema.name << " " << body.dump() << ": " << r.status().message();
  return r.ok() ? r->dump() : "";
}
std::string ok_dump(const ObjectSchema& schema, std::string_view body) { return ok_dump(schema, parse(body)); }

std::string error_of(const ObjectSchema& schema, JsonView body) {
  Result<Json> r = schema.validate(body);
  EXPECT_FALSE(r.ok()) << schema.name << " accepted " << body.dump();
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}
std::string error_of(const ObjectSchema& schema, std::string_view body) { return error_of(schema, parse(body)); }

// {"<field>": <value>} with `value` a string.
Json with_string(std::string_view field, std::string_view value) {
  Json o = Json::object();
  o.set(field, Json::string(value));
  return o;
}

TEST(SchemaModels, AllModelsListedOnce) {
  std::set<std::string> names;
  for (const ObjectSchema* s : all_model_schemas()) names.insert(s->name);
  EXPECT_EQ(names, (std::set<std::string>{"JokeInput", "JokeResponse", "TranslateInput", "TranslationResult",
                                          "ImageInput", "ImageResponse", "CharacterInput", "Skills", "RpgCharacter",
                                          "ChatInput", "ChatResponse", "StoryInput", "CodeInput", "CodeOutput",
                                          "CodeReviewInput"}));
}

TEST(SchemaValidate, NonObjectBodyRejected) {
  for (const char* body : {"[]", "\"x\"", "5", "null", "true"}) {
    EXPECT_EQ(error_of(joke_input_schema(), body), "body: Input should be a valid dictionary or object") << body;
  }
  EXPECT_EQ(error_of(joke_input_schema(), JsonView()), "body: Input should be a valid dictionary or object");
}

TEST(SchemaJokeInput, DefaultsAndKnownFieldsInDeclarationOrder) {
  EXPECT_EQ(ok_dump(joke_input_schema(), "{}"), R"({"name":"Mittens","username":null})");
  EXPECT_EQ(ok_dump(joke_input_schema(), R"({"username":"bob","extra":[1],"name":"Tom"})"),
            R"({"name":"Tom","username":"bob"})");
  EXPECT_EQ(ok_dump(joke_input_schema(), R"({"username":null})"), R"({"name":"Mittens","username":null})");
}

TEST(SchemaJokeInput, Constraints) {
  const ObjectSchema& s = joke_input_schema();
  ok_dump(s, with_string("name", repeat("a", 200)));
  EXPECT_EQ(error_of(s, with_string("name", repeat("a", 201))), "name: String should have at most 200 characters");
  EXPECT_EQ(error_of(s, with_string("username", repeat("a", 201))),
            "username: String should have at most 200 characters");
  EXPECT_EQ(error_of(s, R"({"name":5})"), "name: Input should be a valid string");
  EXPECT_EQ(error_of(s, R"({"name":null})"), "name: Input should be a valid string");
  EXPECT_EQ(error_of(s, R"({"name":["a"]})"), "name: Input should be a valid string");
  EXPECT_EQ(error_of(s, R"({"username":true})"), "username: Input should be a valid string");
  EXPECT_EQ(error_of(s, R"({"name":1,"username":{}})"),
            "name: Input should be a valid string; username: Input should be a valid string");
}

TEST(SchemaJokeInput, LengthCountsCodePoints) {
  const ObjectSchema& s = joke_input_schema();
  ok_dump(s, with_string("name", repeat("\xc3\xa9", 200)));  // é: 2 bytes
  EXPECT_EQ(error_of(s, with_string("name", repeat("\xc3\xa9", 201))),
            "name: String should have at most 200 characters");
  ok_dump(s, with_string("name", repeat("\xf0\x9f\x98\x80", 200)));  // 😀: 4 bytes
  EXPECT_EQ(error_of(s, with_string("name", repeat("\xf0\x9f\x98\x80", 201))),
            "name: String should have at most 200 characters");
  ok_dump(s, R"({"name":"\ud83d\ude00"})");  // JSON surrogate pair escapes
}

TEST(SchemaJokeInput, InvalidUtf8IsNotAString) {
  const ObjectSchema& s = joke_input_schema();
  for (const char* bad : {"ab\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"}) {
    EXPECT_EQ(error_of(s, with_string("name", bad)), "name: Input should be a valid string");
  }
}

TEST(SchemaTranslateInput, DefaultsAndBounds) {
  const ObjectSchema& s = translate_input_schema();
  Result<Json> r = s.validate(parse("{}"));
  ASSERT_TRUE(r.ok());
  std::string text((*r)["text"].as_string());
  EXPECT_EQ(text.rfind("The Northern Lights, or Aurora Borealis, are one of nature's most spectacular displays.", 0),
            0u);
  EXPECT_NE(text.find("these ethereal lights \xe2\x80\x94 the Vikings"), std::string::npos);
  EXPECT_NE(text.find("while the S\xc3\xa1mi people considered them the energies of departed souls."),
            std::string::npos);
  EXPECT_EQ((*r)["target_language"].as_string(), "French");
  EXPECT_EQ(error_of(s, R"({"text":""})"), "text: String should have at least 1 character");
  ok_dump(s, with_string("text", repeat("x", 10000)));
  EXPECT_EQ(error_of(s, with_string("text", repeat("x", 10001))), "text: String should have at most 10000 characters");
  EXPECT_EQ(error_of(s, with_string("target_language", repeat("x", 101))),
            "target_language: String should have at most 100 characters");
}

TEST(SchemaImageInput, DefaultAndMaxLength) {
  const ObjectSchema& s = image_input_schema();
  EXPECT_EQ(ok_dump(s, "{}"),
            R"({"image_url":"https://upload.wikimedia.org/wikipedia/commons/4/47/PNG_transparency_demonstration_1.png"})");
  ok_dump(s, with_string("image_url", repeat("u", 2048)));
  EXPECT_EQ(error_of(s, with_string("image_url", repeat("u", 2049))),
            "image_url: String should have at most 2048 characters");
}

TEST(SchemaSimpleInputs, DefaultsAndBounds) {
  EXPECT_EQ(ok_dump(character_input_schema(), "{}"), R"({"name":"Luna"})");
  EXPECT_EQ(error_of(character_input_schema(), R"({"name":""})"), "name: String should have at least 1 character");
  EXPECT_EQ(error_of(character_input_schema(), with_string("name", repeat("n", 201))),
            "name: String should have at most 200 characters");
  EXPECT_EQ(ok_dump(chat_input_schema(), "{}"), R"({"question":"What is the best programming language?"})");
  EXPECT_EQ(error_of(chat_input_schema(), R"({"question":""})"),
            "question: String should have at least 1 character");
  EXPECT_EQ(error_of(chat_input_schema(), with_string("question", repeat("q", 5001))),
            "question: String should have at most 5000 characters");
  EXPECT_EQ(ok_dump(story_input_schema(), "{}"), R"({"topic":"a brave cat"})");
  EXPECT_EQ(error_of(story_input_schema(), R"({"topic":""})"), "topic: String should have at least 1 character");
  EXPECT_EQ(error_of(story_input_schema(), with_string("topic", repeat("t", 1001))),
            "topic: String should have at most 1000 characters");
}

TEST(SchemaCodeInput, DefaultsPatternAndBounds) {
  const ObjectSchema& s = code_input_schema();
  EXPECT_EQ(ok_dump(s, "{}"),
            R"({"description":"a Python function that checks if a number is prime","language":"python"})");
  for (const char* lang : {"c++", "C#", "Go", "f#"}) ok_dump(s, with_string("language", lang));
  const std::string pattern_error = "language: String should match pattern '^[a-zA-Z#+]+$'";
  for (const char* lang : {"py thon", "", "c--", "python3", "r\xc3\xa9"}) {
    EXPECT_EQ(error_of(s, with_string("language", lang)), pattern_error) << lang;
  }
  // Length is checked first and alone, as pydantic does.
  EXPECT_EQ(error_of(s, with_string("language", repeat("a", 51))),
            "language: String should have at most 50 characters");
  EXPECT_EQ(error_of(s, R"({"description":""})"), "description: String should have at least 1 character");
  EXPECT_EQ(error_of(s, with_string("description", repeat("d", 10001))),
            "description: String should have at most 10000 characters");
}

TEST(SchemaCodeReviewInput, DefaultsAndNullableLanguage) {
  const ObjectSchema& s = code_review_input_schema();
  EXPECT_EQ(ok_dump(s, "{}"), R"({"code":"def add(a, b):\n    return a + b","language":null})");
  EXPECT_EQ(ok_dump(s, R"({"language":"python"})"), R"({"code":"def add(a, b):\n    return a + b","language":"python"})");
  EXPECT_EQ(error_of(s, R"({"code":""})"), "code: String should have at least 1 character");
  ok_dump(s, with_string("code", repeat("c", 50000)));
  EXPECT_EQ(error_of(s, with_string("code", repeat("c", 50001))), "code: String should have at most 50000 characters");
  EXPECT_EQ(error_of(s, with_string("language", repeat("l", 51))),
            "language: String should have at most 50 characters");
  EXPECT_EQ(error_of(s, R"({"language":3})"), "language: Input should be a valid string");
}

TEST(SchemaOutputModels, RequiredFieldsAndDefaults) {
  EXPECT_EQ(error_of(joke_response_schema(), "{}"), "joke: Field required");
  EXPECT_EQ(ok_dump(joke_response_schema(), R"({"joke":"ha"})"), R"({"joke":"ha","username":null})");
  EXPECT_EQ(error_of(joke_response_schema(), R"({"joke":null})"), "joke: Input should be a valid string");
  EXPECT_EQ(error_of(translation_result_schema(), R"({"translated_text":"x"})"),
            "original_text: Field required; target_language: Field required; confidence: Field required");
  EXPECT_EQ(error_of(image_response_schema(), "{}"), "description: Field required; image_url: Field required");
  EXPECT_EQ(ok_dump(chat_response_schema(), R"({"answer":"Arr"})"), R"({"answer":"Arr","persona":"pirate captain"})");
  EXPECT_EQ(error_of(chat_response_schema(), R"({"persona":"x"})"), "answer: Field required");
  EXPECT_EQ(error_of(code_output_schema(), R"({"code":"x","language":"py"})"),
            "explanation: Field required; filename: Field required");
  EXPECT_EQ(ok_dump(code_output_schema(), R"({"filename":"a.py","explanation":"e","language":"py","code":"c"})"),
            R"({"code":"c","language":"py","explanation":"e","filename":"a.py"})");
}

constexpr const char* kCharacter =
    R"({"name":"Luna","backStory":"Born at night.","abilities":["a","b","c"],)"
    R"("skills":{"strength":0,"charisma":100,"endurance":50.0}})";

TEST(SchemaRpgCharacter, ValidCharacter) {
  EXPECT_EQ(ok_dump(rpg_character_schema(), kCharacter),
            R"({"name":"Luna","backStory":"Born at night.","abilities":["a","b","c"],)"
            R"("skills":{"strength":0,"charisma":100,"endurance":50}})");
}

TEST(SchemaRpgCharacter, MissingAndWrongTypes) {
  const ObjectSchema& s = rpg_character_schema();
  EXPECT_EQ(error_of(s, "{}"),
            "name: Field required; backStory: Field required; abilities: Field required; skills: Field required");
  Json c = parse(kCharacter);
  c.set("abilities", Json::string("fly"));
  EXPECT_EQ(error_of(s, c), "abilities: Input should be a valid list");
  c.set("abilities", parse(R"(["a","b",3,null])"));
  EXPECT_EQ(error_of(s, c), "abilities.2: Input should be a valid string; abilities.3: Input should be a valid string");
  c.set("abilities", parse(R"(["1","2","3","4","5","6","7","8","9","10","11"])"));
  EXPECT_EQ(error_of(s, c), "abilities: List should have at most 10 items after validation, not 11");
  c.set("abilities", parse(R"([])"));
  ok_dump(s, c);
  c.set("skills", Json::string("strong"));
  EXPECT_EQ(error_of(s, c), "skills: Input should be a valid dictionary or object");
  c.set("skills", Json::null());
  EXPECT_EQ(error_of(s, c), "skills: Input should be a valid dictionary or object");
}

TEST(SchemaRpgCharacter, NestedSkillErrors) {
  const ObjectSchema& s = rpg_character_schema();
  Json c = parse(kCharacter);
  c.set("skills", parse(R"({"strength":150,"charisma":-1,"endurance":1.5})"));
  EXPECT_EQ(error_of(s, c),
            "skills.strength: Input should be less than or equal to 100; "
            "skills.charisma: Input should be greater than or equal to 0; "
            "skills.endurance: Input should be a valid integer, got a number with a fractional part");
  c.set("skills", parse(R"({"strength":true,"charisma":"5","endurance":null})"));
  EXPECT_EQ(error_of(s, c),
            "skills.strength: Input should be a valid integer; skills.charisma: Input should be a valid integer; "
            "skills.endurance: Input should be a valid integer");
  c.set("skills", parse(R"({"strength":1})"));
  EXPECT_EQ(error_of(s, c), "skills.charisma: Field required; skills.endurance: Field required");
  c.set("name", Json::number(1));
  EXPECT_EQ(error_of(s, c),
            "name: Input should be a valid string; skills.charisma: Field required; skills.endurance: Field required");
}

TEST(SchemaJsonSchema, TopLevelShape) {
  Json js = joke_input_schema().json_schema();
  EXPECT_EQ(js["$schema"].as_string(), "http://json-schema.org/draft-07/schema#");
  EXPECT_EQ(js["type"].as_string(), "object");
  EXPECT_EQ(js["title"].as_string(), "JokeInput");
  EXPECT_EQ(js["properties"]["name"].dump(),
            R"({"type":"string","description":"Subject of the joke","maxLength":200,"default":"Mittens"})");
  EXPECT_EQ(js["properties"]["username"].dump(),
            R"({"type":["string","null"],"description":"Username for personalization","maxLength":200,"default":null})");
  EXPECT_EQ(js["required"].dump(), "[]");
  EXPECT_TRUE(js["additionalProperties"].as_bool());
}

TEST(SchemaJsonSchema, ConstraintsAndRequired) {
  Json code = code_input_schema().json_schema();
  EXPECT_EQ(code["properties"]["language"].dump(),
            R"({"type":"string","maxLength":50,"pattern":"^[a-zA-Z#+]+$","default":"python"})");
  EXPECT_EQ(code["properties"]["description"]["minLength"].as_number(), 1);
  Json out = code_output_schema().json_schema();
  EXPECT_EQ(out["required"].dump(), R"(["code","language","explanation","filename"])");
  EXPECT_EQ(out["properties"]["filename"]["description"].as_string(), "Suggested filename (e.g. prime.py)");
  EXPECT_EQ(translation_result_schema().json_schema()["required"].size(), 4u);
}

TEST(SchemaJsonSchema, RpgCharacterInlinesSkills) {
  Json js = rpg_character_schema().json_schema();
  EXPECT_EQ(js["required"].dump(), R"(["name","backStory","abilities","skills"])");
  EXPECT_EQ(js["properties"]["abilities"].dump(),
            R"j({"type":"array","items":{"type":"string"},"description":"List of abilities (3-4)","maxItems":10})j");
  JsonView skills = js["properties"]["skills"];
  EXPECT_EQ(skills["type"].as_string(), "object");
  EXPECT_FALSE(skills["$schema"].present());
  EXPECT_EQ(skills["required"].dump(), R"(["strength","charisma","endurance"])");
  EXPECT_EQ(skills["properties"]["strength"].dump(),
            R"j({"type":"integer","description":"Strength (0-100)","minimum":0,"maximum":100})j");
  EXPECT_EQ(js.dump().find("$ref"), std::string::npos);
}

// The exported schema and validate() must agree on what they accept.
TEST(SchemaJsonSchema, AgreesWithValidate) {
  struct Case {
    const ObjectSchema* schema;
    const char* body;
  };
  const Case cases[] = {
      {&joke_input_schema(), "{}"},
      {&joke_input_schema(), R"({"name":null})"},
      {&joke_input_schema(), R"({"username":null,"name":"x"})"},
      {&code_input_schema(), R"({"language":"py thon"})"},
      {&code_input_schema(), R"({"language":"C#"})"},
      {&translate_input_schema(), R"({"text":""})"},
      {&rpg_character_schema(), kCharacter},
      {&rpg_character_schema(), R"({"name":"a","backStory":"b","abilities":[1],"skills":{}})"},
      {&rpg_character_schema(),
       R"({"name":"a","backStory":"b","abilities":[],"skills":{"strength":101,"charisma":1,"endurance":1}})"},
      {&rpg_character_schema(),
       R"({"name":"a","backStory":"b","abilities":[],"skills":{"strength":1.5,"charisma":1,"endurance":1}})"},
      {&code_review_input_schema(), R"({"language":null})"},
      {&joke_response_schema(), "{}"},
      {&joke_response_schema(), "[]"},
  };
  for (const Case& c : cases) {
    Json body = parse(c.body);
    bool by_model = c.schema->validate(body).ok();
    Status by_schema = validate_json_schema(c.schema->json_schema(), body);
    EXPECT_EQ(by_model, by_schema.is_ok()) << c.schema->name << " " << c.body << ": " << by_schema.message();
  }
  // Defaults satisfy the schema they are published in.
  for (const ObjectSchema* s : all_model_schemas()) {
    Json shown = s->json_schema();
    shown["properties"].for_each([&](std::string_view name, JsonView prop) {
      if (!prop["default"].present()) return;
      Status st = validate_json_schema(prop, prop["default"]);
      EXPECT_TRUE(st.is_ok()) << s->name << "." << name << ": " << st.message();
    });
  }
}

}  // namespace
}  // namespace genkit
