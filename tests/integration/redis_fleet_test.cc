// The Redis state backend (STATE_BACKEND=redis) through the real binary: a
// real redis-server (tests/support/redis_server.h), one fake_llm (Gemini)
// and TWO genkit-endpoints instances of 2 workers each sharing that Redis,
// as two machines of a fleet would. What is checked is what would differ
// with each machine on its own shared memory: the per-client rate limit is
// one bucket for the fleet, a cache entry filled through one machine is a
// hit on the other, identical concurrent misses on both cost one upstream
// call, the circuit breaker opens on both and lets one probe through for the
// fleet; and when Redis dies, stops or is not there yet, every request is
// still served (on local state, counted in /metrics, never waiting more than
// REDIS_TIMEOUT_MS on Redis) and the backend reconnects when Redis is back.
// Every key it writes carries REDIS_KEY_PREFIX and a TTL.
//
// The suites are named Redis* so that ctest runs them as their own entry
// (redis_fleet_tests), beside the long integration_tests one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "tests/support/redis_server.h"
#include "tests/support/shared_state_support.h"

namespace itest {
namespace {

using genkit::Json;
using std::chrono::milliseconds;

constexpr int kWorkers = 2;
constexpr const char* kInfo = "genkit_endpoints_state_backend_info";
constexpr const char* kConnected = "genkit_endpoints_redis_connected_processes";
constexpr const char* kCommands = "genkit_endpoints_redis_commands_total";
constexpr const char* kFallbacks = "genkit_endpoints_redis_fallbacks_total";
constexpr const char* kFailures = "genkit_endpoints_redis_failures_total";
constexpr const char* kRedisHits = "genkit_endpoints_redis_cache_hits_total";
constexpr const char* kDefaultPrefix = "genkit-endpoints:";
// The tests of the fleet's behaviour (not of its faults) give Redis more
// than the default 50 ms: on this shared, noisy machine a slow answer would
// otherwise be a legitimate local decision, and the totals they check are
// those of decisions taken in Redis.
constexpr const char* kPatientTimeoutMs = "1000";

// A request the contract says must never fail, even with Redis gone: a
// transport error or a 5xx.
bool failed(const HttpResponse& r) { return r.status == 0 || r.status >= 500; }

std::string describe(const HttpResponse& r) {
  return std::to_string(r.status) + " " + r.reason + " " + r.body.substr(0, 300);
}

// The fail-fast reply of an open (or half-open, probing) circuit.
void expect_circuit_refusal(const HttpResponse& r, const std::string& where) {
  EXPECT_EQ(r.status, 503) << where << ": " << describe(r);
  EXPECT_TRUE(r.header("retry-after").has_value()) << where << ": " << describe(r);
  EXPECT_NE(r.body.find("circuit"), std::string::npos) << where << ": " << describe(r);
}

// A request's wall-clock time and reply, for the load generators.
struct Timed {
  int port = 0;
  std::string path;
  HttpResponse response;
  Clock::time_point started;
  milliseconds took{0};
};

Timed timed_post(int port, const std::string& path, const std::string& body) {
  Timed t;
  t.port = port;
  t.path = path;
  t.started = Clock::now();
  t.response = http_post(port, path, body);
  t.took = std::chrono::duration_cast<milliseconds>(Clock::now() - t.started);
  return t;
}

// Clients sending requests back to back (each on a new connection) to the
// given ports in turn until stopped: /tell-joke (rate limit, breaker) and
// /generate-character with a name never asked before (a cache miss, so the
// fleet cache is asked too).
class Load {
 public:
  Load(std::vector<int> ports, int clients) : ports_(std::move(ports)) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, c] {
        for (int n = 0; !stop_.load(); ++n) {
          int port = ports_[static_cast<size_t>(c + n) % ports_.size()];
          Timed t = n % 2 == 0 ? timed_post(port, "/tell-joke", "{}")
                               : timed_post(port, "/generate-character",
                                            json_with("name", "load " + std::to_string(getpid()) + " " +
                                                                  std::to_string(c) + " " + std::to_string(n)));
          std::lock_guard lock(mu_);
          done_.push_back(std::move(t));
        }
      });
    }
  }
  ~Load() { stop(); }

  void stop() {
    stop_ = true;
    for (std::jthread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::vector<Timed> done() {
    std::lock_guard lock(mu_);
    return done_;
  }

 private:
  std::vector<int> ports_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Timed> done_;
  std::vector<std::jthread> threads_;
};

// One Redis and the instances ("machines") a test starts on it, Gemini on
// one fake_llm per suite. Each test starts its own Redis and instances: the
// state they share starts empty, and an instance starts in well under a second.
class RedisFleetBase : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fake() = std::make_unique<FakeLlmProcess>();
    fake()->start({});  // SetUp reports a failure
  }
  static void TearDownTestSuite() { fake().reset(); }

  void SetUp() override {
    ASSERT_TRUE(fake() && fake()->port() > 0) << "fake_llm did not start: " << (fake() ? fake()->error() : "");
    ASSERT_TRUE(fake()->reset()) << fake()->error();
  }

  // Every instance must drain and exit 0 on SIGTERM, Redis up or not.
  void TearDown() override {
    if (redis_) redis_->continue_process();  // (a test that failed while Redis was stopped)
    for (std::unique_ptr<ServerProcess>& s : instances_) {
      if (!s) continue;
      std::optional<int> code = s->stop();
      EXPECT_EQ(code, std::optional<int>(0)) << "an instance did not exit 0 after SIGTERM\nstderr:\n"
                                             << s->stderr_text();
      EXPECT_TRUE(s->sanitizer_findings().empty()) << s->stderr_text();
      s.reset();
    }
    redis_.reset();
  }

  static std::unique_ptr<FakeLlmProcess>& fake() {
    static std::unique_ptr<FakeLlmProcess> f;
    return f;
  }

  void start_redis(const RedisServer::Options& options = {}, int port = 0) {
    if (!redis_) redis_ = std::make_unique<RedisServer>();
    ASSERT_TRUE(redis_->start(options, port)) << redis_->error();
  }

  // Starts one more instance (2 workers, no gRPC) with STATE_BACKEND=redis
  // on `redis_url` and `env` over that; *out is its index in instances_.
  void start_instance(const std::string& redis_url, const Env& env, size_t* out = nullptr) {
    ServerOptions o;
    o.args = {"--port", "0", "--workers", std::to_string(kWorkers), "--no-grpc"};
    o.env = gemini_env_for(fake()->base_url());
    o.env["STATE_BACKEND"] = "redis";
    o.env["REDIS_URL"] = redis_url;
    for (const auto& [k, v] : env) o.env[k] = v;
    std::string why;
    std::unique_ptr<ServerProcess> s = start_server(o, &why);
    ASSERT_TRUE(s) << "instance " << instances_.size() << " did not start: " << why;
    ASSERT_TRUE(s->wait_event_count("worker_spawned", kWorkers, milliseconds(5000))) << s->stdout_text();
    instances_.push_back(std::move(s));
    if (out) *out = instances_.size() - 1;
  }

  // Redis, then instances A and B on it with `env`, both connected with every worker.
  void start_fleet(const Env& env, const RedisServer::Options& options = {}) {
    ASSERT_NO_FATAL_FAILURE(start_redis(options));
    ASSERT_NO_FATAL_FAILURE(start_instance(redis_->url(), env));
    ASSERT_NO_FATAL_FAILURE(start_instance(redis_->url(), env));
    ASSERT_NO_FATAL_FAILURE(expect_connected(a(), kWorkers, milliseconds(5000), "A"));
    ASSERT_NO_FATAL_FAILURE(expect_connected(b(), kWorkers, milliseconds(5000), "B"));
    ASSERT_TRUE(fake()->reset()) << fake()->error();
  }

  ServerProcess& a() { return *instances_.at(0); }
  ServerProcess& b() { return *instances_.at(1); }

  // Waits (bounded) until `server` reports `n` processes connected to Redis.
  void expect_connected(ServerProcess& server, double n, milliseconds timeout, const std::string& label) {
    Samples last = scrape_until(
        server.port(), [&](const Samples& s) { return s.count(kConnected) && sample(s, kConnected) == n; }, timeout);
    ASSERT_TRUE(last.count(kConnected)) << label << ": /metrics has no " << kConnected;
    ASSERT_EQ(sample(last, kConnected), n)
        << label << ": processes connected to Redis after " << timeout.count() << " ms\nredis_* events:\n"
        << redis_events(server);
  }

  // The instance's redis_* log lines, for failure messages.
  static std::string redis_events(const ServerProcess& server) {
    std::string out;
    for (const std::string& line : server.stdout_lines()) {
      if (line.find("\"event\":\"redis_") != std::string::npos) out += line + "\n";
    }
    return out;
  }

  // A counter summed over the fleet's instances.
  double fleet_sum(const std::string& name, const std::vector<std::string>& labels = {}) {
    double sum = 0;
    for (const std::unique_ptr<ServerProcess>& s : instances_) sum += sample_sum(scrape(s->port()), name, labels);
    return sum;
  }

  size_t model_calls() { return fake()->model_requests().size(); }

  // Every key of db `db` matching `pattern`, each with a TTL, once there
  // are at least `at_least` of them (bounded wait: a worker writes its
  // result to Redis as it answers, so the write may land just after the
  // response). A key found may also have expired since (a rate-limit bucket
  // lives only until it would be full again): PTTL -2 is fine, -1 (no
  // expiry) never.
  std::vector<std::string> expiring_keys(const std::string& pattern, size_t at_least = 1, int db = 0) {
    std::vector<std::string> keys;
    FakeLlmProcess::eventually([&] { return (keys = redis_->keys(pattern, db)).size() >= at_least; },
                               milliseconds(3000));
    for (const std::string& k : keys) {
      long long ttl = redis_->pttl(k, db);
      EXPECT_TRUE(ttl >= 0 || ttl == -2) << k << " must expire (PTTL " << ttl << ")";
    }
    return keys;
  }

  std::unique_ptr<RedisServer> redis_;
  std::vector<std::unique_ptr<ServerProcess>> instances_;
};

