// Input validation of every route: each constraint is rejected with 400 and
// a pydantic-style detail naming the field, before any model call; bodies
// that are not a JSON object are rejected as a whole.
#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

struct Case {
  const char* name;  // test name suffix
  const char* path;
  std::string body;
  std::string detail;  // exact expected detail
  Headers headers = {};
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string n_chars(size_t n) { return std::string(n, 'x'); }

std::string obj(const std::string& key, const std::string& raw_json_value) {
  return "{\"" + key + "\":" + raw_json_value + "}";
}

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
      {"JokeNameTooLong", "/tell-joke", json_with("name", n_chars(201)),
       "name: String should have at most 200 characters"},
      {"JokeNameNotString", "/tell-joke", obj("name", "5"), "name: Input should be a valid string"},
      {"JokeUsernameFromHeaderTooLong", "/tell-joke", "{}", "username: String should have at most 200 characters",
       {{"Authorization", n_chars(201)}}},
      {"JokeStreamNameTooLong", "/tell-joke/stream", json_with("name", n_chars(201)),
       "name: String should have at most 200 characters"},
      {"JokeStreamNameNotString", "/tell-joke/stream", obj("name", "[]"), "name: Input should be a valid string"},
      {"StoryTopicEmpty", "/tell-story/stream", json_with("topic", ""),
       "topic: String should have at least 1 character"},
      {"StoryTopicTooLong", "/tell-story/stream", json_with("topic", n_chars(1001)),
       "topic: String should have at most 1000 characters"},
      {"StoryTopicNotString", "/tell-story/stream", obj("topic", "true"), "topic: Input should be a valid string"},
      {"TranslateTextEmpty", "/translate", json_with("text", ""), "text: String should have at least 1 character"},
      {"TranslateTextTooLong", "/translate", json_with("text", n_chars(10001)),
       "text: String should have at most 10000 characters"},
      {"TranslateTextNotString", "/translate", obj("text", "1"), "text: Input should be a valid string"},
      {"TranslateLanguageTooLong", "/translate", json_with("target_language", n_chars(101)),
       "target_language: String should have at most 100 characters"},
      {"TranslateLanguageNull", "/translate", obj("target_language", "null"),
       "target_language: Input should be a valid string"},
      {"ImageUrlTooLong", "/describe-image", json_with("image_url", "https://x.example/" + n_chars(2049 - 18)),
       "image_url: String should have at most 2048 characters"},
      {"ImageUrlNotString", "/describe-image", obj("image_url", "{}"), "image_url: Input should be a valid string"},
      {"CharacterNameEmpty", "/generate-character", json_with("name", ""),
       "name: String should have at least 1 character"},
      {"CharacterNameTooLong", "/generate-character", json_with("name", n_chars(201)),
       "name: String should have at most 200 characters"},
      {"CharacterNameNotString", "/generate-character", obj("name", "1.5"), "name: Input should be a valid string"},
      {"ChatQuestionEmpty", "/chat", json_with("question", ""), "question: String should have at least 1 character"},
      {"ChatQuestionTooLong", "/chat", json_with("question", n_chars(5001)),
       "question: String should have at most 5000 characters"},
      {"ChatQuestionNotString", "/chat", obj("question", "false"), "question: Input should be a valid string"},
      {"CodeDescriptionEmpty", "/generate-code", json_with("description", ""),
       "description: String should have at least 1 character"},
      {"CodeDescriptionTooLong", "/generate-code", json_with("description", n_chars(10001)),
       "description: String should have at most 10000 characters"},
      {"CodeLanguageTooLong", "/generate-code", json_with("language", std::string(51, 'a')),
       "language: String should have at most 50 characters"},
      {"CodeLanguageWithSpace", "/generate-code", json_with("language", "py thon"),
       "language: String should match pattern '^[a-zA-Z#+]+$'"},
      {"CodeLanguageWithDigits", "/generate-code", json_with("language", "c99"),
       "language: String should match pattern '^[a-zA-Z#+]+$'"},
      {"CodeLanguageNotString", "/generate-code", obj("language", "7"), "language: Input should be a valid string"},
      {"ReviewCodeEmpty", "/review-code", json_with("code", ""), "code: String should have at least 1 character"},
      {"ReviewCodeTooLong", "/review-code", json_with("code", n_chars(50001)),
       "code: String should have at most 50000 characters"},
      {"ReviewLanguageTooLong", "/review-code", json_with("language", n_chars(51)),
       "language: String should have at most 50 characters"},
      {"ReviewLanguageNotString", "/review-code", obj("language", "3"), "language: Input should be a valid string"},
  };
  return kCases;
}

