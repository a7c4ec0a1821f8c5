#include "supervisor/arbiter.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>
#include <vector>

#include "common/log.h"
#include "common/shm/counters.h"
#include "common/shm/segment.h"
#include "common/state/shared_state.h"
#include "supervisor/grpcd_launcher.h"
#include "worker/worker.h"

namespace genkit {

namespace {

constexpr int kHandledSignals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1, SIGCHLD};
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{30000};
constexpr std::chrono::seconds kStableAfter{5};  // a worker that lived this long resets the back-off
constexpr std::chrono::seconds kAbortGrace{2};   // WORKER_TIMEOUT: SIGABRT, then SIGKILL this much later
constexpr std::chrono::seconds kStatusEvery{5};  // STATUS= refresh (requests served)

sigset_t handled_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kHandledSignals) sigaddset(&set, s);
  return set;
}

}  // namespace

Arbiter::Arbiter(ConfigInputs inputs, LoadedConfig loaded, PromptList prompts, std::shared_ptr<http::TlsContext> tls,
                 int listen_fd, GrpcPlan grpc, shm::Segment* segment, ReflectionListener reflection)
    : inputs_(std::move(inputs)),
      config_(std::make_shared<Config>(std::move(loaded.config))),
      prompts_(std::make_shared<PromptList>(std::move(prompts))),
      tls_(std::move(tls)),
      settings_(std::make_shared<std::map<std::string, std::string>>(std::move(loaded.settings))),
      listen_fd_(listen_fd),
      grpc_(std::move(grpc)),
      segment_(segment),
      reflection_(std::move(reflection)),
      target_workers_(config_->effective_workers()) {}

int Arbiter::run() {
  sigset_t set = handled_set();
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) {
    log_error("supervisor_failed", {{"reason", "signalfd failed"}, {"errno", errno}});
    return 1;
  }
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(1, &watchdog_usec) > 0 && watchdog_usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(watchdog_usec / 2);
    log_info("watchdog_enabled", {{"interval_ms", static_cast<int64_t>(watchdog_usec / 2000)}});
  }
  sd_notifyf(0, "STATUS=starting %d workers%s", target_workers_, grpc_enabled() ? " and grpcd" : "");
  if (grpc_enabled()) spawn(kGrpcdSlot);
  for (int slot = 1; slot <= target_workers_; ++slot) spawn(slot);

  while (true) {
    if (stopping_ && workers_.empty()) break;
    if (stopping_ && Clock::now() >= stop_deadline_) {
      log_warning("shutdown_grace_expired", {{"workers_left", workers_.size()}});
      signal_all(SIGKILL);
      stop_deadline_ = Clock::now() + std::chrono::seconds(5);
    }
    std::vector<pollfd> fds{{signal_fd_, POLLIN, 0}};
    std::vector<pid_t> fd_owner{0};
    for (const auto& [pid, w] : workers_) {
      if (w.control_fd >= 0) {
        fds.push_back({w.control_fd, POLLIN, 0});
        fd_owner.push_back(pid);
      }
    }
    int n = poll(fds.data(), fds.size(), next_timeout_ms());
    if (n < 0 && errno != EINTR) break;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents) on_message(fd_owner[i]);
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        handle_signal(static_cast<int>(info.ssi_signo));
      }
    }
    reap();
    check_heartbeats();
    service_manager_tick();
    if (!stopping_) run_pending();
  }
  log_info("supervisor_exit", {{"fatal", fatal_}});
  return fatal_ ? 1 : 0;
}

