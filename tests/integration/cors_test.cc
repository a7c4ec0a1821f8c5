// CORS through the real binary (Starlette's CORSMiddleware semantics, no
// credentials): preflights answered on every path before routing, the API
// key or the rate limit; Access-Control-Allow-Origin on every response to an
// allowed origin (errors, 404, the session's 413 and SSE included) and on none to another; the
// same-origin default; the debug wildcard.
#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace itest {
namespace {

constexpr const char* kApp = "https://app.example.com";
constexpr const char* kEvil = "https://evil.example";

Headers preflight_headers(const std::string& origin, const std::string& method, const std::string& req_headers = "") {
  Headers h = {{"Origin", origin}, {"Access-Control-Request-Method", method}};
  if (!req_headers.empty()) h.push_back({"Access-Control-Request-Headers", req_headers});
  return h;
}

HttpResponse send(int port, const std::string& method, const std::string& path, const Headers& headers,
                  const std::string& body = "") {
  HttpClient c(port);
  std::optional<HttpResponse> r = c.request(method, path, body, headers);
  if (!r) {
    HttpResponse failed;
    failed.reason = "transport: " + c.error();
    return failed;
  }
  return *r;
}

HttpResponse preflight(int port, const std::string& path, const std::string& origin, const std::string& method,
                       const std::string& req_headers = "") {
  return send(port, "OPTIONS", path, preflight_headers(origin, method, req_headers));
}

bool has_vary(const HttpResponse& r, const std::string& field) {
  return (", " + r.header("vary").value_or("") + ",").find(" " + field + ",") != std::string::npos;
}

void expect_no_cors_headers(const HttpResponse& r, const std::string& what) {
  for (const auto& [name, value] : r.headers) {
    EXPECT_NE(name.rfind("access-control-", 0), 0u) << what << ": " << name << ": " << value;
  }
}

void expect_refused(const HttpResponse& r, const std::string& detail, const std::string& what) {
  ASSERT_EQ(r.status, 400) << what << ": " << r.reason << r.body;
  genkit::Json j = json_of(r);
  EXPECT_EQ(str(j["error"]), "Bad Request") << what;
  EXPECT_EQ(str(j["detail"]), detail) << what;
  EXPECT_FALSE(r.has_header("access-control-allow-origin")) << what;
  EXPECT_FALSE(r.has_header("access-control-allow-methods")) << what;
}

// An allowed list, the API key on (preflights must not need it) and a rate
// limit tight enough that preflights would hit it if they were counted.
class CorsTest : public SharedServerTest<CorsTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"CORS_ALLOWED_ORIGINS", std::string(kApp) + ",http://localhost:3000"},
             {"API_KEYS", "cors-test-key"},
             {"RATE_LIMIT_DEFAULT", "1000/minute"},
             {"MAX_BODY_SIZE", "4096"}};
    return o;
  }
};

TEST_F(CorsTest, PreflightFromAnAllowedOriginIsAnsweredOk) {
  HttpResponse r = preflight(port(), "/tell-joke", kApp, "POST", "content-type, authorization, x-request-id");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(r.body, "OK");
  EXPECT_EQ(r.header("content-type").value_or(""), "text/plain; charset=utf-8");
  EXPECT_EQ(r.header("access-control-allow-origin").value_or("<none>"), kApp);
  EXPECT_EQ(r.header("access-control-allow-methods").value_or("<none>"), "GET, POST, OPTIONS");
  EXPECT_EQ(r.header("access-control-allow-headers").value_or("<none>"),
            "Accept, Accept-Language, Authorization, Content-Language, Content-Type, X-Request-ID");
  EXPECT_EQ(r.header("access-control-max-age").value_or("<none>"), "600");
  EXPECT_TRUE(has_vary(r, "Origin")) << r.header("vary").value_or("<no Vary>");
  EXPECT_FALSE(r.has_header("access-control-allow-credentials"));
  // Still finished like every response.
  EXPECT_EQ(r.header("x-content-type-options").value_or(""), "nosniff");
  EXPECT_TRUE(is_uuid4(r.header("x-request-id").value_or("")));
}

