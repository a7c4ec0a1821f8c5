// The per-client-IP rate limit through the real binary with 4 workers: one
// token bucket per client for every process together (exact totals, an
// honest Retry-After, continuous refill), the client taken from the socket
// peer or, behind a trusted proxy, from X-Forwarded-For, the exempt routes,
// the switch and the start-up checks. The model is Gemini on fake_llm, so a
// refused request provably never reached it. Clients pose as other hosts
// by binding to other loopback addresses (127.0.0.0/8 all reach 127.0.0.1).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/shared_state_support.h"

namespace itest {
namespace {

using genkit::Json;
using std::chrono::milliseconds;

// The server's access-log line ("request" event) of a response, found by its
// X-Request-ID (null when not logged within the bound).
Json access_log_of(ServerProcess& server, const HttpResponse& r) {
  std::string id = r.header("x-request-id").value_or("");
  std::optional<Json> e = server.wait_event("request", milliseconds(3000), [&](genkit::JsonView v) {
    return v["request_id"].as_string() == id;
  });
  return e ? std::move(*e) : Json::null();
}

int header_int(const HttpResponse& r, std::string_view name) {
  std::optional<std::string> v = r.header(name);
  return v ? std::atoi(v->c_str()) : -1;
}

// Every server runs Gemini against the shared fake (cache and breaker off,
// so each admitted /tell-joke is exactly one model call) with 4 workers. A
// test starts its own: the buckets and settings are then its own, and a
// server starts in well under a second.
class RateLimitTest : public FakeUpstreamServerTest<RateLimitTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  // Starts the server with `env` over the common settings; fails the test if it does not start.
  void start(const Env& env) {
    Env e = {{"CACHE_ENABLED", "false"}, {"CB_ENABLED", "false"}};
    for (const auto& [k, v] : env) e[k] = v;
    FakeUpstreamServerTest::start(e, 4);
  }


  HttpResponse joke_from(const std::string& source, const Headers& headers = {}) {
    return http_post(port(), "/tell-joke", "{}", headers, source);
  }

  size_t model_calls() { return fake()->model_requests().size(); }