class RedisFleetTest : public RedisFleetBase {};

TEST_F(RedisFleetTest, OneRateLimitBucketForEveryInstanceAndWorker) {
  // 10 an hour: nothing refills while the test runs.
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"RATE_LIMIT_DEFAULT", "10/hour"},
                                       {"CACHE_ENABLED", "false"},
                                       {"CB_ENABLED", "false"},
                                       {"REDIS_TIMEOUT_MS", kPatientTimeoutMs}}));
  Samples info = scrape(a().port());
  EXPECT_EQ(sample(info, std::string(kInfo) + "{backend=\"redis\"}"), 1);

  // 30 requests, 15 through each instance, overlapping on both at once so
  // that every worker of both takes some.
  std::vector<HttpResponse> replies;
  std::vector<int> via;  // 0: A, 1: B
  for (int round = 0; round < 3; ++round) {
    std::vector<HttpResponse> ra, rb;
    std::jthread ta([&] { ra = send_overlapping(a().port(), 5, "/tell-joke", "{}"); });
    std::jthread tb([&] { rb = send_overlapping(b().port(), 5, "/tell-joke", "{}"); });
    ta.join();
    tb.join();
    for (HttpResponse& r : ra) {
      replies.push_back(std::move(r));
      via.push_back(0);
    }
    for (HttpResponse& r : rb) {
      replies.push_back(std::move(r));
      via.push_back(1);
    }
  }
  int admitted = 0, rejected = 0;
  int rejected_by[2] = {0, 0};
  std::set<int> pids;
  for (size_t i = 0; i < replies.size(); ++i) {
    const HttpResponse& r = replies[i];
    if (r.status == 200) {
      ++admitted;
    } else {
      EXPECT_EQ(r.status, 429) << describe(r);
      ++rejected;
      ++rejected_by[via[i]];
    }
    ServerProcess& server = via[i] == 0 ? a() : b();
    pids.insert(served_by(server, r.header("x-request-id").value_or("")));
  }
  pids.erase(0);
  EXPECT_EQ(admitted, 10) << "one bucket of 10 for the fleet: two buckets would admit 20";
  EXPECT_EQ(rejected, 20);
  EXPECT_GT(rejected_by[0], 0) << "A must refuse too once the fleet's bucket is empty";
  EXPECT_GT(rejected_by[1], 0) << "B must refuse too once the fleet's bucket is empty";
  EXPECT_GE(pids.size(), 3u) << "the requests should have been spread over the workers of both instances";
  EXPECT_EQ(model_calls(), 10u) << "a refused request must never reach the model";
  EXPECT_EQ(fleet_sum(kFallbacks), 0) << "Redis was up: no decision should have been taken locally";
  EXPECT_GT(fleet_sum(kCommands), 0);

  // The bucket is one Redis key with a TTL, under the default prefix.
  std::vector<std::string> buckets = expiring_keys(std::string(kDefaultPrefix) + "rl:*");
  EXPECT_EQ(buckets.size(), 1u) << "one client, one bucket";

  // It stays empty for both instances.
  EXPECT_EQ(http_post(a().port(), "/tell-joke", "{}").status, 429);
  EXPECT_EQ(http_post(b().port(), "/tell-joke", "{}").status, 429);
  EXPECT_EQ(model_calls(), 10u);
}

