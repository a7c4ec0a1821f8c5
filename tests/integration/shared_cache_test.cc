// The response cache shared by every worker, through the real binary on
// fake_llm (Gemini): identical misses in several workers cost one flow run,
// a hit is served whichever worker computed it, a leader whose client left
// finishes for other workers' waiters (or cancels when nobody waits), and
// the settings (TTL, LRU size, largest entry, off) and the key (defaults
// applied) behave as documented. What the model saw is counted on the fake; which worker
// answered comes from each request's access-log line.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/shared_state_support.h"

namespace itest {
namespace {

constexpr int kWorkers = 4;
constexpr const char* kMisses = "genkit_endpoints_cache_misses_total";
constexpr const char* kHits = "genkit_endpoints_cache_hits_total";
constexpr const char* kCoalesced = "genkit_endpoints_cache_coalesced_total";
constexpr const char* kEvictions = "genkit_endpoints_cache_evictions_total";
constexpr const char* kEntries = "genkit_endpoints_cache_entries";

// How a counter moved between two scrapes.
double moved(const Samples& before, const Samples& after, const std::string& series) {
  return sample(after, series) - sample(before, series);
}

class SharedCacheTest : public FakeLlmServerTest<SharedCacheTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }
  static ServerOptions options() {
    ServerOptions o;
    o.args = {"--port", "0", "--workers", std::to_string(kWorkers), "--no-grpc"};
    o.env = gemini_env_for(fake()->base_url());
    return o;
  }

 protected:
  size_t model_calls() { return fake()->model_requests().size(); }
};

TEST_F(SharedCacheTest, IdenticalConcurrentMissesInSeveralWorkersRunTheFlowOnce) {
  // One run of translate costs a tool round: count it on an input of its own.
  HttpResponse one = http_post(port(), "/translate", R"({"text":"count me","target_language":"German"})");
  ASSERT_EQ(one.status, 200) << one.reason << one.body;
  const size_t per_run = model_calls();
  ASSERT_GE(per_run, 2u) << "translate should call the model, answer the tool call and call it again";
  ASSERT_TRUE(fake()->clear_requests());

  // The first model call waits long enough for every request to arrive.
  ASSERT_TRUE(fake()->script(R"([{"delay_ms":1500}])")) << fake()->error();
  Samples before = scrape(port());
  constexpr int kBurst = 16;
  std::vector<SentRequest> sent = post_concurrently(port(), "/translate",
                                                    R"({"text":"shared burst","target_language":"Italian"})", kBurst,
                                                    milliseconds(20));
  std::set<int> pids;
  for (const SentRequest& s : sent) {
    ASSERT_EQ(s.response.status, 200) << s.response.reason << s.response.body;
    EXPECT_EQ(s.response.body, sent[0].response.body);
    pids.insert(served_by(*server(), s.request_id));
  }
  pids.erase(0);
  EXPECT_GE(pids.size(), 2u) << "the burst should have been answered by several workers";
  EXPECT_EQ(model_calls(), per_run) << "one flow run for the whole burst; fake saw: " << fake()->requests().dump();

  Samples after = scrape(port());
  EXPECT_EQ(moved(before, after, kMisses), 1);
  EXPECT_EQ(moved(before, after, kCoalesced), kBurst - 1);
  EXPECT_EQ(moved(before, after, kHits), 0);
}

TEST_F(SharedCacheTest, AHitIsServedByAnotherWorkerThanTheOneThatComputedIt) {
  const std::string body = R"({"description":"reverse a linked list","language":"python"})";
  SentRequest first = send_with_id(port(), "POST", "/generate-code", body);
  ASSERT_EQ(first.response.status, 200) << first.response.reason << first.response.body;
  int computed_by = served_by(*server(), first.request_id);
  ASSERT_GT(computed_by, 0) << "no access-log line for " << first.request_id;
  const size_t calls = model_calls();
  ASSERT_EQ(calls, 1u);

  Samples before = scrape(port());
  int repeats = 0;
  int other = 0;
  for (; repeats < 60 && other == 0; ++repeats) {
    SentRequest again = send_with_id(port(), "POST", "/generate-code", body);
    ASSERT_EQ(again.response.status, 200) << again.response.reason << again.response.body;
    EXPECT_EQ(again.response.body, first.response.body);
    int pid = served_by(*server(), again.request_id);
    if (pid != computed_by) other = pid;
  }
  EXPECT_GT(other, 0) << "60 requests were all answered by worker " << computed_by;
  EXPECT_EQ(model_calls(), calls) << "a hit must not reach the model";
  Samples after = scrape(port());
  EXPECT_EQ(moved(before, after, kHits), repeats);
  EXPECT_EQ(moved(before, after, kMisses), 0);
}

