// Chaos under load. For a few seconds clients call every kind of route —
// REST unary (translate over a few texts, so cache hits, misses and flights
// shared across processes; tell-joke), SSE streams, gRPC unary and TellStory
// streams — while a chaos thread SIGKILLs random workers and grpcd, or
// SIGSTOPs one for 1.2-1.8 s and then SIGCONTs it (and, in RedisChaosTest,
// stops Redis past REDIS_TIMEOUT_MS, or kills it and restarts it on its
// port). Checked against the log of faults:
//  - every call ends cleanly: a 2xx with JSON (an SSE stream ended by its
//    done event), a JSON error, or a gRPC status. A lost connection (or a
//    gRPC UNAVAILABLE/CANCELLED/INTERNAL) only for a call in flight when a
//    process serving its protocol was killed, and few of them;
//  - nothing hangs: no call reaches its timeout, and a call slower than a
//    few seconds overlapped a stop or a killed process's replacement;
//  - a stopped worker does not stop the others: fresh requests (each
//    taking the cache and rate-limiter locks) are served while it is stopped;
//  - promptly after the last fault the server is whole again: every process
//    back, /metrics counting them, /ready 200, grpc.health SERVING, each
//    kind of request served, the cache and rate limiter not wedged;
//  - the supervisor saw every kill and no other death (no crash, no process
//    taken for wedged), and after SIGTERM every process drains and exits 0,
//    the supervisor too, and no process of its group is left.
// With Redis, its faults never fail a request: decisions fall back to the
// machine's shared memory (counted in /metrics) and it is reconnected.
// CHAOS_SEED=N replays one schedule of faults (every run prints its seed;
// the timing of the load still differs from run to run).
//
// What these tests found is pinned beside them: a key whose fleet lock
// (Redis) was left by a killed leader waited for it to expire
// (AKilledLeadersFleetLockDoesNotHoldItsKey), and a process older than
// WORKER_TIMEOUT was aborted in the middle of its clean exit (the SIGTERM
// checks, with a short WORKER_TIMEOUT).
//
// The fault thread and the load live in tests/support/chaos_faults.* and
// tests/support/chaos_calls.*. RedisChaosTest is named Redis* so that ctest
// runs it with the Redis suites.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/support/chaos_calls.h"
#include "tests/support/chaos_faults.h"
#include "tests/support/proc_table.h"
#include "tests/support/redis_server.h"

