// Genkit's flow server (docs/genkit-protocols.md §1) through the real
// binary: POST /<flow> and /flows/<flow> for every registered flow, body
// {"data": ...} → {"result": ...} with the run's trace ids, streaming by
// ?stream=true or Accept (message blocks, then the result or an error
// block), Genkit's error format and codes, the api-key provider's answers,
// and the shared cache and REQUEST_TIMEOUT of the REST routes.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "tests/support/shared_state_support.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using genkit::Json;

constexpr int kChunkDelayMs = 100;
constexpr const char* kStory = "Echo: Write a short story (3-4 paragraphs) about a brave cat.";

class FlowServerTest : public SharedServerTest<FlowServerTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"MOCK_CHUNK_DELAY_MS", std::to_string(kChunkDelayMs)}};
    return o;
  }
};

bool is_hex(const std::string& s, size_t n) { return std::regex_match(s, std::regex("[0-9a-f]{" + std::to_string(n) + "}")); }

// A 200 {"result": ...} with the run's trace headers; returns the result.
Json expect_result(const HttpResponse& r, const std::string& what) {
  EXPECT_EQ(r.status, 200) << what << ": " << r.reason << r.body;
  EXPECT_EQ(r.header("content-type").value_or("").rfind("application/json", 0), 0u) << what;
  EXPECT_TRUE(is_hex(r.header("x-genkit-trace-id").value_or(""), 32))
      << what << ": x-genkit-trace-id " << r.header("x-genkit-trace-id").value_or("<missing>");
  EXPECT_TRUE(is_hex(r.header("x-genkit-span-id").value_or(""), 16))
      << what << ": x-genkit-span-id " << r.header("x-genkit-span-id").value_or("<missing>");
  Json j = json_of(r);
  EXPECT_TRUE(j["result"].present()) << what << ": " << r.body;
  EXPECT_EQ(j.view().size(), 1u) << what << ": " << r.body;
  return Json::copy_of(j["result"]);
}

// A Genkit error body: {"status": ..., "message": ...[, "details": ...]}.
Json expect_error(const HttpResponse& r, int status, const std::string& name, const std::string& what) {
  EXPECT_EQ(r.status, status) << what << ": " << r.reason << r.body;
  Json j = json_of(r);
  EXPECT_EQ(str(j["status"]), name) << what << ": " << r.body;
  EXPECT_TRUE(j["message"].is_string()) << what << ": " << r.body;
  EXPECT_FALSE(j["error"].present()) << what << ": not our REST format: " << r.body;
  return j;
}

struct Blocks {
  std::vector<std::string> messages;
  Json result;  // null when none
  Json error;   // the error block's {"error": ...}, null when none
};

// Checks the framing of a streamed flow-server body and takes it apart.
Blocks parse_stream(const SseResult& sse, const std::string& what) {
  Blocks b;
  EXPECT_TRUE(sse.head) << what << ": " << sse.error;
  if (!sse.head) return b;
  EXPECT_EQ(sse.head->status, 200) << what;
  EXPECT_EQ(sse.head->header("content-type").value_or("").rfind("text/plain", 0), 0u)
      << what << ": " << sse.head->header("content-type").value_or("<missing>");
  EXPECT_TRUE(sse.head->chunked) << what;
  EXPECT_TRUE(sse.ended) << what << ": the stream did not end: " << sse.error;
  for (size_t i = 0; i < sse.events.size(); ++i) {
    const std::string& raw = sse.events[i].raw;
    bool last = i + 1 == sse.events.size();
    bool is_error = raw.rfind("error: ", 0) == 0;
    EXPECT_TRUE(raw.rfind("data: ", 0) == 0 || (last && is_error)) << what << ": block " << i << ": " << raw;
    EXPECT_EQ(raw.find('\n'), raw.size() - 2) << what << ": block " << i << " is not one line: " << raw;
    genkit::Result<Json> j = Json::parse(raw.substr(is_error ? 7 : 6));
    EXPECT_TRUE(j.ok()) << what << ": block " << i << ": " << raw;
    if (!j.ok()) continue;
    EXPECT_EQ(j->view().size(), 1u) << what << ": " << raw;
    if (is_error) {
      b.error = Json::copy_of(j->view()["error"]);
    } else if (j->view()["message"].present()) {
      EXPECT_FALSE(last) << what << ": the stream ends without a result: " << raw;
      b.messages.push_back(str(j->view()["message"]));
    } else {
      EXPECT_TRUE(last) << what << ": the result must be the last block: " << raw;
      EXPECT_TRUE(j->view()["result"].present()) << what << ": " << raw;
      b.result = Json::copy_of(j->view()["result"]);
    }
  }
  EXPECT_NE(b.result.view().is_null(), b.error.view().is_null())
      << what << ": exactly one of result and error must end the stream: " << sse.raw_body;
  return b;
}

