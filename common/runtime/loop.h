// The event loop the flow runtime runs on: a thin handle over a libevent base
// with deferred calls and cancellable timers. Nothing here blocks.
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <vector>

struct event_base;
struct event;

namespace genkit {

// A one-shot timer; cancelled when destroyed or cancel() is called.
class Timer {
 public:
  Timer(event_base* base, std::function<void()> fn);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void start(std::chrono::milliseconds delay);
  void cancel();
  bool pending() const;

 private:
  static void on_fire(int, short, void* arg);
  event* ev_;
  std::function<void()> fn_;
};

class Loop {
 public:
  explicit Loop(event_base* base) : base_(base) {}
  event_base* base() const { return base_; }

  // Runs fn on a later iteration of the loop (never re-entrantly).
  void defer(std::function<void()> fn);
  // Runs fn after `delay`; dropping the returned timer cancels it.
  std::unique_ptr<Timer> after(std::chrono::milliseconds delay, std::function<void()> fn);

 private:
  event_base* base_;
};

// Shared cancellation flag: the transport cancels when the client goes away
// or the request times out; work in flight registers what to stop.
class CancelToken {
 public:
  CancelToken() : state_(std::make_shared<State>()) {}
  bool cancelled() const { return state_->cancelled; }
  void cancel();
  // Runs fn once on cancel (immediately if already cancelled).
  void on_cancel(std::function<void()> fn);

 private:
  struct State {
    bool cancelled = false;
    std::vector<std::function<void()>> callbacks;
  };
  std::shared_ptr<State> state_;
};

int64_t now_unix_ms();
double now_unix_ms_precise();

}  // namespace genkit
