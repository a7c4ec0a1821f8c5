// Workers SIGKILLed while they share the segment: a flight's waiters in
// other workers take over from a dead leader, and repeated kills under load
// leave no request hanging and no lock wedged (the robust mutexes repair a
// zone whose owner died). Each test owns its server: it kills its workers.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "tests/support/shared_state_support.h"

namespace itest {
namespace {

constexpr int kWorkers = 4;
constexpr milliseconds kBound{10000};  // no request may take longer, killed worker or not

class WorkerKillTest : public FakeUpstreamServerTest<WorkerKillTest> {
 public:
  static std::vector<std::string> fake_args() { return {"--delay-ms", "100"}; }

 protected:
  size_t model_calls() { return fake()->model_requests().size(); }

  // A live worker not killed yet, from `slot` when it has one (so that
  // every slot loses one); 0 when none turned up within a second.
  int pick_victim(int slot, const std::set<int>& killed) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      std::map<int, int> by_slot = live_workers_by_slot(server());
      auto it = by_slot.find(slot);
      if (it != by_slot.end() && !killed.count(it->second)) return it->second;
      for (const auto& [_, pid] : by_slot) {
        if (!killed.count(pid)) return pid;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    return 0;
  }
};

TEST_F(WorkerKillTest, WaitersInOtherWorkersTakeOverFromAKilledLeader) {
  ASSERT_NO_FATAL_FAILURE(start({}, kWorkers));
  const std::string body = R"({"name":"Orphan"})";
  // The leader's model call outlives it; the next one is quick.
  ASSERT_TRUE(fake()->script(R"([{"delay_ms":8000}])")) << fake()->error();
  SentRequest leader;
  std::jthread leader_thread([&] { leader = send_with_id(port(), "POST", "/generate-character", body, kBound); });
  ASSERT_TRUE(FakeLlmProcess::eventually([&] { return model_calls() == 1; }, milliseconds(5000)))
      << "the leader's model call never reached the fake";
  const int leader_pid = worker_calling(server(), fake()->port());
  ASSERT_GT(leader_pid, 0) << "exactly one worker should be calling the model";
  std::unique_ptr<FlightWaiters> waiters = join_flight(server(), "/generate-character", body, leader_pid, 2);
  ASSERT_GE(waiters->elsewhere, 2) << "every waiter landed in the leader's worker";

  ASSERT_EQ(kill(leader_pid, SIGKILL), 0);
  auto killed_at = Clock::now();
  leader_thread.join();
  waiters->join();

  EXPECT_EQ(leader.response.status, 0) << "the leader's worker is gone: " << leader.response.body;
  std::string answer;
  int answered = 0;
  for (const SentRequest& w : waiters->sent) {
    EXPECT_TRUE(w.response.status == 200 || w.response.status == 0) << w.response.status << w.response.body;
    if (w.response.status != 200) continue;  // it waited in the killed worker
    ++answered;
    if (answer.empty()) answer = w.response.body;
    EXPECT_EQ(w.response.body, answer);
  }
  EXPECT_GE(answered, waiters->elsewhere) << "every waiter in a surviving worker should get the result";
  EXPECT_LT(Clock::now() - killed_at, milliseconds(5000)) << "the waiters took too long to take over";
  EXPECT_EQ(model_calls(), 2u) << "the killed leader's call and one taker's: " << fake()->requests().dump();
  auto taken = server().wait_event("cache_flight_taken_over", milliseconds(2000), [&](genkit::JsonView e) {
    return static_cast<int>(e["leader_pid"].as_number()) == leader_pid;
  });
  EXPECT_TRUE(taken) << server().stdout_text();
}

struct LoadResult {
  std::string what;
  SentRequest sent;
};

// One request of the load mix: cacheable keys that repeat (so flights
// coalesce and expire), a non-cacheable flow, and scrapes.
LoadResult load_request(int port, int i) {
  std::string n = std::to_string(i % 5);
  switch (i % 4) {
    case 0: return {"translate", send_with_id(port, "POST", "/translate", json_with("text", "load " + n), kBound)};
    case 1: return {"character", send_with_id(port, "POST", "/generate-character", json_with("name", "L" + n), kBound)};
    case 2: return {"joke", send_with_id(port, "POST", "/tell-joke", "{}", kBound)};
    default: return {"metrics", send_with_id(port, "GET", "/metrics", "", kBound)};
  }
}

TEST_F(WorkerKillTest, RepeatedKillsUnderLoadNeitherHangNorWedge) {
  ASSERT_NO_FATAL_FAILURE(start({{"CACHE_TTL", "1"}}, kWorkers));
  constexpr int kThreads = 6;
  constexpr int kKills = 6;
  std::atomic<bool> stop{false};
  std::vector<std::vector<LoadResult>> results(kThreads);
  std::vector<std::jthread> load;
  struct StopOnExit {
    std::atomic<bool>& stop;
    ~StopOnExit() { stop = true; }
  } stop_on_exit{stop};  // before the threads are joined, however the test ends
  for (int t = 0; t < kThreads; ++t) {
    load.emplace_back([&, t] {
      for (int i = t; !stop; i += kThreads) results[t].push_back(load_request(port(), i));
    });
  }
  std::set<int> killed;
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(milliseconds(300));
    int victim = pick_victim(k % kWorkers, killed);
    ASSERT_GT(victim, 0) << "no live worker to kill";
    ASSERT_EQ(kill(victim, SIGKILL), 0) << victim;
    killed.insert(victim);
  }
  std::this_thread::sleep_for(milliseconds(300));
  stop = true;
  for (std::jthread& t : load) t.join();
  ASSERT_EQ(killed.size(), static_cast<size_t>(kKills));

