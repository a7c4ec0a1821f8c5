// The supervisor's loop (gunicorn's arbiter): wait for a signal or a child
// event, then fix the process set. It never serves a request. Signals:
// TERM/INT graceful stop, QUIT fast stop, HUP reload (new workers first,
// then drain the old), TTIN/TTOU one worker more/less, USR1 reopen logs,
// CHLD replace a worker that died (with back-off when it dies in a loop).
// A process whose loop stops stamping its heartbeat in the shared segment
// for WORKER_TIMEOUT seconds (SIGSTOPped, spinning) is killed: SIGABRT, then
// SIGKILL, as gunicorn does; CHLD then replaces it.
// grpcd is supervised as one more process, in slot 0: started with the
// workers, part of readiness, replaced the same way.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/config.h"
#include "common/flows/builtins.h"
#include "supervisor/reflection_listener.h"
#include "worker/tls_context.h"

namespace genkit {

namespace shm {
class Segment;
}

// The gRPC side: off when listen_fd is -1 (--no-grpc).
struct GrpcPlan {
  int listen_fd = -1;
  std::string binary;  // genkit-endpoints-grpcd
};

class Arbiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `segment`: the shared state every worker maps (created before any fork).
  // `settings`: what the configuration resolved to (LoadedConfig::settings).
  Arbiter(ConfigInputs inputs, LoadedConfig loaded, PromptList prompts, std::shared_ptr<http::TlsContext> tls,
          int listen_fd, GrpcPlan grpc, shm::Segment* segment, ReflectionListener reflection = {});
  int run();  // returns the supervisor's exit code

 private:
  static constexpr int kGrpcdSlot = 0;

  struct WorkerProc {
    int slot = 0;  // 1..N: HTTP workers; kGrpcdSlot: grpcd
    int generation = 0;
    int control_fd = -1;  // the worker's messages: 'r' ready, 'm' MAX_REQUESTS reached
    bool ready = false;
    bool retiring = false;  // its replacement is on the way; drained once that is ready
    Clock::time_point started;
    Clock::time_point aborted{};  // when WORKER_TIMEOUT's SIGABRT was sent
    bool killed = false;          // ... and the SIGKILL that followed
    Clock::time_point slot_gone{};  // when it was first seen ready without its slot: exiting
  };
  struct Pending {       // a slot waiting to be (re)spawned
    int slot;
    Clock::time_point at;
  };

  void spawn(int slot);
  void spawn_grpcd(int control_fd);  // in the forked child
  bool grpc_enabled() const { return grpc_.listen_fd >= 0; }
  static const char* kind_of(int slot) { return slot == kGrpcdSlot ? "grpcd" : "worker"; }
  void reap();
  void handle_signal(int sig);
  void on_message(pid_t pid);
  void on_ready(pid_t pid);
  void on_recycle_request(pid_t pid);
  void reload();
  void begin_stop(int worker_signal, int grace_seconds);
  void signal_all(int sig, int generation = -1);
  int next_timeout_ms() const;
  void run_pending();
  void check_heartbeats();
  // systemd: WATCHDOG=1 every WATCHDOG_USEC/2 while no child is wedged, and
  // a STATUS= line with the process set and the requests served.
  void service_manager_tick();
  bool children_healthy() const;
  std::string status_line() const;

  ConfigInputs inputs_;
  std::shared_ptr<Config> config_;
  std::shared_ptr<PromptList> prompts_;
  std::shared_ptr<http::TlsContext> tls_;  // null: plain HTTP
  std::shared_ptr<std::map<std::string, std::string>> settings_;
  int listen_fd_;
  GrpcPlan grpc_;
  shm::Segment* segment_;
  ReflectionListener reflection_;  // dev mode: served by worker 1
  int signal_fd_ = -1;
  int target_workers_ = 1;
  int generation_ = 0;
  bool announced_ready_ = false;
  bool crash_looping_ = false;  // STATUS= says so until every slot is ready again
  std::chrono::microseconds watchdog_interval_{0};  // 0: no watchdog (WATCHDOG_USEC unset or not ours)
  Clock::time_point next_watchdog_{};
  bool watchdog_withheld_ = false;
  Clock::time_point next_status_{};
  bool stopping_ = false;
  bool fatal_ = false;
  Clock::time_point stop_deadline_;
  std::map<pid_t, WorkerProc> workers_;
  std::vector<Pending> pending_;
  std::map<int, std::chrono::milliseconds> backoff_;  // slot → next delay
};

}  // namespace genkit
