// CORS decisions (Starlette's CORSMiddleware, no credentials): which origins
// are allowed, what a preflight answers, what an actual request gets.
#include "worker/middleware/cors.h"

#include <gtest/gtest.h>

#include "common/config.h"

namespace genkit::http {
namespace {

CorsPolicy policy(std::vector<std::string> origins, bool debug = false) {
  Config c;
  c.cors_allowed_origins = std::move(origins);
  c.debug = debug;
  return CorsPolicy::from_config(c);
}

Request preflight(const std::string& origin, const std::string& method, const char* headers = nullptr) {
  Request r;
  r.method = "OPTIONS";
  r.path = "/tell-joke";
  r.headers = {{"origin", origin}, {"access-control-request-method", method}};
  if (headers) r.headers.push_back({"access-control-request-headers", headers});
  return r;
}

Request actual(const char* origin, bool cookie = false) {
  Request r;
  r.method = "POST";
  r.path = "/tell-joke";
  if (origin) r.headers.push_back({"origin", origin});
  if (cookie) r.headers.push_back({"cookie", "a=b"});
  return r;
}

std::string header(const Response& r, const std::string& name) {
  for (const Header& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "<none>";
}

constexpr const char* kApp = "https://app.example.com";

TEST(CorsPolicy, SameOriginByDefaultWildcardOnlyInDebug) {
  EXPECT_FALSE(policy({}).origin_allowed(kApp));
  EXPECT_FALSE(policy({}).any_origin);
  EXPECT_TRUE(policy({}, true).any_origin) << "debug and unset: *";
  EXPECT_FALSE(policy({kApp}, true).any_origin) << "debug with a list: the list";
  EXPECT_TRUE(policy({kApp, "*"}, true).any_origin);
}

TEST(CorsPolicy, OriginsMatchExactly) {
  CorsPolicy p = policy({kApp, "http://localhost:3000"});
  EXPECT_TRUE(p.origin_allowed(kApp));
  EXPECT_TRUE(p.origin_allowed("http://localhost:3000"));
  EXPECT_FALSE(p.origin_allowed("http://app.example.com")) << "scheme";
  EXPECT_FALSE(p.origin_allowed("https://app.example.com:8443")) << "port";
  EXPECT_FALSE(p.origin_allowed("https://evil.app.example.com"));
  EXPECT_FALSE(p.origin_allowed("https://app.example.com.evil.net"));
  EXPECT_FALSE(p.origin_allowed("null"));
}

TEST(CorsPolicy, AllowedHeadersAddTheSafelistedOnesOnce) {
  CorsPolicy p = policy({kApp});
  EXPECT_EQ(p.allow_methods, "GET, POST, OPTIONS");
  EXPECT_EQ(p.allow_headers, "Accept, Accept-Language, Authorization, Content-Language, Content-Type, X-Request-ID");
}

TEST(IsPreflight, NeedsOptionsOriginAndRequestMethod) {
  EXPECT_TRUE(is_preflight(preflight(kApp, "POST")));
  Request no_method = preflight(kApp, "POST");
  no_method.headers.pop_back();
  EXPECT_FALSE(is_preflight(no_method)) << "a plain OPTIONS is routed (405)";
  Request not_options = preflight(kApp, "POST");
  not_options.method = "POST";
  EXPECT_FALSE(is_preflight(not_options));
}

TEST(Preflight, AllowedOriginMethodAndHeaders) {
  bool vary = false;
  Response r = preflight_response(policy({kApp}), preflight(kApp, "POST", "Content-Type, authorization,X-Request-ID"), &vary);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OK");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_TRUE(vary);
  // (Access-Control-Allow-Origin is added by the exchange, to every response.)
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "<none>");
  EXPECT_EQ(allow_origin_for(policy({kApp}), preflight(kApp, "POST")), kApp);
  EXPECT_EQ(header(r, "Access-Control-Allow-Methods"), "GET, POST, OPTIONS");
  EXPECT_EQ(header(r, "Access-Control-Max-Age"), "600");
  EXPECT_NE(header(r, "Access-Control-Allow-Headers").find("X-Request-ID"), std::string::npos);
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "<none>");
}

TEST(Preflight, RefusalsNameWhatWasDisallowed) {
  CorsPolicy p = policy({kApp});
  struct Case {
    Request req;
    const char* detail;
  };
  for (const Case& c : {Case{preflight("https://evil.example", "POST"), "Disallowed CORS origin"},
                        Case{preflight(kApp, "DELETE"), "Disallowed CORS method"},
                        Case{preflight(kApp, "post"), "Disallowed CORS method"},
                        Case{preflight(kApp, "POST", "content-type, x-secret"), "Disallowed CORS headers"},
                        Case{preflight("https://evil.example", "PUT", "x-secret"), "Disallowed CORS origin, method, headers"}}) {
    bool vary = false;
    Response r = preflight_response(p, c.req, &vary);
    EXPECT_EQ(r.status, 400) << c.detail;
    EXPECT_NE(r.body.find(std::string("\"detail\":\"") + c.detail + "\""), std::string::npos) << r.body;
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "<none>") << c.detail;
  }
}

TEST(Preflight, DefaultRefusesEveryOrigin) {
  bool vary = false;
  Response r = preflight_response(policy({}), preflight(kApp, "POST"), &vary);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Disallowed CORS origin"), std::string::npos);
}

TEST(Preflight, WildcardAnswersStarWithoutVary) {
  bool vary = true;
  Response r = preflight_response(policy({}, true), preflight("https://anything.example", "GET", "content-type"), &vary);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(vary);
  EXPECT_EQ(allow_origin_for(policy({}, true), preflight("https://anything.example", "GET")), "*");
}

TEST(Preflight, StarMethodsAndHeaders) {
  Config c;
  c.cors_allowed_origins = {kApp};
  c.cors_allowed_methods = {"*"};
  c.cors_allowed_headers = {"*"};
  CorsPolicy p = CorsPolicy::from_config(c);
  bool vary = false;
  Response r = preflight_response(p, preflight(kApp, "PATCH", "x-anything"), &vary);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Access-Control-Allow-Headers"), "x-anything") << "mirrored";
  EXPECT_EQ(header(r, "Access-Control-Allow-Methods"), "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
}

TEST(AllowOriginFor, AllowedOriginsOnly) {
  CorsPolicy p = policy({kApp});
  EXPECT_EQ(allow_origin_for(p, actual(kApp)), kApp);
  EXPECT_EQ(allow_origin_for(p, actual("https://evil.example")), "");
  EXPECT_EQ(allow_origin_for(p, actual(nullptr)), "");
  EXPECT_EQ(allow_origin_for(policy({}), actual(kApp)), "") << "same-origin by default";
}

TEST(AllowOriginFor, WildcardIsStarUnlessCookiesAreSent) {
  CorsPolicy p = policy({}, true);
  EXPECT_EQ(allow_origin_for(p, actual("https://x.example")), "*");
  EXPECT_EQ(allow_origin_for(p, actual("https://x.example", true)), "https://x.example");
}

}  // namespace
}  // namespace genkit::http
