// The cache zone's logic, single-threaded with explicit clocks: hits and
// misses, TTL, LRU eviction, the value size limit, and the flights that
// coalesce identical misses of different processes (Callers).
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "common/shm/segment.h"
#include "shm_test_support.h"

namespace genkit::shm {
namespace {

using L = CacheZone::Lookup;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 500 * kSec;
constexpr CacheZone::Caller kA{1001, 3};   // two "processes" in slots 3 and 70
constexpr CacheZone::Caller kB{1002, 70};  // (70: the second word of the bitmap)
constexpr CacheZone::Caller kC{1003, 5};

CacheKey key_of(int n) {
  CacheKey k{};
  k.bytes[0] = static_cast<uint8_t>(n);
  k.bytes[17] = 0xc3;
  return k;
}

bool has(const WaiterSet& w, int slot) { return (w[slot / 64] >> (slot % 64)) & 1; }
int count(const WaiterSet& w) {
  int n = 0;
  for (uint64_t word : w) n += __builtin_popcountll(word);
  return n;
}

class ShmCacheZone : public ::testing::Test {
 protected:
  void SetUp() override {
    seg_ = shm_testing::make_segment(4, 64);
    ASSERT_TRUE(seg_);
  }
  CacheZone& zone() { return seg_->cache(); }

  L lookup(int key, CacheZone::Caller who, int64_t now, uint64_t joined = 0) {
    L l = zone().lookup(key_of(key), joined, who, now, out_);
    text_ = std::string(out_, l.kind == L::kHit || l.kind == L::kFailed ? l.value_len : 0);
    return l;
  }
  // The value now cached for `key`, or nothing (a miss's flight is dropped again).
  std::optional<std::string> cached(int key, int64_t now) {
    L l = lookup(key, kC, now);
    if (l.kind == L::kLead) zone().abandon(key_of(key), l.flight_id);
    if (l.kind != L::kHit) return std::nullopt;
    return text_;
  }
  void put(int key, const std::string& v, int64_t now, int64_t ttl = 60 * kSec) {
    zone().store(key_of(key), v, now, now + ttl);
  }