TEST_F(CorsTest, PreflightIsAnsweredOnEveryPathWithoutAKey) {
  for (const char* path : {"/no-such-route", "/health", "/chat", "/tell-story/stream"}) {
    HttpResponse r = preflight(port(), path, "http://localhost:3000", "POST", "Content-Type");
    EXPECT_EQ(r.status, 200) << path << ": " << r.reason << r.body;
    EXPECT_EQ(r.header("access-control-allow-origin").value_or("<none>"), "http://localhost:3000") << path;
  }
}

TEST_F(CorsTest, PreflightRefusalsNameWhatIsDisallowed) {
  expect_refused(preflight(port(), "/tell-joke", kEvil, "POST"), "Disallowed CORS origin", "other origin");
  expect_refused(preflight(port(), "/tell-joke", kApp, "DELETE"), "Disallowed CORS method", "DELETE");
  expect_refused(preflight(port(), "/tell-joke", kApp, "POST", "content-type, x-secret"), "Disallowed CORS headers",
                 "x-secret");
  expect_refused(preflight(port(), "/nope", kEvil, "PUT", "x-secret"), "Disallowed CORS origin, method, headers",
                 "all three");
  // An origin differing only in scheme or port is another origin.
  expect_refused(preflight(port(), "/chat", "http://app.example.com", "POST"), "Disallowed CORS origin", "http");
  expect_refused(preflight(port(), "/chat", "https://app.example.com:8443", "POST"), "Disallowed CORS origin", "port");
}

