// Trace export to the Genkit tools' telemetry server in dev mode
// (docs/genkit-protocols.md §5) through the real binary, against a
// telemetry server inside the test (tests/support/telemetry_collector.h):
// TraceData bodies on POST /api/traces with Genkit's span attributes and
// paths, runAction's final line only once its spans are posted, the URL from
// GENKIT_TELEMETRY_SERVER or announced by /api/notify, realtime spans (posted
// also as they start), failed runs (state, failure source, status,
// exception event), and a telemetry server that is down costing nothing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/fake_llm_process.h"
#include "tests/support/reflection_support.h"
#include "tests/support/telemetry_collector.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using genkit::Json;
using genkit::JsonView;
using Spans = std::map<std::string, Json>;

constexpr const char* kRootPath = "/{tell_joke,t:flow}";
constexpr const char* kGeneratePath = "/{tell_joke,t:flow}/{generate,t:util}";
constexpr const char* kJoke = "Echo: Tell a medium-length joke about cats for user anonymous.";

// The JSON text of a span attribute that holds JSON as a string, parsed (null when not).
Json json_attr(JsonView span, const char* name) {
  JsonView a = span["attributes"][name];
  EXPECT_TRUE(a.is_string()) << name << " must be a JSON string: " << span.dump();
  genkit::Result<Json> j = Json::parse(a.as_string());
  EXPECT_TRUE(j.ok()) << name << " is not JSON text: " << a.dump();
  return j.ok() ? std::move(j).value() : Json::null();
}

// The one span at `path` (a failure, and null, unless there is exactly one).
Json one_span_at(const Spans& spans, const std::string& path) {
  std::vector<Json> found = spans_at_path(spans, path);
  EXPECT_EQ(found.size(), 1u) << "spans at " << path << " among " << spans.size();
  return found.size() == 1 ? found[0] : Json::null();
}

std::string describe(const Spans& spans) {
  std::string s;
  for (const auto& [id, span] : spans) s += id + ": " + span.dump() + "\n";
  return s;
}

// The fields every span carries (§5: required per span) and its times.
void expect_span_shape(JsonView span, const std::string& trace_id) {
  EXPECT_TRUE(is_hex_id(str(span["spanId"]), 16)) << span.dump();
  EXPECT_EQ(str(span["traceId"]), trace_id) << span.dump();
  EXPECT_TRUE(span["startTime"].is_number()) << span.dump();
  EXPECT_TRUE(span["endTime"].is_number()) << span.dump();
  EXPECT_GT(span["startTime"].as_number(), 1.7e12) << "ms since the epoch: " << span.dump();
  EXPECT_GE(span["endTime"].as_number(), span["startTime"].as_number()) << span.dump();
  EXPECT_EQ(str(span["displayName"]), str(span["attributes"]["genkit:name"])) << span.dump();
  EXPECT_EQ(str(span["spanKind"]), "INTERNAL") << span.dump();
  EXPECT_EQ(str(span["instrumentationLibrary"]["name"]), "genkit-tracer") << span.dump();
  EXPECT_TRUE(span["timeEvents"]["timeEvent"].is_array()) << span.dump();
  EXPECT_TRUE(span["attributes"]["genkit:path"].is_string()) << span.dump();
}

