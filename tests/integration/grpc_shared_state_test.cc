// grpcd shares the HTTP workers' state (SPEC.md §5), through the real
// supervisor with Gemini on fake_llm: a translation REST cached is a gRPC
// cache hit; failures seen over REST open the circuit for gRPC calls too
// (UNAVAILABLE without reaching the model, and the service's health turns
// NOT_SERVING while the server's stays SERVING); one rate-limit bucket per
// client for both protocols (RESOURCE_EXHAUSTED with retry-after, 429).
// And /metrics counts gRPC calls by method and code in a form promtool accepts.
#include <gtest/gtest.h>

#include "tests/support/grpc_client.h"

namespace itest {
namespace {

using genkit::Json;

constexpr const char* kHits = "genkit_endpoints_cache_hits_total";
constexpr const char* kMisses = "genkit_endpoints_cache_misses_total";
constexpr const char* kGenerate = ":generateContent";

class GrpcSharedStateTest : public GrpcServerTest<GrpcSharedStateTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  size_t model_calls() { return fake()->model_requests().size(); }
};

TEST_F(GrpcSharedStateTest, ATranslationCachedOverRestIsAGrpcCacheHit) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({}));
  HttpResponse rest = http_post(port(), "/translate", R"({"text":"the cat sleeps","target_language":"German"})");
  ASSERT_EQ(rest.status, 200) << rest.reason << rest.body;
  Json r = json_of(rest);
  const size_t calls = model_calls();
  ASSERT_GE(calls, 1u);
  Samples before = scrape(port());

  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(10000));
  gpb::TranslateRequest req;
  req.set_text("the cat sleeps");
  req.set_target_language("German");
  gpb::TranslationResponse resp;
  grpc::Status status = stub().TranslateText(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(model_calls(), calls) << "a cached translation must not reach the model; fake saw: "
                                  << fake()->requests().dump();
  EXPECT_EQ(resp.original_text(), str(r["original_text"]));
  EXPECT_EQ(resp.translated_text(), str(r["translated_text"]));
  EXPECT_EQ(resp.target_language(), str(r["target_language"]));
  EXPECT_EQ(resp.confidence(), str(r["confidence"]));
  Samples after = scrape(port());
  EXPECT_EQ(sample(after, kHits) - sample(before, kHits), 1);
  EXPECT_EQ(sample(after, kMisses) - sample(before, kMisses), 0);

  // A gRPC miss fills the cache for REST just the same.
  grpc::ClientContext ctx2;
  set_timeout(ctx2, milliseconds(10000));
  req.set_text("the dog barks");
  ASSERT_TRUE(stub().TranslateText(&ctx2, req, &resp).ok());
  const size_t after_grpc = model_calls();
  HttpResponse rest2 = http_post(port(), "/translate", R"({"text":"the dog barks","target_language":"German"})");
  ASSERT_EQ(rest2.status, 200) << rest2.body;
  EXPECT_EQ(model_calls(), after_grpc);
  EXPECT_EQ(str(json_of(rest2)["translated_text"]), resp.translated_text());
}

TEST_F(GrpcSharedStateTest, ACircuitOpenedByRestFailuresFailsGrpcCallsFastAndTurnsHealthNotServing) {
  ASSERT_NO_FATAL_FAILURE(start_grpc(
      {{"CACHE_ENABLED", "false"}, {"CB_FAILURE_THRESHOLD", "2"}, {"CB_RECOVERY_TIMEOUT", "60"}}));
  HealthAnswer closed = health_check(channel(), kGenkitService);
  ASSERT_TRUE(closed.serving_ok()) << closed.describe();

  ASSERT_TRUE(fake()->script(R"([{"status":500},{"status":500}])")) << fake()->error();
  for (int i = 0; i < 2; ++i) {
    HttpResponse r = http_post(port(), "/tell-joke", "{}");
    ASSERT_EQ(r.status, 502) << r.reason << r.body;
  }
  const size_t calls = model_calls();
  ASSERT_EQ(calls, 2u);

  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(5000));
  gpb::JokeRequest req;
  req.set_name("Circuit");
  gpb::JokeResponse resp;
  auto started = Clock::now();
  grpc::Status status = stub().TellJoke(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << describe(status);
  EXPECT_NE(status.error_message().find("circuit"), std::string::npos) << describe(status);
  EXPECT_LT(Clock::now() - started, milliseconds(1000)) << "an open circuit must fail fast";
  EXPECT_EQ(model_calls(), calls) << "an open circuit must not call the model";

  // grpcd polls the shared circuit every 200 ms.
  HealthAnswer service;
  bool turned = FakeLlmProcess::eventually(
      [&] {
        service = health_check(channel(), kGenkitService);
        return service.not_serving();
      },
      milliseconds(1000));
  EXPECT_TRUE(turned) << "the service's health did not turn NOT_SERVING within 1 s: " << service.describe();
  HealthAnswer overall = health_check(channel(), "");
  EXPECT_TRUE(overall.serving_ok()) << "the server as a whole still serves: " << overall.describe();
  HealthAnswer unknown = health_check(channel(), "no.such.Service");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND) << unknown.describe();
}

