// The rate-limit zone: token buckets per IP with explicit clocks, Retry-After,
// eviction of the idlest bucket, and exact admission under contention from
// several processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/net/ip_address.h"
#include "common/shm/segment.h"
#include "shm_test_support.h"

namespace genkit::shm {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 10'000 * kSec;

IpKey ip(const char* text) {
  std::optional<IpBytes> b = parse_ip(text);
  EXPECT_TRUE(b) << text;
  return b.value_or(IpBytes{});
}

class ShmRateLimit : public ::testing::Test {
 protected:
  void SetUp() override {
    seg_ = shm_testing::make_segment(4, 64, 1024);
    ASSERT_TRUE(seg_);
  }
  RateLimitZone& zone() { return seg_->rate_limits(); }
  std::unique_ptr<Segment> seg_;
};

TEST_F(ShmRateLimit, AdmitsExactlyCountThenRefuses) {
  const IpKey a = ip("192.0.2.1");
  for (int i = 0; i < 5; ++i) {
    RateDecision d = zone().take(a, 5, 60, kT0);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 5);
    EXPECT_EQ(d.remaining, 4 - i);
  }
  RateDecision refused = zone().take(a, 5, 60, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.limit, 5);
  EXPECT_EQ(refused.retry_after_s, 12);  // one token per 60/5 s
  EXPECT_FALSE(zone().take(a, 5, 60, kT0 + 11 * kSec).allowed);
}

TEST_F(ShmRateLimit, RefillsOverTime) {
  const IpKey a = ip("192.0.2.1");
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(zone().take(a, 60, 60, kT0).allowed);
  RateDecision d = zone().take(a, 60, 60, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 1);
  EXPECT_FALSE(zone().take(a, 60, 60, kT0 + kSec - 1).allowed);
  EXPECT_TRUE(zone().take(a, 60, 60, kT0 + kSec).allowed);
  EXPECT_FALSE(zone().take(a, 60, 60, kT0 + kSec).allowed);
  // Ten seconds: ten tokens, no more.
  int admitted = 0;
  while (zone().take(a, 60, 60, kT0 + 11 * kSec).allowed) ++admitted;
  EXPECT_EQ(admitted, 10);
  // A long idle refills the bucket to its size, not beyond.
  EXPECT_EQ(zone().take(a, 60, 60, kT0 + 3600 * kSec).remaining, 59);
}

TEST_F(ShmRateLimit, RetryAfterCountsDownToTheNextToken) {
  const IpKey a = ip("198.51.100.7");
  ASSERT_TRUE(zone().take(a, 1, 3600, kT0).allowed);
  RateDecision d = zone().take(a, 1, 3600, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 3600);
  EXPECT_EQ(zone().take(a, 1, 3600, kT0 + 1800 * kSec).retry_after_s, 1800);
  EXPECT_EQ(zone().take(a, 1, 3600, kT0 + 3599 * kSec).retry_after_s, 1);
  EXPECT_TRUE(zone().take(a, 1, 3600, kT0 + 3600 * kSec).allowed);
}

TEST_F(ShmRateLimit, AClientRetryingFasterThanAMicroTokenStillRefills) {
  // 1/hour gains a millionth of a token every 3.6 ms: a client asking every
  // millisecond must not lose the fraction each refused request computes.
  const IpKey a = ip("198.51.100.8");
  ASSERT_TRUE(zone().take(a, 1, 3600, kT0).allowed);
  for (int64_t t = kT0; t < kT0 + 2 * kSec; t += kSec / 1000) ASSERT_FALSE(zone().take(a, 1, 3600, t).allowed);
  EXPECT_EQ(zone().take(a, 1, 3600, kT0 + 2 * kSec).retry_after_s, 3598);
}

TEST_F(ShmRateLimit, IPv4AndIPv6ClientsHaveTheirOwnBuckets) {
  const IpKey v4 = ip("10.0.0.1");
  const IpKey mapped = ip("::ffff:10.0.0.1");  // the same client written as IPv6
  const IpKey v6 = ip("2001:db8::1");
  const IpKey v6b = ip("2001:db8::2");
  ASSERT_TRUE(zone().take(v4, 2, 60, kT0).allowed);
  ASSERT_TRUE(zone().take(mapped, 2, 60, kT0).allowed);
  EXPECT_FALSE(zone().take(v4, 2, 60, kT0).allowed);
  EXPECT_EQ(zone().take(v6, 2, 60, kT0).remaining, 1);
  EXPECT_EQ(zone().take(v6, 2, 60, kT0).remaining, 0);
  EXPECT_FALSE(zone().take(v6, 2, 60, kT0).allowed);
  EXPECT_EQ(zone().take(v6b, 2, 60, kT0).remaining, 1);
}

