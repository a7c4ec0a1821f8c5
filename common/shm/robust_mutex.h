// A process-shared, robust mutex for the shared-memory segment, and the scoped
// lock every zone takes. A process SIGKILLed while holding the lock must not
// wedge the others: the next locker gets EOWNERDEAD, runs the zone's repair
// (which makes the zone's data consistent again, whatever step the dead owner
// was at), then pthread_mutex_consistent. Critical sections are short and do
// no I/O, allocation or JSON.
#pragma once

#include <pthread.h>

#include <cstdint>

#include "common/status.h"

namespace genkit::shm {

// Lives inside the segment. Initialised once by the segment's creator.
struct RobustMutex {
  pthread_mutex_t m;
};

Status init_robust_mutex(RobustMutex* mu);

using RepairFn = void (*)(void* zone);

class ShmLock {
 public:
  // Blocks until the lock is held. `repair(zone)` runs when the previous
  // owner died holding it.
  ShmLock(RobustMutex* mu, RepairFn repair, void* zone);
  ~ShmLock();
  ShmLock(const ShmLock&) = delete;
  ShmLock& operator=(const ShmLock&) = delete;

  // False only if the mutex is unrecoverable (it never is when every
  // EOWNERDEAD is repaired); the caller then treats the zone as unavailable.
  bool held() const { return held_; }

 private:
  RobustMutex* mu_;
  bool held_ = false;
  bool repaired_ = false;  // logged once the lock is released
  int64_t acquired_ns_ = 0;
};

// How many times a dead owner's lock was repaired in this process (tests, logs).
uint64_t repaired_lock_count();

// --- Instrumentation (off unless a bench or test turns it on) -------------

// Called with the nanoseconds each lock was held, in the process that held it.
using HoldObserver = void (*)(int64_t hold_ns);
void set_hold_observer(HoldObserver observer);

// Named points inside critical sections; tests set a hook that SIGKILLs the
// process at one of them to show that the zone survives a dead owner there.
using FaultHook = void (*)(const char* point);
void set_fault_hook(FaultHook hook);
void fault_point(const char* point);

int64_t monotonic_ns();

}  // namespace genkit::shm
