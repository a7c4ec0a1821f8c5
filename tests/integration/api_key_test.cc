// API_KEYS through the real binary (Genkit's api_key context provider): the
// Authorization header verbatim is the key; none → 401, wrong → 403, in the
// JSON error format, before routing and validation; health and readiness
// exempt. The key never becomes the joke's username and is never echoed in
// a response nor written to a log line (the server logs at debug level here
// to give it every chance to).
#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

constexpr const char* kKey = "key-alpha-7f3c9d";
constexpr const char* kOtherKey = "key-beta-0b1e52-longer";
constexpr const char* kWrongKey = "wrong-key-e8a4c1";

class ApiKeyTest : public SharedServerTest<ApiKeyTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"API_KEYS", std::string(kKey) + "," + kOtherKey}, {"LOG_LEVEL", "debug"}};
    return o;
  }
};

void expect_auth_error(const HttpResponse& r, int status, const std::string& what) {
  ASSERT_EQ(r.status, status) << what << ": " << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["error"]), status == 401 ? "Unauthorized" : "Forbidden") << what;
  EXPECT_FALSE(str(j["detail"]).empty()) << what;
  EXPECT_EQ(r.header("x-content-type-options").value_or("<missing>"), "nosniff") << what;
}

std::string all_of(const HttpResponse& r) {
  std::string s = r.body;
  for (const auto& [k, v] : r.headers) s += k + ": " + v + "\n";
  return s;
}

TEST_F(ApiKeyTest, NoKeyIs401BeforeRoutingAndValidation) {
  expect_auth_error(http_post(port(), "/tell-joke", "{}"), 401, "no Authorization");
  expect_auth_error(http_post(port(), "/tell-joke", "{}", {{"Authorization", ""}}), 401, "empty Authorization");
  expect_auth_error(http_post(port(), "/chat", json_with("question", "")), 401, "invalid body, no key");
  expect_auth_error(http_get(port(), "/no-such-route"), 401, "unknown path");
  expect_auth_error(http_get(port(), "/metrics"), 401, "/metrics is not exempt");
}

TEST_F(ApiKeyTest, WrongKeyIs403) {
  for (std::string sent : {std::string(kWrongKey), "Bearer " + std::string(kKey), std::string(kKey).substr(0, 8),
                           std::string(kKey) + "x", std::string("KEY-ALPHA-7F3C9D")}) {
    HttpResponse r = http_post(port(), "/tell-joke", "{}", {{"Authorization", sent}});
    expect_auth_error(r, 403, sent);
    EXPECT_EQ(all_of(r).find(sent), std::string::npos) << "the sent key is echoed: " << all_of(r);
  }
  // Two Authorization headers are one value "a, b", as in Genkit: wrong.
  HttpResponse two = http_post(port(), "/tell-joke", "{}", {{"Authorization", kKey}, {"Authorization", kKey}});
  expect_auth_error(two, 403, "two headers");
}

TEST_F(ApiKeyTest, EveryConfiguredKeyIsAccepted) {
  for (const char* key : {kKey, kOtherKey}) {
    HttpResponse r = http_post(port(), "/tell-joke", R"({"name":"Pixel"})", {{"Authorization", key}});
    EXPECT_EQ(r.status, 200) << key << ": " << r.reason << r.body;
    SseResult sse = post_sse(port(), "/tell-story/stream", "{}", {{"Authorization", key}});
    ASSERT_TRUE(sse.head) << sse.error;
    EXPECT_EQ(sse.head->status, 200) << key;
    EXPECT_TRUE(sse.ended);
  }
  // A wrong key is still refused on a stream, before it starts.
  SseResult refused = post_sse(port(), "/tell-joke/stream", "{}", {{"Authorization", kWrongKey}});
  ASSERT_TRUE(refused.head) << refused.error;
  EXPECT_EQ(refused.head->status, 403);
}

TEST_F(ApiKeyTest, HealthAndReadinessAreExempt) {
  EXPECT_EQ(http_get(port(), "/health").status, 200);
  EXPECT_EQ(http_get(port(), "/healthz").status, 200);
  // (503: production on the default mock model; the point is: not 401.)
  EXPECT_EQ(http_get(port(), "/ready").status, 503);
  EXPECT_EQ(http_get(port(), "/readyz", {{"Authorization", kWrongKey}}).status, 503);
}

TEST_F(ApiKeyTest, TheKeyIsNeverTheUsernameNorEchoedNorLogged) {
  const std::string id = "api-key-echo-check";
  HttpResponse named = http_post(port(), "/tell-joke", R"({"name":"Pixel","username":"carol"})",
                                 {{"Authorization", kKey}, {"X-Request-ID", id}});
  ASSERT_EQ(named.status, 200) << named.reason << named.body;
  genkit::Json j = json_of(named);
  EXPECT_EQ(str(j["username"]), "carol") << "the body's username, not the key: " << named.body;
  EXPECT_EQ(str(j["joke"]), "Echo: Tell a medium-length joke about Pixel for user carol.");
  EXPECT_EQ(all_of(named).find(kKey), std::string::npos) << all_of(named);

  HttpResponse anonymous = http_post(port(), "/tell-joke", "{}", {{"Authorization", kOtherKey}});
  ASSERT_EQ(anonymous.status, 200) << anonymous.body;
  EXPECT_TRUE(json_of(anonymous)["username"].is_null()) << anonymous.body;
  EXPECT_EQ(str(json_of(anonymous)["joke"]), "Echo: Tell a medium-length joke about Mittens for user anonymous.");

  SseResult sse = post_sse(port(), "/tell-joke/stream", R"({"username":"dave"})", {{"Authorization", kKey}});
  ASSERT_TRUE(sse.head && sse.ended) << sse.error;
  EXPECT_NE(sse.raw_body.find("for user dave"), std::string::npos) << sse.raw_body;
  EXPECT_EQ(sse.raw_body.find(kKey), std::string::npos) << sse.raw_body;

  // Every line logged so far, the request lines of the above included.
  ASSERT_TRUE(server()->wait_event("request", std::chrono::milliseconds(3000), [&](genkit::JsonView v) {
    return v["request_id"].as_string() == id;
  }));
  std::string logs = server()->stdout_text() + server()->stderr_text();
  for (const char* secret : {kKey, kOtherKey, kWrongKey}) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << "a key is in the server's logs: " << secret;
  }
}

}  // namespace
}  // namespace itest