// A successful tell_joke run's trace: the flow's root span, generate's util
// span under it and the model's span under that. `model` names the model.
void expect_joke_trace(const Spans& spans, const std::string& trace_id, const std::string& model,
                       const std::string& name, const std::string& output_text) {
  SCOPED_TRACE(describe(spans));
  const std::string model_path = std::string(kGeneratePath) + "/{" + model + ",t:action,s:model}";
  Json root = one_span_at(spans, kRootPath);
  Json gen = one_span_at(spans, kGeneratePath);
  Json mdl = one_span_at(spans, model_path);
  if (root.view().is_null() || gen.view().is_null() || mdl.view().is_null()) return;
  for (const Json* s : {&root, &gen, &mdl}) {
    expect_span_shape(*s, trace_id);
    EXPECT_EQ(str((*s)["attributes"]["genkit:state"]), "success") << s->dump();
    EXPECT_EQ((*s)["status"]["code"].as_number(), 0) << s->dump();
    EXPECT_FALSE((*s)["attributes"]["genkit:isFailureSource"].present()) << s->dump();
  }

  JsonView ra = root["attributes"];
  EXPECT_EQ(str(ra["genkit:type"]), "action");
  EXPECT_EQ(str(ra["genkit:metadata:subtype"]), "flow");
  EXPECT_EQ(str(ra["genkit:key"]), "/flow/tell_joke");
  EXPECT_EQ(str(ra["genkit:name"]), "tell_joke");
  EXPECT_TRUE(ra["genkit:isRoot"].is_bool() && ra["genkit:isRoot"].as_bool()) << root.dump();
  EXPECT_FALSE(root["parentSpanId"].present()) << root.dump();
  EXPECT_EQ(str(json_attr(root, "genkit:input")["name"]), name) << root.dump();
  EXPECT_EQ(str(json_attr(root, "genkit:output")), output_text) << root.dump();

  JsonView ga = gen["attributes"];
  EXPECT_EQ(str(ga["genkit:type"]), "util") << gen.dump();
  EXPECT_EQ(str(ga["genkit:name"]), "generate") << gen.dump();
  EXPECT_FALSE(ga["genkit:isRoot"].present()) << gen.dump();
  EXPECT_EQ(str(gen["parentSpanId"]), str(root["spanId"])) << gen.dump();

  JsonView ma = mdl["attributes"];
  EXPECT_EQ(str(ma["genkit:type"]), "action") << mdl.dump();
  EXPECT_EQ(str(ma["genkit:metadata:subtype"]), "model") << mdl.dump();
  EXPECT_EQ(str(ma["genkit:key"]), "/model/" + model) << mdl.dump();
  EXPECT_EQ(str(ma["genkit:name"]), model) << mdl.dump();
  EXPECT_FALSE(ma["genkit:isRoot"].present()) << mdl.dump();
  EXPECT_EQ(str(mdl["parentSpanId"]), str(gen["spanId"])) << mdl.dump();
  EXPECT_TRUE(json_attr(mdl, "genkit:input")["messages"].is_array()) << mdl.dump();
  EXPECT_TRUE(json_attr(mdl, "genkit:output").view().is_object()) << mdl.dump();
}

// Checks the TraceData bodies posted for `trace_id`: to /api/traces, the
// trace-level fields exactly when the batch holds the root span.
void expect_trace_data(const TelemetryCollector& c, const std::string& trace_id, const std::string& root_name) {
  for (const CollectedPost& p : c.posts()) {
    if (p.json["traceId"].as_string() != trace_id) continue;
    EXPECT_EQ(p.path, "/api/traces") << p.body;
    EXPECT_TRUE(p.json["spans"].is_object()) << p.body;
    bool has_root = false;
    p.json["spans"].for_each([&](std::string_view id, JsonView span) {
      EXPECT_EQ(span["spanId"].as_string(), id) << p.body;
      if (span["attributes"]["genkit:isRoot"].as_bool()) has_root = true;
    });
    EXPECT_EQ(p.json["displayName"].present(), has_root) << p.body;
    if (has_root) {
      EXPECT_EQ(str(p.json["displayName"]), root_name) << p.body;
      EXPECT_TRUE(p.json["startTime"].is_number() && p.json["endTime"].is_number()) << p.body;
    }
  }
}

// The root span of `trace_id` as merged so far, with genkit:state set (null before).
Json finished_root(const TelemetryCollector& c, const std::string& trace_id) {
  for (const auto& [id, span] : c.spans_of(trace_id)) {
    if (span["attributes"]["genkit:isRoot"].as_bool() && span["attributes"]["genkit:state"].is_string()) return span;
  }
  return Json::null();
}