namespace itest {
namespace {

using genkit::Json;
using namespace chaos;

constexpr int kWorkers = 3;
constexpr const char* kWorkerTimeout = "3";    // seconds: past any stop, well within the run
constexpr milliseconds kSlowCall{2500};        // a call this slow must overlap a fault's window
constexpr milliseconds kRespawnWindow{3000};   // a killed process's slot may be down this long (back-off, boot)
constexpr milliseconds kChannelNoticeLag{500};  // a gRPC channel may send on a connection killed this long ago
constexpr milliseconds kRecoveryBound{3000};   // "within a second", with room for sanitizer builds
constexpr milliseconds kRecoveryGiveUp{10000}; // the poll's own bound (the figure is reported either way)

// Every pid the supervisor logged as a worker or grpcd it spawned.
std::set<int> spawned_pids(const ServerProcess& server) {
  std::set<int> out;
  for (const char* event : {"worker_spawned", "grpcd_spawned"}) {
    for (const Json& e : server.events(event)) out.insert(static_cast<int>(e["worker_pid"].as_number()));
  }
  return out;
}

// ---------------------------------------------------------------- checks

Target target_of(Protocol p) { return p == Protocol::kHttp ? Target::kWorker : Target::kGrpcd; }

// A process serving this call's protocol was killed while it was in flight
// (for gRPC: or just before; a channel learns of its connection's end a
// moment later, and a call started meanwhile goes out on the dead one).
bool killed_during(const Call& c, const std::vector<Fault>& faults) {
  const auto from = c.protocol == Protocol::kGrpc ? c.start - kChannelNoticeLag : c.start;
  return std::any_of(faults.begin(), faults.end(), [&](const Fault& f) {
    return f.kind == FaultKind::kKill && f.target == target_of(c.protocol) && f.at >= from && f.at <= c.end;
  });
}

// A process was stopped, or a killed one's slot not yet served again,
// during the call (Redis's faults excuse nothing: nothing waits on Redis).
bool stalled_during(const Call& c, const std::vector<Fault>& faults) {
  return std::any_of(faults.begin(), faults.end(), [&](const Fault& f) {
    if (f.target == Target::kRedis) return false;
    Clock::time_point until = f.kind == FaultKind::kStop ? f.until : f.at + kRespawnWindow;
    return overlaps(c.start, c.end, f.at, until);
  });
}

struct Tally {
  int total = 0, ok = 0, json_errors = 0, lost = 0, timed_out = 0, bad = 0, slow = 0;
  milliseconds slowest{0};
  std::map<std::string, int> ok_by_kind;
  std::string summary() const {
    return std::to_string(total) + " calls: " + std::to_string(ok) + " ok, " + std::to_string(json_errors) +
           " JSON errors, " + std::to_string(lost) + " lost, " + std::to_string(timed_out) + " timed out, " +
           std::to_string(bad) + " bad, " + std::to_string(slow) + " slower than " +
           std::to_string(kSlowCall.count()) + " ms (slowest " + std::to_string(slowest.count()) + " ms)";
  }
};

// What a call's outcome says, given the faults; "" when it is allowed.
std::string problem_with(const Call& c, const std::vector<Fault>& faults, bool redis_backend) {
  switch (c.verdict) {
    case Verdict::kBad: return "not a clean reply";
    case Verdict::kTimedOut: return "reached its timeout";
    case Verdict::kLost:
      if (!killed_during(c, faults)) return "lost with no kill of a " + std::string(target_name(target_of(c.protocol)));
      break;
    case Verdict::kJsonError:
      if (redis_backend && c.status >= 500) return "a server error (Redis must never fail a request)";
      break;
    case Verdict::kOk: break;
  }
  if (c.took() > kSlowCall && !stalled_during(c, faults)) return "slow with no stopped or replaced process";
  return "";
}

Tally check_calls(const std::vector<Call>& calls, const std::vector<Fault>& faults, bool redis_backend,
                  std::vector<std::string>* problems, Clock::time_point origin) {
  Tally t;
  for (const Call& c : calls) {
    ++t.total;
    t.ok += c.verdict == Verdict::kOk;
    t.json_errors += c.verdict == Verdict::kJsonError;
    t.lost += c.verdict == Verdict::kLost;
    t.timed_out += c.verdict == Verdict::kTimedOut;
    t.bad += c.verdict == Verdict::kBad;
    t.slow += c.took() > kSlowCall;
    t.slowest = std::max(t.slowest, c.took());
    if (c.verdict == Verdict::kOk) ++t.ok_by_kind[c.kind];
    std::string why = problem_with(c, faults, redis_backend);
    if (!why.empty()) problems->push_back(why + ": " + describe_call(c, origin));
  }
  return t;
}

// While a worker was stopped (for its whole planned time, not cut short by a
// kill), some fresh request was served from start to end: the other workers
// were not wedged by anything the stopped one held.
void check_served_while_stopped(const std::vector<Call>& probes, const std::vector<Fault>& faults,
                                std::vector<std::string>* problems, Clock::time_point origin) {
  for (const Fault& f : faults) {
    if (f.kind != FaultKind::kStop || f.target != Target::kWorker || f.until - f.at < kStopMin) continue;
    bool served = std::any_of(probes.begin(), probes.end(), [&](const Call& p) {
      return p.verdict == Verdict::kOk && p.start >= f.at && p.end <= f.until;
    });
    if (!served) problems->push_back("no fresh request was served during " + describe_fault(f, origin));
  }
  for (const Call& p : probes) {
    if (p.verdict == Verdict::kBad || (p.verdict == Verdict::kLost && !killed_during(p, faults))) {
      problems->push_back("probe: " + describe_call(p, origin));
    }
  }
}

std::string timeline(const std::vector<Fault>& faults, Clock::time_point origin) {
  std::string s;
  for (const Fault& f : faults) s += "  " + describe_fault(f, origin) + "\n";
  return s;
}

std::string first_of(const std::vector<std::string>& lines, size_t n = 12) {
  std::string s;
  for (size_t i = 0; i < lines.size() && i < n; ++i) s += "  " + lines[i] + "\n";
  if (lines.size() > n) s += "  ... and " + std::to_string(lines.size() - n) + " more\n";
  return s;
}

// The supervisor's lines about its processes (and Redis), for failure messages.
std::string lifecycle(const ServerProcess& server) {
  std::string s;
  for (const std::string& line : server.stdout_lines()) {
    Json j = json_or_null(line);
    std::string_view e = j["event"].as_string();
    if (e.ends_with("_spawned") || e.ends_with("_exited") || e == "crash_loop_backoff" || e == "worker_timeout" ||
        e.starts_with("redis_") || e == "cache_flight_taken_over" || e == "shm_lock_repaired") {
      s += line + "\n";
    }
  }
  return s;
}

uint32_t chaos_seed() {
  if (const char* s = std::getenv("CHAOS_SEED")) return static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  return std::random_device{}();
}

// ---------------------------------------------------------------- the scenario

template <typename Derived>
class ChaosBase : public GrpcServerTest<Derived> {
 public:
  // Model calls take a little while, streams longer: kills and stops land
  // on calls in flight.
  static std::vector<std::string> fake_args() { return {"--delay-ms", "80", "--chunk-delay-ms", "15"}; }

