#include "grpcd/loop_inbox.h"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace genkit::grpcd {

LoopInbox::LoopInbox(event_base* base) {
  eventfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventfd_ < 0) return;
  event_ = event_new(base, eventfd_, EV_READ | EV_PERSIST, &LoopInbox::on_readable, this);
  if (event_ && event_add(event_, nullptr) != 0) {
    event_free(event_);
    event_ = nullptr;
  }
}

LoopInbox::~LoopInbox() {
  if (event_) event_free(event_);
  if (eventfd_ >= 0) close(eventfd_);
}

void LoopInbox::post(std::function<void()> fn) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(fn));
    wake = !wake_pending_;
    wake_pending_ = true;
  }
  if (wake) {
    uint64_t one = 1;
    (void)!write(eventfd_, &one, sizeof one);
  }
}

void LoopInbox::on_readable(int fd, short, void* arg) {
  uint64_t count;
  (void)!read(fd, &count, sizeof count);
  static_cast<LoopInbox*>(arg)->drain();
}

void LoopInbox::drain() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(queue_);
    wake_pending_ = false;
  }
  for (auto& fn : batch) fn();
}

}  // namespace genkit::grpcd
