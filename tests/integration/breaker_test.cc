// The shared circuit breaker through the real binary: Gemini on fake_llm,
// 4 workers, 3 consecutive upstream failures open the circuit. Open, every
// worker fails fast with 503 + Retry-After and nothing reaches the fake;
// after the recovery timeout exactly one probe goes upstream across all
// processes and its outcome closes or reopens the circuit; a cached result
// is still served while open; CB_ENABLED=false never opens.
#include <gtest/gtest.h>

#include <cstdio>

#include <set>
#include <sstream>
#include <thread>

#include "tests/support/shared_state_support.h"

namespace itest {
namespace {

using genkit::Json;
using std::chrono::milliseconds;

constexpr int kThreshold = 3;
constexpr const char* kJoke = "/tell-joke";

double state_gauge(int port, const std::string& state) {
  return metric(port, "genkit_endpoints_circuit_breaker_state{state=\"" + state + "\"}");
}

double transitions_to(int port, const std::string& state) {
  return metric(port, "genkit_endpoints_circuit_breaker_transitions_total{to=\"" + state + "\"}");
}

int retry_after(const HttpResponse& r) {
  std::optional<std::string> v = r.header("retry-after");
  return v ? std::atoi(v->c_str()) : -1;
}

// The fail-fast reply of an open (or half-open, probing) circuit.
void expect_circuit_refusal(const HttpResponse& r, int max_retry_after) {
  EXPECT_EQ(r.status, 503) << r.reason << r.body;
  EXPECT_GE(retry_after(r), 1) << r.body;
  EXPECT_LE(retry_after(r), max_retry_after) << r.body;
  Json j = json_of(r);
  EXPECT_EQ(str(j["error"]), "Service Unavailable") << r.body;
  EXPECT_NE(str(j["detail"]).find("circuit"), std::string::npos) << r.body;
}

// A server of its own per test (the circuit's state and counters start
// fresh; a server starts in well under a second) on one fake per suite.
class BreakerTest : public FakeUpstreamServerTest<BreakerTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  // Gemini on the fake, 4 workers, threshold 3, no cache; `env` over that.
  void start(const Env& env) {
    Env e = {{"CACHE_ENABLED", "false"}, {"CB_FAILURE_THRESHOLD", std::to_string(kThreshold)}};
    for (const auto& [k, v] : env) e[k] = v;
    FakeUpstreamServerTest::start(e, 4);
  }

  size_t model_calls() { return fake()->model_requests().size(); }
  HttpResponse joke() { return http_post(port(), kJoke, "{}"); }