  std::unique_ptr<Segment> seg_;
  char out_[64];
  std::string text_;  // the last lookup's value or error message
};

TEST_F(ShmCacheZone, MissLeadsThenStoreMakesAHit) {
  L miss = lookup(1, kA, kT0);
  ASSERT_EQ(miss.kind, L::kLead);
  EXPECT_NE(miss.flight_id, 0u);
  EXPECT_EQ(zone().stats().entries, 0u);  // in flight is not a value
  WaiterSet woken = zone().store(key_of(1), "{\"joke\":\"x\"}", kT0, kT0 + 60 * kSec);
  EXPECT_EQ(count(woken), 0);
  L hit = lookup(1, kB, kT0 + kSec);
  ASSERT_EQ(hit.kind, L::kHit);
  EXPECT_EQ(text_, "{\"joke\":\"x\"}");
  EXPECT_EQ(zone().stats().entries, 1u);
  EXPECT_EQ(lookup(2, kB, kT0).kind, L::kLead);  // another key still misses
}

TEST_F(ShmCacheZone, EntriesExpireAtTheirDeadline) {
  put(1, "v1", kT0, 10 * kSec);
  EXPECT_EQ(cached(1, kT0 + 10 * kSec - 1), "v1");
  L l = lookup(1, kA, kT0 + 10 * kSec);
  EXPECT_EQ(l.kind, L::kLead);  // expired: a new flight on the same entry
  EXPECT_EQ(zone().stats().entries, 0u);
}

TEST_F(ShmCacheZone, EvictsTheLeastRecentlyUsedAtCapacity) {
  for (int k = 1; k <= 4; ++k) put(k, "v" + std::to_string(k), kT0);
  EXPECT_EQ(zone().stats().entries, 4u);
  EXPECT_EQ(zone().evictions(), 0u);
  ASSERT_EQ(cached(1, kT0), "v1");  // 1 is now the most recent; 2 the least
  put(5, "v5", kT0);
  EXPECT_EQ(zone().evictions(), 1u);
  put(6, "v6", kT0);
  EXPECT_EQ(zone().evictions(), 2u);
  EXPECT_EQ(zone().stats().entries, 4u);
  EXPECT_EQ(cached(1, kT0), "v1");
  EXPECT_EQ(cached(4, kT0), "v4");
  EXPECT_EQ(cached(5, kT0), "v5");
  EXPECT_EQ(cached(6, kT0), "v6");
  EXPECT_EQ(cached(2, kT0), std::nullopt);
  EXPECT_EQ(cached(3, kT0), std::nullopt);
}

TEST_F(ShmCacheZone, ReusingAnExpiredEntryIsNotAnEviction) {
  put(1, "short", kT0, kSec);
  for (int k = 2; k <= 4; ++k) put(k, "v", kT0 + 1);
  ASSERT_EQ(cached(1, kT0), "short");  // the most recent, yet expired later
  put(5, "v5", kT0 + 2 * kSec);  // evicts key 2 (live): counted
  EXPECT_EQ(zone().evictions(), 1u);
  for (int k = 3; k <= 4; ++k) ASSERT_TRUE(cached(k, kT0 + 2 * kSec));  // key 1 becomes the LRU tail
  put(6, "v6", kT0 + 2 * kSec);  // takes key 1's expired entry: not counted
  EXPECT_EQ(zone().evictions(), 1u);
  EXPECT_EQ(cached(1, kT0 + 2 * kSec), std::nullopt);
}

TEST_F(ShmCacheZone, ValuesOverTheLimitAreNotStored) {
  L lead = lookup(1, kA, kT0);
  ASSERT_EQ(lead.kind, L::kLead);
  EXPECT_EQ(count(zone().store(key_of(1), std::string(65, 'x'), kT0, kT0 + 60 * kSec)), 0);
  EXPECT_EQ(zone().stats().entries, 0u);
  EXPECT_EQ(lookup(1, kB, kT0).kind, L::kJoin);  // the flight still runs; nothing was stored
  zone().store(key_of(1), std::string(64, 'y'), kT0, kT0 + 60 * kSec);  // exactly the limit: kept
  EXPECT_EQ(cached(1, kT0), std::string(64, 'y'));
}

TEST_F(ShmCacheZone, AnotherProcessJoinsTheFlightAndIsWokenByStore) {
  L lead = lookup(1, kA, kT0);
  ASSERT_EQ(lead.kind, L::kLead);
  L join = lookup(1, kB, kT0 + 1);
  ASSERT_EQ(join.kind, L::kJoin);
  EXPECT_EQ(join.flight_id, lead.flight_id);
  EXPECT_EQ(join.leader_pid, kA.pid);
  EXPECT_EQ(join.flight_started_ns, kT0);
  // Re-checking its flight: still running.
  EXPECT_EQ(lookup(1, kB, kT0 + 2, join.flight_id).kind, L::kWait);
  WaiterSet woken = zone().store(key_of(1), "result", kT0 + 3, kT0 + 60 * kSec);
  EXPECT_TRUE(has(woken, kB.slot));
  EXPECT_EQ(count(woken), 1);
  L after = lookup(1, kB, kT0 + 4, join.flight_id);
  ASSERT_EQ(after.kind, L::kHit);
  EXPECT_EQ(text_, "result");
}

TEST_F(ShmCacheZone, AFailureReachesOnlyTheFlightsJoiners) {
  L lead = lookup(1, kA, kT0);
  L join = lookup(1, kB, kT0);
  ASSERT_EQ(join.kind, L::kJoin);
  WaiterSet woken = zone().fail(key_of(1), lead.flight_id, 10, 7, "model overloaded", kT0 + 10 * kSec);
  EXPECT_TRUE(has(woken, kB.slot));
  EXPECT_EQ(count(woken), 1);
  L failed = lookup(1, kB, kT0 + 1, join.flight_id);
  ASSERT_EQ(failed.kind, L::kFailed);
  EXPECT_EQ(failed.error_code, 10);
  EXPECT_EQ(failed.retry_after_s, 7);
  EXPECT_EQ(text_, "model overloaded");
  // A new request does not get the error: it leads a new flight.
  L fresh = lookup(1, kC, kT0 + 2);
  ASSERT_EQ(fresh.kind, L::kLead);
  EXPECT_NE(fresh.flight_id, lead.flight_id);
  // A fail() for a flight that is no longer the entry's changes nothing.
  EXPECT_EQ(count(zone().fail(key_of(1), lead.flight_id, 10, 7, "late", kT0 + 10 * kSec)), 0);
  EXPECT_EQ(lookup(1, kB, kT0 + 3).kind, L::kJoin);
}

TEST_F(ShmCacheZone, AnUncachedResultSendsItsJoinersToComputeThemselves) {
  L lead = lookup(1, kA, kT0);
  L join = lookup(1, kB, kT0);
  WaiterSet woken = zone().uncached(key_of(1), lead.flight_id, kT0 + 10 * kSec);
  EXPECT_TRUE(has(woken, kB.slot));
  EXPECT_EQ(lookup(1, kB, kT0 + 1, join.flight_id).kind, L::kUncached);
  EXPECT_EQ(lookup(1, kC, kT0 + 1).kind, L::kLead);
}

TEST_F(ShmCacheZone, AbandonFreesTheEntryAndReturnsItsWaiters) {
  L lead = lookup(1, kA, kT0);
  lookup(1, kB, kT0);
  lookup(1, kC, kT0);
  EXPECT_EQ(count(zone().abandon(key_of(1), lead.flight_id + 99)), 0);  // not its flight
  WaiterSet woken = zone().abandon(key_of(1), lead.flight_id);
  EXPECT_TRUE(has(woken, kB.slot));
  EXPECT_TRUE(has(woken, kC.slot));
  EXPECT_EQ(count(woken), 2);
  // The entry is gone: the next lookup leads, even with the old flight id.
  L next = lookup(1, kB, kT0 + 1, lead.flight_id);
  EXPECT_EQ(next.kind, L::kLead);
  // And the abandoned entry was freed: four other keys still fit.
  zone().abandon(key_of(1), next.flight_id);
  for (int k = 2; k <= 5; ++k) put(k, "v", kT0);
  EXPECT_EQ(zone().evictions(), 0u);
}

TEST_F(ShmCacheZone, TakeOverOnlyForTheFlightTheCallerSaw) {
  L lead = lookup(1, kA, kT0);
  L join = lookup(1, kB, kT0);
  uint64_t next = 0;
  EXPECT_FALSE(zone().take_over(key_of(1), join.flight_id + 1, kB, kT0 + kSec, &next));
  EXPECT_FALSE(zone().take_over(key_of(2), join.flight_id, kB, kT0 + kSec, &next));
  ASSERT_TRUE(zone().take_over(key_of(1), join.flight_id, kB, kT0 + kSec, &next));
  EXPECT_NE(next, lead.flight_id);
  // A second waiter that saw the old flight cannot take it again.
  uint64_t other = 0;
  EXPECT_FALSE(zone().take_over(key_of(1), join.flight_id, kC, kT0 + kSec, &other));
  // The old leader re-checking its flight finds B's: it joins it.
  L old = lookup(1, kA, kT0 + 2 * kSec, lead.flight_id);
  ASSERT_EQ(old.kind, L::kJoin);
  EXPECT_EQ(old.flight_id, next);
  EXPECT_EQ(old.leader_pid, kB.pid);
  EXPECT_EQ(old.flight_started_ns, kT0 + kSec);
  // The new leader is not its own waiter; the old one is.
  WaiterSet woken = zone().store(key_of(1), "v", kT0 + 3 * kSec, kT0 + 60 * kSec);
  EXPECT_FALSE(has(woken, kB.slot));
  EXPECT_TRUE(has(woken, kA.slot));
}

TEST_F(ShmCacheZone, OthersWaitUntilTheyLeave) {
  L lead = lookup(1, kA, kT0);
  EXPECT_FALSE(zone().others_wait(key_of(1), lead.flight_id, kA));
  L join = lookup(1, kB, kT0);
  EXPECT_TRUE(zone().others_wait(key_of(1), lead.flight_id, kA));
  EXPECT_FALSE(zone().others_wait(key_of(1), lead.flight_id + 1, kA));
  zone().leave(key_of(1), join.flight_id, kB);
  EXPECT_FALSE(zone().others_wait(key_of(1), lead.flight_id, kA));
  EXPECT_EQ(count(zone().store(key_of(1), "v", kT0, kT0 + kSec)), 0);
}

TEST_F(ShmCacheZone, InFlightEntriesAreNeverEvicted) {
  uint64_t flights[4];
  for (int k = 1; k <= 4; ++k) flights[k - 1] = lookup(k, kA, kT0).flight_id;
  // Every entry in flight: a fifth key cannot have one.
  EXPECT_EQ(lookup(5, kB, kT0).kind, L::kUnavailable);
  EXPECT_EQ(lookup(1, kB, kT0).kind, L::kJoin);
  zone().abandon(key_of(2), flights[1]);
  EXPECT_EQ(lookup(5, kB, kT0).kind, L::kLead);
}

}  // namespace
}  // namespace genkit::shm
