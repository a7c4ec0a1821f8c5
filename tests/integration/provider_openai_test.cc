// The flow routes through the real binary against fake_llm speaking the
// OpenAI chat-completions wire (MODEL=openai/test-model): the request bodies
// and headers the provider received, the replies, streaming and error mapping.
#include <gtest/gtest.h>

#include "tests/support/fake_llm_process.h"

namespace itest {
namespace {

using genkit::Json;
using genkit::JsonView;
using std::chrono::milliseconds;

constexpr int kChunkDelayMs = 100;
constexpr const char* kPath = "/v1/chat/completions";

class ProviderOpenAiTest : public FakeLlmServerTest<ProviderOpenAiTest> {
 public:
  static std::vector<std::string> fake_args() { return {"--chunk-delay-ms", std::to_string(kChunkDelayMs)}; }
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"MODEL", "openai/test-model"},
             {"OPENAI_BASE_URL", fake()->base_url() + "/v1"},
             {"OPENAI_API_KEY", "sk-test"},
             {"DEBUG", "true"},
             // Off: these tests count and fail model calls one by one.
             {"CACHE_ENABLED", "false"},
             {"CB_ENABLED", "false"}};
    return o;
  }

 protected:
  // The single model call of the test, checked for the common envelope.
  Json one_call() {
    std::vector<Json> calls = fake()->model_requests();
    EXPECT_EQ(calls.size(), 1u) << fake()->requests().dump();
    if (calls.empty()) return Json::null();
    expect_envelope(calls[0]);
    return calls[0];
  }

  static void expect_envelope(JsonView call) {
    EXPECT_EQ(str(call["path"]), kPath);
    EXPECT_EQ(record_header(call, "authorization"), "Bearer sk-test");
    EXPECT_EQ(str(call["body"]["model"]), "test-model") << call["body"].dump();
  }
};

// The text of the last message with `role`.
std::string last_text(JsonView body, std::string_view role) {
  std::string out;
  body["messages"].for_each([&](std::string_view, JsonView m) {
    if (m["role"].as_string() == role) out = std::string(m["content"].as_string());
  });
  return out;
}

TEST_F(ProviderOpenAiTest, TellJokeSendsModelKeyAndPrompt) {
  HttpResponse r = http_post(port(), "/tell-joke", R"({"name":"Pixel"})", {{"Authorization", "Alice"}});
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  Json j = json_of(r);
  EXPECT_EQ(str(j["joke"]), "OpenAI says: Tell a medium-length joke about Pixel for user Alice.") << r.body;
  EXPECT_EQ(str(j["username"]), "Alice");
  Json call = one_call();
  EXPECT_EQ(last_text(call["body"], "user"), "Tell a medium-length joke about Pixel for user Alice.");
  EXPECT_FALSE(call["body"]["stream"].as_bool()) << call["body"].dump();
  EXPECT_FALSE(call["body"]["tools"].present()) << call["body"].dump();
}

TEST_F(ProviderOpenAiTest, ChatSendsTheSystemMessageFirst) {
  HttpResponse r = http_post(port(), "/chat", R"({"question":"Where is the treasure?"})");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(str(json_of(r)["answer"]), "OpenAI says: Where is the treasure?") << r.body;
  Json call = one_call();
  JsonView messages = call["body"]["messages"];
  EXPECT_EQ(str(messages.at(0)["role"]), "system") << messages.dump();
  EXPECT_EQ(str(messages.at(0)["content"]).rfind("You are a pirate captain", 0), 0u) << messages.dump();
  EXPECT_EQ(str(messages.at(1)["role"]), "user");
  EXPECT_EQ(str(messages.at(1)["content"]), "Where is the treasure?");
}

TEST_F(ProviderOpenAiTest, TranslateAnswersTheToolCallById) {
  HttpResponse r = http_post(port(), "/translate", R"({"text":"  Good morning  ","target_language":"Italian"})");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  Json j = json_of(r);
  for (const char* key : {"original_text", "translated_text", "target_language", "confidence"}) {
    EXPECT_TRUE(j[key].is_string()) << key << " in " << r.body;
  }
  std::vector<Json> calls = fake()->model_requests();
  ASSERT_EQ(calls.size(), 2u) << fake()->requests().dump();
  for (const Json& c : calls) expect_envelope(c);
  JsonView first = calls[0]["body"];
  EXPECT_EQ(str(first["tools"].at(0)["type"]), "function") << first.dump();
  EXPECT_EQ(str(first["tools"].at(0)["function"]["name"]), "get_current_time") << first.dump();
  EXPECT_EQ(str(first["response_format"]["type"]), "json_schema") << first.dump();
  EXPECT_TRUE(last_text(first, "user").ends_with("\n\nText: Good morning")) << last_text(first, "user");

  // Second request: the assistant's tool_calls, then a tool message for that id.
  std::string call_id, answered_id, tool_content;
  calls[1]["body"]["messages"].for_each([&](std::string_view, JsonView m) {
    if (m["role"].as_string() == "assistant" && m["tool_calls"].size() > 0) {
      EXPECT_EQ(str(m["tool_calls"].at(0)["function"]["name"]), "get_current_time");
      call_id = str(m["tool_calls"].at(0)["id"]);
    }
    if (m["role"].as_string() == "tool") {
      answered_id = str(m["tool_call_id"]);
      tool_content = str(m["content"]);
    }
  });
  EXPECT_EQ(call_id, "call_1") << "the id the fake gave: " << calls[1]["body"].dump();
  EXPECT_EQ(answered_id, call_id) << calls[1]["body"].dump();
  EXPECT_NE(tool_content.find("UTC"), std::string::npos) << "get_current_time's result: " << tool_content;
}

