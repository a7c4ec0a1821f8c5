#include "tests/support/chaos_faults.h"

#include <signal.h>

#include <algorithm>
#include <string_view>
#include <tuple>

#include "tests/support/proc_table.h"

namespace itest::chaos {

namespace {

bool is_grpcd(int pid) { return std::string_view(exe_path(pid)).ends_with("genkit-endpoints-grpcd"); }

}  // namespace

std::string Children::describe() const {
  return std::to_string(workers.size()) + " workers, " + std::to_string(grpcds.size()) + " grpcd, " +
         std::to_string(stopped.size()) + " stopped, " + std::to_string(zombies.size()) + " zombies";
}

Children children_of(int supervisor) {
  Children c;
  for (const ProcInfo& p : all_processes()) {
    if (p.ppid != supervisor) continue;
    if (p.state == 'Z' || p.state == 'X') c.zombies.push_back(p.pid);
    else if (p.state == 'T' || p.state == 't') c.stopped.push_back(p.pid);
    else if (is_grpcd(p.pid)) c.grpcds.push_back(p.pid);
    else c.workers.push_back(p.pid);
  }
  return c;
}

const char* target_name(Target t) { return t == Target::kWorker ? "worker" : t == Target::kGrpcd ? "grpcd" : "redis"; }

long long ms_since(Clock::time_point origin, Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t - origin).count();
}

std::string describe_fault(const Fault& f, Clock::time_point origin) {
  std::string s = std::string(f.kind == FaultKind::kKill ? "kill " : "stop ") + target_name(f.target);
  if (f.pid) s += " " + std::to_string(f.pid);
  s += " at +" + std::to_string(ms_since(origin, f.at)) + " ms";
  if (f.kind == FaultKind::kStop || f.target == Target::kRedis) {
    s += " until +" + std::to_string(ms_since(origin, f.until)) + " ms";
  }
  return s;
}

bool overlaps(Clock::time_point a0, Clock::time_point a1, Clock::time_point b0, Clock::time_point b1) {
  return a0 <= b1 && b0 <= a1;
}

Chaos::Chaos(ServerProcess& server, int workers, RedisServer* redis, uint32_t seed)
    : server_(server), workers_(workers), redis_(redis), rng_(seed) {
  std::vector<std::pair<FaultKind, Target>> first = {{FaultKind::kKill, Target::kWorker},
                                                     {FaultKind::kStop, Target::kWorker},
                                                     {FaultKind::kKill, Target::kGrpcd},
                                                     {FaultKind::kStop, Target::kGrpcd}};
  std::shuffle(first.begin(), first.end(), rng_);
  planned_.assign(first.begin(), first.end());
  thread_ = std::jthread([this] { run(); });
}

Chaos::~Chaos() {
  {
    std::lock_guard lock(mu_);
    abort_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Chaos::wait_done() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_; });
}

std::vector<Fault> Chaos::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

Clock::time_point Chaos::last_fault_end() const {
  std::lock_guard lock(mu_);
  Clock::time_point last{};
  for (const Fault& f : faults_) last = std::max({last, f.at, f.until});
  return last;
}

std::vector<std::string> Chaos::problems() const {
  std::lock_guard lock(mu_);
  return problems_;
}

milliseconds Chaos::uniform(milliseconds lo, milliseconds hi) {
  return milliseconds(std::uniform_int_distribution<long long>(lo.count(), hi.count())(rng_));
}

