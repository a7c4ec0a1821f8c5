// GET /metrics through the real binary: Prometheus's own promtool accepts
// the text, its figures are the requests this test sent (each test owns a
// server, so every total starts at zero), and every worker answers the same
// since they sum the shared segment. Each request's access-log line is
// awaited before a scrape: the worker counts a request just before logging it.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/shared_state_support.h"

namespace itest {
namespace {

constexpr const char* kRequests = "genkit_endpoints_http_requests_total";
constexpr const char* kDuration = "genkit_endpoints_http_request_duration_seconds";

class MetricsTest : public FakeUpstreamServerTest<MetricsTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  // Sends the request and waits until its worker has counted it.
  SentRequest counted(const std::string& method, const std::string& path, const std::string& body, int status) {
    SentRequest s = send_with_id(port(), method, path, body);
    EXPECT_EQ(s.response.status, status) << method << " " << path << ": " << s.response.reason << s.response.body;
    EXPECT_GT(served_by(server(), s.request_id), 0) << "no access-log line for " << s.request_id;
    return s;
  }
};

std::string requests_series(const std::string& route, int status) {
  return std::string(kRequests) + "{route=\"" + route + "\",status=\"" + std::to_string(status) + "\"}";
}

// The route labels of the requests counter.
std::set<std::string> routes_of(const Samples& samples) {
  std::set<std::string> routes;
  for (const auto& [series, _] : samples) {
    if (series.rfind(std::string(kRequests) + "{", 0) != 0) continue;
    std::size_t at = series.find("route=\"") + 7;
    routes.insert(series.substr(at, series.find('"', at) - at));
  }
  return routes;
}

TEST_F(MetricsTest, PromtoolAcceptsTheTextAndItCountsWhatWasSent) {
  constexpr int kWorkers = 3;
  constexpr int kJokes = 5;
  ASSERT_NO_FATAL_FAILURE(start({}, kWorkers));
  for (int i = 0; i < kJokes; ++i) counted("POST", "/tell-joke", json_with("name", "M" + std::to_string(i)), 200);
  counted("GET", "/no-such-route", "", 404);
  counted("POST", "/tell-joke", "{not json", 400);
  counted("POST", "/translate", R"({"text":"metrics"})", 200);
  const size_t fake_calls = fake()->model_requests().size();
  ASSERT_EQ(fake_calls, kJokes + 2u) << "five jokes and one translate (a tool round)";

  HttpResponse r = http_get(port(), "/metrics");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(promtool_complaint(r.body), "") << r.body;
  Samples s = parse_samples(r.body);

  EXPECT_EQ(sample(s, requests_series("/tell-joke", 200)), kJokes) << r.body;
  EXPECT_EQ(sample(s, requests_series("/tell-joke", 400)), 1) << r.body;
  EXPECT_EQ(sample(s, requests_series("(unmatched)", 404)), 1) << r.body;
  EXPECT_EQ(sample(s, requests_series("/translate", 200)), 1) << r.body;
  EXPECT_EQ(sample_sum(s, kRequests), kJokes + 3) << "only this test's requests (the scrape is still in flight)";
  // Each route's histogram counts what its counter does.
  std::set<std::string> routes = routes_of(s);
  EXPECT_EQ(routes, (std::set<std::string>{"(unmatched)", "/tell-joke", "/translate"}));
  for (const std::string& route : routes) {
    std::string label = "{route=\"" + route + "\"}";
    double total = sample_sum(s, kRequests, {"route=\"" + route + "\""});
    EXPECT_EQ(sample(s, std::string(kDuration) + "_count" + label), total) << route;
    EXPECT_EQ(sample(s, std::string(kDuration) + "_bucket{route=\"" + route + "\",le=\"+Inf\"}"), total) << route;
    EXPECT_GT(sample(s, std::string(kDuration) + "_sum" + label), 0) << route;
  }

  EXPECT_EQ(sample(s, "genkit_endpoints_http_requests_in_flight"), 1) << "the scrape itself";
  EXPECT_GE(sample(s, "genkit_endpoints_http_connections_open"), 1) << "the scrape's own connection";
  EXPECT_EQ(sample(s, "genkit_endpoints_workers_alive"), kWorkers);
  EXPECT_EQ(sample(s, "genkit_endpoints_process_restarts_total"), 0);
  EXPECT_EQ(sample_sum(s, "genkit_endpoints_upstream_requests_total", {"provider=\"googleai\""}),
            static_cast<double>(fake_calls))
      << r.body;
  EXPECT_EQ(sample_sum(s, "genkit_endpoints_upstream_errors_total"), 0);
  EXPECT_GT(sample_sum(s, "genkit_endpoints_model_input_tokens_total", {"provider=\"googleai\""}), 0);
  EXPECT_EQ(sample(s, "genkit_endpoints_cache_misses_total"), 1);
  EXPECT_EQ(sample(s, "genkit_endpoints_cache_hits_total"), 0);
  EXPECT_EQ(sample(s, "genkit_endpoints_circuit_breaker_state{state=\"closed\"}"), 1);
  EXPECT_EQ(sample(s, "genkit_endpoints_rate_limit_rejections_total"), 0);
}

// The body without what legitimately differs between two scrapes: the
// scrapes' own counts, and the in-flight and open-connection gauges (the
// scrape itself, and connections of earlier scrapes still closing).
std::string without_scrape_series(const std::string& body) {
  std::istringstream in(body);
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.find("route=\"/metrics\"") != std::string::npos) continue;
    if (line.rfind("genkit_endpoints_http_requests_in_flight ", 0) == 0) continue;
    if (line.rfind("genkit_endpoints_http_connections_open ", 0) == 0) continue;
    kept += line + "\n";
  }
  return kept;
}

TEST_F(MetricsTest, EveryWorkerAnswersTheSameFigures) {
  constexpr int kWorkers = 4;
  ASSERT_NO_FATAL_FAILURE(start({}, kWorkers));
  counted("POST", "/tell-joke", "{}", 200);
  counted("POST", "/generate-character", "{}", 200);
  counted("POST", "/generate-character", "{}", 200);
  counted("GET", "/nowhere", "", 404);

  std::map<int, std::string> body_by_worker;
  for (int i = 0; i < 80 && body_by_worker.size() < kWorkers; ++i) {
    SentRequest s = send_with_id(port(), "GET", "/metrics", "");
    ASSERT_EQ(s.response.status, 200) << s.response.reason;
    int pid = served_by(server(), s.request_id);
    ASSERT_GT(pid, 0) << "no access-log line for " << s.request_id;
    body_by_worker.emplace(pid, s.response.body);
  }
  ASSERT_GE(body_by_worker.size(), 2u) << "80 scrapes were all answered by one worker";
  const auto& [first_pid, first_body] = *body_by_worker.begin();
  std::string expected = without_scrape_series(first_body);
  Samples first = parse_samples(first_body);
  EXPECT_EQ(sample(first, "genkit_endpoints_workers_alive"), kWorkers);
  EXPECT_EQ(sample(first, "genkit_endpoints_cache_hits_total"), 1);
  EXPECT_EQ(sample(first, requests_series("/generate-character", 200)), 2);
  for (const auto& [pid, body] : body_by_worker) {
    EXPECT_EQ(without_scrape_series(body), expected) << "worker " << pid << " and worker " << first_pid << " differ";
  }
}

}  // namespace
}  // namespace itest