// A port nothing listens on (bound, then closed).
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A runAction that succeeded; returns its trace id.
std::string run_ok(int port, const std::string& body, bool stream = false, Json* result = nullptr) {
  HttpResponse r = run_action(port, body, stream);
  EXPECT_EQ(r.status, 200) << body << ": " << r.reason << r.body;
  std::string trace = r.header("x-genkit-trace-id").value_or("");
  EXPECT_TRUE(is_hex_id(trace, 32)) << body << ": " << r.body;
  size_t nl = r.body.rfind('\n');
  genkit::Result<Json> last = Json::parse(nl == std::string::npos ? r.body : r.body.substr(nl + 1));
  EXPECT_TRUE(last.ok() && last->view()["result"].present()) << body << ": " << r.body;
  if (result && last.ok()) *result = Json::copy_of(last->view()["result"]);
  return trace;
}

// ---------------------------------------------------------------------------
// GENKIT_TELEMETRY_SERVER set: one server and one collector for the suite.

class GenkitTracesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    collector() = std::make_unique<TelemetryCollector>();
    if (!collector()->start()) {
      why() = collector()->error();
      return;
    }
    dev() = start_dev_server({{"GENKIT_TELEMETRY_SERVER", collector()->url()}, {"MOCK_CHUNK_DELAY_MS", "5"}}, &why());
  }
  static void TearDownTestSuite() {
    if (dev()) stop_dev_server(*dev());
    dev().reset();
    collector().reset();
  }
  void SetUp() override {
    ASSERT_TRUE(dev()) << "dev server did not start: " << why();
    collector()->set_reply_delay(milliseconds(0));
    collector()->set_status(200);
    collector()->clear();
  }

  static int port() { return dev()->reflection_port(); }
  static std::unique_ptr<DevServer>& dev() {
    static std::unique_ptr<DevServer> d;
    return d;
  }
  static std::unique_ptr<TelemetryCollector>& collector() {
    static std::unique_ptr<TelemetryCollector> c;
    return c;
  }
  static std::string& why() {
    static std::string w;
    return w;
  }
};

TEST_F(GenkitTracesTest, RunActionIsPostedBeforeItsFinalLine) {
  Json result;
  const std::string trace =
      run_ok(port(), R"({"key":"/flow/tell_joke","input":{"name":"cats"},"context":{"auth":{"uid":"u-42"}}})", false,
             &result);
  EXPECT_EQ(str(result), kJoke);
  // No waiting: the body ended only once the spans were posted (a race the
  // server could win without that; FinalLineWaitsForTheTelemetryServer
  // shows the wait for certain).
  Spans spans = collector()->spans_of(trace);
  Json root = finished_root(*collector(), trace);
  ASSERT_FALSE(root.view().is_null()) << "the run's body ended before its root span was posted; the collector has:\n"
                                      << describe(spans);
  expect_joke_trace(spans, trace, "mock/echo", "cats", kJoke);
  // The context went to the flow as it was given.
  EXPECT_EQ(json_attr(root, "genkit:metadata:context").dump(), R"({"auth":{"uid":"u-42"}})") << root.dump();
  expect_trace_data(*collector(), trace, "tell_joke");
  for (const CollectedPost& p : collector()->posts()) {
    p.json["spans"].for_each([&](std::string_view, JsonView span) {
      EXPECT_NE(span["endTime"].as_number(), 0) << "no realtime spans unless asked for: " << p.body;
    });
  }

  // Streamed the same.
  collector()->clear();
  const std::string streamed = run_ok(port(), R"({"key":"/flow/tell_joke","input":{"name":"cats"}})", true);
  EXPECT_FALSE(finished_root(*collector(), streamed).view().is_null()) << describe(collector()->spans_of(streamed));
  expect_joke_trace(collector()->spans_of(streamed), streamed, "mock/echo", "cats", kJoke);
}