  // The tokens left in `source`'s bucket: requests admitted until the first
  // 429 (each admitted one is a model call). Bounded.
  int tokens_left(const std::string& source, const Headers& headers = {}) {
    for (int admitted = 0; admitted < 10; ++admitted) {
      HttpResponse r = joke_from(source, headers);
      if (r.status != 200) {
        EXPECT_EQ(r.status, 429) << r.reason << r.body;
        return admitted;
      }
    }
    return 10;
  }
};

void expect_rejected(const HttpResponse& r, int limit) {
  EXPECT_EQ(r.status, 429) << r.reason << r.body;
  EXPECT_GE(header_int(r, "retry-after"), 1) << r.body;
  EXPECT_EQ(header_int(r, "x-ratelimit-limit"), limit);
  EXPECT_EQ(header_int(r, "x-ratelimit-remaining"), 0);
  Json j = json_of(r);
  EXPECT_EQ(str(j["error"]), "Too Many Requests") << r.body;
  EXPECT_TRUE(j["detail"].is_string()) << r.body;
}

TEST_F(RateLimitTest, OneClientGetsExactlyItsLimitAcrossFourWorkers) {
  ASSERT_NO_FATAL_FAILURE(start({{"RATE_LIMIT_DEFAULT", "20/hour"}}));  // refill: one token per 3 minutes
  std::vector<HttpResponse> replies = send_overlapping(port(), 30, "/tell-joke", "{}");

  int admitted = 0, rejected = 0;
  std::set<int> pids;
  for (const HttpResponse& r : replies) {
    if (r.status == 200) {
      ++admitted;
    } else {
      ++rejected;
      expect_rejected(r, 20);
    }
    Json line = access_log_of(*server_, r);
    EXPECT_EQ(str(line["client"]), "127.0.0.1") << line.dump();
    pids.insert(static_cast<int>(line["pid"].as_number()));
  }
  EXPECT_EQ(admitted, 20);
  EXPECT_EQ(rejected, 10);
  EXPECT_GE(pids.size(), 2u) << "the requests should have been spread over the workers";
  EXPECT_EQ(model_calls(), 20u) << "a refused request must never reach the model";
  EXPECT_EQ(metric(port(), "genkit_endpoints_rate_limit_rejections_total"), 10);

  // The bucket stays empty for every worker.
  for (int i = 0; i < 4; ++i) expect_rejected(joke_from(""), 20);
  EXPECT_EQ(model_calls(), 20u);
}

TEST_F(RateLimitTest, EachSourceAddressHasItsOwnBucket) {
  ASSERT_NO_FATAL_FAILURE(start({{"RATE_LIMIT_DEFAULT", "5/hour"}}));
  // Interleaved, so each bucket is taken from while the other one drains.
  for (int i = 0; i < 5; ++i) {
    for (const char* source : {"127.0.0.2", "127.0.0.3"}) {
      HttpResponse r = joke_from(source);
      ASSERT_EQ(r.status, 200) << source << " request " << i << ": " << r.reason << r.body;
      EXPECT_EQ(str(access_log_of(*server_, r)["client"]), source);
    }
  }
  expect_rejected(joke_from("127.0.0.2"), 5);
  expect_rejected(joke_from("127.0.0.3"), 5);
  EXPECT_EQ(tokens_left("127.0.0.4"), 5) << "a third address has a full bucket of its own";
  EXPECT_EQ(model_calls(), 15u);
}

TEST_F(RateLimitTest, RetryAfterIsHonestAndTheBucketRefillsContinuously) {
  ASSERT_NO_FATAL_FAILURE(start({{"RATE_LIMIT_DEFAULT", "2/second"}}));
  EXPECT_EQ(joke_from("127.0.0.2").status, 200);
  EXPECT_EQ(joke_from("127.0.0.2").status, 200);
  HttpResponse refused = joke_from("127.0.0.2");
  auto refused_at = Clock::now();
  expect_rejected(refused, 2);
  EXPECT_EQ(refused.header("retry-after"), "1") << "one token comes back every 0.5 s";

  // 0.6 s later about 1.2 tokens are back: one request, then none (a bucket
  // reset to full would admit a second).
  std::this_thread::sleep_until(refused_at + milliseconds(600));
  HttpResponse again = joke_from("127.0.0.2");
  EXPECT_EQ(again.status, 200) << again.body;
  expect_rejected(joke_from("127.0.0.2"), 2);
  EXPECT_EQ(model_calls(), 3u);
}

TEST_F(RateLimitTest, TrustedProxyNamesTheClientInXForwardedFor) {
  // 127.0.0.1 and the range 127.0.1.0/24 are proxies; 127.0.0.2 is not.
  ASSERT_NO_FATAL_FAILURE(
      start({{"RATE_LIMIT_DEFAULT", "2/hour"}, {"FORWARDED_ALLOW_IPS", "127.0.0.1, 127.0.1.0/24"}}));
  // The right-most entry a proxy did not add is the client, not the left-most (client-supplied) one.
  Headers a = {{"X-Forwarded-For", "198.51.100.7, 203.0.113.9"}};
  Headers b = {{"X-Forwarded-For", "198.51.100.7, 203.0.113.10"}};
  for (int i = 0; i < 2; ++i) {
    HttpResponse r = joke_from("127.0.0.1", a);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(str(access_log_of(*server_, r)["client"]), "203.0.113.9");
  }
  expect_rejected(joke_from("127.0.0.1", a), 2);
  HttpResponse other = joke_from("127.0.0.1", b);
  EXPECT_EQ(other.status, 200) << "a different forwarded client has its own bucket: " << other.body;
  EXPECT_EQ(str(access_log_of(*server_, other)["client"]), "203.0.113.10");
  EXPECT_EQ(tokens_left("127.0.0.1", b), 1);

  // A proxy hop inside the CIDR is skipped; a peer inside it is trusted too.
  HttpResponse chained = joke_from("127.0.0.1", {{"X-Forwarded-For", "203.0.113.20, 127.0.1.9"}});
  EXPECT_EQ(chained.status, 200) << chained.body;
  EXPECT_EQ(str(access_log_of(*server_, chained)["client"]), "203.0.113.20");
  HttpResponse via_cidr_peer = joke_from("127.0.1.5", {{"X-Forwarded-For", "203.0.113.30"}});
  EXPECT_EQ(via_cidr_peer.status, 200) << via_cidr_peer.body;
  EXPECT_EQ(str(access_log_of(*server_, via_cidr_peer)["client"]), "203.0.113.30");

  // The proxies' own buckets were never touched.
  EXPECT_EQ(tokens_left("127.0.0.1"), 2);
}

TEST_F(RateLimitTest, UntrustedPeerCannotSpoofXForwardedFor) {
  ASSERT_NO_FATAL_FAILURE(start({{"RATE_LIMIT_DEFAULT", "2/hour"}, {"FORWARDED_ALLOW_IPS", "127.0.0.1"}}));
  // A new forged address each time: still one bucket, the peer's.
  for (int i = 0; i < 2; ++i) {
    HttpResponse r = joke_from("127.0.0.2", {{"X-Forwarded-For", "203.0.113." + std::to_string(40 + i)}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(str(access_log_of(*server_, r)["client"]), "127.0.0.2");
  }
  expect_rejected(joke_from("127.0.0.2", {{"X-Forwarded-For", "203.0.113.42"}}), 2);
  // The forged address got no bucket of its own: via the trusted proxy it is still full.
  EXPECT_EQ(tokens_left("127.0.0.1", {{"X-Forwarded-For", "203.0.113.40"}}), 2);
  EXPECT_EQ(model_calls(), 4u);
}

TEST_F(RateLimitTest, EveryRequestOfAKeepAliveProxyConnectionIsChargedToItsOwnClient) {
  ASSERT_NO_FATAL_FAILURE(start({{"RATE_LIMIT_DEFAULT", "2/hour"}}));
  // One pipelined write from the (trusted) proxy: two clients share the
  // connection, and a refused request's unread-looking 64 KB body must not
  // be taken for the next request.
  Headers a = {{"X-Forwarded-For", "203.0.113.50"}};
  Headers b = {{"X-Forwarded-For", "203.0.113.51"}};
  std::string big = json_with("name", std::string(65536, 'x'));
  std::string pipeline = build_request("POST", "/tell-joke", "{}", a) + build_request("POST", "/tell-joke", "{}", a) +
                         build_request("POST", "/tell-joke", "{}", a) + build_request("POST", "/tell-joke", "{}", b) +
                         build_request("POST", "/tell-joke", big, a) + build_request("GET", "/health");
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw(pipeline)) << c.error();
  std::vector<int> statuses;
  for (int i = 0; i < 6; ++i) {
    std::optional<HttpResponse> r = c.read_response();
    ASSERT_TRUE(r) << "reply " << i << ": " << c.error();
    statuses.push_back(r->status);
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 429, 200, 429, 200}));
  EXPECT_EQ(model_calls(), 3u);
}

