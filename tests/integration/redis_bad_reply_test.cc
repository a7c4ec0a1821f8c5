// A Redis that answers, but not what was asked: keys of the wrong type
// (WRONGTYPE errors from the scripts; a cached value that is not JSON is
// redis_fleet_test's).
// Every such answer is logged (redis_reply_invalid) and counted, never
// trusted: the decision falls back to the machine's shared-memory state and
// the request is served. Nothing crashes.
#include <gtest/gtest.h>

#include <iomanip>
#include <sstream>

#include "common/state/flow_cache.h"
#include "tests/support/redis_server.h"
#include "tests/support/shared_state_support.h"

namespace itest {
namespace {

using genkit::Json;

constexpr const char* kReplyFailures = "genkit_endpoints_redis_failures_total{kind=\"reply\"}";

std::string cache_key_of(const std::string& flow, const std::string& input_json) {
  genkit::Result<Json> input = Json::parse(input_json);
  genkit::shm::CacheKey key = genkit::FlowCache::key_for(flow, input->view());
  std::ostringstream hex;
  for (uint8_t b : key.bytes) hex << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(b);
  return "genkit-endpoints:cache:" + hex.str();
}

class RedisBadReplyTest : public FakeUpstreamServerTest<RedisBadReplyTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  void SetUp() override {
    FakeUpstreamServerTest::SetUp();
    ASSERT_TRUE(redis_.start()) << redis_.error();
  }
  void start_on_redis(Env env) {
    env["STATE_BACKEND"] = "redis";
    env["REDIS_URL"] = redis_.url();
    ASSERT_NO_FATAL_FAILURE(start(env, 1));
    ASSERT_TRUE(server().wait_event("redis_connected", milliseconds(5000)));
  }
  void expect_logged_and_counted(double failures_before) {
    EXPECT_TRUE(server().wait_event("redis_reply_invalid", milliseconds(3000)))
        << "no redis_reply_invalid line:\n" << server().stdout_text();
    EXPECT_GT(sample(scrape(port()), kReplyFailures), failures_before);
  }

  RedisServer redis_;
};

TEST_F(RedisBadReplyTest, ARateLimitBucketOfTheWrongTypeFallsBackToTheLocalBucket) {
  ASSERT_NO_FATAL_FAILURE(start_on_redis({{"CACHE_ENABLED", "false"}, {"RATE_LIMIT_DEFAULT", "2/minute"}}));
  ASSERT_TRUE(redis_.command({"HSET", "genkit-endpoints:rl:127.0.0.1", "not", "a number"}).ok());
  EXPECT_EQ(http_post(port(), "/tell-joke", "{}").status, 200);
  EXPECT_EQ(http_post(port(), "/tell-joke", "{}").status, 200);
  // The machine's own bucket decides: still 2 per minute.
  EXPECT_EQ(http_post(port(), "/tell-joke", "{}").status, 429);
  expect_logged_and_counted(0);
  Samples s = scrape(port());
  EXPECT_GE(sample(s, "genkit_endpoints_redis_fallbacks_total{decision=\"rate_limit\"}"), 3);
  EXPECT_EQ(redis_.command({"HGET", "genkit-endpoints:rl:127.0.0.1", "not"}).str, "a number");
}

TEST_F(RedisBadReplyTest, ACacheKeyOfTheWrongTypeFallsBackToRunningTheFlow) {
  ASSERT_NO_FATAL_FAILURE(start_on_redis({}));
  const std::string body = R"({"text":"wrong type","target_language":"French"})";
  ASSERT_TRUE(redis_.command({"HSET", cache_key_of("translate_text", body), "a", "b"}).ok());
  HttpResponse r = http_post(port(), "/translate", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GE(fake()->model_requests().size(), 1u) << "the flow ran here";
  expect_logged_and_counted(0);
  EXPECT_GE(sample(scrape(port()), "genkit_endpoints_redis_fallbacks_total{decision=\"cache\"}"), 1);
}

TEST_F(RedisBadReplyTest, ABreakerKeyOfTheWrongTypeFallsBackToTheLocalBreaker) {
  ASSERT_NO_FATAL_FAILURE(start_on_redis({{"CACHE_ENABLED", "false"}, {"CB_FAILURE_THRESHOLD", "1"},
                                          {"CB_RECOVERY_TIMEOUT", "60"}}));
  ASSERT_TRUE(redis_.command({"SET", "genkit-endpoints:breaker", "not a hash"}).ok());
  ASSERT_TRUE(fake()->script(R"([{"status":500}])")) << fake()->error();
  EXPECT_EQ(http_post(port(), "/tell-joke", "{}").status, 502);
  // The local breaker saw that failure and opened: no second model call.
  EXPECT_EQ(http_post(port(), "/tell-joke", "{}").status, 503);
  EXPECT_EQ(fake()->model_requests().size(), 1u);
  expect_logged_and_counted(0);
  EXPECT_GE(sample(scrape(port()), "genkit_endpoints_redis_fallbacks_total{decision=\"breaker\"}"), 2);
}

}  // namespace
}  // namespace itest
