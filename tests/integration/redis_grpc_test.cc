// grpcd on the Redis state backend: its own connection on its own loop, one
// state with the HTTP workers of every machine. Machine A serves gRPC and
// machine B only REST; both share a real redis-server: B's requests use up
// the client's bucket for A's RPCs, B's cached translation is A's hit, and
// failures seen through B open A's circuit (UNAVAILABLE without a model
// call, the service's health NOT_SERVING).
#include <gtest/gtest.h>

#include "tests/support/grpc_client.h"
#include "tests/support/redis_server.h"

namespace itest {
namespace {

class RedisGrpcTest : public GrpcServerTest<RedisGrpcTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  void SetUp() override {
    GrpcServerTest<RedisGrpcTest>::SetUp();
    ASSERT_TRUE(redis_.start()) << redis_.error();
  }
  void TearDown() override {
    if (machine_b_) {
      EXPECT_EQ(machine_b_->stop(), std::optional<int>(0)) << machine_b_->stderr_text();
      EXPECT_TRUE(machine_b_->sanitizer_findings().empty()) << machine_b_->stderr_text();
    }
    GrpcServerTest<RedisGrpcTest>::TearDown();
  }

  // A (gRPC + REST) and B (REST only), both on `redis_` with `env`.
  void start_fleet(Env env) {
    env["STATE_BACKEND"] = "redis";
    env["REDIS_URL"] = redis_.url();
    ASSERT_NO_FATAL_FAILURE(start_grpc(env, 1));
    ServerOptions b;
    b.args = {"--port", "0", "--workers", "1", "--no-grpc"};
    b.env = gemini_env_for(fake()->base_url());
    for (const auto& [k, v] : env) b.env[k] = v;
    std::string why;
    machine_b_ = start_server(b, &why);
    ASSERT_TRUE(machine_b_) << why;
    ASSERT_TRUE(server_->wait_event_count("redis_connected", 2, milliseconds(5000)))
        << "A's worker and grpcd did not both connect:\n" << server_->stdout_text();
    ASSERT_TRUE(machine_b_->wait_event("redis_connected", milliseconds(5000)));
    ASSERT_TRUE(fake()->reset());
  }
  size_t model_calls() { return fake()->model_requests().size(); }

  RedisServer redis_;
  std::unique_ptr<ServerProcess> machine_b_;
};

TEST_F(RedisGrpcTest, OneBucketPerClientAcrossMachinesAndProtocols) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"CACHE_ENABLED", "false"}, {"RATE_LIMIT_DEFAULT", "4/minute"}}));
  for (int i = 0; i < 2; ++i) {
    HttpResponse r = http_post(machine_b_->port(), "/tell-joke", "{}");
    ASSERT_EQ(r.status, 200) << r.reason << r.body;
  }
  for (int i = 0; i < 2; ++i) {
    grpc::Status s = joke("Fleet" + std::to_string(i));
    ASSERT_TRUE(s.ok()) << describe(s);
  }
  grpc::Status over = joke("Over");
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(over);
  EXPECT_EQ(http_post(machine_b_->port(), "/tell-joke", "{}").status, 429);
  EXPECT_EQ(model_calls(), 4u);
  EXPECT_GT(redis_.pttl("genkit-endpoints:rl:127.0.0.1"), 0) << "the bucket lives in Redis, with a TTL";
}

TEST_F(RedisGrpcTest, ATranslationCachedThroughOneMachineIsAGrpcHitOnTheOther) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({}));
  HttpResponse rest = http_post(machine_b_->port(), "/translate", R"({"text":"fleet cat","target_language":"German"})");
  ASSERT_EQ(rest.status, 200) << rest.reason << rest.body;
  const size_t calls = model_calls();
  ASSERT_GE(calls, 1u);

  grpc::ClientContext ctx;
  set_timeout(ctx, milliseconds(10000));
  gpb::TranslateRequest req;
  req.set_text("fleet cat");
  req.set_target_language("German");
  gpb::TranslationResponse resp;
  grpc::Status status = stub().TranslateText(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(model_calls(), calls) << "B's cached translation must be A's hit";
  EXPECT_EQ(resp.translated_text(), str(json_of(rest)["translated_text"]));
  EXPECT_EQ(sample(scrape(port()), "genkit_endpoints_redis_cache_hits_total"), 1);
}

TEST_F(RedisGrpcTest, FailuresSeenThroughOneMachineOpenTheOthersCircuit) {
  ASSERT_NO_FATAL_FAILURE(
      start_fleet({{"CACHE_ENABLED", "false"}, {"CB_FAILURE_THRESHOLD", "2"}, {"CB_RECOVERY_TIMEOUT", "60"}}));
  ASSERT_TRUE(health_check(channel(), kGenkitService).serving_ok());
  ASSERT_TRUE(fake()->script(R"([{"status":500},{"status":500}])")) << fake()->error();
  for (int i = 0; i < 2; ++i) ASSERT_EQ(http_post(machine_b_->port(), "/tell-joke", "{}").status, 502);
  ASSERT_EQ(model_calls(), 2u);

  grpc::Status refused = joke("Circuit");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << describe(refused);
  EXPECT_NE(refused.error_message().find("circuit"), std::string::npos) << describe(refused);
  EXPECT_EQ(model_calls(), 2u) << "machine A must not call the model";

  // grpcd re-reads the fleet's circuit every second.
  HealthAnswer service;
  bool turned = FakeLlmProcess::eventually(
      [&] {
        service = health_check(channel(), kGenkitService);
        return service.not_serving();
      },
      milliseconds(3000));
  EXPECT_TRUE(turned) << service.describe();
}

}  // namespace
}  // namespace itest