TEST_F(RateLimitTest, HealthReadinessAndMetricsAreExemptButNotFoundIsLimited) {
  ASSERT_NO_FATAL_FAILURE(start({{"RATE_LIMIT_DEFAULT", "2/hour"}}));
  const std::string me = "127.0.0.5";
  for (int i = 0; i < 2; ++i) EXPECT_EQ(http_get(port(), "/no-such-route", {}, me).status, 404);
  HttpResponse limited = http_get(port(), "/no-such-route", {}, me);
  expect_rejected(limited, 2);
  for (const char* path : {"/health", "/healthz", "/ready", "/readyz", "/metrics"}) {
    for (int i = 0; i < 3; ++i) {
      HttpResponse r = http_get(port(), path, {}, me);
      EXPECT_EQ(r.status, 200) << path << ": " << r.reason << r.body;
    }
  }
  expect_rejected(joke_from(me), 2);
  EXPECT_EQ(model_calls(), 0u);
  EXPECT_EQ(metric(port(), "genkit_endpoints_rate_limit_rejections_total"), 2);
}

TEST_F(RateLimitTest, DisabledLimitsNothing) {
  ASSERT_NO_FATAL_FAILURE(start({{"RATE_LIMIT_DEFAULT", "2/hour"}, {"RATE_LIMIT_ENABLED", "false"}}));
  for (int i = 0; i < 6; ++i) {
    HttpResponse r = joke_from("127.0.0.2");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  EXPECT_EQ(model_calls(), 6u);
  EXPECT_EQ(metric(port(), "genkit_endpoints_rate_limit_rejections_total"), 0);
}

TEST(RateLimitConfigTest, BadSettingsStopTheServerNamingThem) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"RATE_LIMIT_DEFAULT", "10/fortnight"}, {"RATE_LIMIT_DEFAULT", "0/minute"},
      {"RATE_LIMIT_DEFAULT", "ten/minute"},   {"FORWARDED_ALLOW_IPS", "not-an-ip"},
      {"FORWARDED_ALLOW_IPS", "127.0.0.1/33"}, {"RATE_LIMIT_ENABLED", "maybe"}};
  for (const auto& [name, value] : bad) {
    RunResult r = run_to_exit({"--port", "0", "--workers", "1", "--no-grpc"}, {{name, value}});
    EXPECT_EQ(r.exit_code, std::optional<int>(2)) << name << "=" << value << "\n" << r.err << r.out;
    EXPECT_NE(r.err.find(name), std::string::npos) << name << "=" << value << ": " << r.err;
    EXPECT_NE(r.err.find(value), std::string::npos) << r.err;
    EXPECT_TRUE(r.sanitizer_findings.empty()) << r.err;
  }
}

}  // namespace
}  // namespace itest