TEST_F(GenkitTracesTest, FinalLineWaitsForTheTelemetryServer) {
  collector()->set_reply_delay(milliseconds(400));
  for (bool stream : {false, true}) {
    auto t0 = Clock::now();
    const std::string trace = run_ok(port(), R"({"key":"/flow/tell_joke","input":{"name":"slow"}})", stream);
    EXPECT_GE(Clock::now() - t0, milliseconds(400)) << "the final line did not wait for the spans' POST";
    EXPECT_LT(Clock::now() - t0, milliseconds(4000));
    EXPECT_FALSE(finished_root(*collector(), trace).view().is_null());
  }
}

TEST_F(GenkitTracesTest, FlowServerRunsAreExported) {
  HttpResponse r = http_post(dev()->rest_port(), "/tell_joke", R"({"data":{"name":"cats"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string trace = r.header("x-genkit-trace-id").value_or("");
  ASSERT_TRUE(is_hex_id(trace, 32)) << trace;
  EXPECT_TRUE(collector()->wait_for([&](const auto&) { return !finished_root(*collector(), trace).view().is_null(); },
                                    milliseconds(5000)))
      << describe(collector()->spans_of(trace));
  // (The model span may leave in a later POST than the root's.)
  collector()->wait_for([&](const auto&) { return collector()->spans_of(trace).size() >= 3; }, milliseconds(2000));
  expect_joke_trace(collector()->spans_of(trace), trace, "mock/echo", "cats", kJoke);
  expect_trace_data(*collector(), trace, "tell_joke");
}

TEST_F(GenkitTracesTest, ToolRunIsARootActionSpan) {
  const std::string trace = run_ok(port(), R"({"key":"/tool/get_current_time","input":{}})");
  Spans spans = collector()->spans_of(trace);
  Json root = one_span_at(spans, "/{get_current_time,t:action}");
  ASSERT_FALSE(root.view().is_null()) << describe(spans);
  expect_span_shape(root, trace);
  JsonView a = root["attributes"];
  EXPECT_EQ(str(a["genkit:type"]), "action");
  EXPECT_EQ(str(a["genkit:metadata:subtype"]), "tool");
  EXPECT_EQ(str(a["genkit:key"]), "/tool/get_current_time");
  EXPECT_TRUE(a["genkit:isRoot"].as_bool());
  EXPECT_EQ(str(a["genkit:state"]), "success");
}

// GENKIT_TELEMETRY_SERVER wins over the URL the tools announce.
TEST_F(GenkitTracesTest, NotifyDoesNotOverrideTheEnvironment) {
  TelemetryCollector other;
  ASSERT_TRUE(other.start()) << other.error();
  HttpResponse n = http_post(port(), "/api/notify",
                             R"({"telemetryServerUrl":")" + other.url() + R"(","reflectionApiSpecVersion":1})");
  EXPECT_EQ(n.status, 200) << n.body;
  EXPECT_EQ(n.body, "OK");
  const std::string trace = run_ok(port(), R"({"key":"/flow/tell_joke","input":{"name":"cats"}})");
  EXPECT_FALSE(finished_root(*collector(), trace).view().is_null());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(other.posts().empty()) << other.posts().front().body;
}

// ---------------------------------------------------------------------------
// No GENKIT_TELEMETRY_SERVER: the URL /api/notify announces.

TEST(GenkitTracesNotifyTest, NotifiedUrlReceivesTheRuns) {
  TelemetryCollector collector;
  ASSERT_TRUE(collector.start()) << collector.error();
  std::string why;
  auto dev = start_dev_server({}, &why);
  ASSERT_TRUE(dev) << why;
  const int port = dev->reflection_port();

  // Nobody announced a telemetry server yet: nothing is posted anywhere.
  run_ok(port, R"({"key":"/flow/tell_joke","input":{"name":"before"}})");
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(collector.posts().empty());

  // As the tools announce it: localhost, often twice.
  const std::string body = R"({"telemetryServerUrl":"http://localhost:)" + std::to_string(collector.port()) +
                           R"(","reflectionApiSpecVersion":1})";
  for (int i = 0; i < 2; ++i) {
    HttpResponse n = http_post(port, "/api/notify", body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(n.status, 200) << n.body;
    EXPECT_EQ(n.body, "OK");
  }
  const std::string trace = run_ok(port, R"({"key":"/flow/tell_joke","input":{"name":"cats"}})");
  EXPECT_FALSE(finished_root(collector, trace).view().is_null()) << "the run was not posted to the notified URL";
  expect_joke_trace(collector.spans_of(trace), trace, "mock/echo", "cats", kJoke);

  // A later announcement moves the export.
  TelemetryCollector second;
  ASSERT_TRUE(second.start()) << second.error();
  HttpResponse n = http_post(port, "/api/notify", R"({"telemetryServerUrl":")" + second.url() + R"("})");
  EXPECT_EQ(n.status, 200) << n.body;
  collector.clear();
  const std::string next = run_ok(port, R"({"key":"/flow/tell_joke","input":{"name":"cats"}})");
  EXPECT_FALSE(finished_root(second, next).view().is_null());
  EXPECT_TRUE(collector.trace_posts(next).empty());
  stop_dev_server(*dev);
}

