// Helpers for the shared-memory tests: segments, forked children that never
// return into gtest, bounded waits for them, text pipes between processes,
// and a watchdog so a lock that is never repaired fails the run instead of
// hanging it.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/shm/robust_mutex.h"
#include "common/shm/segment.h"

namespace genkit::shm_testing {

using namespace std::chrono_literals;

inline std::unique_ptr<shm::Segment> make_segment(uint32_t cache_entries = 8, uint32_t cache_entry_bytes = 256,
                                                  uint32_t rate_limit_buckets = 8) {
  shm::SegmentSizes sizes;
  sizes.cache_entries = cache_entries;
  sizes.cache_entry_bytes = cache_entry_bytes;
  sizes.rate_limit_buckets = rate_limit_buckets;
  Result<std::unique_ptr<shm::Segment>> seg = shm::Segment::create(sizes);
  EXPECT_TRUE(seg.ok()) << seg.status().message();
  return seg.ok() ? std::move(seg).value() : nullptr;
}

// Forks; the child runs body() and _exits with what it returns (never
// unwinding into gtest, never running the parent's atexit handlers).
inline pid_t fork_child(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int code = 120;
    try {
      code = body();
    } catch (...) {
      code = 121;
    }
    _exit(code);
  }
  return pid;
}

struct ChildExit {
  bool timed_out = false;
  int code = -1;    // exited normally: its exit code
  int signal = 0;   // killed: the signal
};

// Reaps `pid` within `limit`; a child still running then is SIGKILLed.
inline ChildExit reap(pid_t pid, std::chrono::milliseconds limit = 5000ms) {
  ChildExit out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return out;
    if (std::chrono::steady_clock::now() >= deadline) {
      out.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  if (WIFEXITED(status)) out.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  return out;
}

inline bool killed_by_sigkill(const ChildExit& e) { return !e.timed_out && e.signal == SIGKILL; }

// A forked child that is killed and reaped on scope exit unless the test
// reaped it (an assertion that returns early leaves no stray process).
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) reap(pid_, std::chrono::milliseconds(0));
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  ChildExit wait(std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    ChildExit e = reap(pid_, limit);
    pid_ = 0;
    return e;
  }

 private:
  pid_t pid_;
};

// Fault hook for a child: SIGKILL this process when it reaches the point
// named in g_die_at (it then dies holding the zone's lock).
inline const char* g_die_at = nullptr;
inline void die_at_fault_point(const char* point) {
  if (g_die_at && std::strcmp(point, g_die_at) == 0) raise(SIGKILL);
}
inline void die_at(const char* point) {
  g_die_at = point;
  shm::set_fault_hook(&die_at_fault_point);
}

// Bounds a blocking call of this process (a lock that is never repaired
// blocks forever): the run fails loudly instead of hanging. Not inherited
// by forked children.
class Watchdog {
 public:
  explicit Watchdog(unsigned seconds) {
    struct sigaction sa{};
    sa.sa_handler = &Watchdog::on_alarm;
    sigaction(SIGALRM, &sa, &previous_);
    alarm(seconds);
  }
  ~Watchdog() {
    alarm(0);
    sigaction(SIGALRM, &previous_, nullptr);
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  static void on_alarm(int) {
    static const char kMsg[] = "\nwatchdog: a shared-memory call blocked (a dead owner's lock was not repaired?)\n";
    ssize_t n = write(2, kMsg, sizeof kMsg - 1);
    (void)n;
    _exit(124);
  }
  struct sigaction previous_{};
};

// A one-way pipe of text lines between two processes.
class LinePipe {
 public:
  LinePipe() {
    int fds[2];
    if (pipe(fds) == 0) {
      r_ = fds[0];
      w_ = fds[1];
    }
  }
  ~LinePipe() {
    if (r_ >= 0) close(r_);
    if (w_ >= 0) close(w_);
  }
  LinePipe(const LinePipe&) = delete;
  LinePipe& operator=(const LinePipe&) = delete;

  void send(const std::string& line) const {
    std::string l = line + "\n";
    ssize_t n = write(w_, l.data(), l.size());
    (void)n;
  }

  // The next line, within `limit`; `pump` runs between checks (a caller's
  // event loop, which must keep running while it waits).
  std::optional<std::string> receive(std::chrono::milliseconds limit, const std::function<void()>& pump = {}) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      std::size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      if (pump) pump();
      pollfd p{r_, POLLIN, 0};
      if (poll(&p, 1, pump ? 0 : 5) > 0) {
        char buf[512];
        ssize_t n = read(r_, buf, sizeof buf);
        if (n <= 0) return std::nullopt;  // the writer is gone
        buffer_.append(buf, static_cast<std::size_t>(n));
      }
    }
  }

 private:
  int r_ = -1;
  int w_ = -1;
  std::string buffer_;
};

}  // namespace genkit::shm_testing