TEST_F(RedisFleetTest, ACacheEntryFilledThroughOneInstanceIsAHitOnTheOther) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"CB_ENABLED", "false"}, {"REDIS_TIMEOUT_MS", kPatientTimeoutMs}}));
  const std::string body = R"({"name":"Fleet"})";
  HttpResponse filled = http_post(a().port(), "/generate-character", body);
  ASSERT_EQ(filled.status, 200) << describe(filled);
  ASSERT_EQ(model_calls(), 1u);

  HttpResponse hit = http_post(b().port(), "/generate-character", body);
  ASSERT_EQ(hit.status, 200) << describe(hit);
  EXPECT_EQ(hit.body, filled.body);
  EXPECT_EQ(model_calls(), 1u) << "B must answer from Redis without calling the model";
  EXPECT_EQ(sample(scrape(b().port()), kRedisHits), 1) << "B's first level missed, Redis answered";
  EXPECT_EQ(sample(scrape(a().port()), kRedisHits), 0);

  // The entry is one key <prefix>cache:<64 hex> that expires within CACHE_TTL (300 s).
  std::vector<std::string> entries = expiring_keys(std::string(kDefaultPrefix) + "cache:*");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(std::regex_match(entries[0], std::regex("genkit-endpoints:cache:[0-9a-f]{64}"))) << entries[0];
  EXPECT_LE(redis_->pttl(entries[0]), 300 * 1000);

  // translate (a tool round: several model calls per run), the other way round.
  const std::string translate = R"({"text":"hello","target_language":"French"})";
  HttpResponse t1 = http_post(b().port(), "/translate", translate);
  ASSERT_EQ(t1.status, 200) << describe(t1);
  const size_t calls = model_calls();
  ASSERT_GT(calls, 1u);
  HttpResponse t2 = http_post(a().port(), "/translate", translate);
  ASSERT_EQ(t2.status, 200) << describe(t2);
  EXPECT_EQ(t2.body, t1.body);
  EXPECT_EQ(model_calls(), calls) << "A must answer B's translation from Redis";
  EXPECT_EQ(sample(scrape(a().port()), kRedisHits), 1);
  EXPECT_EQ(fleet_sum(kFallbacks), 0);
}