// The URL announced to the reflection worker reaches every worker (through
// the shared segment): flow-server runs on any of them are exported. With
// the kernel spreading 40 connections over 2 workers, a URL kept by worker 1
// alone would lose about half of them.
TEST(GenkitTracesNotifyTest, NotifiedUrlReachesEveryWorker) {
  TelemetryCollector collector;
  ASSERT_TRUE(collector.start()) << collector.error();
  std::string why;
  auto dev = start_dev_server({}, &why, 2);
  ASSERT_TRUE(dev) << why;
  HttpResponse n = http_post(dev->reflection_port(), "/api/notify",
                             R"({"telemetryServerUrl":")" + collector.url() + R"(","reflectionApiSpecVersion":1})");
  ASSERT_EQ(n.status, 200) << n.body;
  std::vector<std::string> traces;
  for (int i = 0; i < 40; ++i) {
    HttpResponse r = http_post(dev->rest_port(), "/tell_joke", R"({"data":{"name":"w)" + std::to_string(i) + R"("}})");
    ASSERT_EQ(r.status, 200) << r.body;
    std::optional<std::string> id = r.header("x-genkit-trace-id");
    ASSERT_TRUE(id.has_value());
    traces.push_back(*id);
  }
  bool all = collector.wait_for(
      [&](const std::vector<CollectedPost>&) {
        for (const std::string& t : traces) {
          if (finished_root(collector, t).view().is_null()) return false;
        }
        return true;
      },
      milliseconds(5000));
  int missing = 0;
  for (const std::string& t : traces) missing += finished_root(collector, t).view().is_null() ? 1 : 0;
  EXPECT_TRUE(all) << missing << " of 40 flow-server runs were not exported to the notified URL";
  stop_dev_server(*dev);
}

// ---------------------------------------------------------------------------
// GENKIT_ENABLE_REALTIME_TELEMETRY=true: each span also as it starts.

TEST(GenkitTracesRealtimeTest, SpansArePostedAsTheyStart) {
  TelemetryCollector collector;
  ASSERT_TRUE(collector.start()) << collector.error();
  std::string why;
  auto dev = start_dev_server(
      {{"GENKIT_TELEMETRY_SERVER", collector.url()}, {"GENKIT_ENABLE_REALTIME_TELEMETRY", "true"}}, &why);
  ASSERT_TRUE(dev) << why;
  const std::string trace = run_ok(dev->reflection_port(), R"({"key":"/flow/tell_joke","input":{"name":"cats"}})");

  std::vector<Json> posts = collector.trace_posts(trace);
  // Where each span of the root's path was seen started, and seen ended.
  int started_at = -1, ended_at = -1;
  bool model_started = false;
  for (size_t i = 0; i < posts.size(); ++i) {
    posts[i]["spans"].for_each([&](std::string_view, JsonView span) {
      JsonView a = span["attributes"];
      bool started_only = span["endTime"].as_number() == 0;
      if (started_only) {
        EXPECT_FALSE(a["genkit:state"].present()) << span.dump();
        EXPECT_FALSE(a["genkit:output"].present()) << span.dump();
        EXPECT_EQ(span["status"]["code"].as_number(), 0) << span.dump();
        EXPECT_GT(span["startTime"].as_number(), 1.7e12) << span.dump();
      }
      if (a["genkit:path"].as_string() == kRootPath) {
        if (started_only && started_at < 0) started_at = static_cast<int>(i);
        if (!started_only) ended_at = static_cast<int>(i);
        if (started_only) {
          EXPECT_EQ(str(json_attr(span, "genkit:input")["name"]), "cats") << span.dump();
        }
      }
      if (started_only && a["genkit:metadata:subtype"].as_string() == "model") model_started = true;
    });
  }
  std::string all;
  for (const Json& p : posts) all += p.dump() + "\n";
  EXPECT_GE(started_at, 0) << "the root span was not posted as it started:\n" << all;
  EXPECT_GT(ended_at, started_at) << "its end must come after its start:\n" << all;
  EXPECT_TRUE(model_started) << all;
  // Merged, the end replaces the start.
  expect_joke_trace(collector.spans_of(trace), trace, "mock/echo", "cats", kJoke);
  stop_dev_server(*dev);
}