  // Three scripted upstream 500s, each a 502 to its client: the circuit is open after the last.
  void open_the_circuit() {
    ASSERT_TRUE(fake()->script(R"([{"status":500},{"status":500},{"status":500}])")) << fake()->error();
    for (int i = 0; i < kThreshold; ++i) ASSERT_EQ(joke().status, 502);
  }
};

TEST_F(BreakerTest, OpensForEveryWorkerAfterThresholdFailures) {
  ASSERT_NO_FATAL_FAILURE(start({{"CB_RECOVERY_TIMEOUT", "2"}}));
  EXPECT_EQ(state_gauge(port(), "closed"), 1);
  // 500 → 502, and an overloaded upstream (503, 429) → 503: all count as failures.
  ASSERT_TRUE(fake()->script(R"([{"status":500},{"status":503},{"status":429}])")) << fake()->error();
  EXPECT_EQ(joke().status, 502);
  EXPECT_EQ(state_gauge(port(), "closed"), 1) << "one failure must not open it";
  EXPECT_EQ(joke().status, 503);
  EXPECT_EQ(joke().status, 503);
  EXPECT_EQ(model_calls(), 3u);

  // Which worker accepts is the kernel's choice: batches until both have
  // refused (an open circuit changes nothing by refusing).
  std::set<int> pids;
  for (int batch = 0; batch < 5 && pids.size() < 2; ++batch) {
    auto started = Clock::now();
    std::vector<HttpResponse> refused = send_overlapping(port(), 12, kJoke, "{}");
    auto took = Clock::now() - started;
    for (const HttpResponse& r : refused) {
      expect_circuit_refusal(r, 2);
      pids.insert(served_by(*server_, r.header("x-request-id").value_or("")));
    }
    pids.erase(0);
    EXPECT_LT(took, milliseconds(1500)) << "an open circuit must fail fast";
  }
  EXPECT_GE(pids.size(), 2u) << "the refusals should come from several workers";
  EXPECT_EQ(model_calls(), 3u) << "an open circuit must not call the model";

  EXPECT_EQ(state_gauge(port(), "open"), 1);
  EXPECT_EQ(state_gauge(port(), "closed"), 0);
  EXPECT_EQ(transitions_to(port(), "open"), 1);
  EXPECT_EQ(transitions_to(port(), "half_open"), 0);
  HttpResponse ready = http_get(port(), "/ready");
  EXPECT_EQ(ready.status, 200) << "reported, not failed on: " << ready.body;
  EXPECT_EQ(str(json_of(ready)["checks"]["circuit_breaker"]), "open") << ready.body;
}

TEST_F(BreakerTest, OnlyConsecutiveFailuresCount) {
  ASSERT_NO_FATAL_FAILURE(start({{"CB_RECOVERY_TIMEOUT", "2"}}));
  ASSERT_TRUE(fake()->script(R"([{"status":500},{"status":500},{"text":"ok"},{"status":500},{"status":500}])"));
  for (int expected : {502, 502, 200, 502, 502}) EXPECT_EQ(joke().status, expected);
  HttpResponse still_closed = joke();
  EXPECT_EQ(still_closed.status, 200) << still_closed.body;
  EXPECT_EQ(model_calls(), 6u);
  EXPECT_EQ(transitions_to(port(), "open"), 0);
}

// A 4xx (other than 408/429) is the provider refusing one request — often a
// client's bad input: it must not let one client fail everyone's calls.
TEST_F(BreakerTest, RequestsTheProviderRefusesDoNotOpenIt) {
  ASSERT_NO_FATAL_FAILURE(start({{"CB_RECOVERY_TIMEOUT", "5"}}));
  ASSERT_TRUE(fake()->script(R"([{"status":400},{"status":400},{"status":404},{"status":400}])"));
  for (int i = 0; i < kThreshold + 1; ++i) EXPECT_EQ(joke().status, 502);
  HttpResponse after = joke();
  EXPECT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(model_calls(), kThreshold + 2u);
  EXPECT_EQ(transitions_to(port(), "open"), 0);
  EXPECT_EQ(metric(port(), R"(genkit_endpoints_upstream_errors_total{provider="googleai",model="googleai/gemini-2.5-flash"})"),
            kThreshold + 1);
}

TEST_F(BreakerTest, HalfOpenLetsOneProbeThroughAndItsSuccessCloses) {
  ASSERT_NO_FATAL_FAILURE(start({{"CB_RECOVERY_TIMEOUT", "0.5"}}));
  ASSERT_NO_FATAL_FAILURE(open_the_circuit());
  auto opened = Clock::now();
  expect_circuit_refusal(joke(), 1);
  std::this_thread::sleep_until(opened + milliseconds(600));

  // The probe is slow, so the others arrive while it is still out.
  ASSERT_TRUE(fake()->script(R"({"text":"probe ok","delay_ms":1000})")) << fake()->error();
  std::vector<HttpResponse> replies = send_overlapping(port(), 16, kJoke, "{}");
  int succeeded = 0;
  std::set<int> pids;
  for (const HttpResponse& r : replies) {
    pids.insert(served_by(*server_, r.header("x-request-id").value_or("")));
    if (r.status == 200) {
      ++succeeded;
      EXPECT_EQ(str(json_of(r)["joke"]), "probe ok");
    } else {
      expect_circuit_refusal(r, 1);
    }
  }
  EXPECT_EQ(succeeded, 1);
  EXPECT_EQ(model_calls(), 4u) << "exactly one probe across all workers";
  // Which worker accepts is the kernel's choice: on a loaded machine one may
  // take them all (then this shows the rule within one process; the probe
  // is claimed in the shared segment either way: shm_breaker_test).
  pids.erase(0);
  if (pids.size() < 2) std::printf("[   NOTE   ] one worker took all %zu calls this time\n", replies.size());

  EXPECT_EQ(state_gauge(port(), "closed"), 1);
  EXPECT_EQ(transitions_to(port(), "half_open"), 1);
  EXPECT_EQ(transitions_to(port(), "closed"), 1);
  for (const HttpResponse& r : send_overlapping(port(), 4, kJoke, "{}")) EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(model_calls(), 8u);
}

TEST_F(BreakerTest, FailedProbeReopensTheCircuit) {
  ASSERT_NO_FATAL_FAILURE(start({{"CB_RECOVERY_TIMEOUT", "0.5"}}));
  ASSERT_NO_FATAL_FAILURE(open_the_circuit());
  std::this_thread::sleep_for(milliseconds(600));

  ASSERT_TRUE(fake()->script(R"({"status":500,"delay_ms":500})")) << fake()->error();
  std::vector<HttpResponse> replies = send_overlapping(port(), 8, kJoke, "{}");
  auto reopened = Clock::now();
  int probes = 0;
  for (const HttpResponse& r : replies) {
    if (r.status == 502) {
      ++probes;
    } else {
      expect_circuit_refusal(r, 1);
    }
  }
  EXPECT_EQ(probes, 1);
  EXPECT_EQ(model_calls(), 4u);

  // Open again, for a full recovery timeout from the probe's failure.
  for (const HttpResponse& r : send_overlapping(port(), 4, kJoke, "{}")) expect_circuit_refusal(r, 1);
  EXPECT_EQ(model_calls(), 4u);
  EXPECT_EQ(state_gauge(port(), "open"), 1);
  EXPECT_EQ(transitions_to(port(), "open"), 2);
  EXPECT_EQ(transitions_to(port(), "half_open"), 1);
  EXPECT_EQ(transitions_to(port(), "closed"), 0);

  // The next probe succeeds and closes it.
  std::this_thread::sleep_until(reopened + milliseconds(600));
  HttpResponse probe = joke();
  EXPECT_EQ(probe.status, 200) << probe.body;
  EXPECT_EQ(state_gauge(port(), "closed"), 1);
  EXPECT_EQ(model_calls(), 5u);
}

TEST_F(BreakerTest, ProbeWhoseClientLeftIsHandedToTheNextCaller) {
  ASSERT_NO_FATAL_FAILURE(start({{"CB_RECOVERY_TIMEOUT", "0.5"}}));
  ASSERT_NO_FATAL_FAILURE(open_the_circuit());
  std::this_thread::sleep_for(milliseconds(600));

  // The probe's upstream never answers and its client gives up: without the
  // probe handed on, the circuit would refuse everyone for the probe's
  // whole lease (LLM_TIMEOUT + 5 s).
  ASSERT_TRUE(fake()->script(R"({"hang":true})")) << fake()->error();
  {
    HttpClient leaving(port());
    ASSERT_TRUE(leaving.send_raw(build_request("POST", kJoke, "{}"))) << leaving.error();
    ASSERT_TRUE(FakeLlmProcess::eventually([&] { return model_calls() == 4; }, milliseconds(3000)));
  }
  HttpResponse next;
  ASSERT_TRUE(FakeLlmProcess::eventually(
      [&] {
        next = joke();
        return next.status != 503;
      },
      milliseconds(3000)))
      << "the probe was never handed on: " << next.body;
  EXPECT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(model_calls(), 5u);
  EXPECT_EQ(state_gauge(port(), "closed"), 1);
}

TEST_F(BreakerTest, CachedResultIsServedWhileOpen) {
  ASSERT_NO_FATAL_FAILURE(start({{"CB_RECOVERY_TIMEOUT", "5"}, {"CACHE_ENABLED", "true"}}));
  const std::string cached_body = R"({"text":"Good morning","target_language":"German"})";
  HttpResponse first = http_post(port(), "/translate", cached_body);
  ASSERT_EQ(first.status, 200) << first.body;
  size_t translate_calls = model_calls();  // (the tool loop takes two)
  ASSERT_GE(translate_calls, 1u);

  ASSERT_NO_FATAL_FAILURE(open_the_circuit());
  for (const HttpResponse& r : send_overlapping(port(), 4, "/translate", cached_body)) {
    EXPECT_EQ(r.status, 200) << r.reason << r.body;
    EXPECT_EQ(r.body, first.body);
  }
  expect_circuit_refusal(http_post(port(), "/translate", R"({"text":"Good night","target_language":"German"})"), 5);
  expect_circuit_refusal(joke(), 5);
  EXPECT_EQ(model_calls(), translate_calls + kThreshold);
  EXPECT_EQ(state_gauge(port(), "open"), 1);
}

TEST_F(BreakerTest, DisabledNeverOpens) {
  ASSERT_NO_FATAL_FAILURE(start({{"CB_ENABLED", "false"}, {"CB_RECOVERY_TIMEOUT", "5"}}));
  ASSERT_TRUE(fake()->script(R"([{"status":500},{"status":500},{"status":500},{"status":500},{"status":500},
                                 {"status":500}])"));
  for (int i = 0; i < 2 * kThreshold; ++i) EXPECT_EQ(joke().status, 502);
  HttpResponse after = joke();
  EXPECT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(model_calls(), 2u * kThreshold + 1);
  EXPECT_EQ(transitions_to(port(), "open"), 0);
  HttpResponse ready = http_get(port(), "/ready");
  EXPECT_FALSE(json_of(ready)["checks"]["circuit_breaker"].present()) << ready.body;
}

}  // namespace
}  // namespace itest
