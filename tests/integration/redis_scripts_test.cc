// The Redis backend's Lua scripts (common/state/redis_scripts.*), run with
// EVAL on a real redis-server: the token bucket, the breaker's admission,
// recording and single probe, and the cache's lookup-or-lock, store, unlock
// and renew — the decisions every machine of a fleet shares.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/state/redis_scripts.h"
#include "tests/support/redis_server.h"

namespace {

using namespace std::chrono_literals;
using genkit::redis_scripts::Script;
using itest::RedisReply;

class RedisScriptsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis() = std::make_unique<itest::RedisServer>();
    redis()->start();
  }
  static void TearDownTestSuite() { redis().reset(); }
  static std::unique_ptr<itest::RedisServer>& redis() {
    static std::unique_ptr<itest::RedisServer> r;
    return r;
  }

  void SetUp() override {
    ASSERT_TRUE(redis() && redis()->running()) << (redis() ? redis()->error() : "");
    ASSERT_TRUE(redis()->command({"FLUSHALL"}).ok());
  }

  static RedisReply eval(Script script, const std::vector<std::string>& keys, const std::vector<std::string>& args) {
    std::vector<std::string> argv{"EVAL", genkit::redis_scripts::sources()[script], std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return redis()->command(argv);
  }
  // The integers of an array reply (-999 for anything else; not an array:
  // four of them, so that indexing a failed answer fails the test, not it).
  static std::vector<long long> ints(const RedisReply& r) {
    if (r.type != RedisReply::Type::kArray) return {-999, -999, -999, -999};
    std::vector<long long> out;
    for (const RedisReply& e : r.elements) out.push_back(e.type == RedisReply::Type::kInteger ? e.integer : -999);
    return out;
  }
  // One decision: >= 0 allowed (tokens left), < 0 refused (-ms until the next token).
  static long long take(const std::string& key, int capacity, int period_ms) {
    std::vector<std::string> args{std::to_string(capacity), std::to_string(period_ms)};
    return ints(eval(genkit::redis_scripts::kTakeToken, {key}, args))[0];
  }
};

TEST_F(RedisScriptsTest, TokenBucketAdmitsCapacityThenRefusesWithTheWait) {
  EXPECT_EQ(take("rl:a", 3, 60000), 2);
  EXPECT_EQ(take("rl:a", 3, 60000), 1);
  EXPECT_EQ(take("rl:a", 3, 60000), 0);
  // One token every 20 s: the next one is (almost) 20 s away.
  long long refused = take("rl:a", 3, 60000);
  EXPECT_LT(refused, -19000);
  EXPECT_GE(refused, -20000);
  // Another client has its own bucket.
  EXPECT_EQ(take("rl:b", 3, 60000), 2);
  // The bucket's key lives until it would be full again.
  long long ttl = redis()->pttl("rl:a");
  EXPECT_GT(ttl, 55000);
  EXPECT_LE(ttl, 60000);
}

TEST_F(RedisScriptsTest, TokenBucketRefillsWithRedisTime) {
  EXPECT_GE(take("rl:r", 2, 400), 0);
  EXPECT_GE(take("rl:r", 2, 400), 0);
  EXPECT_LT(take("rl:r", 2, 400), 0);
  std::this_thread::sleep_for(300ms);  // 1.5 tokens at 2 per 400 ms
  EXPECT_GE(take("rl:r", 2, 400), 0);
}

TEST_F(RedisScriptsTest, OneCallDecidesForEveryKeyInTurn) {
  RedisReply r = eval(genkit::redis_scripts::kTakeToken, {"rl:x", "rl:y", "rl:x", "rl:x"}, {"2", "60000"});
  std::vector<long long> v = ints(r);
  ASSERT_EQ(v.size(), 4u) << r.describe();
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[1], 1);
  EXPECT_EQ(v[2], 0);
  EXPECT_LT(v[3], 0) << "the third take of x in one call is refused";
}

TEST_F(RedisScriptsTest, TokenBucketTakesRatesBeyondItsClocksResolution) {
  for (int i = 0; i < 3; ++i) EXPECT_GE(take("rl:fast", 1000000000, 1000), 0);
  EXPECT_NE(redis()->pttl("rl:fast"), -1);
}

TEST_F(RedisScriptsTest, TokenBucketTreatsAGarbledBucketAsNew) {
  ASSERT_TRUE(redis()->command({"SET", "rl:g", "abc"}).ok());
  EXPECT_EQ(take("rl:g", 5, 60000), 4);
}

class RedisBreakerScriptTest : public RedisScriptsTest {
 protected:
  // recovery 300 ms, probe lease 400 ms, key ttl 60 s
  static std::vector<long long> admit(const std::string& caller, int recovery_ms = 300, int lease_ms = 400) {
    return ints(eval(genkit::redis_scripts::kBreakerAdmit, {"breaker"},
                     {std::to_string(recovery_ms), caller, std::to_string(lease_ms), "60000"}));
  }
  static long long record(const std::string& caller, bool ok, bool probe, int threshold = 2) {
    RedisReply r = eval(genkit::redis_scripts::kBreakerRecord, {"breaker"},
                        {ok ? "ok" : "fail", std::to_string(threshold), probe ? "1" : "0", caller, "60000"});
    return r.type == RedisReply::Type::kInteger ? r.integer : -999;
  }
};