TEST_F(CorsTest, OptionsWithoutRequestMethodIsNotAPreflight) {
  HttpResponse r = send(port(), "OPTIONS", "/health", {{"Origin", kApp}});
  EXPECT_EQ(r.status, 405) << r.reason << r.body;
  EXPECT_EQ(r.header("access-control-allow-origin").value_or("<none>"), kApp);
  HttpResponse no_origin = send(port(), "OPTIONS", "/health", {{"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(no_origin.status, 405) << no_origin.reason << no_origin.body;
  expect_no_cors_headers(no_origin, "OPTIONS without Origin");
}

TEST_F(CorsTest, AllowedOriginGetsAllowOriginOnEveryResponse) {
  const Headers key = {{"Origin", kApp}, {"Authorization", "cors-test-key"}};
  struct Case {
    const char* what;
    HttpResponse r;
    int status;
  };
  for (const Case& c : {Case{"200", send(port(), "POST", "/tell-joke", key, "{}"), 200},
                  Case{"health", send(port(), "GET", "/health", {{"Origin", kApp}}), 200},
                  Case{"401 no key", send(port(), "POST", "/tell-joke", {{"Origin", kApp}}, "{}"), 401},
                  Case{"404", send(port(), "GET", "/nope", key), 404},
                  Case{"405", send(port(), "GET", "/tell-joke", key), 405},
                  Case{"400", send(port(), "POST", "/tell-joke", key, "[1]"), 400},
                  // Answered by the HTTP session before any gate runs:
                  Case{"413", send(port(), "POST", "/tell-joke", key, std::string(5000, ' ')), 413}}) {
    EXPECT_EQ(c.r.status, c.status) << c.what << ": " << c.r.reason << c.r.body;
    EXPECT_EQ(c.r.header("access-control-allow-origin").value_or("<none>"), kApp) << c.what;
    EXPECT_TRUE(has_vary(c.r, "Origin")) << c.what << ": Vary: " << c.r.header("vary").value_or("<none>");
    EXPECT_FALSE(c.r.has_header("access-control-allow-credentials")) << c.what;
    EXPECT_FALSE(c.r.has_header("access-control-allow-methods")) << c.what << ": only preflights list methods";
  }
  SseResult sse = post_sse(port(), "/tell-joke/stream", "{}", key);
  ASSERT_TRUE(sse.head) << sse.error;
  EXPECT_EQ(sse.head->status, 200);
  EXPECT_EQ(sse.head->header("access-control-allow-origin").value_or("<none>"), kApp) << "SSE";
  EXPECT_TRUE(sse.ended);
}

TEST_F(CorsTest, OtherOriginsAndSameOriginRequestsGetNoCorsHeaders) {
  const Headers evil = {{"Origin", kEvil}, {"Authorization", "cors-test-key"}};
  HttpResponse r = send(port(), "POST", "/tell-joke", evil, "{}");
  EXPECT_EQ(r.status, 200) << "the server answers; the browser hides it: " << r.body;
  expect_no_cors_headers(r, "other origin");
  expect_no_cors_headers(send(port(), "GET", "/nope", evil), "other origin 404");
  expect_no_cors_headers(send(port(), "POST", "/tell-joke", {{"Authorization", "cors-test-key"}}, "{}"), "no Origin");
}

// Production defaults: no CORS_ALLOWED_ORIGINS.
class CorsSameOriginTest : public SharedServerTest<CorsSameOriginTest> {
 public:
  static ServerOptions options() { return {}; }
};

TEST_F(CorsSameOriginTest, EveryPreflightIsRefusedAndNoResponseAllowsAnOrigin) {
  for (const char* origin : {kApp, "http://127.0.0.1", "null"}) {
    expect_refused(preflight(port(), "/tell-joke", origin, "POST"), "Disallowed CORS origin", origin);
    HttpResponse r = send(port(), "POST", "/tell-joke", {{"Origin", origin}}, "{}");
    EXPECT_EQ(r.status, 200) << r.reason << r.body;
    expect_no_cors_headers(r, origin);
  }
}

TEST_F(CorsSameOriginTest, ProductionContentSecurityPolicyIsStrict) {
  EXPECT_EQ(http_get(port(), "/health").header("content-security-policy").value_or("<none>"), "default-src 'none'");
}

// DEBUG with CORS_ALLOWED_ORIGINS unset: any origin ("*").
class CorsDebugTest : public SharedServerTest<CorsDebugTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.args.push_back("--debug");
    return o;
  }
};

TEST_F(CorsDebugTest, WildcardForAnyOrigin) {
  HttpResponse p = preflight(port(), "/tell-joke", "http://localhost:5173", "POST", "content-type");
  ASSERT_EQ(p.status, 200) << p.reason << p.body;
  EXPECT_EQ(p.header("access-control-allow-origin").value_or("<none>"), "*");
  EXPECT_FALSE(has_vary(p, "Origin")) << "the answer does not depend on the origin";
  HttpResponse r = send(port(), "POST", "/tell-joke", {{"Origin", "http://localhost:5173"}}, "{}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("access-control-allow-origin").value_or("<none>"), "*");
  EXPECT_FALSE(r.has_header("access-control-allow-credentials"));
  // A browser sending cookies refuses "*": the origin is named instead.
  HttpResponse cookie = send(port(), "POST", "/tell-joke", {{"Origin", "http://localhost:5173"}, {"Cookie", "a=b"}}, "{}");
  EXPECT_EQ(cookie.header("access-control-allow-origin").value_or("<none>"), "http://localhost:5173");
  EXPECT_TRUE(has_vary(cookie, "Origin"));
  expect_no_cors_headers(send(port(), "POST", "/tell-joke", {}, "{}"), "no Origin");
}

TEST_F(CorsDebugTest, DebugContentSecurityPolicyIsRelaxedForDocs) {
  for (const char* path : {"/health", "/docs"}) {
    std::string csp = http_get(port(), path).header("content-security-policy").value_or("<none>");
    EXPECT_NE(csp.find("'self'"), std::string::npos) << path << ": " << csp;
    EXPECT_NE(csp, "default-src 'none'") << path;
  }
}

}  // namespace
}  // namespace itest