 protected:
  // Every setting the scenario relies on: cache entries expire within the
  // run (hits and misses), no recycling (every exit is one of ours), a short
  // drain bound, and a WORKER_TIMEOUT past any stop (a stopped process is
  // ours to continue) that the processes outlive (their exit at SIGTERM
  // must not look like a wedge).
  static Env chaos_env() {
    return {{"CACHE_TTL", "1"}, {"MAX_REQUESTS", "0"}, {"SHUTDOWN_GRACE", "5"}, {"WORKER_TIMEOUT", kWorkerTimeout}};
  }

  ServerProcess& server() { return *this->server_; }
  int port() { return server().port(); }

  // The load under the chaos, then every check of the file's header.
  void run_chaos(RedisServer* redis) {
    const uint32_t seed = chaos_seed();
    ::testing::Test::RecordProperty("chaos_seed", std::to_string(seed));
    std::cout << "[ chaos    ] CHAOS_SEED=" << seed << std::endl;
    const auto origin = Clock::now();
    std::vector<Fault> faults;
    Clock::time_point last_fault;
    std::vector<Call> calls, probes;
    Chaos chaos(server(), kWorkers, redis, seed);  // (lives to the end: see its comment)
    {
      Load load(port(), this->grpc_port());
      chaos.wait_done();
      faults = chaos.faults();
      last_fault = chaos.last_fault_end();
      EXPECT_TRUE(chaos.problems().empty()) << first_of(chaos.problems());
      // The server heals while the last calls end.
      ASSERT_NO_FATAL_FAILURE(expect_recovered(last_fault, redis != nullptr));
      load.stop();
      calls = load.calls();
      probes = load.probes();
    }
    const std::string story = "CHAOS_SEED=" + std::to_string(seed) + ", faults:\n" + timeline(faults, origin);
    expect_faults_happened(faults, redis != nullptr, story);

    std::vector<std::string> problems;
    Tally t = check_calls(calls, faults, redis != nullptr, &problems, origin);
    check_served_while_stopped(probes, faults, &problems, origin);
    std::cout << "[ chaos    ] " << faults.size() << " faults; " << t.summary() << "; " << probes.size() << " probes"
              << std::endl;
    EXPECT_TRUE(problems.empty()) << problems.size() << " calls broke the contract:\n" << first_of(problems) << story;
    EXPECT_GE(t.ok, 40) << "the load barely ran: " << t.summary();
    for (const char* kind : {"POST /translate", "POST /tell-joke", "POST /tell-joke/stream", "POST /tell-story/stream",
                             "grpc TellJoke", "grpc TranslateText", "grpc TellStory"}) {
      EXPECT_GE(t.ok_by_kind[kind], 1) << kind << " never succeeded under the chaos: " << t.summary();
    }
    // A kill loses the calls in flight in its process, and those only.
    int kills = static_cast<int>(std::count_if(faults.begin(), faults.end(), [](const Fault& f) {
      return f.kind == FaultKind::kKill && f.target != Target::kRedis;
    }));
    EXPECT_LE(t.lost, kills * (kRestClients + kGrpcClients + 1)) << t.summary() << "\n" << story;
    EXPECT_LE(t.lost * 5, t.total) << "lost calls should be a small minority: " << t.summary();
    ::testing::Test::RecordProperty("calls", t.total);
    ::testing::Test::RecordProperty("lost_calls", t.lost);
    ::testing::Test::RecordProperty("slowest_call_ms", static_cast<int>(t.slowest.count()));

    ASSERT_NO_FATAL_FAILURE(expect_every_exit_was_a_kill(faults, story));
    ASSERT_NO_FATAL_FAILURE(expect_not_wedged());
    ASSERT_NO_FATAL_FAILURE(expect_clean_stop());
  }

