// TRUSTED_HOSTS through the real binary (Starlette's TrustedHostMiddleware):
// the Host header, with or without a port, any case, *.subdomain wildcards
// and IPv6 literals; anything else — a missing Host included — is 400
// {"error":"Bad Request","detail":"Invalid host header"}, health checks
// too, finished like any response (security headers, request id).
#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

class TrustedHostsTest : public SharedServerTest<TrustedHostsTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"TRUSTED_HOSTS", "api.example.com, *.example.org, localhost, [::1]"},
             {"CORS_ALLOWED_ORIGINS", "https://app.example.com"}};
    return o;
  }
};

HttpResponse get_with_host(int port, const std::string& path, const std::string& host) {
  return http_get(port, path, {{"Host", host}});
}

void expect_invalid_host(const HttpResponse& r, const std::string& what) {
  ASSERT_EQ(r.status, 400) << what << ": " << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["error"]), "Bad Request") << what;
  EXPECT_EQ(str(j["detail"]), "Invalid host header") << what;
  EXPECT_EQ(r.header("content-type").value_or(""), "application/json") << what;
  EXPECT_EQ(r.header("x-content-type-options").value_or("<missing>"), "nosniff") << what;
  EXPECT_EQ(r.header("x-frame-options").value_or("<missing>"), "DENY") << what;
  EXPECT_EQ(r.header("content-security-policy").value_or("<missing>"), "default-src 'none'") << what;
  EXPECT_TRUE(is_uuid4(r.header("x-request-id").value_or(""))) << what;
}

TEST_F(TrustedHostsTest, ListedHostsWithOrWithoutPort) {
  for (const char* host : {"api.example.com", "api.example.com:8080", "API.Example.COM:443", "localhost",
                           "localhost:8080", "[::1]", "[::1]:8080"}) {
    HttpResponse r = get_with_host(port(), "/health", host);
    EXPECT_EQ(r.status, 200) << "Host: " << host << ": " << r.reason << r.body;
  }
  HttpResponse joke = http_post(port(), "/tell-joke", "{}", {{"Host", "api.example.com:8080"}});
  EXPECT_EQ(joke.status, 200) << joke.reason << joke.body;
}

TEST_F(TrustedHostsTest, WildcardMatchesSubdomainsOnly) {
  for (const char* host : {"a.example.org", "a.b.example.org:9000"}) {
    EXPECT_EQ(get_with_host(port(), "/health", host).status, 200) << host;
  }
  expect_invalid_host(get_with_host(port(), "/health", "example.org"), "the wildcard's own domain");
  expect_invalid_host(get_with_host(port(), "/health", "badexample.org"), "a suffix that is not a subdomain");
}

TEST_F(TrustedHostsTest, OtherHostsAreBadRequestsOnEveryPath) {
  // The harness's default Host is 127.0.0.1, which is not listed.
  expect_invalid_host(http_get(port(), "/health"), "127.0.0.1");
  expect_invalid_host(get_with_host(port(), "/ready", "evil.example"), "readiness is not exempt");
  expect_invalid_host(get_with_host(port(), "/no-such-route", "evil.example"), "before routing");
  expect_invalid_host(http_post(port(), "/tell-joke", "{}", {{"Host", "api.example.com.evil.net"}}), "suffix");
  expect_invalid_host(get_with_host(port(), "/health", "[::2]:8080"), "other IPv6");
  expect_invalid_host(get_with_host(port(), "/health", "api.example.com:80x"), "garbage port");
}

TEST_F(TrustedHostsTest, MissingHostIsABadRequest) {
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw("GET /health HTTP/1.0\r\n\r\n")) << c.error();
  std::optional<HttpResponse> r = c.read_response();
  ASSERT_TRUE(r) << c.error();
  expect_invalid_host(*r, "no Host");
}

TEST_F(TrustedHostsTest, CorsRunsFirst) {
  // A preflight is answered before the Host check (the seed's order), and
  // the refusal of an actual request still lets the allowed origin read it.
  HttpClient c(port());
  std::optional<HttpResponse> p = c.request("OPTIONS", "/tell-joke", "",
                                            {{"Host", "evil.example"},
                                             {"Origin", "https://app.example.com"},
                                             {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(p) << c.error();
  EXPECT_EQ(p->status, 200) << p->body;
  HttpResponse r = http_post(port(), "/tell-joke", "{}", {{"Host", "evil.example"}, {"Origin", "https://app.example.com"}});
  expect_invalid_host(r, "with Origin");
  EXPECT_EQ(r.header("access-control-allow-origin").value_or("<none>"), "https://app.example.com");
}

}  // namespace
}  // namespace itest