void Arbiter::spawn(int slot) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    log_error("spawn_failed", {{"slot", slot}, {"errno", errno}});
    pending_.push_back({slot, Clock::now() + std::chrono::seconds(1)});
    return;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    log_error("spawn_failed", {{"slot", slot}, {"errno", errno}});
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    pending_.push_back({slot, Clock::now() + std::chrono::seconds(1)});
    return;
  }
  if (pid == 0) {
    // Child: keep only what a worker needs, and die with the supervisor.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0);
    close(pipe_fds[0]);
    close(signal_fd_);
    for (auto& [_, w] : workers_) {
      if (w.control_fd >= 0) close(w.control_fd);
    }
    fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);  // a worker never blocks on its supervisor
    if (slot == kGrpcdSlot) spawn_grpcd(pipe_fds[1]);
    if (grpc_.listen_fd >= 0) close(grpc_.listen_fd);
    LogOptions lo;
    LogLevel level = LogLevel::kInfo;
    parse_log_level(config_->log_level, &level);
    LogFormat format = LogFormat::kJson;
    parse_log_format(config_->log_format, &format);
    lo.level = level;
    lo.format = format;
    lo.file = config_->log_file;
    lo.process = "worker-" + std::to_string(slot);
    log_configure(lo);
    WorkerSetup setup;
    setup.config = config_.get();
    setup.segment = segment_;
    setup.prompts = prompts_.get();
    setup.tls = tls_.get();
    setup.listen_fd = listen_fd_;
    setup.index = slot;
    setup.control_fd = pipe_fds[1];
    if (slot == 1) {
      setup.reflection_fd = reflection_.fd();
      setup.runtime_id = reflection_.runtime_id();
    } else if (reflection_.fd() >= 0) {
      close(reflection_.fd());  // (a child never returns here: the listener's destructor never runs)
    }
    int code = run_worker(setup);
    std::fflush(nullptr);
    _exit(code);
  }
  close(pipe_fds[1]);
  WorkerProc w;
  w.slot = slot;
  w.generation = generation_;
  w.control_fd = pipe_fds[0];
  w.started = Clock::now();
  workers_[pid] = w;
  log_info(slot == kGrpcdSlot ? "grpcd_spawned" : "worker_spawned",
           {{"worker_pid", static_cast<int>(pid)}, {"slot", slot}, {"generation", generation_}});
}

void Arbiter::spawn_grpcd(int control_fd) {
  close(listen_fd_);  // the HTTP socket is the workers'
  GrpcdExec spec;
  spec.binary = grpc_.binary;
  spec.listen_fd = grpc_.listen_fd;
  spec.segment_fd = segment_ ? segment_->fd() : -1;
  spec.control_fd = control_fd;
  spec.settings = settings_.get();
  exec_grpcd(spec);
}

void Arbiter::on_message(pid_t pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  char buf[16];
  ssize_t n = read(it->second.control_fd, buf, sizeof buf);
  if (n <= 0) {  // the worker is gone; reap() handles it
    close(it->second.control_fd);
    it->second.control_fd = -1;
    return;
  }
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] == 'r') on_ready(pid);
    if (buf[i] == 'm') on_recycle_request(pid);
    if (buf[i] == 'q') {
      log_info("reflection_api_stopped", {{"by", "/api/__quitquitquit"}});
      reflection_.close();
    }
  }
}

// Make before break: the replacement starts while the old worker still
// serves; the old one drains only once the new one accepts.
void Arbiter::on_recycle_request(pid_t pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end() || stopping_ || it->second.retiring || it->second.generation != generation_) return;
  it->second.retiring = true;
  log_info("worker_recycling", {{"worker_pid", static_cast<int>(pid)}, {"slot", it->second.slot}});
  if (segment_) shm::bump_shared(segment_->processes().header().process_restarts);
  spawn(it->second.slot);
}

