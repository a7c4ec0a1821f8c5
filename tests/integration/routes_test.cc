// Every REST route against the contract: status, body shape, defaults, and
// the deterministic mock/echo replies. One production-mode server (DEBUG off,
// MODEL unset) and one DEBUG server for the debug-only routes.
#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

constexpr const char* kDefaultImage =
    "https://upload.wikimedia.org/wikipedia/commons/4/47/PNG_transparency_demonstration_1.png";

class RoutesTest : public SharedServerTest<RoutesTest> {
 public:
  static ServerOptions options() { return {}; }
};

TEST_F(RoutesTest, HealthAndHealthzReturnOk) {
  for (const char* path : {"/health", "/healthz"}) {
    HttpResponse r = http_get(port(), path);
    ASSERT_EQ(r.status, 200) << path << " " << r.reason << r.body;
    genkit::Json j = json_of(r);
    EXPECT_EQ(str(j["status"]), "ok") << path << ": " << r.body;
    EXPECT_NE(r.header("content-type").value_or("").find("application/json"), std::string::npos) << path;
  }
}

TEST_F(RoutesTest, ReadyIsUnavailableInProductionWithDefaultMock) {
  for (const char* path : {"/ready", "/readyz"}) {
    HttpResponse r = http_get(port(), path);
    ASSERT_EQ(r.status, 503) << path << " " << r.reason << r.body;
    genkit::Json j = json_of(r);
    EXPECT_EQ(str(j["status"]), "unavailable") << r.body;
    EXPECT_EQ(str(j["checks"]["model"]), "mock/echo") << r.body;
  }
}

TEST_F(RoutesTest, DocsRoutesAreOffWithoutDebug) {
  EXPECT_EQ(http_get(port(), "/openapi.json").status, 404);
  EXPECT_EQ(http_get(port(), "/docs").status, 404);
}

TEST_F(RoutesTest, TellJokeDefaults) {
  for (const char* body : {"", "{}"}) {
    HttpResponse r = http_post(port(), "/tell-joke", body);
    ASSERT_EQ(r.status, 200) << "body '" << body << "': " << r.reason << r.body;
    genkit::Json j = json_of(r);
    EXPECT_EQ(str(j["joke"]), "Echo: Tell a medium-length joke about Mittens for user anonymous.") << r.body;
    EXPECT_TRUE(j["username"].is_null()) << r.body;
  }
}

TEST_F(RoutesTest, TellJokeUsesNameAndAuthorizationHeader) {
  HttpResponse r = http_post(port(), "/tell-joke", R"({"name":"Pixel"})", {{"Authorization", "Alice"}});
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["joke"]), "Echo: Tell a medium-length joke about Pixel for user Alice.") << r.body;
  EXPECT_EQ(str(j["username"]), "Alice") << r.body;
}

TEST_F(RoutesTest, TellJokeAcceptsNameOfExactlyMaxLengthCountedInCharacters) {
  // 200 two-byte characters: pydantic counts characters, not bytes.
  std::string name;
  for (int i = 0; i < 200; ++i) name += "\xc3\xa9";  // é
  HttpResponse r = http_post(port(), "/tell-joke", json_with("name", name));
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(str(json_of(r)["joke"]), "Echo: Tell a medium-length joke about " + name + " for user anonymous.");
}

TEST_F(RoutesTest, TranslateDefaultsAndShape) {
  HttpResponse r = http_post(port(), "/translate", "{}");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  genkit::Json j = json_of(r);
  ASSERT_TRUE(j.view().is_object()) << r.body;
  for (const char* key : {"original_text", "translated_text", "target_language", "confidence"}) {
    EXPECT_TRUE(j[key].is_string()) << key << " in " << r.body;
  }
  EXPECT_NE(str(j["translated_text"]).find("Northern Lights"), std::string::npos)
      << "the echo should carry the default text: " << r.body;
  EXPECT_NE(str(j["translated_text"]).find("French"), std::string::npos) << r.body;
}

TEST_F(RoutesTest, TranslateUsesGivenTextAndLanguage) {
  HttpResponse r = http_post(port(), "/translate", R"({"text":"Good morning","target_language":"German"})");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  genkit::Json j = json_of(r);
  for (const char* key : {"original_text", "translated_text", "target_language", "confidence"}) {
    EXPECT_TRUE(j[key].is_string()) << key << " in " << r.body;
  }
  EXPECT_NE(str(j["translated_text"]).find("Good morning"), std::string::npos) << r.body;
  EXPECT_NE(str(j["translated_text"]).find("German"), std::string::npos) << r.body;
}

TEST_F(RoutesTest, DescribeImageDefault) {
  HttpResponse r = http_post(port(), "/describe-image", "");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["description"]), std::string("Echo: Describe this image in detail. [media: ") + kDefaultImage + "]")
      << r.body;
  EXPECT_EQ(str(j["image_url"]), kDefaultImage) << r.body;
}

TEST_F(RoutesTest, DescribeImageGivenUrl) {
  const std::string url = "https://example.com/cat.png";
  HttpResponse r = http_post(port(), "/describe-image", json_with("image_url", url));
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["description"]), "Echo: Describe this image in detail. [media: " + url + "]") << r.body;
  EXPECT_EQ(str(j["image_url"]), url) << r.body;
}

