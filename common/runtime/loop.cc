#include "common/runtime/loop.h"

#include <event2/event.h>
#include <sys/time.h>

#include <vector>

namespace genkit {

Timer::Timer(event_base* base, std::function<void()> fn)
    : ev_(evtimer_new(base, &Timer::on_fire, this)), fn_(std::move(fn)) {}

Timer::~Timer() {
  if (ev_) event_free(ev_);
}

void Timer::start(std::chrono::milliseconds delay) {
  timeval tv{static_cast<time_t>(delay.count() / 1000), static_cast<suseconds_t>((delay.count() % 1000) * 1000)};
  evtimer_add(ev_, &tv);
}

void Timer::cancel() { evtimer_del(ev_); }
bool Timer::pending() const { return evtimer_pending(ev_, nullptr) != 0; }

void Timer::on_fire(int, short, void* arg) {
  auto* self = static_cast<Timer*>(arg);
  // Copy: the callback may destroy this timer.
  auto fn = self->fn_;
  fn();
}

namespace {
struct Deferred {
  std::function<void()> fn;
};
void run_deferred(int, short, void* arg) {
  auto* d = static_cast<Deferred*>(arg);
  auto fn = std::move(d->fn);
  delete d;
  fn();
}
}  // namespace

void Loop::defer(std::function<void()> fn) {
  auto* d = new Deferred{std::move(fn)};
  timeval zero{0, 0};
  if (event_base_once(base_, -1, EV_TIMEOUT, &run_deferred, d, &zero) != 0) {
    delete d;  // only fails on allocation failure; dropping is the least bad option
  }
}

std::unique_ptr<Timer> Loop::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto t = std::make_unique<Timer>(base_, std::move(fn));
  t->start(delay);
  return t;
}

void CancelToken::cancel() {
  if (state_->cancelled) return;
  state_->cancelled = true;
  auto callbacks = std::move(state_->callbacks);
  state_->callbacks.clear();
  for (auto& cb : callbacks) cb();
}

void CancelToken::on_cancel(std::function<void()> fn) {
  if (state_->cancelled) {
    fn();
    return;
  }
  state_->callbacks.push_back(std::move(fn));
}

int64_t now_unix_ms() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
}

double now_unix_ms_precise() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
}

}  // namespace genkit
