// The breaker zone with explicit clocks: closed → open after `threshold`
// consecutive failures, open refuses until the recovery timeout, then
// exactly one probe decides; the probe's lease, release and hand-over.
#include <gtest/gtest.h>

#include "common/shm/segment.h"
#include "shm_test_support.h"

namespace genkit::shm {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'000 * kSec;
constexpr int32_t kP1 = 101, kP2 = 102, kP3 = 103;

class ShmBreaker : public ::testing::Test {
 protected:
  void SetUp() override {
    seg_ = shm_testing::make_segment();
    ASSERT_TRUE(seg_);
    policy_.failure_threshold = 3;
    policy_.recovery_ns = 30 * kSec;
    policy_.probe_lease_ns = 120 * kSec;
  }
  BreakerZone& zone() { return seg_->breaker(); }
  void fail(int times, int64_t at) {
    for (int i = 0; i < times; ++i) zone().record_failure(policy_, kP1, false, at);
  }
  // Opens the circuit at kT0 and half-opens it at kT0 + 30 s with kP1 probing.
  void half_open_with_probe() {
    fail(3, kT0);
    ASSERT_EQ(zone().state(), CircuitState::kOpen);
    Admission a = zone().admit(policy_, kP1, kT0 + 30 * kSec);
    ASSERT_TRUE(a.allowed && a.probe);
  }

  std::unique_ptr<Segment> seg_;
  BreakerPolicy policy_;
};

TEST_F(ShmBreaker, ThresholdConsecutiveFailuresOpenIt) {
  fail(2, kT0);
  EXPECT_EQ(zone().state(), CircuitState::kClosed);
  Admission a = zone().admit(policy_, kP1, kT0);
  EXPECT_TRUE(a.allowed);
  EXPECT_FALSE(a.probe);
  fail(1, kT0);
  EXPECT_EQ(zone().state(), CircuitState::kOpen);
  EXPECT_EQ(zone().transitions(CircuitState::kOpen), 1u);
  EXPECT_EQ(zone().transitions(CircuitState::kClosed), 0u);
}

TEST_F(ShmBreaker, ASuccessResetsTheCount) {
  fail(2, kT0);
  zone().record_success(kP2, false);
  fail(2, kT0);
  EXPECT_EQ(zone().state(), CircuitState::kClosed);
  fail(1, kT0);
  EXPECT_EQ(zone().state(), CircuitState::kOpen);
}

TEST_F(ShmBreaker, OpenRefusesWithTheSecondsLeft) {
  fail(3, kT0);
  Admission a = zone().admit(policy_, kP1, kT0 + 10 * kSec);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.retry_after_s, 20);
  Admission b = zone().admit(policy_, kP1, kT0 + 29 * kSec + 1);
  EXPECT_FALSE(b.allowed);
  EXPECT_EQ(b.retry_after_s, 1);  // rounded up
  // Failures while open change nothing (the timer is not restarted).
  fail(5, kT0 + 20 * kSec);
  EXPECT_EQ(zone().admit(policy_, kP1, kT0 + 20 * kSec).retry_after_s, 10);
  EXPECT_EQ(zone().transitions(CircuitState::kOpen), 1u);
}

TEST_F(ShmBreaker, AfterRecoveryExactlyOneCallProbes) {
  half_open_with_probe();
  EXPECT_EQ(zone().state(), CircuitState::kHalfOpen);
  EXPECT_EQ(zone().transitions(CircuitState::kHalfOpen), 1u);
  for (int32_t pid : {kP1, kP2, kP3}) {
    Admission other = zone().admit(policy_, pid, kT0 + 31 * kSec);
    EXPECT_FALSE(other.allowed);
    EXPECT_FALSE(other.probe);
    EXPECT_EQ(other.retry_after_s, 1);
    EXPECT_EQ(other.probe_holder, kP1);
  }
}