void Arbiter::on_ready(pid_t pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  WorkerProc& w = it->second;
  w.ready = true;
  for (const auto& [other, x] : workers_) {
    if (other != pid && x.retiring && x.slot == w.slot && x.generation == w.generation) kill(other, SIGTERM);
  }

  // Ready means every slot of the current generation (grpcd's included) has
  // an accepting process.
  std::set<int> ready_slots;
  bool starting = false;
  for (const auto& [_, x] : workers_) {
    if (x.generation != generation_) continue;
    if (x.ready) ready_slots.insert(x.slot);
    else starting = true;
  }
  bool grpcd_ready = ready_slots.erase(kGrpcdSlot) > 0;
  if (static_cast<int>(ready_slots.size()) < target_workers_ || starting || (grpc_enabled() && !grpcd_ready)) return;
  bool old_left = std::any_of(workers_.begin(), workers_.end(),
                              [this](const auto& kv) { return kv.second.generation != generation_; });
  if (old_left) {
    log_info("reload_new_workers_ready", {{"generation", generation_}});
    signal_all(SIGTERM, generation_ - 1);
    sd_notify(0, "READY=1\nSTATUS=reloaded");
  }
  if (crash_looping_ && announced_ready_) {
    crash_looping_ = false;
    sd_notifyf(0, "STATUS=serving with %d workers%s (recovered)", static_cast<int>(ready_slots.size()),
               grpc_enabled() ? " and grpcd" : "");
  }
  if (!announced_ready_) {
    announced_ready_ = true;
    reflection_.write_runtime_file();  // (the tools may call it from now on)
    log_info("ready", {{"workers", static_cast<int>(ready_slots.size())}, {"grpc", grpc_enabled()}});
    sd_notifyf(0, "READY=1\nSTATUS=serving with %d workers%s", static_cast<int>(ready_slots.size()),
               grpc_enabled() ? " and grpcd" : "");
  }
}

void Arbiter::reap() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = workers_.find(pid);
    if (it == workers_.end()) continue;
    WorkerProc w = it->second;
    if (w.control_fd >= 0) close(w.control_fd);
    workers_.erase(it);
    // Its slot's in-flight gauge is void now; its counters stay in the totals.
    if (segment_) segment_->processes().release(pid);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    log(stopping_ || (code == 0 && sig == 0) ? LogLevel::kInfo : LogLevel::kWarning,
        w.slot == kGrpcdSlot ? "grpcd_exited" : "worker_exited",
        {{"worker_pid", static_cast<int>(pid)}, {"slot", w.slot}, {"exit_code", code}, {"signal", sig}});
    if (code == kBootFailureExit) {
      log_error(w.slot == kGrpcdSlot ? "grpcd_boot_failed_stopping" : "worker_boot_failed_stopping",
                {{"slot", w.slot}});
      fatal_ = true;
      begin_stop(SIGTERM, config_->effective_graceful_timeout());
      continue;
    }
    if (stopping_ || w.generation != generation_ || w.slot > target_workers_) continue;
    // A retired worker already has its replacement.
    bool replaced = std::any_of(workers_.begin(), workers_.end(), [&](const auto& kv) {
      return kv.second.slot == w.slot && kv.second.generation == w.generation && !kv.second.retiring;
    });
    if (replaced) continue;
    // A worker that recycled itself (exit 0) or crashed is replaced; a crash
    // loop backs off so a broken worker does not spin the CPU.
    auto& delay = backoff_[w.slot];
    bool crashed = code != 0 || sig != 0;
    if (!crashed || Clock::now() - w.started >= kStableAfter) {
      delay = std::chrono::milliseconds(0);
    } else {
      delay = std::min(kMaxBackoff, std::max(kMinBackoff, delay * 2));
      log_warning("crash_loop_backoff", {{"slot", w.slot}, {"kind", kind_of(w.slot)},
                                         {"restart_in_ms", static_cast<int64_t>(delay.count())}});
      sd_notifyf(0, "STATUS=%s in slot %d keeps crashing: restarting in %lld ms", kind_of(w.slot), w.slot,
                 static_cast<long long>(delay.count()));
      crash_looping_ = true;
    }
    pending_.push_back({w.slot, Clock::now() + delay});
    if (segment_) shm::bump_shared(segment_->processes().header().process_restarts);
  }
}