void Chaos::run() {
  const auto start = Clock::now();
  auto next_fault = start + milliseconds(300);
  auto next_redis = start + milliseconds(600);
  while (!abort_ && Clock::now() < start + kChaosFor) {
    settle(false);
    auto now = Clock::now();
    if (now >= next_fault) {
      process_fault();
      next_fault = now + uniform(kFaultEveryMin, kFaultEveryMax);
    }
    if (redis_ && now >= next_redis) {
      redis_fault();
      next_redis = now + uniform(kRedisFaultEveryMin, kRedisFaultEveryMax);
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  settle(true);
  std::unique_lock lock(mu_);
  done_ = true;
  cv_.notify_all();
  cv_.wait(lock, [this] { return abort_.load(); });
}

// Ends the faults whose time came (all of them, at their time unless aborting, when `all`).
void Chaos::settle(bool all) {
  while (true) {
    std::optional<Pending> next;
    {
      std::lock_guard lock(mu_);
      auto it = std::min_element(pending_.begin(), pending_.end(),
                                 [](const Pending& a, const Pending& b) { return a.due < b.due; });
      if (it == pending_.end() || (!all && it->due > Clock::now())) return;
      next = *it;
      pending_.erase(it);
    }
    if (!abort_) std::this_thread::sleep_until(next->due);
    end_fault(next->fault);
  }
}

void Chaos::end_fault(size_t index) {
  Fault f = faults()[index];
  bool ok = true;
  if (f.target == Target::kRedis) {
    ok = f.kind == FaultKind::kStop ? redis_->continue_process() : redis_->restart();
  } else {
    kill(f.pid, SIGCONT);
  }
  std::lock_guard lock(mu_);
  faults_[index].until = Clock::now();
  continued_[f.pid] = faults_[index].until;
  if (!ok) problems_.push_back("redis did not come back: " + redis_->error() + "\n" + redis_->log_tail());
}

std::vector<Chaos::Victim> Chaos::victims() {
  Children c = children_of(server_.pid());
  std::set<int> stopped = stopped_pids();
  std::vector<Victim> out;
  for (int pid : c.workers) out.push_back({pid, Target::kWorker, false});
  for (int pid : c.grpcds) out.push_back({pid, Target::kGrpcd, false});
  for (int pid : c.stopped) {
    if (stopped.count(pid)) out.push_back({pid, is_grpcd(pid) ? Target::kGrpcd : Target::kWorker, true});
  }
  return out;
}

std::set<int> Chaos::stopped_pids() {
  std::lock_guard lock(mu_);
  std::set<int> out;
  for (const Pending& p : pending_) {
    if (faults_[p.fault].kind == FaultKind::kStop && faults_[p.fault].pid) out.insert(faults_[p.fault].pid);
  }
  return out;
}

bool Chaos::eligible(const Victim& v, FaultKind kind, const std::vector<Victim>& all) {
  bool worker_stopped = std::any_of(all.begin(), all.end(), [](const Victim& x) {
    return x.stopped && x.target == Target::kWorker;
  });
  if (kind == FaultKind::kStop) {
    auto continued = continued_.find(v.pid);  // (mu_ not needed: only this thread writes it)
    if (v.stopped || (continued != continued_.end() && Clock::now() - continued->second < kRunBetweenStops)) {
      return false;
    }
    if (v.target != Target::kWorker) return true;
    // Only with every other worker there: they are the ones that must keep serving.
    long others = std::count_if(all.begin(), all.end(), [](const Victim& x) { return x.target == Target::kWorker; });
    return !worker_stopped && others >= workers_;
  }
  return v.target != Target::kWorker || !worker_stopped || v.stopped;
}

void Chaos::process_fault() {
  FaultKind kind = std::bernoulli_distribution(0.5)(rng_) ? FaultKind::kKill : FaultKind::kStop;
  std::optional<Target> want;
  if (!planned_.empty()) {
    std::tie(kind, want) = planned_.front();
  }
  std::vector<Victim> all = victims();
  std::vector<Victim> candidates;
  for (const Victim& v : all) {
    if (eligible(v, kind, all) && (!want || v.target == *want)) candidates.push_back(v);
  }
  if (candidates.empty()) return;  // (a planned fault waits for its victim to be back)
  if (want) planned_.pop_front();
  Victim v = candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng_)];
  Fault f{kind, v.target, v.pid, Clock::now(), {}};
  f.until = f.at;
  std::lock_guard lock(mu_);
  if (kind == FaultKind::kKill) {
    kill(v.pid, SIGKILL);
    end_stop_of(v.pid, f.at);  // a stopped process killed: its stop ends here
    faults_.push_back(f);
  } else {
    kill(v.pid, SIGSTOP);
    faults_.push_back(f);
    pending_.push_back({f.at + uniform(kStopMin, kStopMax), faults_.size() - 1});
  }
}

void Chaos::end_stop_of(int pid, Clock::time_point at) {  // (mu_ held)
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (faults_[it->fault].pid != pid) continue;
    faults_[it->fault].until = at;
    pending_.erase(it);
    return;
  }
}

void Chaos::redis_fault() {
  {
    std::lock_guard lock(mu_);
    for (const Pending& p : pending_) {
      if (faults_[p.fault].target == Target::kRedis) return;  // still down from the last one
    }
  }
  FaultKind kind = redis_faults_ == 0   ? FaultKind::kStop
                   : redis_faults_ == 1 ? FaultKind::kKill
                   : std::bernoulli_distribution(0.5)(rng_) ? FaultKind::kKill
                                                              : FaultKind::kStop;
  ++redis_faults_;
  Fault f{kind, Target::kRedis, 0, Clock::now(), {}};
  if (kind == FaultKind::kStop) {
    redis_->stop_process();
  } else {
    redis_->kill9();
  }
  std::lock_guard lock(mu_);
  faults_.push_back(f);
  pending_.push_back({f.at + uniform(kRedisDownMin, kRedisDownMax), faults_.size() - 1});
}

}  // namespace itest::chaos