TEST_F(ShmBreaker, TheProbesSuccessClosesIt) {
  half_open_with_probe();
  zone().record_success(kP2, false);  // not the probe: decides nothing
  EXPECT_EQ(zone().state(), CircuitState::kHalfOpen);
  zone().record_success(kP1, true);
  EXPECT_EQ(zone().state(), CircuitState::kClosed);
  EXPECT_EQ(zone().transitions(CircuitState::kClosed), 1u);
  EXPECT_TRUE(zone().admit(policy_, kP2, kT0 + 31 * kSec).allowed);
  // Closed again with a fresh count: it takes the full threshold to reopen.
  fail(2, kT0 + 32 * kSec);
  EXPECT_EQ(zone().state(), CircuitState::kClosed);
}

TEST_F(ShmBreaker, TheProbesFailureReopensIt) {
  half_open_with_probe();
  zone().record_failure(policy_, kP2, false, kT0 + 31 * kSec);  // not the probe
  EXPECT_EQ(zone().state(), CircuitState::kHalfOpen);
  zone().record_failure(policy_, kP1, true, kT0 + 35 * kSec);
  EXPECT_EQ(zone().state(), CircuitState::kOpen);
  EXPECT_EQ(zone().transitions(CircuitState::kOpen), 2u);
  // A full recovery period from the reopening.
  Admission a = zone().admit(policy_, kP2, kT0 + 36 * kSec);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.retry_after_s, 29);
  EXPECT_TRUE(zone().admit(policy_, kP2, kT0 + 65 * kSec).probe);
}

TEST_F(ShmBreaker, AReleasedProbeGoesToTheNextCaller) {
  half_open_with_probe();
  zone().release_probe(kP2);  // not its probe
  EXPECT_FALSE(zone().admit(policy_, kP2, kT0 + 31 * kSec).allowed);
  zone().release_probe(kP1);
  EXPECT_EQ(zone().state(), CircuitState::kHalfOpen);
  Admission a = zone().admit(policy_, kP2, kT0 + 31 * kSec);
  EXPECT_TRUE(a.probe);
  EXPECT_FALSE(zone().admit(policy_, kP3, kT0 + 31 * kSec).allowed);
}

TEST_F(ShmBreaker, AProbeOutlivingItsLeaseIsGivenAway) {
  half_open_with_probe();  // lease until kT0 + 150 s
  EXPECT_FALSE(zone().admit(policy_, kP2, kT0 + 150 * kSec - 1).allowed);
  EXPECT_TRUE(zone().admit(policy_, kP2, kT0 + 150 * kSec).probe);
  // The old prober's late outcome no longer decides.
  zone().record_success(kP1, true);
  EXPECT_EQ(zone().state(), CircuitState::kHalfOpen);
  zone().record_success(kP2, true);
  EXPECT_EQ(zone().state(), CircuitState::kClosed);
}

TEST_F(ShmBreaker, ADeadHoldersProbeIsHandedOver) {
  half_open_with_probe();
  // Naming someone else as dead does not free kP1's probe.
  EXPECT_FALSE(zone().admit(policy_, kP2, kT0 + 31 * kSec, kP3).allowed);
  Admission a = zone().admit(policy_, kP2, kT0 + 31 * kSec, kP1);
  EXPECT_TRUE(a.allowed);
  EXPECT_TRUE(a.probe);
  Admission b = zone().admit(policy_, kP3, kT0 + 31 * kSec, kP1);  // kP1 again: kP2 holds it now
  EXPECT_FALSE(b.allowed);
  EXPECT_EQ(b.probe_holder, kP2);
  zone().record_failure(policy_, kP2, true, kT0 + 32 * kSec);
  EXPECT_EQ(zone().state(), CircuitState::kOpen);
}

TEST_F(ShmBreaker, StateNames) {
  EXPECT_STREQ(circuit_state_name(CircuitState::kClosed), "closed");
  EXPECT_STREQ(circuit_state_name(CircuitState::kOpen), "open");
  EXPECT_STREQ(circuit_state_name(CircuitState::kHalfOpen), "half_open");
}

}  // namespace
}  // namespace genkit::shm