TEST_F(RedisFleetTest, IdenticalConcurrentMissesThroughBothInstancesCallUpstreamOnce) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"CB_ENABLED", "false"}, {"REDIS_TIMEOUT_MS", kPatientTimeoutMs}}));
  // The first model call is slow enough for every request to arrive meanwhile.
  ASSERT_TRUE(fake()->script(R"([{"delay_ms":1500}])")) << fake()->error();
  const std::string body = R"({"name":"Thundering Herd"})";
  std::vector<SentRequest> via_a, via_b;
  {
    std::jthread ta([&] { via_a = post_concurrently(a().port(), "/generate-character", body, 3, milliseconds(20)); });
    std::jthread tb([&] { via_b = post_concurrently(b().port(), "/generate-character", body, 3, milliseconds(20)); });
  }
  ASSERT_EQ(via_a.size(), 3u);
  ASSERT_EQ(via_b.size(), 3u);
  const std::string expected = via_a[0].response.body;
  for (const auto* sent : {&via_a, &via_b}) {
    for (const SentRequest& s : *sent) {
      ASSERT_EQ(s.response.status, 200) << describe(s.response);
      EXPECT_EQ(s.response.body, expected);
    }
  }
  EXPECT_EQ(model_calls(), 1u) << "one upstream call for the fleet; the fake saw: " << fake()->requests().dump();
  EXPECT_EQ(fleet_sum(kFallbacks), 0);
}

TEST_F(RedisFleetTest, TheBreakerOpensOnBothInstancesAndLetsOneProbeThroughForTheFleet) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"CACHE_ENABLED", "false"},
                                       {"CB_FAILURE_THRESHOLD", "3"},
                                       {"CB_RECOVERY_TIMEOUT", "2"},
                                       {"REDIS_TIMEOUT_MS", kPatientTimeoutMs}}));
  // Three upstream failures, all seen through A.
  ASSERT_TRUE(fake()->script(R"([{"status":500},{"status":500},{"status":500}])")) << fake()->error();
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = http_post(a().port(), "/tell-joke", "{}");
    ASSERT_EQ(r.status, 502) << "failure " << i << ": " << describe(r);
  }
  const auto opened = Clock::now();
  ASSERT_EQ(model_calls(), 3u);

  // Open on B too (every worker of it), without a call upstream.
  std::vector<HttpResponse> refused_b = send_overlapping(b().port(), 6, "/tell-joke", "{}");
  for (const HttpResponse& r : refused_b) expect_circuit_refusal(r, "B while open");
  expect_circuit_refusal(http_post(a().port(), "/tell-joke", "{}"), "A while open");
  EXPECT_EQ(model_calls(), 3u) << "an open circuit must not call the model, whichever instance is asked";
  EXPECT_EQ(sample(scrape(b().port()), "genkit_endpoints_circuit_breaker_state{state=\"open\"}"), 1)
      << "B's /metrics should show the fleet's open circuit";
  ASSERT_LT(Clock::now() - opened, milliseconds(2000)) << "too slow to check the open state before recovery";

  // After CB_RECOVERY_TIMEOUT one probe goes upstream for the whole fleet;
  // it is slow, so the other requests arrive while it is still out.
  std::this_thread::sleep_until(opened + milliseconds(2300));
  ASSERT_TRUE(fake()->script(R"({"text":"probe ok","delay_ms":1000})")) << fake()->error();
  std::vector<HttpResponse> ra, rb;
  {
    std::jthread ta([&] { ra = send_overlapping(a().port(), 8, "/tell-joke", "{}"); });
    std::jthread tb([&] { rb = send_overlapping(b().port(), 8, "/tell-joke", "{}"); });
  }
  int probes = 0;
  for (const auto* replies : {&ra, &rb}) {
    for (const HttpResponse& r : *replies) {
      if (r.status == 200) {
        ++probes;
        EXPECT_EQ(str(json_of(r)["joke"]), "probe ok") << r.body;
      } else {
        expect_circuit_refusal(r, "while the probe is out");
      }
    }
  }
  EXPECT_EQ(probes, 1) << "exactly one probe for the fleet";
  EXPECT_EQ(model_calls(), 4u) << "the probe is the only upstream call; the fake saw: " << fake()->requests().dump();

  // Its success closed the circuit for both.
  HttpResponse after_b = http_post(b().port(), "/tell-joke", "{}");
  EXPECT_EQ(after_b.status, 200) << describe(after_b);
  HttpResponse after_a = http_post(a().port(), "/tell-joke", "{}");
  EXPECT_EQ(after_a.status, 200) << describe(after_a);
  EXPECT_EQ(fleet_sum(kFallbacks), 0);

  // The breaker's state is one key with a TTL.
  EXPECT_EQ(expiring_keys(std::string(kDefaultPrefix) + "breaker").size(), 1u);
}