  // The scenario's coverage: each kind of fault on each process kind.
  void expect_faults_happened(const std::vector<Fault>& faults, bool redis, const std::string& story) {
    auto count = [&](FaultKind k, Target t) {
      return std::count_if(faults.begin(), faults.end(), [&](const Fault& f) { return f.kind == k && f.target == t; });
    };
    std::vector<Target> targets = {Target::kWorker, Target::kGrpcd};
    if (redis) targets.push_back(Target::kRedis);
    for (Target t : targets) {
      EXPECT_GE(count(FaultKind::kKill, t), 1) << "no kill of " << target_name(t) << "\n" << story;
      EXPECT_GE(count(FaultKind::kStop, t), 1) << "no stop of " << target_name(t) << "\n" << story;
    }
  }

  // One look at the server: its processes, /metrics, /ready and grpc.health.
  std::string unhealthy() {
    Children c = children_of(server().pid());
    if (c.workers.size() != kWorkers || c.grpcds.size() != 1 || !c.stopped.empty() || !c.zombies.empty()) {
      return "processes: " + c.describe();
    }
    Samples s = parse_samples(http_get(port(), "/metrics").body);
    if (sample(s, "genkit_endpoints_workers_alive") != kWorkers ||
        sample(s, "genkit_endpoints_grpc_daemons_alive") != 1) {
      return "/metrics: workers_alive " + std::to_string(sample(s, "genkit_endpoints_workers_alive")) +
             ", grpc_daemons_alive " + std::to_string(sample(s, "genkit_endpoints_grpc_daemons_alive"));
    }
    HttpResponse ready = http_get(port(), "/ready");
    if (ready.status != 200) return "/ready: " + std::to_string(ready.status) + " " + ready.reason + ready.body;
    std::shared_ptr<grpc::Channel> fresh = grpc_channel(this->grpc_port());
    HealthAnswer health = health_check(*fresh, kGenkitService, milliseconds(1000));
    if (!health.serving_ok()) return "grpc.health: " + health.describe();
    return "";
  }

  // A fresh call of each kind at once, each on a new connection (the gRPC
  // ones on a new channel).
  std::vector<Call> one_of_each() {
    auto stub = gpb::GenkitService::NewStub(grpc_channel(this->grpc_port()));
    const int p = port();
    std::vector<std::function<Call()>> kinds = {
        [p] { return rest_call(p, "/translate", translate_body("after the chaos")); },
        [p] { return rest_call(p, "/tell-joke", R"({"name":"After"})"); },
        [p] { return sse_call(p, "/tell-joke/stream", R"({"name":"After"})", "joke"); },
        [p] { return sse_call(p, "/tell-story/stream", R"({"topic":"after"})", "story"); },
        [&stub] { return grpc_joke(*stub); },
        [&stub] { return grpc_translate(*stub, "after the chaos"); },
        [&stub] { return grpc_story(*stub); }};
    std::vector<Call> out(kinds.size());
    {
      std::vector<std::jthread> threads;
      for (size_t i = 0; i < kinds.size(); ++i) threads.emplace_back([&, i] { out[i] = kinds[i](); });
    }
    return out;
  }

  // Whole again within kRecoveryBound of the last fault (the figure is
  // reported): processes, metrics, readiness, then a call of each kind.
  void expect_recovered(Clock::time_point last_fault, bool redis) {
    std::string last;
    bool healthy = FakeLlmProcess::eventually([&] { return (last = unhealthy()).empty(); }, kRecoveryGiveUp);
    auto ready_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - last_fault);
    ASSERT_TRUE(healthy) << "not whole " << kRecoveryGiveUp.count() << " ms after the last fault: " << last << "\n"
                         << lifecycle(server());
    std::vector<std::string> failed;
    for (const Call& c : one_of_each()) {
      if (c.verdict != Verdict::kOk) failed.push_back(describe_call(c, last_fault));
    }
    auto served_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - last_fault);
    EXPECT_TRUE(failed.empty()) << "after the chaos:\n" << first_of(failed);
    std::cout << "[ chaos    ] whole again " << ready_ms.count() << " ms after the last fault (processes, /metrics, "
              << "/ready, grpc.health), a call of each kind served by " << served_ms.count() << " ms" << std::endl;
    ::testing::Test::RecordProperty("recovered_ms", static_cast<int>(ready_ms.count()));
    ::testing::Test::RecordProperty("served_ms", static_cast<int>(served_ms.count()));
    EXPECT_LE(served_ms, kRecoveryBound) << "the server took too long to be whole again after the last fault\n"
                                         << lifecycle(server());
    if (redis) expect_redis_back(last_fault);
  }

