// Messages ↔ flow JSON: unset (empty) proto3 strings take the flow's default,
// and a flow output that does not fit the reply is an error, not a crash.
#include "grpcd/proto_mapping.h"

#include <gtest/gtest.h>

#include "common/schema/models.h"
#include "common/schema/schema.h"

namespace genkit::grpcd {
namespace {

Json parse(const char* text) { return Json::parse(text).value(); }

TEST(ProtoMappingTest, EmptyStringsAreUnsetAndTakeTheSchemaDefaults) {
  pb::JokeRequest req;
  Json raw = joke_input(req);
  EXPECT_EQ(raw.view().dump(), "{}");
  Result<Json> input = joke_input_schema().validate(raw.view());
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(input->view()["name"].as_string(), "Mittens");
  EXPECT_TRUE(input->view()["username"].is_null());

  pb::CodeRequest code;
  code.set_description("sort a list");
  Result<Json> code_in = code_input_schema().validate(code_input(code).view());
  ASSERT_TRUE(code_in.ok());
  EXPECT_EQ(code_in->view()["language"].as_string(), "python");
  EXPECT_EQ(code_in->view()["description"].as_string(), "sort a list");
}

TEST(ProtoMappingTest, GivenFieldsReachTheSchemaAndItsConstraints) {
  pb::TranslateRequest req;
  req.set_text("hello");
  req.set_target_language(std::string(101, 'x'));
  Result<Json> input = translate_input_schema().validate(translate_input(req).view());
  ASSERT_FALSE(input.ok());
  EXPECT_NE(input.status().message().find("target_language"), std::string::npos) << input.status().message();
}

TEST(ProtoMappingTest, JokeReplyEchoesTheUsernameOnlyWhenGiven) {
  pb::JokeResponse out;
  ASSERT_TRUE(fill_joke(Json::string("ha").view(), parse(R"({"name":"x","username":"ann"})").view(), &out).is_ok());
  EXPECT_EQ(out.joke(), "ha");
  EXPECT_EQ(out.username(), "ann");
  pb::JokeResponse anon;
  ASSERT_TRUE(fill_joke(Json::string("ha").view(), parse(R"({"name":"x","username":null})").view(), &anon).is_ok());
  EXPECT_EQ(anon.username(), "");
}

TEST(ProtoMappingTest, CharacterMapsBackStoryAndSkills) {
  pb::RpgCharacter out;
  Json output = parse(R"({"name":"Luna","backStory":"b","abilities":["a","c"],
                          "skills":{"strength":1,"charisma":2,"endurance":3}})");
  ASSERT_TRUE(fill_character(output.view(), Json::object().view(), &out).is_ok());
  EXPECT_EQ(out.back_story(), "b");
  ASSERT_EQ(out.abilities_size(), 2);
  EXPECT_EQ(out.abilities(1), "c");
  EXPECT_EQ(out.skills().charisma(), 2);
  EXPECT_EQ(out.skills().endurance(), 3);
}

TEST(ProtoMappingTest, AnOutputThatDoesNotFitIsAnInternalErrorNamingTheField) {
  pb::RpgCharacter out;
  Status s = fill_character(parse(R"({"name":"L","backStory":"b","abilities":["a"],"skills":{"strength":1e12}})").view(),
                            Json::object().view(), &out);
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_NE(s.message().find("strength"), std::string::npos);

  pb::TranslationResponse t;
  EXPECT_EQ(fill_translation(Json::string("not an object").view(), Json::object().view(), &t).code(), Code::kInternal);
  pb::JokeResponse j;
  EXPECT_EQ(fill_joke(parse("{}").view(), Json::object().view(), &j).code(), Code::kInternal);
}

TEST(ProtoMappingTest, ReviewIsTheOutputAsJsonText) {
  pb::CodeReviewResponse out;
  ASSERT_TRUE(fill_review(parse(R"({"summary":"ok","issues":[]})").view(), Json::object().view(), &out).is_ok());
  Result<Json> back = Json::parse(out.review());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->view()["summary"].as_string(), "ok");
}

TEST(ProtoMappingTest, AStringFieldWithANulIsRefusedNamingIt) {
  pb::JokeRequest ok;
  ok.set_name("Zo\xc3\xab");
  EXPECT_TRUE(checked_input(ok, joke_input(ok)).ok());
  pb::JokeRequest bad;
  bad.set_name("ok");
  bad.set_username(std::string("a\0b", 3));
  Result<Json> refused = checked_input(bad, joke_input(bad));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "username: a NUL character (\\u0000) is not accepted");
}

}  // namespace
}  // namespace genkit::grpcd
