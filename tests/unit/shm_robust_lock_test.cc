// A process SIGKILLed while it holds a zone's lock (at each of the zone's
// fault points) must not wedge the others: the next locker repairs the zone,
// and the data it then reads is consistent. Each child dies at the named
// point; the parent reaps it and carries on (under a watchdog: an
// unrepaired lock would block it forever).
#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/shm/segment.h"
#include "shm_test_support.h"

namespace genkit::shm {
namespace {

using shm_testing::die_at;
using shm_testing::fork_child;
using shm_testing::killed_by_sigkill;
using shm_testing::make_segment;
using shm_testing::reap;
using shm_testing::Watchdog;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1000 * kSec;

CacheKey key_of(int n) {
  CacheKey k{};
  k.bytes[0] = static_cast<uint8_t>(n);
  k.bytes[1] = static_cast<uint8_t>(n >> 8);
  k.bytes[31] = 0x5a;
  return k;
}

std::string value_of(int n, std::size_t len = 40) {
  std::string v = "value-" + std::to_string(n) + "-";
  v.resize(len, static_cast<char>('a' + n % 26));
  return v;
}

// Runs `op` in a child that SIGKILLs itself at fault point `point`.
void kill_child_at(const char* point, const std::function<void()>& op, pid_t* child = nullptr) {
  pid_t pid = fork_child([&] {
    die_at(point);
    op();
    return 3;  // the fault point was never reached
  });
  ASSERT_GT(pid, 0);
  if (child) *child = pid;
  shm_testing::ChildExit e = reap(pid);
  ASSERT_TRUE(killed_by_sigkill(e)) << point << ": exit code " << e.code << ", signal " << e.signal;
}

std::optional<std::string> read_value(CacheZone& zone, const CacheKey& key, int64_t now) {
  std::string out(zone.max_value_bytes(), '\0');
  CacheZone::Lookup l = zone.lookup(key, 0, {getpid(), 0}, now, out);
  // A miss starts a flight: drop it, so that it holds no entry.
  if (l.kind == CacheZone::Lookup::kLead) zone.abandon(key, l.flight_id);
  if (l.kind != CacheZone::Lookup::kHit) return std::nullopt;
  return out.substr(0, l.value_len);
}

// Fills the cache well past its capacity and checks LRU still keeps exactly
// the newest `capacity` entries.
void expect_cache_works(CacheZone& zone, int first_key) {
  const int cap = static_cast<int>(zone.capacity());
  uint64_t evictions_before = zone.evictions();
  for (int i = 0; i < 3 * cap; ++i) zone.store(key_of(first_key + i), value_of(first_key + i), kT0, kT0 + 60 * kSec);
  EXPECT_EQ(zone.stats().entries, static_cast<uint32_t>(cap));
  EXPECT_GE(zone.evictions() - evictions_before, static_cast<uint64_t>(2 * cap - 1));
  for (int i = 2 * cap; i < 3 * cap; ++i) {
    EXPECT_EQ(read_value(zone, key_of(first_key + i), kT0 + kSec), value_of(first_key + i)) << "key " << i;
  }
}

TEST(ShmRobustLock, CacheStoreKilledMidCopyLeavesNoHalfValue) {
  auto seg = make_segment(8, 256);
  ASSERT_TRUE(seg);
  CacheZone& zone = seg->cache();
  const CacheKey key = key_of(1);
  zone.store(key, value_of(1), kT0, kT0 + 60 * kSec);
  zone.store(key_of(2), value_of(2), kT0, kT0 + 60 * kSec);

  // The child overwrites key 1 with a longer value and dies in the copy.
  kill_child_at("cache.store.copy", [&] { zone.store(key, std::string(200, 'N'), kT0, kT0 + 60 * kSec); });

  Watchdog watchdog(10);
  uint64_t repaired = repaired_lock_count();
  std::optional<std::string> v = read_value(zone, key, kT0 + kSec);
  EXPECT_EQ(repaired_lock_count(), repaired + 1);
  // Neither the torn new value nor the partly overwritten old one is served.
  EXPECT_FALSE(v.has_value()) << *v;
  EXPECT_EQ(read_value(zone, key_of(2), kT0 + kSec), value_of(2));
  expect_cache_works(zone, 100);
}

TEST(ShmRobustLock, CacheKilledStartingAFlightLeavesAFlightToTakeOver) {
  auto seg = make_segment(8, 256);
  ASSERT_TRUE(seg);
  CacheZone& zone = seg->cache();
  const CacheKey key = key_of(3);
  pid_t child = 0;
  kill_child_at(
      "cache.begin_flight",
      [&] {
        char out[256];
        zone.lookup(key, 0, {getpid(), 1}, kT0, out);
      },
      &child);

  Watchdog watchdog(10);
  uint64_t repaired = repaired_lock_count();
  char out[256];
  CacheZone::Lookup l = zone.lookup(key, 0, {getpid(), 0}, kT0 + kSec, out);
  EXPECT_EQ(repaired_lock_count(), repaired + 1);
  // The dead leader's flight is found (chained again by the repair) and can
  // be taken over; its result is then served.
  ASSERT_EQ(l.kind, CacheZone::Lookup::kJoin);
  EXPECT_EQ(l.leader_pid, child);
  uint64_t mine = 0;
  ASSERT_TRUE(zone.take_over(key, l.flight_id, {getpid(), 0}, kT0 + kSec, &mine));
  zone.store(key, value_of(3), kT0 + kSec, kT0 + 60 * kSec);
  EXPECT_EQ(read_value(zone, key, kT0 + 2 * kSec), value_of(3));
  expect_cache_works(zone, 200);
}

TEST(ShmRobustLock, CacheKilledEvictingKeepsTheOtherEntries) {
  auto seg = make_segment(4, 256);
  ASSERT_TRUE(seg);
  CacheZone& zone = seg->cache();
  for (int i = 0; i < 4; ++i) zone.store(key_of(i), value_of(i), kT0 + i, kT0 + 60 * kSec);
  // Full: the child's new key evicts the LRU tail (key 0) and dies there.
  kill_child_at("cache.evict", [&] { zone.store(key_of(9), value_of(9), kT0 + 10, kT0 + 60 * kSec); });

  Watchdog watchdog(10);
  uint64_t repaired = repaired_lock_count();
  EXPECT_EQ(read_value(zone, key_of(3), kT0 + kSec), value_of(3));
  EXPECT_EQ(repaired_lock_count(), repaired + 1);
  EXPECT_EQ(read_value(zone, key_of(2), kT0 + kSec), value_of(2));
  EXPECT_EQ(read_value(zone, key_of(1), kT0 + kSec), value_of(1));
  EXPECT_EQ(zone.stats().entries, 3u);  // key 0 went, key 9 never arrived
  EXPECT_FALSE(read_value(zone, key_of(9), kT0 + kSec));
  expect_cache_works(zone, 300);
}

IpKey ip_of(uint8_t last) {
  IpKey ip{};
  ip[10] = ip[11] = 0xff;
  ip[12] = 10;
  ip[15] = last;
  return ip;
}

TEST(ShmRobustLock, RateLimitKilledCreatingABucketKeepsOtherCountsExact) {
  // 8 buckets: one stripe, so the child dies holding the lock every IP uses.
  auto seg = make_segment(8, 256, 8);
  ASSERT_TRUE(seg);
  RateLimitZone& zone = seg->rate_limits();
  // The real clock: the repair clamps bucket times that lie in its future.
  const int64_t t0 = monotonic_ns();
  for (uint8_t ip = 1; ip <= 3; ++ip) {
    for (int i = 0; i < ip; ++i) ASSERT_TRUE(zone.take(ip_of(ip), 10, 3600, t0).allowed);
  }
  kill_child_at("rate.new_bucket", [&] { zone.take(ip_of(99), 10, 3600, t0); });

  Watchdog watchdog(10);
  uint64_t repaired = repaired_lock_count();
  RateDecision d = zone.take(ip_of(1), 10, 3600, t0);
  EXPECT_EQ(repaired_lock_count(), repaired + 1);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 8);  // 10 - 1 before - this one
  EXPECT_EQ(zone.take(ip_of(2), 10, 3600, t0).remaining, 7);
  EXPECT_EQ(zone.take(ip_of(3), 10, 3600, t0).remaining, 6);
  // The dead child's request was never counted: its IP starts full.
  EXPECT_EQ(zone.take(ip_of(99), 10, 3600, t0).remaining, 9);
  // And ip 3 still runs out exactly on time.
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(zone.take(ip_of(3), 10, 3600, t0).allowed);
  EXPECT_FALSE(zone.take(ip_of(3), 10, 3600, t0).allowed);
}

TEST(ShmRobustLock, BreakerKilledMidTransitionStaysValidAndUsable) {
  auto seg = make_segment();
  ASSERT_TRUE(seg);
  BreakerZone& breaker = seg->breaker();
  BreakerPolicy policy;
  policy.failure_threshold = 2;
  policy.recovery_ns = 30 * kSec;
  breaker.record_failure(policy, 1, false, kT0);
  // The child's failure reaches the threshold; it dies opening the circuit.
  kill_child_at("breaker.transition", [&] { breaker.record_failure(policy, getpid(), false, kT0); });

  Watchdog watchdog(10);
  uint64_t repaired = repaired_lock_count();
  Admission a = breaker.admit(policy, 1, kT0 + kSec);
  EXPECT_EQ(repaired_lock_count(), repaired + 1);
  EXPECT_TRUE(a.allowed);  // the transition never happened: still closed
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  EXPECT_EQ(breaker.transitions(CircuitState::kOpen), 0u);
  // Transitions still work: one more failure opens it, recovery half-opens it,
  // the probe's success closes it.
  breaker.record_failure(policy, 1, false, kT0 + kSec);
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
  EXPECT_FALSE(breaker.admit(policy, 1, kT0 + 2 * kSec).allowed);
  Admission probe = breaker.admit(policy, 1, kT0 + 31 * kSec);
  EXPECT_TRUE(probe.probe);
  breaker.record_success(1, true);
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  EXPECT_EQ(breaker.transitions(CircuitState::kClosed), 1u);
}

TEST(ShmRobustLock, BreakerKilledClosingFreesTheProbe) {
  auto seg = make_segment();
  ASSERT_TRUE(seg);
  BreakerZone& breaker = seg->breaker();
  BreakerPolicy policy;
  policy.failure_threshold = 1;
  policy.recovery_ns = 30 * kSec;
  breaker.record_failure(policy, 1, false, kT0);
  ASSERT_EQ(breaker.state(), CircuitState::kOpen);
  // The child half-opens the circuit (takes the probe), then dies closing it.
  kill_child_at("breaker.transition", [&] {
    shm_testing::g_die_at = nullptr;
    Admission a = breaker.admit(policy, getpid(), kT0 + 31 * kSec);
    if (!a.probe) return;
    shm_testing::g_die_at = "breaker.transition";
    breaker.record_success(getpid(), true);
  });

  Watchdog watchdog(10);
  uint64_t repaired = repaired_lock_count();
  EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen);  // read without the lock
  // The dead prober's probe is free at once: the next caller probes (no
  // wait for the lease), and exactly one caller does.
  Admission a = breaker.admit(policy, 1, kT0 + 32 * kSec);
  EXPECT_EQ(repaired_lock_count(), repaired + 1);
  EXPECT_TRUE(a.probe);
  EXPECT_FALSE(breaker.admit(policy, 2, kT0 + 32 * kSec).allowed);
  breaker.record_success(1, true);
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  EXPECT_EQ(breaker.transitions(CircuitState::kClosed), 1u);
}

TEST(ShmRobustLock, LabelTableKilledAppendingDropsTheHalfName) {
  auto seg = make_segment();
  ASSERT_TRUE(seg);
  ProcessTable& table = seg->processes();
  ASSERT_EQ(table.intern_route("/chat"), 0);
  ASSERT_EQ(table.intern_route("/translate"), 1);
  kill_child_at("labels.append", [&] { table.intern_route("/review-code-from-a-dying-child"); });

  Watchdog watchdog(10);
  uint64_t repaired = repaired_lock_count();
  EXPECT_EQ(table.intern_route("/translate"), 1);
  EXPECT_EQ(repaired_lock_count(), repaired + 1);
  EXPECT_EQ(table.routes(), (std::vector<std::string>{"/chat", "/translate"}));
  // The next name takes the free index, whole.
  EXPECT_EQ(table.intern_route("/tell-joke"), 2);
  EXPECT_EQ(table.routes(), (std::vector<std::string>{"/chat", "/translate", "/tell-joke"}));
  // The model table has its own lock, untouched.
  EXPECT_EQ(table.intern_model("mock/echo"), 0);
  EXPECT_EQ(repaired_lock_count(), repaired + 1);
}

}  // namespace
}  // namespace genkit::shm