TEST(ShmRateLimitTable, AFullTableEvictsTheIdlestBucket) {
  // 8 buckets: one stripe whose probe window is the whole table.
  auto seg = shm_testing::make_segment(4, 64, 8);
  ASSERT_TRUE(seg);
  RateLimitZone& zone = seg->rate_limits();
  ASSERT_EQ(zone.buckets(), 8u);
  auto client = [](int n) { return ip(("10.1.0." + std::to_string(n)).c_str()); };
  // Eight clients each spend a token, client 3 the longest ago.
  for (int n = 0; n < 8; ++n) {
    int64_t at = n == 3 ? kT0 - 10 * kSec : kT0 + n;
    ASSERT_EQ(zone.take(client(n), 5, 3600, at).remaining, 4);
  }
  for (int n = 0; n < 8; ++n) {
    if (n == 3) continue;
    ASSERT_EQ(zone.take(client(n), 5, 3600, kT0 + 100).remaining, 3);
  }
  EXPECT_EQ(zone.evictions(), 0u);
  // A ninth client: the idlest (client 3) goes.
  EXPECT_EQ(zone.take(client(8), 5, 3600, kT0 + 200).remaining, 4);
  EXPECT_EQ(zone.evictions(), 1u);
  for (int n = 0; n < 8; ++n) {
    if (n == 3) continue;
    EXPECT_EQ(zone.take(client(n), 5, 3600, kT0 + 300).remaining, 2) << n;
  }
  EXPECT_EQ(zone.take(client(8), 5, 3600, kT0 + 300).remaining, 3);
  // Client 3 comes back with a fresh bucket (evicting the next idlest).
  EXPECT_EQ(zone.take(client(3), 5, 3600, kT0 + 400).remaining, 4);
  EXPECT_EQ(zone.evictions(), 2u);
}

TEST(ShmRateLimitTable, AFullyRefilledBucketIsReusedWithoutAnEviction) {
  auto seg = shm_testing::make_segment(4, 64, 8);
  ASSERT_TRUE(seg);
  RateLimitZone& zone = seg->rate_limits();
  auto client = [](int n) { return ip(("10.2.0." + std::to_string(n)).c_str()); };
  for (int n = 0; n < 8; ++n) ASSERT_TRUE(zone.take(client(n), 60, 60, kT0).allowed);
  // A minute later every bucket is full again: reusing one loses nothing.
  EXPECT_TRUE(zone.take(client(8), 60, 60, kT0 + 61 * kSec).allowed);
  EXPECT_EQ(zone.evictions(), 0u);
}

TEST(ShmRateLimitTable, EightProcessesShareOneBucketExactly) {
  auto seg = shm_testing::make_segment(4, 64, 1024);
  ASSERT_TRUE(seg);
  RateLimitZone& zone = seg->rate_limits();
  const IpKey a = ip("203.0.113.9");
  constexpr int kProcesses = 8;
  constexpr int kTriesEach = 60;
  constexpr int kLimit = 100;
  shm_testing::LinePipe results;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(shm_testing::fork_child([&] {
      int admitted = 0;
      // One clock for everyone: no refill, so exactly kLimit may pass.
      for (int i = 0; i < kTriesEach; ++i) admitted += zone.take(a, kLimit, 3600, kT0).allowed ? 1 : 0;
      results.send(std::to_string(admitted));
      return 0;
    }));
  }
  int total = 0;
  for (int p = 0; p < kProcesses; ++p) {
    std::optional<std::string> line = results.receive(std::chrono::milliseconds(5000));
    ASSERT_TRUE(line) << "child " << p << " did not report";
    total += std::stoi(*line);
  }
  for (pid_t pid : children) EXPECT_EQ(shm_testing::reap(pid).code, 0);
  EXPECT_EQ(total, kLimit);
  EXPECT_FALSE(zone.take(a, kLimit, 3600, kT0).allowed);
}

TEST(ShmRateLimitTable, ANonPositiveLimitAdmitsEverything) {
  auto seg = shm_testing::make_segment(4, 64, 8);
  ASSERT_TRUE(seg);
  RateDecision d = seg->rate_limits().take(ip("10.0.0.1"), 0, 60, kT0);
  EXPECT_TRUE(d.allowed);
}

}  // namespace
}  // namespace genkit::shm