TEST_F(FlowServerTest, UnaryFlowsUnderBothPaths) {
  for (std::string prefix : {"", "/flows"}) {
    Json joke = expect_result(http_post(port(), prefix + "/tell_joke", R"({"data":{"name":"Biscuit"}})"),
                              prefix + "/tell_joke");
    EXPECT_EQ(str(joke), "Echo: Tell a medium-length joke about Biscuit for user anonymous.") << joke.dump();
    Json story = expect_result(http_post(port(), prefix + "/tell_story", R"({"data":{"topic":"a lighthouse"}})"),
                               prefix + "/tell_story");
    EXPECT_EQ(str(story), "Echo: Write a short story (3-4 paragraphs) about a lighthouse.");
    Json chat = expect_result(http_post(port(), prefix + "/pirate_chat", R"({"data":{"question":"Where be ye?"}})"),
                              prefix + "/pirate_chat");
    EXPECT_NE(str(chat).find("Where be ye?"), std::string::npos) << chat.dump();
    Json tr = expect_result(
        http_post(port(), prefix + "/translate_text",
                  R"({"data":{"text":"Good night )" + prefix + R"(","target_language":"German"}})"),
        prefix + "/translate_text");
    EXPECT_NE(str(tr["translated_text"]).find("German"), std::string::npos) << tr.dump();
  }
}