TEST_F(ProviderOpenAiTest, DescribeImagePassesTheUrlAsAnImagePart) {
  const std::string url = "https://example.com/cat.png";
  HttpResponse r = http_post(port(), "/describe-image", json_with("image_url", url));
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  Json j = json_of(r);
  EXPECT_EQ(str(j["description"]), "OpenAI says: Describe this image in detail.") << r.body;
  EXPECT_EQ(str(j["image_url"]), url);
  Json call = one_call();
  JsonView content = call["body"]["messages"].at(0)["content"];
  ASSERT_TRUE(content.is_array()) << call["body"].dump();
  EXPECT_EQ(str(content.at(0)["type"]), "text");
  EXPECT_EQ(str(content.at(0)["text"]), "Describe this image in detail.");
  EXPECT_EQ(str(content.at(1)["type"]), "image_url");
  EXPECT_EQ(str(content.at(1)["image_url"]["url"]), url);
}

TEST_F(ProviderOpenAiTest, StructuredFlowsAskForJsonSchema) {
  const std::pair<const char*, const char*> cases[] = {
      {"/generate-character", R"({"name":"Luna"})"},
      {"/generate-code", R"({"description":"reverse a list","language":"python"})"},
      {"/review-code", R"({"code":"def add(a, b):\n    return a + b"})"},
  };
  for (const auto& [path, body] : cases) {
    ASSERT_TRUE(fake()->clear_requests());
    HttpResponse r = http_post(port(), path, body);
    ASSERT_EQ(r.status, 200) << path << ": " << r.reason << r.body;
    Json j = json_of(r);
    EXPECT_TRUE(j.view().is_object()) << path << ": " << r.body;
    Json call = one_call();
    JsonView format = call["body"]["response_format"];
    EXPECT_EQ(str(format["type"]), "json_schema") << path << ": " << call["body"].dump();
    EXPECT_TRUE(format["json_schema"]["schema"].is_object()) << path << ": " << format.dump();
    if (std::string(path) == "/generate-character") {
      for (const char* skill : {"strength", "charisma", "endurance"}) {
        JsonView v = j["skills"][skill];
        EXPECT_TRUE(v.is_integer() && v.as_number() >= 0 && v.as_number() <= 100) << skill << ": " << r.body;
      }
    } else if (std::string(path) == "/generate-code") {
      for (const char* key : {"code", "language", "explanation", "filename"}) {
        EXPECT_TRUE(j[key].is_string()) << key << ": " << r.body;
      }
    } else {
      EXPECT_TRUE(j["summary"].is_string() && j["issues"].is_array() && j["score"].is_integer()) << r.body;
    }
  }
}

TEST_F(ProviderOpenAiTest, StreamRoutesRelayChunksAsSent) {
  const std::tuple<const char*, const char*, std::vector<std::string>> cases[] = {
      {"/tell-story/stream", "story", {"Once ", "upon ", "a time."}},
      {"/tell-joke/stream", "joke", {"Knock, ", "knock. ", "Who's there?"}},
  };
  for (const auto& [path, key, chunks] : cases) {
    ASSERT_TRUE(fake()->clear_requests());
    ASSERT_TRUE(fake()->script(R"({"stream_chunks":)" + json_array_of(chunks) + "}")) << fake()->error();
    SseResult sse = post_sse(port(), path, "{}");
    ASSERT_TRUE(sse.head) << path << ": " << sse.error;
    EXPECT_EQ(sse.head->status, 200) << path;
    EXPECT_TRUE(sse.ended) << path << ": " << sse.error;
    ASSERT_EQ(sse.events.size(), chunks.size() + 1) << path << ": " << sse.raw_body;
    std::string all;
    for (size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_EQ(str(json_or_null(sse.events[i].data)["chunk"]), chunks[i]) << path << " event " << i;
      all += chunks[i];
    }
    Json done = json_or_null(sse.events.back().data);
    EXPECT_TRUE(done["done"].as_bool()) << sse.events.back().data;
    EXPECT_EQ(str(done[key]), all) << sse.events.back().data;
    auto spread = sse.events[chunks.size() - 1].arrived - sse.events[0].arrived;
    EXPECT_GE(spread, milliseconds(kChunkDelayMs * (chunks.size() - 1) / 2)) << path << ": chunks were buffered";
    Json call = one_call();
    EXPECT_TRUE(call["body"]["stream"].as_bool()) << call["body"].dump();
  }
}

TEST_F(ProviderOpenAiTest, UpstreamFailuresMapToGatewayStatuses) {
  const std::pair<const char*, int> cases[] = {
      {R"({"status":500})", 502}, {R"({"status":429})", 503}, {R"({"status":400})", 502}, {R"({"garbage":true})", 502}};
  for (const auto& [behaviour, status] : cases) {
    SCOPED_TRACE(behaviour);
    ASSERT_TRUE(fake()->clear_requests());
    ASSERT_TRUE(fake()->script(behaviour)) << fake()->error();
    HttpResponse r = http_post(port(), "/chat", "{}");
    EXPECT_EQ(r.status, status) << r.reason << r.body;
    Json j = json_of(r);
    EXPECT_TRUE(j["error"].is_string() && j["detail"].is_string()) << r.body;
    for (const char* secret : {"sk-test", "fake_llm", "scripted error", "<html"}) {
      EXPECT_EQ(r.body.find(secret), std::string::npos) << "'" << secret << "' leaked: " << r.body;
    }
    one_call();
  }
}

}  // namespace
}  // namespace itest