void expect_character(const HttpResponse& r) {
  genkit::Json j = json_of(r);
  EXPECT_TRUE(j["name"].is_string()) << r.body;
  EXPECT_TRUE(j["backStory"].is_string()) << r.body;
  ASSERT_TRUE(j["abilities"].is_array()) << r.body;
  EXPECT_LE(j["abilities"].size(), 10u) << r.body;
  j["abilities"].for_each([&](std::string_view, genkit::JsonView a) { EXPECT_TRUE(a.is_string()) << r.body; });
  ASSERT_TRUE(j["skills"].is_object()) << r.body;
  for (const char* skill : {"strength", "charisma", "endurance"}) {
    genkit::JsonView v = j["skills"][skill];
    ASSERT_TRUE(v.is_integer()) << skill << " in " << r.body;
    EXPECT_GE(v.as_number(), 0) << skill;
    EXPECT_LE(v.as_number(), 100) << skill;
  }
}

TEST_F(RoutesTest, GenerateCharacterDefaultAndNamed) {
  HttpResponse r = http_post(port(), "/generate-character", "{}");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  expect_character(r);
  EXPECT_NE(r.body.find("Luna"), std::string::npos) << "default name Luna should be echoed: " << r.body;

  HttpResponse named = http_post(port(), "/generate-character", R"({"name":"Borin"})");
  ASSERT_EQ(named.status, 200) << named.reason << named.body;
  expect_character(named);
  EXPECT_NE(named.body.find("Borin"), std::string::npos) << named.body;
}

TEST_F(RoutesTest, ChatDefaultAndQuestion) {
  HttpResponse r = http_post(port(), "/chat", "{}");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  genkit::Json j = json_of(r);
  std::string answer = str(j["answer"]);
  EXPECT_EQ(answer.rfind("Echo: You are a pirate captain", 0), 0u) << r.body;
  EXPECT_TRUE(answer.ends_with(" What is the best programming language?")) << r.body;
  EXPECT_EQ(str(j["persona"]), "pirate captain") << r.body;

  HttpResponse q = http_post(port(), "/chat", R"({"question":"Where is the treasure?"})");
  ASSERT_EQ(q.status, 200) << q.reason << q.body;
  EXPECT_TRUE(str(json_of(q)["answer"]).ends_with(" Where is the treasure?")) << q.body;
}

TEST_F(RoutesTest, GenerateCodeShape) {
  for (const char* body : {"{}", R"({"description":"reverse a string","language":"C++"})"}) {
    HttpResponse r = http_post(port(), "/generate-code", body);
    ASSERT_EQ(r.status, 200) << body << ": " << r.reason << r.body;
    genkit::Json j = json_of(r);
    for (const char* key : {"code", "language", "explanation", "filename"}) {
      EXPECT_TRUE(j[key].is_string()) << key << " in " << r.body;
    }
  }
}

TEST_F(RoutesTest, ReviewCodeShape) {
  for (const char* body : {"{}", R"({"code":"int main() { return 0; }","language":"cpp"})",
                           R"({"code":"x = 1","language":null})"}) {
    HttpResponse r = http_post(port(), "/review-code", body);
    ASSERT_EQ(r.status, 200) << body << ": " << r.reason << r.body;
    genkit::Json j = json_of(r);
    EXPECT_TRUE(j["summary"].is_string()) << r.body;
    ASSERT_TRUE(j["issues"].is_array()) << r.body;
    j["issues"].for_each([&](std::string_view, genkit::JsonView i) { EXPECT_TRUE(i.is_object()) << r.body; });
    EXPECT_TRUE(j["score"].is_integer()) << r.body;
    EXPECT_TRUE(j["language"].is_string()) << r.body;
  }
}

// DEBUG=true: /ready turns 200 on the mock, and the API docs are served.
class DebugRoutesTest : public SharedServerTest<DebugRoutesTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"DEBUG", "true"}};
    return o;
  }
};

TEST_F(DebugRoutesTest, ReadyIsOkInDebug) {
  for (const char* path : {"/ready", "/readyz"}) {
    HttpResponse r = http_get(port(), path);
    ASSERT_EQ(r.status, 200) << path << " " << r.reason << r.body;
    genkit::Json j = json_of(r);
    EXPECT_EQ(str(j["status"]), "ok") << r.body;
    EXPECT_EQ(str(j["checks"]["model"]), "mock/echo") << r.body;
  }
}

TEST_F(DebugRoutesTest, OpenApiDocumentListsTheRoutes) {
  HttpResponse r = http_get(port(), "/openapi.json");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  genkit::Json j = json_of(r);
  ASSERT_TRUE(j["paths"].is_object()) << r.body.substr(0, 500);
  for (const char* path : {"/tell-joke", "/tell-joke/stream", "/translate", "/describe-image",
                           "/generate-character", "/chat", "/tell-story/stream", "/generate-code", "/review-code"}) {
    EXPECT_TRUE(j["paths"][path].present()) << path << " missing from /openapi.json";
  }
}

TEST_F(DebugRoutesTest, DocsPageIsServed) {
  HttpResponse r = http_get(port(), "/docs");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_NE(r.header("content-type").value_or("").find("text/html"), std::string::npos);
  EXPECT_FALSE(r.body.empty());
}

// MODEL=mock/echo set explicitly is a deliberate choice: ready even in production.
class ExplicitMockModelTest : public SharedServerTest<ExplicitMockModelTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"MODEL", "mock/echo"}};
    return o;
  }
};

TEST_F(ExplicitMockModelTest, ReadyIsOk) {
  HttpResponse r = http_get(port(), "/ready");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(str(json_of(r)["status"]), "ok") << r.body;
}

}  // namespace
}  // namespace itest