  // Redis is back for every process (its reconnect back-off is at most 2 s).
  void expect_redis_back(Clock::time_point last_fault) {
    const char* kConnected = "genkit_endpoints_redis_connected_processes";
    Samples s = scrape_until(port(), [&](const Samples& x) { return sample(x, kConnected) == kWorkers + 1; },
                             milliseconds(8000));
    EXPECT_EQ(sample(s, kConnected), kWorkers + 1) << "processes connected to Redis after the chaos\n"
                                                   << lifecycle(server());
    auto back_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - last_fault);
    std::cout << "[ chaos    ] every process connected to Redis again " << back_ms.count()
              << " ms after the last fault" << std::endl;
    ::testing::Test::RecordProperty("redis_reconnected_ms", static_cast<int>(back_ms.count()));
    HttpResponse ready = http_get(port(), "/ready");
    EXPECT_NE(ready.body.find(R"("redis":"connected")"), std::string::npos) << ready.status << " " << ready.body;
    // Redis's faults were felt, and absorbed on local state.
    EXPECT_GT(sample_sum(s, "genkit_endpoints_redis_fallbacks_total"), 0) << "no decision ever fell back";
    EXPECT_GT(sample_sum(s, "genkit_endpoints_redis_failures_total"), 0) << "Redis never failed a command";
    std::cout << "[ chaos    ] Redis: " << sample_sum(s, "genkit_endpoints_redis_failures_total") << " failures, "
              << sample_sum(s, "genkit_endpoints_redis_fallbacks_total") << " decisions taken on local state"
              << std::endl;
  }

  // The workers' and grpcd's exits, in the order logged.
  std::vector<Json> exit_events() {
    std::vector<Json> out;
    for (const std::string& line : server().stdout_lines()) {
      Json j = json_or_null(line);
      std::string_view event = j["event"].as_string();
      if (event == "worker_exited" || event == "grpcd_exited") out.push_back(std::move(j));
    }
    return out;
  }

  // The supervisor saw each of our kills as that process's exit by SIGKILL,
  // and no process left otherwise (a crash, an abort, a WORKER_TIMEOUT kill).
  void expect_every_exit_was_a_kill(const std::vector<Fault>& faults, const std::string& story) {
    std::set<int> killed;
    for (const Fault& f : faults) {
      if (f.kind == FaultKind::kKill && f.pid) killed.insert(f.pid);
    }
    std::set<int> exited;
    for (const char* event : {"worker_exited", "grpcd_exited"}) {
      for (const Json& e : server().events(event)) {
        int pid = static_cast<int>(e["worker_pid"].as_number());
        exited.insert(pid);
        EXPECT_TRUE(killed.count(pid) && e["signal"].as_number() == SIGKILL)
            << "an exit we did not cause: " << e.dump();
      }
    }
    EXPECT_EQ(exited, killed) << "every kill should be reaped and reported\n" << story << lifecycle(server());
    EXPECT_TRUE(server().events("worker_timeout").empty()) << "no process was wedged\n" << lifecycle(server());
  }

  // No lock left wedged: misses (flights, stores), hits, the rate limiter and
  // /metrics, over new connections so that every worker answers some.
  void expect_not_wedged() {
    for (int i = 0; i < 2 * kWorkers; ++i) {
      const std::string text = "unwedged " + std::to_string(i);
      for (int twice = 0; twice < 2; ++twice) {  // a miss, then a hit
        Call c = rest_call(port(), "/translate", translate_body(text), milliseconds(3000));
        EXPECT_EQ(c.verdict, Verdict::kOk) << describe_call(c, c.start);
        EXPECT_LT(c.took(), milliseconds(2000)) << describe_call(c, c.start);
      }
      SentRequest m = send_with_id(port(), "GET", "/metrics", "", milliseconds(3000));
      EXPECT_EQ(m.response.status, 200) << m.response.reason;
    }
  }

  // SIGTERM: every process drains and exits 0 (none taken for wedged), and
  // nothing of the server's process group is left.
  void expect_clean_stop() {
    this->stub_.reset();  // (an open channel would hold grpcd's drain)
    this->channel_.reset();
    const std::set<int> spawned = spawned_pids(server());
    const std::vector<Json> killed = exit_events();
    const int supervisor = server().pid();
    std::optional<int> code = server().stop(milliseconds(20000));
    EXPECT_EQ(code, std::optional<int>(0)) << "the supervisor did not exit 0 after SIGTERM\n" << server().stderr_text();
    EXPECT_TRUE(server().wait_streams_closed(milliseconds(5000))) << "a process still holds the server's output";
    std::vector<Json> drained = exit_events();
    drained.erase(drained.begin(), drained.begin() + static_cast<long>(killed.size()));
    EXPECT_EQ(drained.size(), static_cast<size_t>(kWorkers + 1)) << lifecycle(server());
    for (const Json& e : drained) {
      EXPECT_TRUE(e["exit_code"].as_number() == 0 && e["signal"].as_number() == 0) << "not a clean exit: " << e.dump();
    }
    EXPECT_TRUE(server().events("worker_timeout").empty()) << "a draining process was taken for wedged\n"
                                                           << lifecycle(server());
    std::vector<int> left;
    for (const ProcInfo& p : all_processes()) {
      if (p.pgrp == supervisor || (spawned.count(p.pid) && p.state != 'Z')) left.push_back(p.pid);
    }
    EXPECT_TRUE(left.empty()) << left.size() << " processes of the server outlived it, first " << left.front();
  }
};