// ---------------------------------------------------------------------------
// A failed run: the model's upstream answers 500.

TEST(GenkitTracesFailureTest, FailedSpansNameTheirSource) {
  FakeLlmProcess fake;
  ASSERT_TRUE(fake.start()) << fake.error();
  TelemetryCollector collector;
  ASSERT_TRUE(collector.start()) << collector.error();
  std::string why;
  auto dev = start_dev_server({{"GENKIT_TELEMETRY_SERVER", collector.url()},
                               {"GEMINI_API_KEY", "test-key"},
                               {"GEMINI_BASE_URL", fake.base_url()},
                               {"CACHE_ENABLED", "false"},
                               {"CB_ENABLED", "false"}},
                              &why);
  ASSERT_TRUE(dev) << why;
  ASSERT_TRUE(fake.script(R"({"status":500})")) << fake.error();

  HttpResponse r = run_action(dev->reflection_port(), R"({"key":"/flow/tell_joke","input":{"name":"cats"}})");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  const std::string trace = r.header("x-genkit-trace-id").value_or("");
  ASSERT_TRUE(is_hex_id(trace, 32)) << trace;
  Json body = json_of(r);
  EXPECT_FALSE(body["result"].present()) << r.body;
  EXPECT_TRUE(body["error"]["code"].is_number()) << r.body;
  EXPECT_NE(body["error"]["code"].as_number(), 0) << r.body;
  EXPECT_TRUE(body["error"]["message"].is_string()) << r.body;
  EXPECT_EQ(str(body["error"]["details"]["traceId"]), trace) << r.body;
  EXPECT_EQ(fake.model_requests().size(), 1u) << "one model call, failed";

  Spans spans = collector.spans_of(trace);
  SCOPED_TRACE(describe(spans));
  const std::string model = "googleai/gemini-2.5-flash";
  Json root = one_span_at(spans, kRootPath);
  Json gen = one_span_at(spans, kGeneratePath);
  Json mdl = one_span_at(spans, std::string(kGeneratePath) + "/{" + model + ",t:action,s:model}");
  ASSERT_FALSE(root.view().is_null() || gen.view().is_null() || mdl.view().is_null());
  int sources = 0;
  for (const Json* s : {&root, &gen, &mdl}) {
    expect_span_shape(*s, trace);
    EXPECT_EQ(str((*s)["attributes"]["genkit:state"]), "error") << s->dump();
    EXPECT_FALSE((*s)["attributes"]["genkit:output"].present()) << s->dump();
    EXPECT_EQ((*s)["status"]["code"].as_number(), 2) << s->dump();
    EXPECT_FALSE(str((*s)["status"]["message"]).empty()) << s->dump();
    if ((*s)["attributes"]["genkit:isFailureSource"].as_bool()) ++sources;
  }
  EXPECT_EQ(sources, 1) << "exactly one span is the failure's source";
  // The innermost span failed first: it is the source, with the exception event.
  EXPECT_TRUE(mdl["attributes"]["genkit:isFailureSource"].as_bool()) << mdl.dump();
  ASSERT_EQ(mdl["timeEvents"]["timeEvent"].size(), 1u) << mdl.dump();
  JsonView event = mdl["timeEvents"]["timeEvent"].at(0);
  EXPECT_EQ(str(event["annotation"]["description"]), "exception") << event.dump();
  EXPECT_FALSE(str(event["annotation"]["attributes"]["exception.message"]).empty()) << event.dump();
  EXPECT_TRUE(event["annotation"]["attributes"]["exception.type"].is_string()) << event.dump();
  EXPECT_GE(event["time"].as_number(), mdl["startTime"].as_number()) << event.dump();
  for (const Json* s : {&root, &gen}) {
    EXPECT_FALSE((*s)["attributes"]["genkit:isFailureSource"].present()) << s->dump();
    EXPECT_EQ((*s)["timeEvents"]["timeEvent"].size(), 0u) << s->dump();
  }

  // Streamed: the error is the final line (no newline after it), once the
  // failed spans are posted.
  ASSERT_TRUE(fake.script(R"({"status":500})")) << fake.error();
  HttpResponse st = run_action(dev->reflection_port(), R"({"key":"/flow/tell_joke","input":{"name":"cats"}})", true);
  ASSERT_EQ(st.status, 200) << st.reason << st.body;
  const std::string st_trace = st.header("x-genkit-trace-id").value_or("");
  ASSERT_FALSE(st.body.empty());
  EXPECT_NE(st.body.back(), '\n');
  size_t nl = st.body.rfind('\n');
  genkit::Result<Json> last = Json::parse(nl == std::string::npos ? st.body : st.body.substr(nl + 1));
  ASSERT_TRUE(last.ok()) << st.body;
  EXPECT_TRUE(last->view()["error"]["code"].is_number()) << st.body;
  EXPECT_EQ(str(last->view()["error"]["details"]["traceId"]), st_trace) << st.body;
  Json st_root = finished_root(collector, st_trace);
  EXPECT_EQ(str(st_root["attributes"]["genkit:state"]), "error") << describe(collector.spans_of(st_trace));
  stop_dev_server(*dev);
}

