// Pieces of the shared-state suites (response cache, /metrics, killed
// workers): which worker served a request (its access-log line), requests
// sent at once over separate connections, the /metrics text parsed and
// checked with Prometheus's promtool, and which worker holds a given TCP
// connection (from /proc), so a test can kill a flight's leader.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fake_llm_process.h"
#include "tests/support/test_util.h"

namespace itest {

// The Gemini provider on fake_llm: `googleai/gemini-2.5-flash` is the model.
Env gemini_env_for(const std::string& fake_base_url);

// A request id no other request of the run carries.
std::string unique_request_id(const std::string& prefix);

// The pid of the worker whose access-log line carries `request_id` (waits
// for the line up to `timeout`; 0 when it never came).
int served_by(ServerProcess& server, const std::string& request_id, milliseconds timeout = milliseconds(5000));

// Worker pids spawned and not yet reported exited, by slot (the newest per slot).
std::map<int, int> live_workers_by_slot(const ServerProcess& server);

struct SentRequest {
  std::string request_id;
  HttpResponse response;  // status 0: a transport failure, reason in `reason`
  milliseconds took{0};
};

// POSTs `body` to `path` `count` times, each from its own thread over its
// own connection, the i-th starting i × `stagger` after the first (so that
// idle workers take turns accepting). Every request carries a fresh
// X-Request-ID; each waits at most `timeout` for its answer.
std::vector<SentRequest> post_concurrently(int port, const std::string& path, const std::string& body, int count,
                                           milliseconds stagger, milliseconds timeout = milliseconds(10000));

// Sends `n` POSTs, each on a new connection a few ms after the previous one
// (so idle workers take turns accepting) without waiting for a reply before
// the next, then reads every reply: the requests overlap in the workers. A
// reply that did not come has status 0 and the reason.
std::vector<HttpResponse> send_overlapping(int port, int n, const std::string& path, const std::string& body);

// One request on a new connection with its own X-Request-ID.
SentRequest send_with_id(int port, const std::string& method, const std::string& path, const std::string& body,
                         milliseconds timeout = milliseconds(10000));

// The samples of a Prometheus text body: `name{labels}` (as written) → value.
using Samples = std::map<std::string, double>;
Samples parse_samples(const std::string& body);
// A sample's value, 0 when the series is absent.
double sample(const Samples& samples, const std::string& series);
// Sum of every sample of `name` whose labels contain each of `label_parts`.
double sample_sum(const Samples& samples, const std::string& name, const std::vector<std::string>& label_parts = {});

// One sample of a fresh GET /metrics, e.g. "genkit_endpoints_rate_limit_rejections_total"
// or a `name{labels}` as written; -1 when absent.
double metric(int port, const std::string& series);

// GET /metrics: its samples (empty, with a test failure, if it did not answer 200).
Samples scrape(int port);
// Scrapes until `probe` holds (bounded); the last samples either way.
Samples scrape_until(int port, const std::function<bool(const Samples&)>& probe,
                     milliseconds timeout = milliseconds(5000));

// `promtool check metrics` on `body` (stdin): "" when it accepts it, else
// its complaint. Fails the test when promtool is missing.
std::string promtool_complaint(const std::string& body);

// Which of `pids` hold an ESTABLISHED TCP socket whose local (or remote)
// port is `port`, with how many such sockets each.
enum class PortSide { kLocal, kRemote };
std::map<int, int> sockets_on_port(const std::set<int>& pids, int port, PortSide side);

// The one worker holding a connection to `upstream_port` (the one running
// a model call, in a server that made no other); 0 when none or several.
int worker_calling(ServerProcess& server, int upstream_port);

// Requests waiting on a flight led by the worker `leader_pid`, each POSTed
// from its own thread; the threads are joined on destruction.
struct FlightWaiters {
  std::vector<SentRequest> sent;  // sized up front: the threads write into it
  std::vector<std::jthread> threads;
  int elsewhere = 0;  // how many wait in other workers than the leader's
  void join();
};
// Sends waiters one at a time, each counted as coalesced before the next,
// until `want` of them wait in other workers than `leader_pid` (or `max`
// were sent; a failed wait for the count fails the test).
std::unique_ptr<FlightWaiters> join_flight(ServerProcess& server, const std::string& path, const std::string& body,
                                           int leader_pid, int want, int max = 16);

// A server of its own for each test (these tests change its settings, kill
// its workers, or count its totals from zero) on one fake_llm per suite.
// Derived supplies `static std::vector<std::string> fake_args()`.
template <typename Derived>
class FakeUpstreamServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fake() = std::make_unique<FakeLlmProcess>();
    fake()->start(Derived::fake_args());  // SetUp reports a failure
  }
  static void TearDownTestSuite() { fake().reset(); }

  void SetUp() override {
    ASSERT_TRUE(fake() && fake()->port() > 0) << "fake_llm did not start: " << (fake() ? fake()->error() : "");
  }

  // Stops this test's server gracefully: exit 0 (and the sanitizers' report) every time.
  void TearDown() override {
    if (!server_) return;
    std::optional<int> code = server_->stop();
    EXPECT_EQ(code, std::optional<int>(0)) << "the server did not exit 0 after SIGTERM\nstderr:\n"
                                           << server_->stderr_text();
    EXPECT_TRUE(server_->sanitizer_findings().empty()) << server_->stderr_text();
    server_.reset();
  }

  // Starts the test's server (Gemini on the fake, `workers` workers, `env`
  // over it), then clears the fake's script and records.
  void start(const Env& env, int workers) {
    ServerOptions o;
    o.args = {"--port", "0", "--workers", std::to_string(workers), "--no-grpc"};
    o.env = gemini_env_for(fake()->base_url());
    for (const auto& [k, v] : env) o.env[k] = v;
    std::string why;
    server_ = start_server(o, &why);
    ASSERT_TRUE(server_) << "server did not start: " << why;
    ASSERT_TRUE(server_->wait_event_count("worker_spawned", static_cast<size_t>(workers), milliseconds(5000)));
    ASSERT_TRUE(fake()->reset()) << fake()->error();
  }

  int port() const { return server_->port(); }
  ServerProcess& server() { return *server_; }

  static std::unique_ptr<FakeLlmProcess>& fake() {
    static std::unique_ptr<FakeLlmProcess> f;
    return f;
  }

  std::unique_ptr<ServerProcess> server_;
};

}  // namespace itest
