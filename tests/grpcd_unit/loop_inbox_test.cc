// The hand-off from grpc's threads to the loop: everything posted runs on the
// loop thread, in each poster's order, and nothing is lost.
#include "grpcd/loop_inbox.h"

#include <event2/event.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace genkit::grpcd {
namespace {

TEST(LoopInboxTest, ClosuresFromManyThreadsRunOnTheLoopInOrder) {
  event_base* base = event_base_new();
  {
    LoopInbox inbox(base);
    ASSERT_TRUE(inbox.ok());
    constexpr int kThreads = 4, kEach = 5000;
    std::vector<std::vector<int>> seen(kThreads);
    std::atomic<int> done{0};
    std::thread::id loop_thread = std::this_thread::get_id();
    bool all_on_loop = true;
    std::vector<std::thread> posters;
    for (int t = 0; t < kThreads; ++t) {
      posters.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          inbox.post([&, t, i] {
            all_on_loop = all_on_loop && std::this_thread::get_id() == loop_thread;
            seen[t].push_back(i);
            if (done.fetch_add(1) + 1 == kThreads * kEach) event_base_loopbreak(base);
          });
        }
      });
    }
    timeval limit{10, 0};
    event_base_loopexit(base, &limit);  // a lost wake-up fails the test instead of hanging it
    event_base_dispatch(base);
    for (auto& p : posters) p.join();
    EXPECT_EQ(done.load(), kThreads * kEach);
    EXPECT_TRUE(all_on_loop);
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(kEach));
      for (int i = 0; i < kEach; ++i) ASSERT_EQ(seen[t][i], i);
    }
  }
  event_base_free(base);
}

}  // namespace
}  // namespace genkit::grpcd
