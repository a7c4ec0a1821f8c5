// The one hand-off between grpc++'s threads and grpcd's event loop.
//
// grpc++ runs reactor callbacks (a call arriving, a write done, a cancel) on
// its own threads; the flow runtime, the model clients (curl multi), the
// shared-state wake-ups and timers all live on one libevent loop and are not
// thread-safe. So grpc's threads never touch them: they post a closure here,
// and the loop runs it. Posting takes a mutex for a vector push and, when the
// loop is not already due to drain the inbox, one eventfd write. The loop
// answers through the reactor (Finish, StartWrite), which grpc++ allows from
// any thread. The inbox holds at most one closure per call event, and calls
// in flight are capped (CallCounter), so it is bounded.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

struct event_base;
struct event;

namespace genkit::grpcd {

class LoopInbox {
 public:
  explicit LoopInbox(event_base* base);
  ~LoopInbox();
  LoopInbox(const LoopInbox&) = delete;
  LoopInbox& operator=(const LoopInbox&) = delete;

  bool ok() const { return event_ != nullptr; }
  // Any thread: runs fn on the loop, after everything posted before it.
  void post(std::function<void()> fn);

 private:
  static void on_readable(int fd, short, void* arg);
  void drain();

  int eventfd_ = -1;
  event* event_ = nullptr;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;  // guarded by mu_
  bool wake_pending_ = false;                 // guarded by mu_
};

}  // namespace genkit::grpcd
