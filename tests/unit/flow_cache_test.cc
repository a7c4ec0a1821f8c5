// FlowCache across real processes: the parent and a forked child each run
// their own event loop and FlowCache on one segment (each in its own process
// slot), coordinating over pipes. Identical misses cost one computation; the
// leader's result or error reaches the waiter; a waiter takes over from a
// killed leader; a leader nobody waits for abandons; a value too big to keep
// sends the waiter to compute its own.
#include <event2/event.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/shm/segment.h"
#include "common/state/flow_cache.h"
#include "shm_test_support.h"

namespace genkit {
namespace {

using namespace std::chrono_literals;
using shm_testing::fork_child;
using shm_testing::LinePipe;

// One process's face of the shared cache: a loop, a slot, metrics, a FlowCache.
class CacheProcess {
 public:
  CacheProcess(shm::Segment& seg, std::chrono::milliseconds poll)
      : seg_(seg), base_(event_base_new()), loop_(base_),
        slot_(seg.processes().claim(getpid(), shm::ProcessKind::kWorker)), metrics_(&seg.processes(), slot_) {
    FlowCache::Options o;
    o.ttl = 60s;
    o.poll = poll;
    o.stale_flight = 30s;
    o.instance_id = seg.instance_id();
    cache_ = std::make_unique<FlowCache>(loop_, seg.cache(), shm::CacheZone::Caller{getpid(), slot_}, metrics_, o);
  }
  ~CacheProcess() {
    cache_.reset();
    event_base_free(base_);
    seg_.processes().release(getpid());
  }

  FlowCache& cache() { return *cache_; }
  Loop& loop() { return loop_; }
  int slot() const { return slot_; }
  const shm::ProcessCounters& counters() const { return seg_.processes().slot(slot_).counters; }

  // Runs the loop for about `slice`.
  void pump(std::chrono::milliseconds slice = 2ms) {
    timeval tv{0, static_cast<suseconds_t>(slice.count() * 1000)};
    event_base_loopexit(base_, &tv);
    event_base_dispatch(base_);
  }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      pump();
    }
    return true;
  }

 private:
  shm::Segment& seg_;
  event_base* base_;
  Loop loop_;
  int slot_;
  shm::ProcessMetrics metrics_;
  std::unique_ptr<FlowCache> cache_;
};

// A computation the test finishes by hand.
struct HeldCompute {
  int calls = 0;
  CancelToken cancel;
  FlowCache::Finish finish;
  FlowCache::Compute fn() {
    return [this](CancelToken c, FlowCache::Finish f) {
      ++calls;
      cancel = c;
      finish = std::move(f);
    };
  }
};

using Outcome = std::optional<Result<Json>>;

FlowCache::Finish record(Outcome& out) {
  return [&out](Result<Json> r) { out = std::move(r); };
}

std::string describe(const Outcome& r) {
  if (!r) return "none";
  if (r->ok()) return "ok " + r->value().dump();
  const Status& s = r->status();
  return "error " + std::string(code_name(s.code())) + " " + std::to_string(s.retry_after_s()) + " " + s.message();
}

Json json(std::string_view text) {
  Result<Json> r = Json::parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? std::move(r).value() : Json::null();
}

// What a waiting child computes when it must compute itself.
Result<Json> childs_own() { return Json::string("child's own"); }
Result<Json> childs_own_big() { return Json::string(std::string(300, 'c')); }

const shm::CacheKey kKey = FlowCache::key_for("translate", json(R"({"text":"Hello","target_language":"French"})"));

// A child that fetches kKey (computing with `own`, if it must) and reports
// over `out`: "waiting" once it waits for another process, then the outcome.
shm_testing::Child spawn_waiter(shm::Segment& seg, LinePipe& out, std::function<Result<Json>()> own,
                   std::chrono::milliseconds poll = 20ms) {
  return shm_testing::Child(fork_child([&seg, &out, own, poll] {
    CacheProcess me(seg, poll);
    int computes = 0;
    Outcome got;
    me.cache().fetch(
        kKey, CancelToken(),
        [&](CancelToken, FlowCache::Finish f) {
          ++computes;
          me.loop().defer([f, own] { f(own()); });
        },
        record(got));
    out.send(got ? "answered at once" : "waiting");
    me.run_until([&] { return got.has_value(); }, 3000ms);
    out.send(describe(got) + " | computes=" + std::to_string(computes) + " slot=" + std::to_string(me.slot()));
    return 0;
  }));
}

class FlowCacheProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    seg_ = shm_testing::make_segment(8, 256);
    ASSERT_TRUE(seg_);
  }
  std::unique_ptr<shm::Segment> seg_;
};

TEST_F(FlowCacheProcesses, IdenticalFetchesInTwoProcessesComputeOnce) {
  CacheProcess parent(*seg_, 20ms);
  HeldCompute leader;
  Outcome parent_got;
  parent.cache().fetch(kKey, CancelToken(), leader.fn(), record(parent_got));
  ASSERT_EQ(leader.calls, 1);
  LinePipe from_child;
  // The waiter polls only every 10 s: it must be woken by the leader.
  shm_testing::Child child = spawn_waiter(*seg_, from_child, childs_own, 10000ms);
  ASSERT_EQ(from_child.receive(3000ms), "waiting");

  leader.finish(json(R"({"translated_text":"Bonjour"})"));
  ASSERT_TRUE(parent_got.has_value());
  EXPECT_EQ(describe(parent_got), R"(ok {"translated_text":"Bonjour"})");
  std::optional<std::string> report = from_child.receive(3000ms);
  ASSERT_TRUE(report) << "the waiter was not woken";
  EXPECT_EQ(report->substr(0, report->find(" slot=")), R"(ok {"translated_text":"Bonjour"} | computes=0)");
  EXPECT_EQ(child.wait().code, 0);
  EXPECT_EQ(leader.calls, 1);

  // The counters: one miss here, one coalesced request there.
  int child_slot = std::stoi(report->substr(report->find(" slot=") + 6));
  EXPECT_EQ(parent.counters().cache_misses, 1u);
  EXPECT_EQ(seg_->processes().slot(child_slot).counters.cache_coalesced, 1u);
  // And the value is cached for everyone.
  Outcome again;
  parent.cache().fetch(kKey, CancelToken(), leader.fn(), record(again));
  EXPECT_EQ(describe(again), R"(ok {"translated_text":"Bonjour"})");
  EXPECT_EQ(leader.calls, 1);
  EXPECT_EQ(parent.counters().cache_hits, 1u);
}

TEST_F(FlowCacheProcesses, TheLeadersFailureReachesTheWaiterAndIsNotCached) {
  CacheProcess parent(*seg_, 20ms);
  HeldCompute leader;
  Outcome parent_got;
  parent.cache().fetch(kKey, CancelToken(), leader.fn(), record(parent_got));
  LinePipe from_child;
  shm_testing::Child child = spawn_waiter(*seg_, from_child, childs_own);
  ASSERT_EQ(from_child.receive(3000ms), "waiting");

  leader.finish(Status(Code::kUnavailable, "model overloaded").with_retry_after(7));
  EXPECT_EQ(describe(parent_got), "error UNAVAILABLE 7 model overloaded");
  std::optional<std::string> report = from_child.receive(3000ms);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->substr(0, report->find(" slot=")), "error UNAVAILABLE 7 model overloaded | computes=0");
  EXPECT_EQ(child.wait().code, 0);

  // A new request computes again.
  Outcome again;
  parent.cache().fetch(kKey, CancelToken(), leader.fn(), record(again));
  EXPECT_EQ(leader.calls, 2);
  EXPECT_FALSE(again.has_value());
}

TEST_F(FlowCacheProcesses, AWaiterTakesOverFromAKilledLeader) {
  LinePipe from_child;
  shm_testing::Child child(fork_child([&] {
    CacheProcess me(*seg_, 20ms);
    HeldCompute never;
    Outcome got;
    me.cache().fetch(kKey, CancelToken(), never.fn(), record(got));
    from_child.send(never.calls == 1 ? "computing" : "did not lead");
    me.run_until([] { return false; }, 5000ms);  // until killed
    return 0;
  }));
  ASSERT_EQ(from_child.receive(3000ms), "computing");

  CacheProcess parent(*seg_, 20ms);
  int computes = 0;
  Outcome got;
  parent.cache().fetch(
      kKey, CancelToken(),
      [&](CancelToken, FlowCache::Finish f) {
        ++computes;
        parent.loop().defer([f] { f(Json::string("computed by the survivor")); });
      },
      record(got));
  ASSERT_EQ(computes, 0);  // joined the child's flight
  ASSERT_EQ(parent.cache().flights(), 1u);

  kill(child.pid(), SIGKILL);
  ASSERT_TRUE(shm_testing::killed_by_sigkill(child.wait()));
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(parent.run_until([&] { return got.has_value(); }, 3000ms)) << "the waiter never took over";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);  // a few 20 ms polls, with room for a loaded machine
  EXPECT_EQ(computes, 1);
  EXPECT_EQ(describe(got), R"(ok "computed by the survivor")");
  // Stored for the next request.
  Outcome again;
  parent.cache().fetch(kKey, CancelToken(), [&](CancelToken, FlowCache::Finish) { ++computes; }, record(again));
  EXPECT_EQ(describe(again), R"(ok "computed by the survivor")");
  EXPECT_EQ(computes, 1);
}