  int ok = 0;
  for (const auto& per_thread : results) {
    for (const LoadResult& r : per_thread) {
      const HttpResponse& resp = r.sent.response;
      EXPECT_LT(r.sent.took, kBound) << r.what << " hung: " << resp.reason;
      EXPECT_EQ(resp.reason.find("timed out"), std::string::npos) << r.what << ": " << resp.reason;
      // A request in a killed worker loses its connection; nothing else may fail.
      EXPECT_TRUE(resp.status == 200 || resp.status == 0) << r.what << ": " << resp.status << " " << resp.body;
      ok += resp.status == 200;
    }
  }
  EXPECT_GE(ok, 20) << "the load barely ran";

  // Every slot is served again, and the figures say what happened.
  Samples s = scrape_until(port(), [](const Samples& x) {
    return sample(x, "genkit_endpoints_workers_alive") == kWorkers;
  }, milliseconds(8000));
  EXPECT_EQ(sample(s, "genkit_endpoints_workers_alive"), kWorkers);
  EXPECT_GE(sample(s, "genkit_endpoints_process_restarts_total"), kKills);

  // No zone is wedged: every route answers, over new connections (so several workers), promptly.
  const std::string image = json_with("image_url", fake()->base_url() + "/media/cat.png");
  const std::vector<std::tuple<std::string, std::string, std::string>> routes = {
      {"GET", "/health", ""},
      {"GET", "/ready", ""},
      {"GET", "/metrics", ""},
      {"POST", "/tell-joke", "{}"},
      {"POST", "/chat", R"({"question":"still there?"})"},
      {"POST", "/translate", R"({"text":"after the kills"})"},
      {"POST", "/describe-image", image},
      {"POST", "/generate-character", R"({"name":"Survivor"})"},
      {"POST", "/generate-code", R"({"description":"hello world"})"},
      {"POST", "/review-code", R"({"code":"x = 1"})"},
  };
  for (int round = 0; round < 2; ++round) {
    for (const auto& [method, path, body] : routes) {
      SentRequest r = send_with_id(port(), method, path, body, milliseconds(3000));
      EXPECT_EQ(r.response.status, 200) << method << " " << path << ": " << r.response.reason << r.response.body;
      EXPECT_LT(r.took, milliseconds(2000)) << path;
    }
    for (const char* stream : {"/tell-joke/stream", "/tell-story/stream"}) {
      SseResult sse = post_sse(port(), stream, "{}");
      EXPECT_TRUE(sse.ended) << stream << ": " << sse.error;
    }
  }

  // Identical requests still coalesce into one model call.
  ASSERT_TRUE(fake()->clear_requests());
  ASSERT_TRUE(fake()->script(R"([{"delay_ms":1000}])")) << fake()->error();
  Samples before = scrape(port());
  constexpr int kBurst = 8;
  std::vector<SentRequest> burst =
      post_concurrently(port(), "/generate-character", R"({"name":"After"})", kBurst, milliseconds(20));
  for (const SentRequest& b : burst) {
    EXPECT_EQ(b.response.status, 200) << b.response.reason << b.response.body;
    EXPECT_EQ(b.response.body, burst[0].response.body);
  }
  EXPECT_EQ(model_calls(), 1u) << fake()->requests().dump();
  Samples after = scrape(port());
  auto moved = [&](const char* series) { return sample(after, series) - sample(before, series); };
  EXPECT_EQ(moved("genkit_endpoints_cache_misses_total"), 1);
  EXPECT_EQ(moved("genkit_endpoints_cache_coalesced_total"), kBurst - 1);
}

}  // namespace
}  // namespace itest