TEST_F(RedisFleetTest, ACorruptEntryInRedisIsNeverServed) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"CB_ENABLED", "false"}, {"REDIS_TIMEOUT_MS", kPatientTimeoutMs}}));
  const std::string body = R"({"name":"Corrupted"})";
  HttpResponse filled = http_post(a().port(), "/generate-character", body);
  ASSERT_EQ(filled.status, 200) << describe(filled);
  std::vector<std::string> entries = expiring_keys(std::string(kDefaultPrefix) + "cache:*");
  ASSERT_EQ(entries.size(), 1u);
  RedisReply set = redis_->command({"SET", entries[0], "this is not a cached result {", "PX", "60000"});
  ASSERT_TRUE(set.ok()) << set.describe();
  ASSERT_EQ(model_calls(), 1u);

  // B's first level misses and Redis answers garbage: B must compute it.
  HttpResponse computed = http_post(b().port(), "/generate-character", body);
  ASSERT_EQ(computed.status, 200) << describe(computed);
  EXPECT_EQ(computed.body, filled.body) << "the fake answers the same input the same way";
  EXPECT_EQ(computed.body.find("this is not"), std::string::npos);
  EXPECT_EQ(model_calls(), 2u) << "B must not have served Redis's garbage";
  Samples s = scrape(b().port());
  EXPECT_GE(sample_sum(s, kFailures, {"kind=\"reply\""}), 1);
  EXPECT_GE(sample_sum(s, kFallbacks, {"decision=\"cache\""}), 1);
  EXPECT_EQ(sample(s, kRedisHits), 0);
  EXPECT_TRUE(b().wait_event("redis_reply_invalid", milliseconds(3000))) << redis_events(b());
}

TEST_F(RedisFleetTest, EveryKeyCarriesThePrefixAndExpires) {
  const std::string prefix = "itest:fleet-" + std::to_string(getpid()) + ":";
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"REDIS_KEY_PREFIX", prefix},
                                       {"RATE_LIMIT_DEFAULT", "100/minute"},
                                       {"CB_FAILURE_THRESHOLD", "5"},
                                       {"REDIS_TIMEOUT_MS", kPatientTimeoutMs}}));
  // A rate-limited request, an upstream failure (the breaker records it)...
  ASSERT_EQ(http_post(a().port(), "/tell-joke", "{}").status, 200);
  ASSERT_TRUE(fake()->script(R"([{"status":500}])")) << fake()->error();
  ASSERT_EQ(http_post(a().port(), "/tell-joke", "{}").status, 502);

  // ... and a cache miss whose lock is caught while its (slow) flow runs.
  ASSERT_TRUE(fake()->script(R"([{"delay_ms":1200}])")) << fake()->error();
  HttpResponse slow;
  std::vector<std::string> locks;
  {
    std::jthread t([&] { slow = http_post(b().port(), "/generate-character", R"({"name":"Locked"})"); });
    FakeLlmProcess::eventually([&] { return !(locks = redis_->keys(prefix + "lock:*")).empty(); },
                               milliseconds(3000));
    ASSERT_EQ(locks.size(), 1u) << "the leader's lock key should exist while its flow runs";
    EXPECT_GT(redis_->pttl(locks[0]), 0) << locks[0] << ": a lock must expire (its leader may die)";
  }
  ASSERT_EQ(slow.status, 200) << describe(slow);
  std::vector<std::string> entries = expiring_keys(prefix + "cache:*");
  ASSERT_EQ(entries.size(), 1u);

  std::vector<std::string> all = redis_->keys("*");
  ASSERT_FALSE(all.empty());
  const std::regex shapes("rl:.+|cache:[0-9a-f]{64}|lock:[0-9a-f]{64}|breaker");
  int rl = 0, cache = 0, breaker = 0;
  for (const std::string& k : all) {
    EXPECT_TRUE(k.rfind(prefix, 0) == 0 && std::regex_match(k.substr(prefix.size()), shapes))
        << k << " is not a key of the contract under " << prefix;
    EXPECT_GT(redis_->pttl(k), 0) << k << " must expire";
    rl += k.rfind(prefix + "rl:", 0) == 0;
    cache += k.rfind(prefix + "cache:", 0) == 0;
    breaker += k == prefix + "breaker";
  }
  EXPECT_GE(rl, 1);
  EXPECT_EQ(cache, 1);
  EXPECT_EQ(breaker, 1);
  EXPECT_EQ(locks[0].substr(prefix.size() + 5), entries[0].substr(prefix.size() + 6))
      << "the lock and the entry are of one cache key";
  EXPECT_TRUE(redis_->keys(std::string(kDefaultPrefix) + "*").empty());
}

