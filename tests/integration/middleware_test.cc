// The request-side middleware that is not CORS, TrustedHost, API key or gzip
// (cors_test, trusted_hosts_test, api_key_test, gzip_test): HSTS from a
// trusted proxy's X-Forwarded-Proto, and where /tell-joke's username comes
// from when auth is off (the body, validated; else the Authorization header,
// validated the same way).
#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

constexpr const char* kHsts = "max-age=31536000; includeSubDomains";

// FORWARDED_ALLOW_IPS keeps its default, 127.0.0.1: the harness's client is
// a trusted proxy from 127.0.0.1 and an untrusted peer from 127.0.0.2.
class MiddlewareTest : public SharedServerTest<MiddlewareTest> {
 public:
  static ServerOptions options() { return {}; }
};

std::string n_chars(size_t n) { return std::string(n, 'u'); }

void expect_username_too_long(const HttpResponse& r, const std::string& what) {
  ASSERT_EQ(r.status, 400) << what << ": " << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["error"]), "Bad Request") << what;
  EXPECT_EQ(str(j["detail"]), "username: String should have at most 200 characters") << what;
}

TEST_F(MiddlewareTest, HstsWhenATrustedProxySaysHttps) {
  HttpResponse r = http_get(port(), "/health", {{"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(r.header("strict-transport-security").value_or("<none>"), kHsts);
  // On every kind of response.
  HttpResponse nf = http_get(port(), "/nope", {{"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.header("strict-transport-security").value_or("<none>"), kHsts) << "404";
  SseResult sse = post_sse(port(), "/tell-joke/stream", "{}", {{"X-Forwarded-Proto", "https"}});
  ASSERT_TRUE(sse.head) << sse.error;
  EXPECT_EQ(sse.head->header("strict-transport-security").value_or("<none>"), kHsts) << "SSE";
}

TEST_F(MiddlewareTest, NoHstsOverPlainHttpOrFromAnUntrustedPeer) {
  EXPECT_FALSE(http_get(port(), "/health").has_header("strict-transport-security")) << "plain HTTP";
  EXPECT_FALSE(http_get(port(), "/health", {{"X-Forwarded-Proto", "http"}}).has_header("strict-transport-security"));
  HttpResponse spoofed = http_get(port(), "/health", {{"X-Forwarded-Proto", "https"}}, "127.0.0.2");
  ASSERT_EQ(spoofed.status, 200) << spoofed.reason;
  EXPECT_FALSE(spoofed.has_header("strict-transport-security")) << "127.0.0.2 is not a trusted proxy";
}

TEST_F(MiddlewareTest, TellJokeUsernameFromTheBody) {
  HttpResponse r = http_post(port(), "/tell-joke", R"({"name":"Pixel","username":"erin"})");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["username"]), "erin") << r.body;
  EXPECT_EQ(str(j["joke"]), "Echo: Tell a medium-length joke about Pixel for user erin.");
  SseResult sse = post_sse(port(), "/tell-joke/stream", R"({"username":"erin"})");
  ASSERT_TRUE(sse.head && sse.ended) << sse.error;
  EXPECT_NE(sse.raw_body.find("for user erin"), std::string::npos) << sse.raw_body;
}

TEST_F(MiddlewareTest, TellJokeUsernameFromTheAuthorizationHeaderWhenAuthIsOff) {
  // The seed's rule: the header, when one is sent, is the username.
  HttpResponse r = http_post(port(), "/tell-joke", R"({"username":"erin"})", {{"Authorization", "Alice"}});
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(str(json_of(r)["username"]), "Alice") << r.body;
  HttpResponse none = http_post(port(), "/tell-joke", "{}");
  EXPECT_TRUE(json_of(none)["username"].is_null()) << none.body;
}

TEST_F(MiddlewareTest, TellJokeUsernameOver200IsRejected) {
  expect_username_too_long(http_post(port(), "/tell-joke", json_with("username", n_chars(201))), "body");
  expect_username_too_long(http_post(port(), "/tell-joke/stream", json_with("username", n_chars(201))), "stream body");
  // The body is validated first: a long one is refused even with a header.
  expect_username_too_long(
      http_post(port(), "/tell-joke", json_with("username", n_chars(201)), {{"Authorization", "Alice"}}),
      "body, with a header");
  expect_username_too_long(http_post(port(), "/tell-joke", "{}", {{"Authorization", n_chars(201)}}), "header");
  expect_username_too_long(http_post(port(), "/tell-joke/stream", "{}", {{"Authorization", n_chars(201)}}),
                           "stream header");
  // 200 is the limit, not over it.
  HttpResponse at_limit = http_post(port(), "/tell-joke", json_with("username", n_chars(200)));
  EXPECT_EQ(at_limit.status, 200) << at_limit.body;
  HttpResponse header_at_limit = http_post(port(), "/tell-joke", "{}", {{"Authorization", n_chars(200)}});
  EXPECT_EQ(header_at_limit.status, 200) << header_at_limit.body;
}

}  // namespace
}  // namespace itest