void Arbiter::check_heartbeats() {
  if (!segment_) return;
  const auto now = Clock::now();
  const auto timeout = std::chrono::seconds(config_->worker_timeout);
  for (auto& [pid, w] : workers_) {
    if (w.aborted != Clock::time_point{}) {
      if (!w.killed && now - w.aborted >= kAbortGrace) {
        log_error("worker_killed", {{"worker_pid", static_cast<int>(pid)}, {"slot", w.slot}, {"kind", kind_of(w.slot)},
                                    {"reason", "still alive after SIGABRT"}});
        kill(pid, SIGKILL);
        w.killed = true;
      }
      continue;
    }
    // Silent since its last stamp; or, with no slot, since it was started if
    // it never was ready (stuck while booting), else since its slot went: a
    // process releases its slot as it exits, and one that has lived past
    // WORKER_TIMEOUT must not be aborted in the middle of a clean exit.
    int64_t age_ms = segment_->processes().heartbeat_age_ms(pid);
    if (age_ms < 0 && w.ready && w.slot_gone == Clock::time_point{}) w.slot_gone = now;
    auto silent = age_ms >= 0 ? std::chrono::milliseconds(age_ms)
                              : std::chrono::duration_cast<std::chrono::milliseconds>(
                                    now - (w.ready ? w.slot_gone : w.started));
    if (silent < timeout || now - w.started < timeout) continue;
    log_error("worker_timeout", {{"worker_pid", static_cast<int>(pid)}, {"slot", w.slot}, {"kind", kind_of(w.slot)},
                                 {"silent_ms", static_cast<int64_t>(silent.count())},
                                 {"worker_timeout_s", config_->worker_timeout}});
    // (A SIGSTOPped process acts on SIGABRT only once continued: the
    // SIGKILL after kAbortGrace ends it.)
    kill(pid, SIGABRT);
    w.aborted = now;
  }
}

bool Arbiter::children_healthy() const {
  for (const auto& [pid, w] : workers_) {
    if (w.aborted != Clock::time_point{}) return false;  // wedged, and not gone yet
  }
  return true;
}

std::string Arbiter::status_line() const {
  int ready = 0;
  bool grpcd = false;
  for (const auto& [_, w] : workers_) {
    if (!w.ready || w.retiring) continue;
    if (w.slot == kGrpcdSlot) {
      grpcd = true;
    } else {
      ++ready;
    }
  }
  std::string state = stopping_ ? "stopping" : crash_looping_ ? "degraded (a process keeps crashing)" : "serving";
  std::string line = state + ": " + std::to_string(ready) + "/" + std::to_string(target_workers_) + " workers";
  if (grpc_enabled()) line += grpcd ? ", grpcd" : ", grpcd down";
  if (segment_) line += ", " + std::to_string(shm::requests_served(*segment_)) + " requests served";
  return line;
}

void Arbiter::service_manager_tick() {
  auto now = Clock::now();
  if (watchdog_interval_.count() > 0 && now >= next_watchdog_) {
    if (children_healthy()) {
      sd_notify(0, "WATCHDOG=1");
      next_watchdog_ = now + watchdog_interval_;
      if (watchdog_withheld_) log_info("watchdog_resumed");
      watchdog_withheld_ = false;
    } else if (!watchdog_withheld_) {
      watchdog_withheld_ = true;
      log_warning("watchdog_withheld", {{"reason", "a child process is wedged"}});
    }
  }
  if (announced_ready_ && now >= next_status_ && !crash_looping_) {
    sd_notifyf(0, "STATUS=%s", status_line().c_str());
    next_status_ = now + kStatusEvery;
  }
}

void Arbiter::run_pending() {
  auto now = Clock::now();
  std::vector<Pending> later;
  for (const Pending& p : pending_) {
    if (p.slot > target_workers_) continue;
    if (p.at <= now) {
      spawn(p.slot);
    } else {
      later.push_back(p);
    }
  }
  pending_ = std::move(later);
}

int Arbiter::next_timeout_ms() const {
  auto now = Clock::now();
  auto next = now + std::chrono::seconds(1);
  for (const Pending& p : pending_) next = std::min(next, p.at);
  if (stopping_) next = std::min(next, stop_deadline_);
  if (watchdog_interval_.count() > 0 && !watchdog_withheld_) {
    next = std::min(next, std::chrono::time_point_cast<Clock::duration>(next_watchdog_));
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::max<int64_t>(0, ms));
}