TEST_F(FlowServerTest, EveryRunHasItsOwnTraceAndContinuesTheCallers) {
  HttpResponse a = http_post(port(), "/tell_joke", R"({"data":{}})");
  HttpResponse b = http_post(port(), "/tell_joke", R"({"data":{}})");
  expect_result(a, "a");
  expect_result(b, "b");
  EXPECT_NE(a.header("x-genkit-trace-id"), b.header("x-genkit-trace-id"));
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  HttpResponse c = http_post(port(), "/tell_joke", R"({"data":{}})",
                             {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
  expect_result(c, "traceparent");
  EXPECT_EQ(c.header("x-genkit-trace-id").value_or(""), trace);
  EXPECT_NE(c.header("x-genkit-span-id").value_or(""), "00f067aa0ba902b7");
}

// No `data` (or null): the input is checked as {}, so the defaults apply.
TEST_F(FlowServerTest, MissingDataMeansTheSchemaDefaults) {
  for (const char* body : {"", "{}", R"({"data":null})", R"({"data":{}})"}) {
    Json story = expect_result(http_post(port(), "/tell_story", body), std::string("body ") + body);
    EXPECT_EQ(str(story), kStory) << body;
  }
}

TEST_F(FlowServerTest, StreamsByQueryIncrementally) {
  SseResult sse = post_sse(port(), "/tell_story?stream=true", R"({"data":{}})");
  Blocks b = parse_stream(sse, "?stream=true");
  EXPECT_FALSE(sse.head && sse.head->has_header("x-genkit-trace-id")) << "no trace headers on a stream";
  ASSERT_GE(b.messages.size(), 3u) << sse.raw_body;
  std::string joined;
  for (const std::string& m : b.messages) joined += m;
  EXPECT_EQ(joined, kStory);
  EXPECT_EQ(str(b.result), kStory) << sse.raw_body;
  auto spread = sse.events[b.messages.size() - 1].arrived - sse.events[0].arrived;
  EXPECT_GE(spread, milliseconds(kChunkDelayMs * static_cast<int>(b.messages.size() - 1) / 2))
      << "the message blocks arrived all at once";
}

TEST_F(FlowServerTest, StreamsByAcceptHeader) {
  SseResult sse = post_sse(port(), "/flows/tell_joke", R"({"data":{"name":"Mochi"}})",
                           {{"Accept", "text/event-stream"}});
  Blocks b = parse_stream(sse, "Accept");
  const std::string joke = "Echo: Tell a medium-length joke about Mochi for user anonymous.";
  ASSERT_GE(b.messages.size(), 2u) << sse.raw_body;
  std::string joined;
  for (const std::string& m : b.messages) joined += m;
  EXPECT_EQ(joined, joke);
  EXPECT_EQ(str(b.result), joke);
}

TEST_F(FlowServerTest, StreamOfAFlowWithoutChunksIsItsResult) {
  SseResult sse = post_sse(port(), "/translate_text?stream=true", R"({"data":{"text":"Streamed text"}})");
  Blocks b = parse_stream(sse, "translate_text stream");
  EXPECT_TRUE(b.messages.empty()) << sse.raw_body;
  EXPECT_NE(str(b.result["translated_text"]).find("Streamed text"), std::string::npos) << sse.raw_body;
}

TEST_F(FlowServerTest, StreamFailureEndsWithAnErrorBlock) {
  SseResult sse = post_sse(port(), "/tell_joke?stream=true", R"({"data":{"name":5}})");
  Blocks b = parse_stream(sse, "invalid input on a stream");
  EXPECT_TRUE(b.messages.empty());
  EXPECT_EQ(str(b.error["status"]), "INVALID_ARGUMENT") << sse.raw_body;
  EXPECT_EQ(str(b.error["details"]["errors"].at(0)["path"]), "name") << sse.raw_body;
  ASSERT_FALSE(sse.events.empty());
  EXPECT_EQ(sse.events.back().raw.rfind("error: {\"error\":", 0), 0u) << sse.events.back().raw;
}

TEST_F(FlowServerTest, UnknownFlowIs404) {
  for (const char* path : {"/no_such_flow", "/flows/no_such_flow", "/flows/"}) {
    EXPECT_EQ(http_post(port(), path, R"({"data":{}})").status, 404) << path;
  }
}

TEST_F(FlowServerTest, OnlyPost) {
  for (const char* path : {"/tell_joke", "/flows/translate_text"}) {
    HttpResponse r = http_get(port(), path);
    EXPECT_EQ(r.status, 405) << path << ": " << r.body;
    EXPECT_EQ(r.header("allow").value_or(""), "POST") << path;
  }
}

TEST_F(FlowServerTest, SchemaFailureIsInvalidArgumentNamingThePaths) {
  HttpResponse r = http_post(port(), "/tell_joke", R"({"data":{"name":5}})");
  Json j = expect_error(r, 400, "INVALID_ARGUMENT", "name: 5");
  EXPECT_EQ(str(j["message"]).rfind("Schema validation failed.", 0), 0u) << r.body;
  EXPECT_NE(str(j["message"]).find("name"), std::string::npos) << r.body;
  ASSERT_EQ(j["details"]["errors"].size(), 1u) << r.body;
  EXPECT_EQ(str(j["details"]["errors"].at(0)["path"]), "name") << r.body;
  EXPECT_FALSE(str(j["details"]["errors"].at(0)["message"]).empty()) << r.body;
  EXPECT_TRUE(j["details"]["schema"]["properties"]["name"].is_object()) << r.body;

  HttpResponse two = http_post(port(), "/flows/translate_text", R"({"data":{"text":7,"target_language":5}})");
  Json t = expect_error(two, 400, "INVALID_ARGUMENT", "two bad fields");
  std::set<std::string> paths;
  t["details"]["errors"].for_each([&](std::string_view, genkit::JsonView e) { paths.insert(str(e["path"])); });
  EXPECT_EQ(paths, (std::set<std::string>{"text", "target_language"})) << two.body;

  HttpResponse root = http_post(port(), "/tell_joke", R"({"data":"a string"})");
  Json rj = expect_error(root, 400, "INVALID_ARGUMENT", "data not an object");
  EXPECT_EQ(str(rj["details"]["errors"].at(0)["path"]), "(root)") << root.body;
}

TEST_F(FlowServerTest, MalformedJsonIsInvalidArgument) {
  for (const char* body : {"{nope", R"({"data":)", "[1,2]"}) {
    expect_error(http_post(port(), "/tell_joke", body), 400, "INVALID_ARGUMENT", body);
    expect_error(http_post(port(), "/tell_story?stream=true", body), 400, "INVALID_ARGUMENT",
                 std::string("stream ") + body);
  }
}

TEST_F(FlowServerTest, CacheIsSharedWithTheRestTwin) {
  const std::string input = R"({"text":"Shared cache probe 4711","target_language":"Italian"})";
  double hits = metric(port(), "genkit_endpoints_cache_hits_total");
  HttpResponse rest = http_post(port(), "/translate", input);
  ASSERT_EQ(rest.status, 200) << rest.body;
  EXPECT_EQ(metric(port(), "genkit_endpoints_cache_hits_total"), hits) << "the first request is a miss";
  HttpResponse flow = http_post(port(), "/translate_text", R"({"data":)" + input + "}");
  Json result = expect_result(flow, "cached");
  EXPECT_EQ(metric(port(), "genkit_endpoints_cache_hits_total"), hits + 1) << "the flow server missed the cache";
  EXPECT_EQ(result.dump(), json_of(rest).dump());
}

class FlowServerApiKeyTest : public SharedServerTest<FlowServerApiKeyTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"API_KEYS", "flow-key-1"}};
    return o;
  }
};