TEST_F(GrpcSharedStateTest, OneRateLimitBucketPerClientForRestAndGrpc) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}, {"CB_ENABLED", "false"},
                                      {"RATE_LIMIT_DEFAULT", "4/minute"}}));
  for (int i = 0; i < 2; ++i) {
    HttpResponse r = http_post(port(), "/tell-joke", "{}");
    ASSERT_EQ(r.status, 200) << r.reason << r.body;
  }
  for (int i = 0; i < 2; ++i) {
    grpc::Status s = joke("Bucket" + std::to_string(i));
    ASSERT_TRUE(s.ok()) << "gRPC call " << i << ": " << describe(s);
  }
  ASSERT_EQ(model_calls(), 4u);

  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(5000));
  gpb::JokeRequest req;
  req.set_name("Over");
  gpb::JokeResponse resp;
  grpc::Status over = stub().TellJoke(&ctx, req, &resp);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(over);
  std::string retry_after = trailer(ctx, "retry-after");
  EXPECT_FALSE(retry_after.empty()) << "no retry-after trailing metadata";
  int seconds = retry_after.empty() ? -1 : std::atoi(retry_after.c_str());
  EXPECT_GE(seconds, 1) << retry_after;
  EXPECT_LE(seconds, 60) << retry_after;

  HttpResponse rest = http_post(port(), "/tell-joke", "{}");
  EXPECT_EQ(rest.status, 429) << rest.reason << rest.body;
  EXPECT_EQ(model_calls(), 4u) << "refused calls must not reach the model";
}

TEST_F(GrpcSharedStateTest, MetricsCountGrpcCallsByMethodAndCode) {
  ASSERT_NO_FATAL_FAILURE(start_grpc({{"CACHE_ENABLED", "false"}}));
  for (int i = 0; i < 3; ++i) {
    grpc::Status s = joke("Counted" + std::to_string(i));
    ASSERT_TRUE(s.ok()) << describe(s);
  }
  grpc::Status invalid = joke(std::string(201, 'x'));  // name: at most 200 characters
  ASSERT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(invalid);
  EXPECT_EQ(model_calls(), 3u);

  const std::string ok_series =
      R"(genkit_endpoints_grpc_requests_total{method="/genkit.sample.v1.GenkitService/TellJoke",code="OK"})";
  const std::string invalid_series =
      R"(genkit_endpoints_grpc_requests_total{method="/genkit.sample.v1.GenkitService/TellJoke",code="INVALID_ARGUMENT"})";
  // The access-log interceptor counts a call as its status is sent.
  Samples s = scrape_until(port(), [&](const Samples& x) {
    return sample(x, ok_series) >= 3 && sample(x, invalid_series) >= 1;
  });
  EXPECT_EQ(sample(s, ok_series), 3);
  EXPECT_EQ(sample(s, invalid_series), 1);
  EXPECT_EQ(sample_sum(s, "genkit_endpoints_grpc_requests_total"), 4) << "no other gRPC call was made";
  EXPECT_EQ(sample(s, "genkit_endpoints_grpc_daemons_alive"), 1);
  EXPECT_EQ(sample(s, R"(genkit_endpoints_grpc_request_duration_seconds_count{method="/genkit.sample.v1.GenkitService/TellJoke"})"),
            4);

  HttpResponse body = http_get(port(), "/metrics");
  ASSERT_EQ(body.status, 200);
  EXPECT_EQ(promtool_complaint(body.body), "");
}

}  // namespace
}  // namespace itest
