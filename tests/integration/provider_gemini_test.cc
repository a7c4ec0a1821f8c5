// Every flow route through the real binary against fake_llm speaking the
// Gemini REST wire: what reached the provider (from the fake's recorded
// requests) and what the client got back, plus upstream failures, timeouts,
// structured-output repair, the bounded tool loop and cancellation.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/fake_llm_process.h"
#include "tests/support/grpc_client.h"

namespace itest {
namespace {

using genkit::Json;
using genkit::JsonView;
using std::chrono::milliseconds;

constexpr int kChunkDelayMs = 150;
constexpr const char* kPath = "/v1beta/models/gemini-2.5-flash:generateContent";
constexpr const char* kStreamPath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent";

// The cache and the circuit breaker are off: these tests count and fail
// model calls one by one (resilience_test covers both).
Env gemini_env(const std::string& base_url) {
  return {{"GEMINI_API_KEY", "test-key"}, {"GEMINI_BASE_URL", base_url}, {"DEBUG", "true"},
          {"CACHE_ENABLED", "false"}, {"CB_ENABLED", "false"}};
}

class ProviderGeminiTest : public FakeLlmServerTest<ProviderGeminiTest> {
 public:
  static std::vector<std::string> fake_args() { return {"--chunk-delay-ms", std::to_string(kChunkDelayMs)}; }
  static ServerOptions options() {
    ServerOptions o;
    o.env = gemini_env(fake()->base_url());
    return o;
  }