TEST_F(FlowServerApiKeyTest, ProviderAnswersBeforeValidation) {
  for (const char* path : {"/tell_joke", "/flows/tell_joke", "/tell_joke?stream=true"}) {
    // An invalid body: 401, not 400.
    HttpResponse none = http_post(port(), path, R"({"data":{"name":5}})");
    EXPECT_EQ(none.status, 401) << path << ": " << none.body;
    EXPECT_EQ(json_of(none).dump(), R"({"status":"UNAUTHENTICATED","message":"Unauthenticated"})") << path;
    HttpResponse wrong = http_post(port(), path, "{nope", {{"Authorization", "flow-key-2"}});
    EXPECT_EQ(wrong.status, 403) << path << ": " << wrong.body;
    EXPECT_EQ(json_of(wrong).dump(), R"({"status":"PERMISSION_DENIED","message":"Permission Denied"})") << path;
  }
  HttpResponse ok = http_post(port(), "/tell_joke", R"({"data":{"name":"Key"}})", {{"Authorization", "flow-key-1"}});
  Json joke = expect_result(ok, "with the key");
  EXPECT_EQ(str(joke), "Echo: Tell a medium-length joke about Key for user anonymous.") << "the key is no username";
  EXPECT_EQ(ok.body.find("flow-key-1"), std::string::npos);
  // With the key, validation is next.
  expect_error(http_post(port(), "/tell_joke", R"({"data":{"name":5}})", {{"Authorization", "flow-key-1"}}), 400,
               "INVALID_ARGUMENT", "invalid with the key");
  // The REST routes keep their own format.
  HttpResponse rest = http_post(port(), "/tell-joke", "{}");
  EXPECT_EQ(rest.status, 401);
  EXPECT_EQ(str(json_of(rest)["error"]), "Unauthorized") << rest.body;
}

// The rate limit's refusal on a flow-server path speaks Genkit too.
TEST(FlowServerRateLimitTest, RefusalIsResourceExhausted) {
  std::string why;
  ServerOptions o;
  o.env = {{"RATE_LIMIT_DEFAULT", "2/hour"}};
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  for (int i = 0; i < 2; ++i) expect_result(http_post(server->port(), "/tell_joke", "{}"), "within the limit");
  HttpResponse r = http_post(server->port(), "/tell_joke", "{}");
  expect_error(r, 429, "RESOURCE_EXHAUSTED", "over the limit");
  EXPECT_TRUE(r.has_header("retry-after"));
  stop_and_check_sanitizers(server.get());
}

// REQUEST_TIMEOUT ends a slow stream with a DEADLINE_EXCEEDED error block.
TEST(FlowServerTimeoutTest, TimedOutStreamEndsWithAnErrorBlock) {
  std::string why;
  ServerOptions o;
  o.env = {{"REQUEST_TIMEOUT", "1"}, {"MOCK_CHUNK_DELAY_MS", "1500"}};
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  auto start = Clock::now();
  SseResult sse = post_sse(server->port(), "/tell_story?stream=true", R"({"data":{}})");
  EXPECT_LT(Clock::now() - start, milliseconds(4000));
  Blocks b = parse_stream(sse, "timed out");
  EXPECT_EQ(str(b.error["status"]), "DEADLINE_EXCEEDED") << sse.raw_body;
  EXPECT_TRUE(b.result.view().is_null()) << sse.raw_body;
  EXPECT_EQ(http_get(server->port(), "/health").status, 200);
  stop_and_check_sanitizers(server.get());
}

}  // namespace
}  // namespace itest