TEST_F(SharedCacheTest, AnUpstreamErrorIsNotCached) {
  const std::string body = R"({"name":"Erratic"})";
  ASSERT_TRUE(fake()->script(R"([{"status":500}])")) << fake()->error();
  HttpResponse failed = http_post(port(), "/generate-character", body);
  EXPECT_GE(failed.status, 500) << failed.reason << failed.body;
  const size_t after_failure = model_calls();
  ASSERT_GE(after_failure, 1u);

  HttpResponse retried = http_post(port(), "/generate-character", body);
  ASSERT_EQ(retried.status, 200) << retried.reason << retried.body;
  EXPECT_GT(model_calls(), after_failure) << "the error must not have been cached";

  // The success is.
  const size_t after_success = model_calls();
  HttpResponse cached = http_post(port(), "/generate-character", body);
  ASSERT_EQ(cached.status, 200) << cached.reason << cached.body;
  EXPECT_EQ(cached.body, retried.body);
  EXPECT_EQ(model_calls(), after_success);
}

TEST_F(SharedCacheTest, DefaultsAreAppliedBeforeTheKeyIsMade) {
  HttpResponse empty = http_post(port(), "/generate-character", "{}");
  ASSERT_EQ(empty.status, 200) << empty.reason << empty.body;
  ASSERT_EQ(model_calls(), 1u);
  HttpResponse spelled = http_post(port(), "/generate-character", R"({"name":"Luna"})");
  ASSERT_EQ(spelled.status, 200) << spelled.reason << spelled.body;
  EXPECT_EQ(spelled.body, empty.body);
  EXPECT_EQ(model_calls(), 1u) << "{} and the spelled-out default are one key";

  // A default filled in beside a given field.
  HttpResponse partial = http_post(port(), "/translate", R"({"text":"hola"})");
  ASSERT_EQ(partial.status, 200) << partial.reason << partial.body;
  const size_t calls = model_calls();
  HttpResponse full = http_post(port(), "/translate", R"({"text":"hola","target_language":"French"})");
  ASSERT_EQ(full.status, 200) << full.reason << full.body;
  EXPECT_EQ(full.body, partial.body);
  EXPECT_EQ(model_calls(), calls);

  // Another value is another key.
  HttpResponse other = http_post(port(), "/generate-character", R"({"name":"Sol"})");
  ASSERT_EQ(other.status, 200) << other.reason << other.body;
  EXPECT_EQ(model_calls(), calls + 1);
}

// Each test here starts a server with the cache settings it is about.
class CacheSettingsTest : public FakeUpstreamServerTest<CacheSettingsTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  size_t model_calls() { return fake()->model_requests().size(); }
  HttpResponse character(const std::string& name) {
    HttpResponse r = http_post(port(), "/generate-character", json_with("name", name));
    EXPECT_EQ(r.status, 200) << name << ": " << r.reason << r.body;
    return r;
  }
};

TEST_F(CacheSettingsTest, AnEntryExpiresAfterTheTtl) {
  ASSERT_NO_FATAL_FAILURE(start({{"CACHE_TTL", "1"}}, 2));
  HttpResponse first = character("Brief");
  ASSERT_EQ(model_calls(), 1u);
  character("Brief");
  EXPECT_EQ(model_calls(), 1u) << "a hit within the TTL";
  std::this_thread::sleep_for(milliseconds(1200));
  character("Brief");
  EXPECT_EQ(model_calls(), 2u) << "the entry should have expired after CACHE_TTL=1";
}

TEST_F(CacheSettingsTest, TheLeastRecentlyUsedEntryIsEvictedAtMaxSize) {
  ASSERT_NO_FATAL_FAILURE(start({{"CACHE_MAX_SIZE", "2"}}, 2));
  character("A");
  character("B");
  character("C");
  ASSERT_EQ(model_calls(), 3u);
  Samples full = scrape(port());
  EXPECT_EQ(sample(full, kEvictions), 1) << "C took A's place";
  EXPECT_EQ(sample(full, kEntries), 2);

  character("C");
  character("B");
  EXPECT_EQ(model_calls(), 3u) << "C and B are still cached";
  character("A");
  EXPECT_EQ(model_calls(), 4u) << "A was evicted";
  Samples after = scrape(port());
  EXPECT_EQ(sample(after, kEvictions), 2) << "A took the place of the least recently used, C";
  EXPECT_EQ(sample(after, kHits), 2);
  EXPECT_EQ(sample(after, kMisses), 4);
  character("B");
  EXPECT_EQ(model_calls(), 4u) << "B was used after C, so C went";
}