 protected:
  // The model calls the fake saw; exactly `n` of them, or the test fails.
  std::vector<Json> model_calls(size_t n) {
    std::vector<Json> calls = fake()->model_requests();
    EXPECT_EQ(calls.size(), n) << "model calls recorded by fake_llm: " << fake()->requests().dump();
    return calls;
  }
};

std::string first_text(JsonView body) { return std::string(body["contents"].at(0)["parts"].at(0)["text"].as_string()); }

// Client-visible error body: JSON {error, detail} that leaks neither the key
// nor the provider's own reply.
void expect_clean_error(const HttpResponse& r, int status) {
  EXPECT_EQ(r.status, status) << r.reason << r.body;
  Json j = json_of(r);
  EXPECT_TRUE(j["error"].is_string()) << r.body;
  EXPECT_TRUE(j["detail"].is_string()) << r.body;
  for (const char* secret : {"test-key", "fake_llm", "scripted error", "not JSON {", "<html"}) {
    EXPECT_EQ(r.body.find(secret), std::string::npos) << "'" << secret << "' leaked: " << r.body;
  }
}

TEST_F(ProviderGeminiTest, TellJokeSendsPromptWithKeyAndReturnsModelText) {
  HttpResponse r = http_post(port(), "/tell-joke", "{}");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  Json j = json_of(r);
  EXPECT_EQ(str(j["joke"]), "Gemini says: Tell a medium-length joke about Mittens for user anonymous.") << r.body;
  EXPECT_TRUE(j["username"].is_null()) << r.body;
  std::vector<Json> calls = model_calls(1);
  ASSERT_EQ(calls.size(), 1u);
  JsonView req = calls[0];
  EXPECT_EQ(str(req["path"]), kPath);
  EXPECT_EQ(record_header(req, "x-goog-api-key"), "test-key");
  EXPECT_EQ(str(req["body"]["contents"].at(0)["role"]), "user");
  EXPECT_EQ(first_text(req["body"]), "Tell a medium-length joke about Mittens for user anonymous.");
  EXPECT_FALSE(req["body"]["tools"].present()) << req["body"].dump();
}

TEST_F(ProviderGeminiTest, ChatSendsPirateSystemInstruction) {
  HttpResponse r = http_post(port(), "/chat", R"({"question":"Where is the treasure?"})");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  Json j = json_of(r);
  EXPECT_EQ(str(j["answer"]), "Gemini says: Where is the treasure?") << r.body;
  EXPECT_EQ(str(j["persona"]), "pirate captain");
  std::vector<Json> calls = model_calls(1);
  ASSERT_EQ(calls.size(), 1u);
  JsonView body = calls[0]["body"];
  EXPECT_EQ(str(body["systemInstruction"]["parts"].at(0)["text"]).rfind("You are a pirate captain", 0), 0u)
      << body.dump();
  EXPECT_EQ(first_text(body), "Where is the treasure?");
}

TEST_F(ProviderGeminiTest, TranslateRunsTheToolLoopOnSanitizedText) {
  HttpResponse r = http_post(port(), "/translate", R"({"text":"   hi   ","target_language":"German"})");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  Json j = json_of(r);
  for (const char* key : {"original_text", "translated_text", "target_language", "confidence"}) {
    EXPECT_TRUE(j[key].is_string()) << key << " in " << r.body;
  }
  std::vector<Json> calls = model_calls(2);
  ASSERT_EQ(calls.size(), 2u);
  JsonView first = calls[0]["body"];
  EXPECT_EQ(str(first["tools"].at(0)["functionDeclarations"].at(0)["name"]), "get_current_time") << first.dump();
  EXPECT_EQ(str(first["generationConfig"]["responseMimeType"]), "application/json");
  EXPECT_TRUE(first["generationConfig"]["responseSchema"].is_object()) << first.dump();
  std::string prompt = first_text(first);
  EXPECT_NE(prompt.find("to German."), std::string::npos) << prompt;
  EXPECT_TRUE(prompt.ends_with("\n\nText: hi")) << "sanitize-input must trim the text: " << prompt;

  // The second turn replays the model's call and answers it.
  bool call_seen = false, response_seen = false;
  calls[1]["body"]["contents"].for_each([&](std::string_view, JsonView content) {
    content["parts"].for_each([&](std::string_view, JsonView part) {
      if (part["functionCall"]["name"].as_string() == "get_current_time") {
        call_seen = str(content["role"]) == "model";
      }
      if (part["functionResponse"]["name"].as_string() == "get_current_time") {
        response_seen = part["functionResponse"]["response"].is_object();
      }
    });
  });
  EXPECT_TRUE(call_seen) << calls[1]["body"].dump();
  EXPECT_TRUE(response_seen) << calls[1]["body"].dump();
}

TEST_F(ProviderGeminiTest, DescribeImageSendsTheFetchedImageInline) {
  std::string url = fake()->base_url() + "/media/cat.png";
  HttpResponse png = http_get(fake()->port(), "/media/cat.png");
  ASSERT_EQ(png.status, 200) << png.reason;
  ASSERT_TRUE(fake()->clear_requests());
  HttpResponse r = http_post(port(), "/describe-image", json_with("image_url", url));
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  Json j = json_of(r);
  EXPECT_EQ(str(j["description"]), "Gemini says: Describe this image in detail.") << r.body;
  EXPECT_EQ(str(j["image_url"]), url);
  std::vector<Json> calls = model_calls(1);
  ASSERT_EQ(calls.size(), 1u);
  JsonView parts = calls[0]["body"]["contents"].at(0)["parts"];
  EXPECT_EQ(str(parts.at(0)["text"]), "Describe this image in detail.");
  EXPECT_EQ(str(parts.at(1)["inlineData"]["mimeType"]), "image/png") << parts.dump();
  // Only the fake serves these bytes: proof the server fetched the URL (the
  // fake records model calls only, not media GETs; see tests/fakes/README.md).
  EXPECT_EQ(str(parts.at(1)["inlineData"]["data"]), base64_of(png.body));
}

TEST_F(ProviderGeminiTest, DescribeImageBadUrlsNeverReachTheModel) {
  // 404 and an unreachable host are the client's fault: 400, not 500.
  for (std::string url : {fake()->base_url() + "/media/missing.png", std::string("http://127.0.0.1:1/cat.png")}) {
    HttpResponse r = http_post(port(), "/describe-image", json_with("image_url", url));
    expect_clean_error(r, 400);
    EXPECT_NE(str(json_of(r)["detail"]).find("media"), std::string::npos) << url << ": " << r.body;
  }
  EXPECT_TRUE(fake()->model_requests().empty()) << fake()->requests().dump();
  // resolve_media admits text/* (Gemini reads HTML): it is inlined with its real type.
  HttpResponse r = http_post(port(), "/describe-image", json_with("image_url", fake()->base_url() + "/media/page.html"));
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  std::vector<Json> calls = model_calls(1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(str(calls[0]["body"]["contents"].at(0)["parts"].at(1)["inlineData"]["mimeType"]), "text/html");
}

TEST_F(ProviderGeminiTest, StructuredFlowsAskForJsonAndReplyWithValidObjects) {
  struct Case {
    const char* path;
    const char* body;
    std::vector<const char*> string_keys;
  };
  const Case cases[] = {
      {"/generate-character", R"({"name":"Luna"})", {"name", "backStory"}},
      {"/generate-code", R"({"description":"reverse a list","language":"python"})",
       {"code", "language", "explanation", "filename"}},
      {"/review-code", R"({"code":"def add(a, b):\n    return a + b","language":"python"})", {"summary", "language"}},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(fake()->clear_requests());
    HttpResponse r = http_post(port(), c.path, c.body);
    ASSERT_EQ(r.status, 200) << c.path << ": " << r.reason << r.body;
    Json j = json_of(r);
    for (const char* key : c.string_keys) EXPECT_TRUE(j[key].is_string()) << c.path << " " << key << ": " << r.body;
    std::vector<Json> calls = model_calls(1);
    ASSERT_EQ(calls.size(), 1u) << c.path;
    JsonView gen = calls[0]["body"]["generationConfig"];
    EXPECT_EQ(str(calls[0]["path"]), kPath) << c.path;
    EXPECT_EQ(str(gen["responseMimeType"]), "application/json") << c.path << ": " << gen.dump();
    EXPECT_TRUE(gen["responseSchema"].is_object()) << c.path << ": " << gen.dump();
    if (std::string(c.path) == "/generate-character") {
      EXPECT_TRUE(j["abilities"].is_array()) << r.body;
      for (const char* skill : {"strength", "charisma", "endurance"}) {
        JsonView v = j["skills"][skill];
        EXPECT_TRUE(v.is_integer() && v.as_number() >= 0 && v.as_number() <= 100) << skill << ": " << r.body;
      }
    } else if (std::string(c.path) == "/review-code") {
      EXPECT_TRUE(j["issues"].is_array()) << r.body;
      EXPECT_TRUE(j["score"].is_integer()) << r.body;
      EXPECT_NE(first_text(calls[0]["body"]).find("return a + b"), std::string::npos) << calls[0]["body"].dump();
    }
  }
}

TEST_F(ProviderGeminiTest, StreamRoutesRelayTheProviderChunksAsTheyArrive) {
  struct Case {
    const char* path;
    const char* done_key;
    std::vector<std::string> chunks;
  };
  const Case cases[] = {
      {"/tell-story/stream", "story", {"Once upon ", "a time, ", "a cat ", "sailed."}},
      {"/tell-joke/stream", "joke", {"Why did ", "Mittens ", "purr?"}},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(fake()->clear_requests());
    ASSERT_TRUE(fake()->script(R"({"stream_chunks":)" + json_array_of(c.chunks) + "}")) << fake()->error();
    SseResult sse = post_sse(port(), c.path, "{}");
    ASSERT_TRUE(sse.head) << c.path << ": " << sse.error;
    EXPECT_EQ(sse.head->status, 200) << c.path;
    EXPECT_TRUE(sse.ended) << c.path << ": " << sse.error;
    ASSERT_EQ(sse.events.size(), c.chunks.size() + 1) << c.path << ": " << sse.raw_body;
    std::string all;
    for (size_t i = 0; i < c.chunks.size(); ++i) {
      Json ev = json_or_null(sse.events[i].data);
      EXPECT_EQ(str(ev["chunk"]), c.chunks[i]) << c.path << " event " << i << ": " << sse.events[i].data;
      all += c.chunks[i];
    }
    Json done = json_or_null(sse.events.back().data);
    EXPECT_TRUE(done["done"].as_bool()) << sse.events.back().data;
    EXPECT_EQ(str(done[c.done_key]), all) << sse.events.back().data;
    // The fake pauses kChunkDelayMs between chunks; a relay that buffered
    // would deliver them together.
    auto spread = sse.events[c.chunks.size() - 1].arrived - sse.events[0].arrived;
    EXPECT_GE(spread, milliseconds(kChunkDelayMs * (c.chunks.size() - 1) / 2)) << c.path;
    std::vector<Json> calls = model_calls(1);
    ASSERT_EQ(calls.size(), 1u) << c.path;
    EXPECT_EQ(str(calls[0]["path"]), kStreamPath) << c.path;
    EXPECT_NE(str(calls[0]["query"]).find("alt=sse"), std::string::npos) << calls[0]["query"].dump();
    EXPECT_EQ(record_header(calls[0], "x-goog-api-key"), "test-key");
  }
}

TEST_F(ProviderGeminiTest, UpstreamFailuresMapToGatewayStatusesWithoutLeaks) {
  const std::pair<const char*, int> cases[] = {
      {R"({"status":500})", 502}, {R"({"status":429})", 503}, {R"({"status":400})", 502}, {R"({"garbage":true})", 502}};
  for (const auto& [behaviour, status] : cases) {
    ASSERT_TRUE(fake()->clear_requests());
    ASSERT_TRUE(fake()->script(behaviour)) << fake()->error();
    HttpResponse r = http_post(port(), "/tell-joke", "{}");
    SCOPED_TRACE(behaviour);
    expect_clean_error(r, status);
    EXPECT_EQ(fake()->model_requests().size(), 1u) << "the scripted reply must have been used";
  }
}

TEST_F(ProviderGeminiTest, GarbageMidStreamEndsTheStreamWithAnErrorEvent) {
  ASSERT_TRUE(fake()->script(R"({"garbage":true})"));
  SseResult sse = post_sse(port(), "/tell-story/stream", "{}");
  ASSERT_TRUE(sse.head) << sse.error;
  EXPECT_EQ(sse.head->status, 200);
  EXPECT_TRUE(sse.ended) << sse.error;
  ASSERT_FALSE(sse.events.empty()) << sse.raw_body;
  Json last = json_or_null(sse.events.back().data);
  EXPECT_TRUE(last["error"].is_string()) << sse.events.back().data;
  EXPECT_TRUE(last["done"].as_bool()) << sse.events.back().data;
  EXPECT_EQ(sse.raw_body.find("not JSON {"), std::string::npos) << sse.raw_body;
}

TEST_F(ProviderGeminiTest, HangingProviderPastLlmTimeoutIs504) {
  ServerOptions o;
  o.args = {"--port", "0", "--workers", "1", "--no-grpc"};
  o.env = gemini_env(fake()->base_url());
  o.env["LLM_TIMEOUT"] = "1000";
  std::string why;
  std::unique_ptr<ServerProcess> s = start_server(o, &why);
  ASSERT_TRUE(s) << why;
  ASSERT_TRUE(fake()->script(R"({"hang":true})"));
  auto t0 = Clock::now();
  HttpResponse r = http_post(s->port(), "/chat", "{}");
  auto took = Clock::now() - t0;
  expect_clean_error(r, 504);
  EXPECT_GE(took, milliseconds(900));
  EXPECT_LT(took, milliseconds(4000));
  EXPECT_EQ(s->stop(), std::optional<int>(0)) << s->stderr_text();
}

// REQUEST_TIMEOUT (the seed's Timeout middleware): 504 JSON, and the model
// call still running is cancelled (the fake sees its client hang up); on
// the REST route and on Genkit's flow server.
TEST_F(ProviderGeminiTest, RequestTimeoutIs504AndCancelsTheModelCall) {
  ServerOptions o;
  o.args = {"--port", "0", "--workers", "1", "--no-grpc"};
  o.env = gemini_env(fake()->base_url());
  o.env["REQUEST_TIMEOUT"] = "1";
  std::string why;
  std::unique_ptr<ServerProcess> s = start_server(o, &why);
  ASSERT_TRUE(s) << why;
  ASSERT_TRUE(fake()->script(R"({"hang":true})"));
  const std::size_t before = model_calls_to(*fake(), "generateContent").size();
  auto t0 = Clock::now();
  HttpResponse r = http_post(s->port(), "/chat", "{}");
  auto took = Clock::now() - t0;
  expect_clean_error(r, 504);
  EXPECT_NE(json_of(r)["detail"].dump().find("REQUEST_TIMEOUT"), std::string::npos) << r.body;
  EXPECT_LT(took, milliseconds(4000));
  std::string last;
  Json closed = wait_upstream_closed(*fake(), "generateContent", before, milliseconds(3000), &last);
  EXPECT_FALSE(closed.view().is_null()) << "the model call outlived its request; the fake saw: " << last;

  // The same deadline on Genkit's flow server: DEADLINE_EXCEEDED in Genkit's
  // words, and the model call cancelled too.
  ASSERT_TRUE(fake()->script(R"({"hang":true})"));
  const std::size_t before_flow = model_calls_to(*fake(), "generateContent").size();
  HttpResponse flow = http_post(s->port(), "/pirate_chat", R"({"data":{"question":"Ahoy?"}})");
  ASSERT_EQ(flow.status, 504) << flow.body;
  EXPECT_EQ(str(json_of(flow)["status"]), "DEADLINE_EXCEEDED") << flow.body;
  EXPECT_NE(str(json_of(flow)["message"]).find("REQUEST_TIMEOUT"), std::string::npos) << flow.body;
  closed = wait_upstream_closed(*fake(), "generateContent", before_flow, milliseconds(3000), &last);
  EXPECT_FALSE(closed.view().is_null()) << "the flow server's model call outlived its request: " << last;
  EXPECT_EQ(s->stop(), std::optional<int>(0)) << s->stderr_text();
}

TEST_F(ProviderGeminiTest, InvalidStructuredOutputIsRepairedOnce) {
  ASSERT_TRUE(fake()->script(R"({"json":{"wrong":1}})"));
  HttpResponse r = http_post(port(), "/generate-character", R"({"name":"Luna"})");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_TRUE(json_of(r)["skills"].is_object()) << r.body;
  std::vector<Json> calls = model_calls(2);
  ASSERT_EQ(calls.size(), 2u);
  std::string second = calls[1]["body"].dump();
  EXPECT_NE(second.find("Your previous reply was not valid"), std::string::npos) << second;
  EXPECT_NE(second.find("wrong"), std::string::npos) << "the invalid reply should be replayed: " << second;
}

TEST_F(ProviderGeminiTest, StructuredOutputInvalidTwiceIs502) {
  ASSERT_TRUE(fake()->script(R"([{"json":{"wrong":1}},{"json":{"wrong":2}}])"));
  HttpResponse r = http_post(port(), "/generate-character", R"({"name":"Luna"})");
  expect_clean_error(r, 502);
  model_calls(2);
}

TEST_F(ProviderGeminiTest, ToolLoopIsBoundedToFiveTurns) {
  const std::string call = R"({"function_call":{"name":"get_current_time","args":{}}})";
  std::string five = "[" + call + "," + call + "," + call + "," + call + "," + call + "]";
  ASSERT_TRUE(fake()->script(five));
  HttpResponse ok = http_post(port(), "/translate", R"({"text":"hi"})");
  EXPECT_EQ(ok.status, 200) << "five tool turns are allowed: " << ok.body;
  model_calls(6);

  ASSERT_TRUE(fake()->reset());
  ASSERT_TRUE(fake()->script("[" + call + "," + five.substr(1)));
  HttpResponse r = http_post(port(), "/translate", R"({"text":"hi"})");
  expect_clean_error(r, 502);
  model_calls(6);
}

TEST_F(ProviderGeminiTest, ClientDisconnectCancelsTheProviderCall) {
  ASSERT_TRUE(fake()->script(R"({"hang":true})"));
  {
    HttpClient c(port());
    ASSERT_TRUE(c.send_raw(build_request("POST", "/chat", R"({"question":"ahoy?"})"))) << c.error();
    ASSERT_TRUE(FakeLlmProcess::eventually([&] { return !fake()->model_requests().empty(); }, milliseconds(3000)))
        << "the request never reached the fake";
    std::this_thread::sleep_for(milliseconds(300));
    EXPECT_FALSE(fake()->model_requests().at(0)["client_closed"].as_bool()) << "closed before the client left";
  }  // closes the socket
  bool closed = FakeLlmProcess::eventually(
      [&] {
        std::vector<Json> calls = fake()->model_requests();
        return calls.size() == 1 && calls[0]["client_closed"].as_bool();
      },
      milliseconds(5000));
  EXPECT_TRUE(closed) << "the server kept the provider call open: " << fake()->requests().dump();
}

// The suite's base URL (an IP literal) takes the server's own HTTP/1.1
// transport; a host name takes libcurl. The same wire, through libcurl:
// a unary flow, a relayed stream, error mapping and cancellation.
TEST_F(ProviderGeminiTest, AHostNameBaseUrlRunsTheFlowsThroughLibcurl) {
  ServerOptions o;
  o.args = {"--port", "0", "--workers", "1", "--no-grpc"};
  std::string base = fake()->base_url();
  o.env = gemini_env("http://localhost" + base.substr(base.rfind(':')));
  std::string why;
  std::unique_ptr<ServerProcess> s = start_server(o, &why);
  ASSERT_TRUE(s) << why;

  HttpResponse r = http_post(s->port(), "/tell-joke", "{}");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(str(json_of(r)["joke"]), "Gemini says: Tell a medium-length joke about Mittens for user anonymous.");
  std::vector<Json> calls = model_calls(1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(record_header(calls[0], "x-goog-api-key"), "test-key");

  ASSERT_TRUE(fake()->script(R"({"stream_chunks":["Once ","upon ","a time."]})"));
  SseResult sse = post_sse(s->port(), "/tell-story/stream", "{}");
  ASSERT_TRUE(sse.ended) << sse.error;
  ASSERT_EQ(sse.events.size(), 4u) << sse.raw_body;
  EXPECT_EQ(str(json_or_null(sse.events[1].data)["chunk"]), "upon ");
  EXPECT_GE(sse.events[2].arrived - sse.events[0].arrived, milliseconds(kChunkDelayMs)) << "chunks arrived together";

  ASSERT_TRUE(fake()->script(R"({"status":429})"));
  expect_clean_error(http_post(s->port(), "/tell-joke", "{}"), 503);

  ASSERT_TRUE(fake()->clear_requests());
  ASSERT_TRUE(fake()->script(R"({"hang":true})"));
  {
    HttpClient c(s->port());
    ASSERT_TRUE(c.send_raw(build_request("POST", "/chat", R"({"question":"ahoy?"})"))) << c.error();
    ASSERT_TRUE(FakeLlmProcess::eventually([&] { return !fake()->model_requests().empty(); }, milliseconds(3000)));
  }
  EXPECT_TRUE(FakeLlmProcess::eventually(
      [&] {
        std::vector<Json> held = fake()->model_requests();
        return held.size() == 1 && held[0]["client_closed"].as_bool();
      },
      milliseconds(5000)))
      << "the provider call stayed open after the client left";
  EXPECT_EQ(s->stop(), std::optional<int>(0)) << s->stderr_text();
}

}  // namespace
}  // namespace itest