TEST_F(RedisFleetTest, PasswordDatabaseAndUnixSocketUrls) {
  RedisServer::Options options;
  options.requirepass = "s3cret-pass";
  options.unix_socket = true;
  ASSERT_NO_FATAL_FAILURE(start_redis(options));
  const Env env = {{"CB_ENABLED", "false"}, {"REDIS_TIMEOUT_MS", kPatientTimeoutMs}};
  ASSERT_NO_FATAL_FAILURE(start_instance("unix://" + redis_->socket_path() + "?db=3&password=s3cret-pass", env));
  ASSERT_NO_FATAL_FAILURE(
      start_instance("redis://:s3cret-pass@127.0.0.1:" + std::to_string(redis_->port()) + "/3", env));
  ASSERT_NO_FATAL_FAILURE(expect_connected(a(), kWorkers, milliseconds(5000), "A (unix socket)"));
  ASSERT_NO_FATAL_FAILURE(expect_connected(b(), kWorkers, milliseconds(5000), "B (password in the URL)"));
  ASSERT_TRUE(fake()->reset());

  HttpResponse filled = http_post(a().port(), "/generate-character", R"({"name":"Socket"})");
  ASSERT_EQ(filled.status, 200) << describe(filled);
  HttpResponse hit = http_post(b().port(), "/generate-character", R"({"name":"Socket"})");
  ASSERT_EQ(hit.status, 200) << describe(hit);
  EXPECT_EQ(hit.body, filled.body);
  EXPECT_EQ(model_calls(), 1u) << "A (over the socket) and B (over TCP) share one Redis database";
  EXPECT_EQ(expiring_keys(std::string(kDefaultPrefix) + "cache:*", 1, 3).size(), 1u) << "the entry is in db 3";
  EXPECT_TRUE(redis_->keys("*", 0).empty()) << "nothing in db 0";

  // A wrong password: the instance serves on its own state and says why.
  size_t c = 0;
  ASSERT_NO_FATAL_FAILURE(
      start_instance("redis://:hunter2-bad@127.0.0.1:" + std::to_string(redis_->port()) + "/3", env, &c));
  ServerProcess& wrong = *instances_[c];
  EXPECT_TRUE(wrong.wait_event("redis_unavailable", milliseconds(3000))) << wrong.stdout_text();
  HttpResponse served = http_post(wrong.port(), "/generate-character", R"({"name":"Alone"})");
  EXPECT_EQ(served.status, 200) << describe(served);
  HttpResponse ready = http_get(wrong.port(), "/ready");
  EXPECT_EQ(ready.status, 200) << describe(ready);
  EXPECT_EQ(str(json_of(ready)["checks"]["redis"]).rfind("unavailable", 0), 0u) << ready.body;
  EXPECT_EQ(sample(scrape(wrong.port()), kConnected), 0);

  // No password in what the instances show.
  for (const std::unique_ptr<ServerProcess>& s : instances_) {
    HttpResponse r = http_get(s->port(), "/ready");
    for (const char* secret : {"s3cret-pass", "hunter2-bad"}) {
      EXPECT_EQ(r.body.find(secret), std::string::npos) << "/ready shows a password: " << r.body;
      EXPECT_EQ(s->stdout_text().find(secret), std::string::npos) << "a log line shows a password";
      EXPECT_EQ(s->stderr_text().find(secret), std::string::npos) << "stderr shows a password";
    }
  }
}

// Redis failing under the fleet: killed, stopped, not there at start.
class RedisFaultTest : public RedisFleetBase {};

TEST_F(RedisFaultTest, KilledUnderLoadNothingFailsAndItReconnectsAfterARestart) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"REDIS_TIMEOUT_MS", "50"}}));
  const double commands_before = fleet_sum(kCommands);
  Load load({a().port(), b().port()}, 4);
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_GT(fleet_sum(kCommands), commands_before) << "the load should go through Redis";

  redis_->kill9();
  const auto killed = Clock::now();
  ASSERT_NO_FATAL_FAILURE(expect_connected(a(), 0, milliseconds(3000), "A after SIGKILL"));
  ASSERT_NO_FATAL_FAILURE(expect_connected(b(), 0, milliseconds(3000), "B after SIGKILL"));
  std::this_thread::sleep_for(milliseconds(600));  // served on local state meanwhile
  Samples down_a = scrape(a().port()), down_b = scrape(b().port());
  for (const char* decision : {"rate_limit", "cache", "breaker"}) {
    const std::string label = std::string("decision=\"") + decision + "\"";
    EXPECT_GT(sample_sum(down_a, kFallbacks, {label}) + sample_sum(down_b, kFallbacks, {label}), 0)
        << decision << " decisions should have been taken locally while Redis was gone";
  }
  const std::string connection = "kind=\"connection\"";
  EXPECT_GT(sample_sum(down_a, kFailures, {connection}) + sample_sum(down_b, kFailures, {connection}), 0);

  ASSERT_TRUE(redis_->restart()) << redis_->error();
  const auto restarted = Clock::now();
  ASSERT_NO_FATAL_FAILURE(expect_connected(a(), kWorkers, milliseconds(5000), "A after the restart"));
  ASSERT_NO_FATAL_FAILURE(expect_connected(b(), kWorkers, milliseconds(5000), "B after the restart"));
  std::this_thread::sleep_for(milliseconds(300));
  load.stop();

  std::vector<Timed> done = load.done();
  int during_outage = 0, failures = 0;
  std::string first_failure;
  for (const Timed& t : done) {
    if (t.started >= killed && t.started < restarted) ++during_outage;
    if (failed(t.response)) {
      if (failures++ == 0) first_failure = t.path + " on port " + std::to_string(t.port) + ": " + describe(t.response);
    }
  }
  EXPECT_EQ(failures, 0) << "of " << done.size() << " requests; the first: " << first_failure;
  EXPECT_GE(during_outage, 20) << "the load should have gone on while Redis was gone";

  // Redis decides again: requests until one round through both instances
  // is decided without a local fallback (on a loaded machine a worker may
  // drop a slow connection once more), and the new, empty Redis gets the
  // cache's entries. (Its buckets are no sign: at the tests' 1000000/minute
  // a bucket's key lives only until it would be full again, microseconds.)
  const std::string rate_limit = "decision=\"rate_limit\"";
  const double commands = fleet_sum(kCommands);
  int sent = 0;
  bool in_redis = FakeLlmProcess::eventually(
      [&] {
        const double local = fleet_sum(kFallbacks, {rate_limit});
        for (ServerProcess* s : {&a(), &b()}) {
          std::string body = json_with("name", "after " + std::to_string(sent++));
          HttpResponse r = http_post(s->port(), "/generate-character", body);
          EXPECT_FALSE(failed(r)) << describe(r);
        }
        return fleet_sum(kFallbacks, {rate_limit}) == local;
      },
      milliseconds(5000));
  EXPECT_TRUE(in_redis) << "rate-limit decisions still local after " << sent << " requests\nA:\n"
                        << redis_events(a()) << "B:\n" << redis_events(b());
  EXPECT_GT(fleet_sum(kCommands), commands);
  EXPECT_FALSE(expiring_keys(std::string(kDefaultPrefix) + "cache:*").empty()) << "the restarted Redis has no entry";
  for (ServerProcess* s : {&a(), &b()}) {
    EXPECT_FALSE(s->events("redis_unavailable").empty()) << redis_events(*s);
    for (const Json& e : s->events("redis_unavailable")) EXPECT_EQ(str(e["level"]), "warning") << e.dump();
    EXPECT_GE(s->events("redis_connected").size(), 2u * kWorkers) << "each worker connects, then reconnects\n"
                                                                   << redis_events(*s);
  }
}

