// The fault side of the chaos suites (integration/chaos_test.cc): the
// server's children as /proc shows them, and a thread that SIGKILLs and
// SIGSTOPs them (and Redis) on a random schedule, keeping a log of what it
// did and when, against which the test judges every call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/http_client.h"  // (Clock, milliseconds)
#include "tests/support/redis_server.h"
#include "tests/support/server_process.h"

namespace itest::chaos {

// The schedule.
constexpr milliseconds kChaosFor{6000};        // faults start during this; the last stop then runs its course
constexpr milliseconds kFaultEveryMin{300}, kFaultEveryMax{500};
constexpr milliseconds kStopMin{1200}, kStopMax{1800};
constexpr milliseconds kRunBetweenStops{500};  // a continued process stamps its heartbeat before its next stop
constexpr milliseconds kRedisFaultEveryMin{900}, kRedisFaultEveryMax{1400};
constexpr milliseconds kRedisDownMin{300}, kRedisDownMax{800};  // far past REDIS_TIMEOUT_MS (50)

// The supervisor's children as they are now.
struct Children {
  std::vector<int> workers, grpcds;  // alive and running
  std::vector<int> stopped, zombies;
  std::string describe() const;
};
Children children_of(int supervisor);

enum class Target { kWorker, kGrpcd, kRedis };
enum class FaultKind { kKill, kStop };

struct Fault {
  FaultKind kind;
  Target target;
  int pid = 0;  // 0 for Redis
  Clock::time_point at;
  Clock::time_point until;  // a stop: when continued (or killed); a kill: when the process (Redis) was back
};

const char* target_name(Target t);
long long ms_since(Clock::time_point origin, Clock::time_point t);
std::string describe_fault(const Fault& f, Clock::time_point origin);
bool overlaps(Clock::time_point a0, Clock::time_point a1, Clock::time_point b0, Clock::time_point b1);

// Schedules faults on a live server of `workers` workers from its own
// thread: every 300-500 ms a SIGKILL or a SIGSTOP (continued 1.2-1.8 s
// later) of a random worker or of grpcd — the first four cover each (kind,
// target) pair — and, given a Redis, a stop or a kill-and-restart of Redis
// every ~1 s. At most one worker is stopped at a time, and while one is, no
// other worker is killed: the check that the others keep serving needs them
// there. Whatever it stopped is continued before the thread ends, even when
// the test gives up. The thread then idles until the object goes: a Redis it
// restarted dies with the thread that forked it (RedisServer's
// PR_SET_PDEATHSIG).
class Chaos {
 public:
  Chaos(ServerProcess& server, int workers, RedisServer* redis, uint32_t seed);
  ~Chaos();

  // Until the last fault has ended.
  void wait_done();

  std::vector<Fault> faults() const;
  Clock::time_point last_fault_end() const;
  std::vector<std::string> problems() const;

 private:
  struct Pending {
    Clock::time_point due;
    size_t fault;  // index into faults_
  };
  struct Victim {
    int pid;
    Target target;
    bool stopped;
  };

  milliseconds uniform(milliseconds lo, milliseconds hi);
  void run();
  void settle(bool all);
  void end_fault(size_t index);
  std::vector<Victim> victims();
  std::set<int> stopped_pids();
  bool eligible(const Victim& v, FaultKind kind, const std::vector<Victim>& all);
  void process_fault();
  void end_stop_of(int pid, Clock::time_point at);
  void redis_fault();

  ServerProcess& server_;
  const int workers_;
  RedisServer* redis_;
  std::mt19937 rng_;
  std::deque<std::pair<FaultKind, std::optional<Target>>> planned_;
  int redis_faults_ = 0;
  std::atomic<bool> abort_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<Fault> faults_;
  std::vector<Pending> pending_;
  std::map<int, Clock::time_point> continued_;  // pid → its last SIGCONT
  std::vector<std::string> problems_;
  std::jthread thread_;  // last: it starts once everything above exists
};

}  // namespace itest::chaos
