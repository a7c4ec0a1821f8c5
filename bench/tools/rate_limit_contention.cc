// rate_limit_contention: P processes hammer ONE token bucket of a real shared
// segment (the server's RateLimitZone, its robust mutex and its stripe), each
// calling take() in a loop for the same fixed window, with the lock's hold
// observer recording every hold time into a per-process histogram. The
// histograms and counts go through a shared anonymous mapping to the parent,
// which merges them and prints one line of key=value figures:
//
//   rate_limit_contention P SECONDS
//   → processes=P seconds=S takes=N takes_per_s=R refused=0 holds=N hold_p50_ns=… hold_p99_ns=… hold_max_ns=…
//
// The limit (1e9/second, the largest RATE_LIMIT_DEFAULT accepts) is never
// reached, so every take runs the full refill-and-take path, as a server under
// a limit its clients never hit does.
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "bench/tools/log_histogram.h"
#include "common/shm/robust_mutex.h"
#include "common/shm/segment.h"

namespace {

namespace shm = genkit::shm;

constexpr int64_t kLimitCount = 1000000000;  // RATE_LIMIT_DEFAULT's maximum
constexpr int64_t kLimitPeriodS = 1;

struct ProcessResult {
  uint64_t takes = 0;
  uint64_t refused = 0;
  bench::LogHistogram holds;
};

// The hold observer is a plain function pointer: it writes this process's
// slot of the shared results through a global.
ProcessResult* g_mine = nullptr;
void record_hold(int64_t hold_ns) { g_mine->holds.record(hold_ns); }

void sleep_until(int64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
  }
}

void hammer(shm::RateLimitZone& zone, ProcessResult* mine, int64_t start_ns, int64_t end_ns) {
  g_mine = mine;
  shm::set_hold_observer(&record_hold);
  shm::IpKey ip{};  // ::ffff:127.0.0.1, as the server keys a loopback client
  ip[10] = ip[11] = 0xff;
  ip[12] = 127;
  ip[15] = 1;
  sleep_until(start_ns);
  for (int64_t now = shm::monotonic_ns(); now < end_ns; now = shm::monotonic_ns()) {
    shm::RateDecision d = zone.take(ip, kLimitCount, kLimitPeriodS, now);
    ++mine->takes;
    if (!d.allowed) ++mine->refused;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: rate_limit_contention PROCESSES SECONDS\n");
    return 2;
  }
  const int processes = std::atoi(argv[1]);
  const double seconds = std::atof(argv[2]);
  if (processes < 1 || processes > 256 || !(seconds > 0 && seconds <= 3600)) {
    std::fprintf(stderr, "rate_limit_contention: PROCESSES must be 1..256 and SECONDS 0..3600\n");
    return 2;
  }
  // Small sizes: only the rate-limit zone is used.
  auto segment = shm::Segment::create(shm::SegmentSizes{1, 64, 64});
  if (!segment.ok()) {
    std::fprintf(stderr, "rate_limit_contention: %s\n", segment.status().message().c_str());
    return 1;
  }
  std::size_t bytes = sizeof(ProcessResult) * static_cast<std::size_t>(processes);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("rate_limit_contention: mmap");
    return 1;
  }
  auto* results = static_cast<ProcessResult*>(mem);
  for (int i = 0; i < processes; ++i) new (&results[i]) ProcessResult{};

  // Every process starts and stops at the same instants, so the total counts
  // takes made while all P were competing; the start leaves time to fork.
  const int64_t start_ns = shm::monotonic_ns() + 200'000'000;
  const int64_t end_ns = start_ns + static_cast<int64_t>(seconds * 1e9);
  shm::RateLimitZone& zone = (*segment)->rate_limits();
  std::vector<pid_t> children;
  for (int i = 0; i < processes; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("rate_limit_contention: fork");
      for (pid_t c : children) kill(c, SIGKILL);
      return 1;
    }
    if (pid == 0) {
      hammer(zone, &results[i], start_ns, end_ns);
      _exit(0);
    }
    children.push_back(pid);
  }
  bool all_ok = true;
  for (pid_t c : children) {
    int status = 0;
    if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status) != 0) all_ok = false;
  }
  if (!all_ok) {
    std::fprintf(stderr, "rate_limit_contention: a child process failed\n");
    return 1;
  }

  ProcessResult total;
  for (int i = 0; i < processes; ++i) {
    total.takes += results[i].takes;
    total.refused += results[i].refused;
    total.holds.add(results[i].holds);
  }
  const double window_s = static_cast<double>(end_ns - start_ns) / 1e9;
  std::printf(
      "processes=%d seconds=%.3f takes=%llu takes_per_s=%.0f refused=%llu holds=%llu hold_p50_ns=%lld "
      "hold_p99_ns=%lld hold_p999_ns=%lld hold_max_ns=%lld\n",
      processes, window_s, static_cast<unsigned long long>(total.takes),
      static_cast<double>(total.takes) / window_s, static_cast<unsigned long long>(total.refused),
      static_cast<unsigned long long>(total.holds.count), static_cast<long long>(total.holds.percentile(50)),
      static_cast<long long>(total.holds.percentile(99)), static_cast<long long>(total.holds.percentile(99.9)),
      static_cast<long long>(total.holds.max));
  return 0;
}