TEST_F(RedisFaultTest, AStoppedRedisHoldsNoRequestAndIsUsedAgainAfterSigcont) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({{"REDIS_TIMEOUT_MS", "50"}}));
  for (ServerProcess* s : {&a(), &b()}) ASSERT_EQ(http_post(s->port(), "/tell-joke", "{}").status, 200);

  ASSERT_TRUE(redis_->stop_process());
  // Sequential requests through both instances, then overlapping ones: each
  // is answered without waiting on the stopped Redis (the bound is loose:
  // the machine is shared; a request held by Redis would never end).
  std::vector<Timed> done;
  for (int i = 0; i < 12; ++i) {
    int port = (i % 2 == 0 ? a() : b()).port();
    std::string character = json_with("name", "stopped " + std::to_string(i));
    done.push_back(i % 4 < 2 ? timed_post(port, "/tell-joke", "{}")
                             : timed_post(port, "/generate-character", character));
  }
  for (ServerProcess* s : {&a(), &b()}) {
    auto started = Clock::now();
    std::vector<HttpResponse> burst = send_overlapping(s->port(), 8, "/tell-joke", "{}");
    auto took = Clock::now() - started;
    for (const HttpResponse& r : burst) EXPECT_EQ(r.status, 200) << describe(r);
    EXPECT_LT(took, milliseconds(2000)) << "8 overlapping requests with Redis stopped";
  }
  for (const Timed& t : done) {
    EXPECT_EQ(t.response.status, 200) << t.path << ": " << describe(t.response);
    EXPECT_LT(t.took, milliseconds(1000)) << t.path << " waited on the stopped Redis";
  }
  Samples sa = scrape(a().port()), sb = scrape(b().port());
  EXPECT_GT(sample_sum(sa, kFailures, {"kind=\"timeout\""}) + sample_sum(sb, kFailures, {"kind=\"timeout\""}), 0);
  EXPECT_GT(sample_sum(sa, kFallbacks), 0) << "A decided locally while Redis was stopped";
  EXPECT_GT(sample_sum(sb, kFallbacks), 0) << "B decided locally while Redis was stopped";
  EXPECT_LT(sample(sa, kConnected), kWorkers) << "A's worker that timed out is no longer connected";
  EXPECT_LT(sample(sb, kConnected), kWorkers) << "B's worker that timed out is no longer connected";
  EXPECT_EQ(model_calls(), 2u + 12u + 16u) << "every request ran (nothing cached: all different)";

  ASSERT_TRUE(redis_->continue_process());
  ASSERT_NO_FATAL_FAILURE(expect_connected(a(), kWorkers, milliseconds(5000), "A after SIGCONT"));
  ASSERT_NO_FATAL_FAILURE(expect_connected(b(), kWorkers, milliseconds(5000), "B after SIGCONT"));
  const double commands = fleet_sum(kCommands);
  HttpResponse filled = http_post(a().port(), "/generate-character", R"({"name":"After SIGCONT"})");
  ASSERT_EQ(filled.status, 200) << describe(filled);
  HttpResponse hit = http_post(b().port(), "/generate-character", R"({"name":"After SIGCONT"})");
  ASSERT_EQ(hit.status, 200) << describe(hit);
  EXPECT_GT(fleet_sum(kCommands), commands);
  EXPECT_EQ(model_calls(), 2u + 12u + 16u + 1u) << "the entry A filled is shared with B again";
}