void Arbiter::handle_signal(int sig) {
  switch (sig) {
    case SIGCHLD: break;  // reap() runs after every wake-up
    case SIGTERM:
    case SIGINT:
      log_info("shutdown_requested", {{"signal", sig}, {"grace_s", config_->effective_graceful_timeout()}});
      begin_stop(SIGTERM, config_->effective_graceful_timeout());
      break;
    case SIGQUIT:
      log_info("quit_requested");
      begin_stop(SIGQUIT, 2);
      break;
    case SIGHUP:
      if (!stopping_) reload();
      break;
    case SIGTTIN:
      if (stopping_) break;
      ++target_workers_;
      log_info("workers_increased", {{"workers", target_workers_}});
      spawn(target_workers_);
      break;
    case SIGTTOU: {
      if (stopping_ || target_workers_ <= 1) break;
      int slot = target_workers_--;
      log_info("workers_decreased", {{"workers", target_workers_}});
      for (const auto& [pid, w] : workers_) {
        if (w.slot == slot) kill(pid, SIGTERM);
      }
      break;
    }
    case SIGUSR1:
      log_reopen();
      signal_all(SIGUSR1);
      break;
    default: break;
  }
}

void Arbiter::begin_stop(int worker_signal, int grace_seconds) {
  if (stopping_) {
    if (worker_signal == SIGQUIT) signal_all(SIGQUIT);  // a QUIT during a drain hurries it
    return;
  }
  stopping_ = true;
  pending_.clear();
  // Once every child has closed its copy too, a new connection is refused at
  // once (a balancer retries elsewhere) instead of waiting in a queue that
  // nobody will accept from.
  if (grpc_.listen_fd >= 0) {
    close(grpc_.listen_fd);
    grpc_.listen_fd = -1;
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
  reflection_.close();  // (removes the runtime file: the tools stop calling)
  stop_deadline_ = Clock::now() + std::chrono::seconds(grace_seconds);
  sd_notify(0, "STOPPING=1");
  signal_all(worker_signal);
}

void Arbiter::signal_all(int sig, int generation) {
  for (const auto& [pid, w] : workers_) {
    if (generation < 0 || w.generation <= generation) kill(pid, sig);
  }
}

void Arbiter::reload() {
  Result<LoadedConfig> loaded = load_config(inputs_);
  if (!loaded.ok()) {
    log_error("reload_failed_keeping_config", {{"reason", loaded.status().message()}});
    return;
  }
  Config next = loaded->config;
  Result<PromptList> prompts = load_prompts(next);
  if (!prompts.ok()) {
    log_error("reload_failed_keeping_config", {{"reason", prompts.status().message()}});
    return;
  }
  // The certificate and key are re-read: renewed files take effect now.
  Result<std::shared_ptr<http::TlsContext>> tls = http::TlsContext::load(next);
  if (!tls.ok()) {
    log_error("reload_failed_keeping_config", {{"reason", tls.status().message()}});
    return;
  }
  if (next.port != config_->port || next.bind_host != config_->bind_host || next.grpc_port != config_->grpc_port) {
    log_warning("reload_cannot_rebind", {{"detail", "PORT/GRPC_PORT/BIND_HOST changes need a restart"}});
  }
  if (segment_ && segment_sizes(next) != segment_->sizes()) {
    // The segment is fixed-size: the new workers keep the sizes it has.
    log_warning("reload_cannot_resize_shared_state",
                {{"detail", "CACHE_MAX_SIZE, CACHE_MAX_ENTRY_BYTES and RATE_LIMIT_TABLE_SIZE changes need a restart"}});
  }
  sd_notify(0, "RELOADING=1");
  config_ = std::make_shared<Config>(std::move(next));
  prompts_ = std::make_shared<PromptList>(std::move(prompts).value());
  tls_ = std::move(tls).value();
  settings_ = std::make_shared<std::map<std::string, std::string>>(std::move(loaded->settings));
  target_workers_ = config_->effective_workers();
  ++generation_;
  pending_.clear();
  log_info("reloading", {{"generation", generation_}, {"workers", target_workers_}});
  if (grpc_enabled()) spawn(kGrpcdSlot);
  for (int slot = 1; slot <= target_workers_; ++slot) spawn(slot);
}

}  // namespace genkit
