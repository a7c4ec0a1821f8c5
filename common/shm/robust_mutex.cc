#include "common/shm/robust_mutex.h"

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/log.h"

namespace genkit::shm {

namespace {
HoldObserver g_hold_observer = nullptr;
FaultHook g_fault_hook = nullptr;
uint64_t g_repaired = 0;
}  // namespace

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Status init_robust_mutex(RobustMutex* mu) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  int rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(&mu->m, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) return internal_error(std::string("shared memory: pthread_mutex_init: ") + std::strerror(rc));
  return Status::ok();
}

ShmLock::ShmLock(RobustMutex* mu, RepairFn repair, void* zone) : mu_(mu) {
  int rc = pthread_mutex_lock(&mu_->m);
  if (rc == EOWNERDEAD) {
    // The owner died mid-update: the data may be half-written. Repair it
    // before anyone else sees it, then mark the mutex usable again.
    repair(zone);
    pthread_mutex_consistent(&mu_->m);
    ++g_repaired;
    repaired_ = true;
    rc = 0;
  }
  held_ = rc == 0;
  if (!held_) {
    log_error("shm_lock_failed", {{"error", std::strerror(rc)}});
    return;
  }
  if (g_hold_observer) acquired_ns_ = monotonic_ns();
}

ShmLock::~ShmLock() {
  if (!held_) return;
  int64_t released_ns = g_hold_observer && acquired_ns_ ? monotonic_ns() : 0;
  pthread_mutex_unlock(&mu_->m);
  // Reported after the unlock: the observer's own time is no one's wait.
  if (released_ns) g_hold_observer(released_ns - acquired_ns_);
  if (repaired_) {
    log_warning("shm_lock_repaired", {{"detail", "a process died holding a shared-memory lock; its zone was repaired"}});
  }
}

uint64_t repaired_lock_count() { return g_repaired; }
void set_hold_observer(HoldObserver observer) { g_hold_observer = observer; }
void set_fault_hook(FaultHook hook) { g_fault_hook = hook; }

void fault_point(const char* point) {
  if (g_fault_hook) g_fault_hook(point);
}

}  // namespace genkit::shm