TEST_F(RedisFaultTest, DownAtStartTheServerServesAndConnectsWhenRedisComes) {
  const int port = RedisServer::free_port();
  ASSERT_GT(port, 0);
  const auto starting = Clock::now();
  const std::string url = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  ASSERT_NO_FATAL_FAILURE(start_instance(url, {{"REDIS_TIMEOUT_MS", "50"}}));
  EXPECT_LT(Clock::now() - starting, milliseconds(8000)) << "an absent Redis must not hold up the start";
  ServerProcess& s = a();
  std::optional<Json> unavailable = s.wait_event("redis_unavailable", milliseconds(3000));
  ASSERT_TRUE(unavailable) << s.stdout_text();
  EXPECT_EQ(str((*unavailable)["level"]), "warning") << unavailable->dump();
  ASSERT_TRUE(fake()->reset());

  HttpResponse joke = http_post(s.port(), "/tell-joke", "{}");
  EXPECT_EQ(joke.status, 200) << describe(joke);
  HttpResponse character = http_post(s.port(), "/generate-character", R"({"name":"Early"})");
  EXPECT_EQ(character.status, 200) << describe(character);
  HttpResponse ready = http_get(s.port(), "/ready");
  EXPECT_EQ(ready.status, 200) << "the server serves on local state: " << describe(ready);
  Json ready_json = json_of(ready);
  genkit::JsonView checks = ready_json["checks"];
  EXPECT_EQ(str(checks["state_backend"]), "redis") << ready.body;
  EXPECT_EQ(str(checks["redis"]).rfind("unavailable", 0), 0u) << ready.body;
  Samples down = scrape(s.port());
  EXPECT_EQ(sample(down, std::string(kInfo) + "{backend=\"redis\"}"), 1);
  EXPECT_TRUE(down.count(kConnected));
  EXPECT_EQ(sample(down, kConnected), 0);
  EXPECT_GE(sample_sum(down, kFallbacks, {"decision=\"rate_limit\""}), 1);
  EXPECT_GE(sample_sum(down, kFallbacks, {"decision=\"cache\""}), 1);

  // Redis comes: every worker connects (back-off of a second or two at most).
  ASSERT_NO_FATAL_FAILURE(start_redis({}, port));
  ASSERT_NO_FATAL_FAILURE(expect_connected(s, kWorkers, milliseconds(5000), "after Redis came"));
  EXPECT_TRUE(s.wait_event_count("redis_connected", kWorkers, milliseconds(3000))) << redis_events(s);
  HttpResponse ready_now = http_get(s.port(), "/ready");
  EXPECT_EQ(ready_now.status, 200);
  EXPECT_EQ(str(json_of(ready_now)["checks"]["redis"]), "connected") << ready_now.body;
  HttpResponse stored = http_post(s.port(), "/generate-character", R"({"name":"Late"})");
  EXPECT_EQ(stored.status, 200) << describe(stored);
  EXPECT_EQ(expiring_keys(std::string(kDefaultPrefix) + "cache:*").size(), 1u) << "the entry should now be in Redis";
}

// The settings, checked at start.
TEST(RedisConfigTest, AnUnknownBackendOrABadUrlStopsTheStart) {
  struct Case {
    Env env;
    const char* blamed;
  };
  const Case cases[] = {
      {{{"STATE_BACKEND", "memcached"}}, "STATE_BACKEND"},
      {{{"STATE_BACKEND", "redis"}, {"REDIS_URL", "http://x"}}, "REDIS_URL"},
      {{{"STATE_BACKEND", "redis"}, {"REDIS_URL", "redis://127.0.0.1:notaport/0"}}, "REDIS_URL"},
  };
  for (const Case& c : cases) {
    RunResult r = run_to_exit({"--port", "0", "--workers", "1", "--no-grpc"}, c.env, milliseconds(8000));
    ASSERT_TRUE(r.exit_code.has_value()) << c.blamed << ": the server did not exit\nstdout:\n" << r.out;
    EXPECT_NE(*r.exit_code, 0) << c.blamed;
    EXPECT_LT(*r.exit_code, 128) << c.blamed << ": it should exit, not die of a signal";
    EXPECT_NE(r.err.find(c.blamed), std::string::npos) << "stderr should name " << c.blamed << ":\n" << r.err;
    EXPECT_EQ(r.out.find("\"event\":\"listening\""), std::string::npos) << "a bad configuration must not bind";
    EXPECT_TRUE(r.sanitizer_findings.empty()) << r.err;
  }
}

TEST(RedisConfigTest, SharedMemoryIsTheDefaultBackend) {
  ServerOptions o;
  o.env["MODEL"] = "mock/echo";  // (chosen: /ready is then 200 in production)
  std::string why;
  std::unique_ptr<ServerProcess> s = start_server(o, &why);
  ASSERT_TRUE(s) << why;
  Samples samples = scrape(s->port());
  EXPECT_EQ(sample(samples, std::string(kInfo) + "{backend=\"shm\"}"), 1);
  EXPECT_FALSE(samples.count(kConnected)) << "no Redis series without Redis";
  HttpResponse ready = http_get(s->port(), "/ready");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(str(json_of(ready)["checks"]["state_backend"]), "shm") << ready.body;
  EXPECT_FALSE(json_of(ready)["checks"]["redis"].is_string()) << ready.body;
  EXPECT_EQ(s->stop(), std::optional<int>(0));
}

}  // namespace
}  // namespace itest