// ---------------------------------------------------------------------------
// A telemetry server that is down costs nothing.

TEST(GenkitTracesDownTest, RunsSucceedQuickly) {
  std::string why;
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  ASSERT_TRUE(connection_refused(std::stoi(url.substr(url.rfind(':') + 1))));
  auto dev = start_dev_server({{"GENKIT_TELEMETRY_SERVER", url}}, &why);
  ASSERT_TRUE(dev) << why;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    Json result;
    run_ok(dev->reflection_port(), R"({"key":"/flow/tell_joke","input":{"name":"cats"}})", i % 2 == 1, &result);
    EXPECT_EQ(str(result), kJoke);
    EXPECT_LT(Clock::now() - t0, milliseconds(3000)) << "run " << i << " waited on the dead telemetry server";
    t0 = Clock::now();
    HttpResponse rest = http_post(dev->rest_port(), "/tell_joke", R"({"data":{"name":"cats"}})");
    EXPECT_EQ(rest.status, 200) << rest.body;
    EXPECT_LT(Clock::now() - t0, milliseconds(3000));  // (an export waiting out its 5 s timeout would not)
  }
  // Said once per outage, not per span.
  EXPECT_TRUE(dev->server->wait_event("genkit_trace_export_failed", milliseconds(3000)))
      << dev->server->stdout_text();
  std::this_thread::sleep_for(milliseconds(200));
  std::map<std::string, int> per_process;
  for (const Json& e : dev->server->events("genkit_trace_export_failed")) ++per_process[e["pid"].dump()];
  for (const auto& [pid, n] : per_process) EXPECT_EQ(n, 1) << "process " << pid << " logged the outage " << n << " times";
  stop_dev_server(*dev);
}

}  // namespace
}  // namespace itest