TEST_F(RedisBreakerScriptTest, OpensAfterTheThresholdAndLetsExactlyOneProbeThrough) {
  EXPECT_EQ(admit("a"), (std::vector<long long>{1, 0, 0, 0}));
  EXPECT_EQ(record("a", false, false), 0);
  EXPECT_EQ(record("b", true, false), 0);  // a success resets the count of consecutive failures
  EXPECT_EQ(record("a", false, false), 0);
  EXPECT_EQ(record("b", false, false), 1);  // two in a row: open
  std::vector<long long> refused = admit("c");
  EXPECT_EQ(refused[0], 0);
  EXPECT_EQ(refused[3], 1);
  EXPECT_GE(refused[2], 1);  // Retry-After, seconds
  EXPECT_GT(redis()->pttl("breaker"), 0);

  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(admit("a"), (std::vector<long long>{1, 1, 0, 2}));  // the probe
  std::vector<long long> second = admit("b");
  EXPECT_EQ(second[0], 0) << "a second probe while half-open";
  EXPECT_EQ(second[3], 2);
  EXPECT_EQ(record("b", false, false), 2);  // not the probe: decides nothing
  EXPECT_EQ(record("a", true, true), 0);    // the probe succeeded: closed
  EXPECT_EQ(admit("b"), (std::vector<long long>{1, 0, 0, 0}));
}

TEST_F(RedisBreakerScriptTest, AFailedProbeOpensAgain) {
  record("a", false, false, 1);
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(admit("a")[1], 1);
  EXPECT_EQ(record("a", false, true, 1), 1);
  EXPECT_EQ(admit("b")[0], 0);
}

TEST_F(RedisBreakerScriptTest, AProbeWhoseHolderIsGoneIsHandedOn) {
  record("a", false, false, 1);
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(admit("a")[1], 1);
  EXPECT_EQ(admit("b")[0], 0);
  // Released (the call was cancelled): the next caller probes at once.
  ASSERT_TRUE(eval(genkit::redis_scripts::kBreakerRelease, {"breaker"}, {"a"}).ok());
  EXPECT_EQ(admit("b")[1], 1);
  // Never answered: after the lease (400 ms) the next caller probes.
  EXPECT_EQ(admit("c")[0], 0);
  std::this_thread::sleep_for(450ms);
  EXPECT_EQ(admit("c")[1], 1);
}

class RedisCacheScriptTest : public RedisScriptsTest {
 protected:
  static RedisReply lookup(const std::string& leader, int lock_ms = 10000) {
    return eval(genkit::redis_scripts::kCacheLookup, {"v", "lock"}, {leader, std::to_string(lock_ms)});
  }
};

TEST_F(RedisCacheScriptTest, TheFirstMissLeadsTheOthersWaitThenAllHit) {
  EXPECT_EQ(ints(lookup("m1:1")), (std::vector<long long>{2}));
  EXPECT_EQ(redis()->command({"GET", "lock"}).str, "m1:1");
  long long lock_ttl = redis()->pttl("lock");
  EXPECT_GT(lock_ttl, 0);
  EXPECT_LE(lock_ttl, 10000);
  EXPECT_EQ(ints(lookup("m2:7")), (std::vector<long long>{3}));

  ASSERT_TRUE(eval(genkit::redis_scripts::kCacheStore, {"v", "lock"}, {R"({"a":1})", "5000", "m1:1"}).ok());
  EXPECT_EQ(redis()->pttl("lock"), -2) << "the leader's store unlocks";
  long long ttl = redis()->pttl("v");
  EXPECT_GT(ttl, 4000);
  EXPECT_LE(ttl, 5000);
  RedisReply hit = lookup("m2:7");
  ASSERT_EQ(hit.elements.size(), 2u) << hit.describe();
  EXPECT_EQ(hit.elements[0].integer, 1);
  EXPECT_EQ(hit.elements[1].str, R"({"a":1})");
}

TEST_F(RedisCacheScriptTest, OnlyTheLeaderUnlocksOrRenews) {
  EXPECT_EQ(ints(lookup("m1:1", 1000)), (std::vector<long long>{2}));
  EXPECT_EQ(eval(genkit::redis_scripts::kCacheRenew, {"lock"}, {"m2:7", "10000"}).integer, 0);
  EXPECT_EQ(eval(genkit::redis_scripts::kCacheUnlock, {"lock"}, {"m2:7"}).integer, 0);
  EXPECT_EQ(eval(genkit::redis_scripts::kCacheRenew, {"lock"}, {"m1:1", "10000"}).integer, 1);
  EXPECT_GT(redis()->pttl("lock"), 5000);
  EXPECT_EQ(eval(genkit::redis_scripts::kCacheUnlock, {"lock"}, {"m1:1"}).integer, 1);
  // Unlocked without a value (the leader failed): the next miss leads.
  EXPECT_EQ(ints(lookup("m2:7")), (std::vector<long long>{2}));
}

TEST_F(RedisCacheScriptTest, ALeaderThatDiesReleasesByExpiry) {
  EXPECT_EQ(ints(lookup("m1:1", 200)), (std::vector<long long>{2}));
  EXPECT_EQ(ints(lookup("m2:7", 200)), (std::vector<long long>{3}));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(ints(lookup("m2:7", 200)), (std::vector<long long>{2}));
  // A store by a leader whose lock was taken over keeps the new leader's lock.
  ASSERT_TRUE(eval(genkit::redis_scripts::kCacheStore, {"v", "lock"}, {"1", "5000", "m1:1"}).ok());
  EXPECT_EQ(redis()->command({"GET", "lock"}).str, "m2:7");
}

}  // namespace