TEST_F(CacheSettingsTest, AResultOverMaxEntryBytesIsNotCached) {
  ASSERT_NO_FATAL_FAILURE(start({{"CACHE_MAX_ENTRY_BYTES", "256"}}, 2));
  const std::string body = json_with("image_url", fake()->base_url() + "/media/cat.png");
  const std::string long_text(400, 'x');
  const std::string long_reply = genkit::Json::string(long_text).dump();
  ASSERT_TRUE(fake()->script("[{\"text\":" + long_reply + "},{\"text\":" + long_reply + "}]")) << fake()->error();
  for (size_t n = 1; n <= 2; ++n) {
    HttpResponse r = http_post(port(), "/describe-image", body);
    ASSERT_EQ(r.status, 200) << r.reason << r.body;
    EXPECT_EQ(str(json_of(r)["description"]), long_text);
    EXPECT_EQ(model_calls(), n) << "a 400-byte result is over CACHE_MAX_ENTRY_BYTES=256";
  }
  // The fake's own short reply fits, and is kept.
  HttpResponse small = http_post(port(), "/describe-image", body);
  ASSERT_EQ(small.status, 200) << small.reason << small.body;
  ASSERT_EQ(model_calls(), 3u);
  HttpResponse hit = http_post(port(), "/describe-image", body);
  EXPECT_EQ(hit.body, small.body);
  EXPECT_EQ(model_calls(), 3u);
}

TEST_F(CacheSettingsTest, DisabledCacheCallsTheModelEveryTime) {
  ASSERT_NO_FATAL_FAILURE(start({{"CACHE_ENABLED", "false"}}, 2));
  for (size_t n = 1; n <= 3; ++n) {
    character("Nocache");
    EXPECT_EQ(model_calls(), n);
  }
  Samples s = scrape(port());
  EXPECT_EQ(sample(s, kHits) + sample(s, kMisses) + sample(s, kCoalesced), 0);
}

// A flight's leader whose own client leaves: which worker leads is found
// from its connection to the fake, so each test has a server of its own.
class CacheFlightTest : public FakeUpstreamServerTest<CacheFlightTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }

 protected:
  // Sends `body` to /generate-character on `client` and waits until its model call reached the fake.
  void lead(HttpClient& client, const std::string& body) {
    ASSERT_TRUE(fake()->script(R"([{"delay_ms":1500}])")) << fake()->error();
    ASSERT_TRUE(client.send_raw(build_request("POST", "/generate-character", body))) << client.error();
    ASSERT_TRUE(FakeLlmProcess::eventually([&] { return fake()->model_requests().size() == 1; }, milliseconds(5000)))
        << "the leader's model call never reached the fake";
  }
};

TEST_F(CacheFlightTest, ALeaderWhoseClientLeftStillAnswersWaitersInOtherWorkers) {
  ASSERT_NO_FATAL_FAILURE(start({}, kWorkers));
  const std::string body = R"({"name":"Deserted"})";
  HttpClient leader(port());
  ASSERT_NO_FATAL_FAILURE(lead(leader, body));
  const int leader_pid = worker_calling(server(), fake()->port());
  ASSERT_GT(leader_pid, 0) << "exactly one worker should be calling the model";
  std::unique_ptr<FlightWaiters> waiters = join_flight(server(), "/generate-character", body, leader_pid, 2);
  ASSERT_GE(waiters->elsewhere, 2) << "every waiter landed in the leader's worker";

  leader.close();
  waiters->join();
  for (const SentRequest& w : waiters->sent) {
    EXPECT_EQ(w.response.status, 200) << w.response.reason << w.response.body;
    EXPECT_EQ(w.response.body, waiters->sent[0].response.body);
  }
  std::vector<genkit::Json> calls = fake()->model_requests();
  ASSERT_EQ(calls.size(), 1u) << "the leader should finish its call for the others: " << fake()->requests().dump();
  EXPECT_TRUE(calls[0]["finished"].as_bool()) << calls[0].dump();
  EXPECT_FALSE(calls[0]["client_closed"].as_bool()) << calls[0].dump();
}

TEST_F(CacheFlightTest, ALeaderWhoseClientLeftWithNobodyWaitingCancelsItsModelCall) {
  ASSERT_NO_FATAL_FAILURE(start({}, kWorkers));
  const std::string body = R"({"name":"Unwanted"})";
  {
    HttpClient leader(port());
    ASSERT_NO_FATAL_FAILURE(lead(leader, body));
  }
  EXPECT_TRUE(FakeLlmProcess::eventually(
      [&] {
        std::vector<genkit::Json> calls = fake()->model_requests();
        return calls.size() == 1 && calls[0]["client_closed"].as_bool();
      },
      milliseconds(3000)))
      << "the model call should have been cancelled: " << fake()->requests().dump();
  // Nothing was kept: the next identical request runs the flow afresh.
  HttpResponse again = http_post(port(), "/generate-character", body);
  EXPECT_EQ(again.status, 200) << again.reason << again.body;
  EXPECT_EQ(fake()->model_requests().size(), 2u);
}

}  // namespace
}  // namespace itest
