// /metrics: what processes record into their own slots, summed over every
// slot into the Prometheus text format, and accepted by promtool.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "common/shm/metrics.h"
#include "common/shm/segment.h"
#include "shm_test_support.h"

namespace genkit::shm {
namespace {

constexpr int64_t kSec = 1'000'000'000;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

class ShmMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    seg_ = shm_testing::make_segment(1, 64);
    ASSERT_TRUE(seg_);
    ProcessTable& table = seg_->processes();
    slot_a_ = table.claim(910001, ProcessKind::kWorker);
    slot_b_ = table.claim(910002, ProcessKind::kWorker);
    ASSERT_GE(slot_a_, 0);
    ASSERT_GE(slot_b_, 0);
    ProcessMetrics a(&table, slot_a_);
    ProcessMetrics b(&table, slot_b_);

    int translate = a.route_label("/translate");
    ASSERT_EQ(b.route_label("/translate"), translate);  // one label table for all
    int chat = b.route_label("/chat");
    a.request_started();
    a.request_finished(translate, 200, 0.003);
    a.request_started();
    a.request_finished(translate, 200, 0.2);
    b.request_started();
    b.request_finished(translate, 200, 1.5);
    b.request_started();
    b.request_finished(chat, 429, 0.001);
    b.request_started();  // still being served
    b.request_finished(b.route_label("/we\"ird\\path"), 418, 0.5);
    b.request_started();

    int gemini = a.model_label("googleai/gemini-2.5-flash");
    a.upstream_call(gemini, false, 10, 20);
    b.upstream_call(b.model_label("googleai/gemini-2.5-flash"), true, 5, 0);
    a.cache_hit();
    a.cache_hit();
    b.cache_hit();
    a.cache_miss();
    b.cache_coalesced();
    b.rate_limited();
    table.header().process_restarts = 3;

    // One eviction (the cache holds one entry), an open circuit.
    CacheKey k1{}, k2{};
    k2.bytes[0] = 1;
    seg_->cache().store(k1, "1", 0, 60 * kSec);
    seg_->cache().store(k2, "2", 0, 60 * kSec);
    BreakerPolicy policy;
    policy.failure_threshold = 1;
    seg_->breaker().record_failure(policy, 1, false, 10 * kSec);
  }

  std::unique_ptr<Segment> seg_;
  int slot_a_ = -1;
  int slot_b_ = -1;
};

TEST_F(ShmMetrics, SumsEverySlot) {
  std::string text = render_prometheus(*seg_, "shm");
  for (const char* line : {
           R"(genkit_endpoints_http_requests_total{route="/translate",status="200"} 3)",
           R"(genkit_endpoints_http_requests_total{route="/chat",status="429"} 1)",
           R"(genkit_endpoints_http_requests_total{route="/we\"ird\\path",status="other"} 1)",
           "genkit_endpoints_http_requests_in_flight 1",
           "genkit_endpoints_workers_alive 2",
           "genkit_endpoints_process_restarts_total 3",
           "genkit_endpoints_cache_hits_total 3",
           "genkit_endpoints_cache_misses_total 1",
           "genkit_endpoints_cache_coalesced_total 1",
           "genkit_endpoints_cache_evictions_total 1",
           "genkit_endpoints_cache_entries 1",
           R"(genkit_endpoints_circuit_breaker_state{state="closed"} 0)",
           R"(genkit_endpoints_circuit_breaker_state{state="open"} 1)",
           R"(genkit_endpoints_circuit_breaker_state{state="half_open"} 0)",
           R"(genkit_endpoints_circuit_breaker_transitions_total{to="open"} 1)",
           R"(genkit_endpoints_circuit_breaker_transitions_total{to="closed"} 0)",
           "genkit_endpoints_rate_limit_rejections_total 1",
           R"(genkit_endpoints_upstream_requests_total{provider="googleai",model="googleai/gemini-2.5-flash"} 2)",
           R"(genkit_endpoints_upstream_errors_total{provider="googleai",model="googleai/gemini-2.5-flash"} 1)",
           R"(genkit_endpoints_model_input_tokens_total{provider="googleai",model="googleai/gemini-2.5-flash"} 15)",
           R"(genkit_endpoints_model_output_tokens_total{provider="googleai",model="googleai/gemini-2.5-flash"} 20)",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
}