class ChaosTest : public ChaosBase<ChaosTest> {};

TEST_F(ChaosTest, KillsAndStopsUnderLoadNeitherHangWedgeNorLeak) {
  ASSERT_NO_FATAL_FAILURE(start_grpc(chaos_env(), kWorkers));
  run_chaos(nullptr);
}

class RedisChaosTest : public ChaosBase<RedisChaosTest> {
 protected:
  void TearDown() override {
    if (redis_.running()) redis_.continue_process();
    ChaosBase::TearDown();
  }

  // Redis, then the server on it, every process connected.
  void start_on_redis() {
    ASSERT_TRUE(redis_.start()) << redis_.error();
    Env env = chaos_env();
    env["STATE_BACKEND"] = "redis";
    env["REDIS_URL"] = redis_.url();
    ASSERT_NO_FATAL_FAILURE(start_grpc(env, kWorkers));
    Samples up = scrape_until(port(), [](const Samples& s) {
      return sample(s, "genkit_endpoints_redis_connected_processes") == kWorkers + 1;
    });
    ASSERT_EQ(sample(up, "genkit_endpoints_redis_connected_processes"), kWorkers + 1)
        << "not every process reached Redis";
  }

  RedisServer redis_;
};

TEST_F(RedisChaosTest, RedisFaultsBesideKillsAndStopsNeverFailARequest) {
  ASSERT_NO_FATAL_FAILURE(start_on_redis());
  run_chaos(&redis_);
}

// What the chaos above found: a worker killed while it led a key's flight
// left the key's fleet lock in Redis, and the process that took the flight
// over waited for that lock to expire (10 s) before computing it.
TEST_F(RedisChaosTest, AKilledLeadersFleetLockDoesNotHoldItsKey) {
  ASSERT_NO_FATAL_FAILURE(start_on_redis());
  const std::string body = translate_body("held by a dead leader");
  ASSERT_TRUE(fake()->script(R"([{"delay_ms":8000}])")) << fake()->error();  // the leader's call outlives it
  SentRequest leader;
  std::jthread leader_thread([&] { leader = send_with_id(port(), "POST", "/translate", body, milliseconds(10000)); });
  ASSERT_TRUE(FakeLlmProcess::eventually([&] { return fake()->model_requests().size() == 1; }, milliseconds(5000)))
      << "the leader's model call never reached the fake";
  const int leader_pid = worker_calling(server(), fake()->port());
  ASSERT_GT(leader_pid, 0) << "exactly one worker should be calling the model";
  ASSERT_EQ(redis_.keys("*lock:*").size(), 1u) << "the leader holds the key's fleet lock";

  ASSERT_EQ(kill(leader_pid, SIGKILL), 0);
  leader_thread.join();
  SentRequest next = send_with_id(port(), "POST", "/translate", body, milliseconds(15000));
  EXPECT_EQ(next.response.status, 200) << next.response.reason << next.response.body;
  EXPECT_LT(next.took, milliseconds(3000)) << "the key waited for the dead leader's lock to expire\n"
                                           << lifecycle(server());
  EXPECT_TRUE(server().wait_event("cache_flight_taken_over", milliseconds(1000)));
  EXPECT_TRUE(redis_.keys("*lock:*").empty()) << "the new leader's store releases its own lock";
  EXPECT_EQ(redis_.keys("*cache:*").size(), 1u) << "the result is in the fleet's cache";
}

}  // namespace
}  // namespace itest