TEST_F(FlowCacheProcesses, ACancelledLeaderNobodyWaitsForAbandons) {
  CacheProcess parent(*seg_, 20ms);
  HeldCompute leader;
  Outcome got;
  CancelToken request;
  parent.cache().fetch(kKey, request, leader.fn(), record(got));
  ASSERT_EQ(leader.calls, 1);
  EXPECT_FALSE(leader.cancel.cancelled());
  request.cancel();
  EXPECT_TRUE(leader.cancel.cancelled());
  EXPECT_EQ(parent.cache().flights(), 0u);
  EXPECT_FALSE(got.has_value());
  // The zone's flight was dropped: another process leads, it does not wait.
  char out[256];
  shm::CacheZone::Lookup l = seg_->cache().lookup(kKey, 0, {getpid(), 9}, shm::monotonic_ns(), out);
  EXPECT_EQ(l.kind, shm::CacheZone::Lookup::kLead);
  // A late finish from the cancelled computation changes nothing.
  leader.finish(Json::string("late"));
  EXPECT_FALSE(got.has_value());
}

TEST_F(FlowCacheProcesses, ACancelledLeaderKeepsComputingForAnotherProcess) {
  CacheProcess parent(*seg_, 20ms);
  HeldCompute leader;
  Outcome got;
  CancelToken request;
  parent.cache().fetch(kKey, request, leader.fn(), record(got));
  LinePipe from_child;
  shm_testing::Child child = spawn_waiter(*seg_, from_child, childs_own);
  ASSERT_EQ(from_child.receive(3000ms), "waiting");

  request.cancel();
  EXPECT_FALSE(leader.cancel.cancelled());  // the child still wants it
  leader.finish(Json::string("for the child"));
  EXPECT_FALSE(got.has_value());  // the parent's request is gone
  std::optional<std::string> report = from_child.receive(3000ms);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->substr(0, report->find(" slot=")), R"(ok "for the child" | computes=0)");
  EXPECT_EQ(child.wait().code, 0);
}

TEST_F(FlowCacheProcesses, AValueOverTheLimitSendsTheWaiterToComputeItsOwn) {
  CacheProcess parent(*seg_, 20ms);
  HeldCompute leader;
  Outcome parent_got;
  parent.cache().fetch(kKey, CancelToken(), leader.fn(), record(parent_got));
  LinePipe from_child;
  const std::string big(300, 'p');  // over the segment's 256 bytes
  shm_testing::Child child = spawn_waiter(*seg_, from_child, childs_own_big);
  ASSERT_EQ(from_child.receive(3000ms), "waiting");

  leader.finish(Json::string(big));
  EXPECT_EQ(describe(parent_got), "ok \"" + big + "\"");
  std::optional<std::string> report = from_child.receive(3000ms);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->substr(0, report->find(" slot=")), "ok \"" + std::string(300, 'c') + "\" | computes=1");
  EXPECT_EQ(child.wait().code, 0);
  // Nothing was cached: the next request computes.
  Outcome again;
  parent.cache().fetch(kKey, CancelToken(), leader.fn(), record(again));
  EXPECT_EQ(leader.calls, 2);
}

TEST(FlowCacheKey, IsTheFlowAndItsCanonicalInput) {
  shm::CacheKey a = FlowCache::key_for("translate", json(R"({"text":"Hi","target_language":"French"})"));
  shm::CacheKey b = FlowCache::key_for("translate", json(R"( { "target_language" : "French", "text" : "Hi" } )"));
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == FlowCache::key_for("chat", json(R"({"text":"Hi","target_language":"French"})")));
  EXPECT_FALSE(a == FlowCache::key_for("translate", json(R"({"text":"Hi","target_language":"German"})")));
}

}  // namespace
}  // namespace genkit