class ValidationTest : public SharedServerTest<ValidationTest>, public ::testing::WithParamInterface<Case> {
 public:
  static ServerOptions options() { return {}; }
};

void expect_bad_request(const HttpResponse& r, const std::string& what) {
  ASSERT_EQ(r.status, 400) << what << ": " << r.reason << r.body;
  EXPECT_NE(r.header("content-type").value_or("").find("application/json"), std::string::npos)
      << what << ": a rejected stream request is a JSON error, not an event stream";
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["error"]), r.reason) << what << ": error is the reason phrase; " << r.body;
}

TEST_P(ValidationTest, RejectsWithFieldNamedDetail) {
  const Case& c = GetParam();
  HttpResponse r = http_post(port(), c.path, c.body, c.headers);
  expect_bad_request(r, std::string(c.path) + " " + c.body.substr(0, 80));
  EXPECT_EQ(str(json_of(r)["detail"]), c.detail) << c.path << ": " << r.body;
}

INSTANTIATE_TEST_SUITE_P(AllRoutes, ValidationTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

const char* const kPostRoutes[] = {"/tell-joke",  "/tell-joke/stream",   "/tell-story/stream",
                                   "/translate",  "/describe-image",      "/generate-character",
                                   "/chat",       "/generate-code",       "/review-code"};

class BodyShapeTest : public SharedServerTest<BodyShapeTest> {
 public:
  static ServerOptions options() { return {}; }
};

TEST_F(BodyShapeTest, NonObjectJsonBodyIsRejected) {
  for (const char* path : kPostRoutes) {
    for (const char* body : {"[1]", "\"text\"", "42", "null"}) {
      HttpResponse r = http_post(port(), path, body);
      expect_bad_request(r, std::string(path) + " " + body);
      EXPECT_EQ(str(json_of(r)["detail"]).rfind("body: ", 0), 0u) << path << " " << body << ": " << r.body;
    }
  }
}

TEST_F(BodyShapeTest, MalformedJsonIsRejected) {
  for (const char* path : kPostRoutes) {
    for (const char* body : {"{\"name\":", "{name: 1}", "{} trailing", "\x01"}) {
      HttpResponse r = http_post(port(), path, body);
      expect_bad_request(r, std::string(path) + " " + body);
      EXPECT_EQ(str(json_of(r)["detail"]).rfind("body: malformed JSON", 0), 0u)
          << path << " " << body << ": " << r.body;
    }
  }
}

TEST_F(BodyShapeTest, EmptyBodyAppliesDefaultsOnEveryUnaryRoute) {
  for (const char* path : kPostRoutes) {
    HttpResponse r = http_post(port(), path, "");
    EXPECT_EQ(r.status, 200) << path << ": " << r.reason << r.body;
  }
}

TEST_F(BodyShapeTest, ValuesAtTheLimitsAreAccepted) {
  const std::vector<std::pair<const char*, std::string>> ok = {
      {"/tell-joke", json_with("name", n_chars(200))},
      {"/tell-story/stream", json_with("topic", n_chars(1000))},
      {"/tell-story/stream", json_with("topic", "a")},
      {"/translate", "{\"text\":\"" + n_chars(10000) + "\",\"target_language\":\"" + n_chars(100) + "\"}"},
      {"/describe-image", json_with("image_url", "https://x.example/" + n_chars(2048 - 18))},
      {"/generate-character", json_with("name", n_chars(200))},
      {"/chat", json_with("question", n_chars(5000))},
      {"/generate-code", "{\"description\":\"" + n_chars(10000) + "\",\"language\":\"" + std::string(50, 'C') + "\"}"},
      {"/generate-code", json_with("language", "C#")},
      {"/review-code", "{\"code\":\"" + n_chars(50000) + "\",\"language\":\"" + n_chars(50) + "\"}"},
  };
  for (const auto& [path, body] : ok) {
    HttpResponse r = http_post(port(), path, body);
    EXPECT_EQ(r.status, 200) << path << " " << body.substr(0, 60) << "...: " << r.reason << r.body;
  }
}

}  // namespace
}  // namespace itest