TEST_F(ShmMetrics, DurationHistogramIsCumulative) {
  std::string text = render_prometheus(*seg_, "shm");
  const std::string b = R"(genkit_endpoints_http_request_duration_seconds_bucket{route="/translate",le=")";
  EXPECT_TRUE(has_line(text, b + R"(0.005"} 1)")) << text;
  EXPECT_TRUE(has_line(text, b + R"(0.1"} 1)"));
  EXPECT_TRUE(has_line(text, b + R"(0.25"} 2)"));
  EXPECT_TRUE(has_line(text, b + R"(1"} 2)"));
  EXPECT_TRUE(has_line(text, b + R"(2.5"} 3)"));
  EXPECT_TRUE(has_line(text, b + R"(+Inf"} 3)"));
  EXPECT_TRUE(has_line(text, R"(genkit_endpoints_http_request_duration_seconds_sum{route="/translate"} 1.703000)"));
  EXPECT_TRUE(has_line(text, R"(genkit_endpoints_http_request_duration_seconds_count{route="/translate"} 3)"));
}

TEST_F(ShmMetrics, EveryFamilyHasHelpAndType) {
  std::string text = "\n" + render_prometheus(*seg_, "shm");
  struct Family {
    const char* name;
    const char* type;
  };
  for (const Family& f : {Family{"genkit_endpoints_http_requests_total", "counter"},
                          Family{"genkit_endpoints_http_request_duration_seconds", "histogram"},
                          Family{"genkit_endpoints_http_requests_in_flight", "gauge"},
                          Family{"genkit_endpoints_workers_alive", "gauge"},
                          Family{"genkit_endpoints_process_restarts_total", "counter"},
                          Family{"genkit_endpoints_cache_hits_total", "counter"},
                          Family{"genkit_endpoints_cache_misses_total", "counter"},
                          Family{"genkit_endpoints_cache_coalesced_total", "counter"},
                          Family{"genkit_endpoints_cache_evictions_total", "counter"},
                          Family{"genkit_endpoints_cache_entries", "gauge"},
                          Family{"genkit_endpoints_circuit_breaker_state", "gauge"},
                          Family{"genkit_endpoints_circuit_breaker_transitions_total", "counter"},
                          Family{"genkit_endpoints_rate_limit_rejections_total", "counter"},
                          Family{"genkit_endpoints_upstream_requests_total", "counter"},
                          Family{"genkit_endpoints_upstream_errors_total", "counter"},
                          Family{"genkit_endpoints_model_input_tokens_total", "counter"},
                          Family{"genkit_endpoints_model_output_tokens_total", "counter"}}) {
    EXPECT_NE(text.find(std::string("\n# HELP ") + f.name + " "), std::string::npos) << f.name;
    EXPECT_NE(text.find(std::string("\n# TYPE ") + f.name + " " + f.type + "\n"), std::string::npos) << f.name;
  }
  EXPECT_EQ(text.rfind("\n# HELP genkit_endpoints_http_requests_total ", 0), 0u);
  EXPECT_EQ(text.back(), '\n');
}

TEST_F(ShmMetrics, AReleasedSlotKeepsItsCountsButNotItsGauges) {
  seg_->processes().release(910002);
  std::string text = render_prometheus(*seg_, "shm");
  EXPECT_TRUE(has_line(text, "genkit_endpoints_workers_alive 1")) << text;
  EXPECT_TRUE(has_line(text, "genkit_endpoints_http_requests_in_flight 0")) << text;
  EXPECT_TRUE(has_line(text, R"(genkit_endpoints_http_requests_total{route="/translate",status="200"} 3)")) << text;
  EXPECT_TRUE(has_line(text, "genkit_endpoints_cache_hits_total 3")) << text;
}

TEST_F(ShmMetrics, OpenConnectionsAreSummedAndDropWithTheSlot) {
  ProcessTable& table = seg_->processes();
  ProcessMetrics(&table, slot_a_).connections_changed(5);
  ProcessMetrics(&table, slot_b_).connections_changed(3);
  EXPECT_TRUE(has_line(render_prometheus(*seg_, "shm"), "genkit_endpoints_http_connections_open 8"));
  table.release(910002);
  EXPECT_TRUE(has_line(render_prometheus(*seg_, "shm"), "genkit_endpoints_http_connections_open 5"));
}

TEST_F(ShmMetrics, PromtoolAcceptsTheText) {
  const std::string promtool = GENKIT_PROMTOOL;
  ASSERT_EQ(access(promtool.c_str(), X_OK), 0) << promtool << " missing: run bash packaging/install-deps.sh";
  char path[] = "/tmp/genkit-metrics-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = render_prometheus(*seg_, "shm");
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  std::string cmd = "'" + promtool + "' check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) output += buf;
  int status = pclose(p);
  unlink(path);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output << "\n" << text;
}

}  // namespace
}  // namespace genkit::shm
