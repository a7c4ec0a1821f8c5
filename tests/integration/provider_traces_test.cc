// OTLP/HTTP JSON trace export from the real binary into fake_llm's receiver:
// the span tree of one /translate run (flow root, sanitize-input step,
// generate, model and tool spans), W3C traceparent continuation, fresh trace
// ids, and the final flush on SIGTERM.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/support/fake_llm_process.h"

namespace itest {
namespace {

using genkit::Json;
using genkit::JsonView;
using std::chrono::milliseconds;

constexpr const char* kModelSpan = "googleai/gemini-2.5-flash";

Env traced_env(const std::string& base_url) {
  return {{"GEMINI_API_KEY", "test-key"},
          {"GEMINI_BASE_URL", base_url},
          {"OTEL_EXPORTER_OTLP_ENDPOINT", base_url},
          {"DEBUG", "true"},
          // Every request must run its flow (and export its spans).
          {"CACHE_ENABLED", "false"},
          {"CB_ENABLED", "false"}};
}

class TraceExportTest : public FakeLlmServerTest<TraceExportTest> {
 public:
  static std::vector<std::string> fake_args() { return {}; }
  static ServerOptions options() {
    ServerOptions o;
    o.env = traced_env(fake()->base_url());
    return o;
  }
};

std::string random_hex(size_t chars) {
  static std::mt19937_64 gen{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < chars; ++i) s += kHex[gen() % 16];
  s[0] = 'a';  // never all zeros
  return s;
}

bool is_lower_hex(const std::string& s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos &&
         s != std::string(n, '0');
}

// Every span of every OTLP body the fake received.
std::vector<Json> all_spans(FakeLlmProcess& fake) {
  std::vector<Json> out;
  fake.traces().view().for_each([&](std::string_view, JsonView body) {
    body["resourceSpans"].for_each([&](std::string_view, JsonView rs) {
      rs["scopeSpans"].for_each([&](std::string_view, JsonView ss) {
        ss["spans"].for_each([&](std::string_view, JsonView span) { out.push_back(Json::copy_of(span)); });
      });
    });
  });
  return out;
}

std::vector<Json> spans_of_trace(FakeLlmProcess& fake, const std::string& trace_id) {
  std::vector<Json> out;
  for (Json& s : all_spans(fake)) {
    if (s["traceId"].as_string() == trace_id) out.push_back(std::move(s));
  }
  return out;
}

JsonView attribute(JsonView span, std::string_view key) {
  JsonView found;
  span["attributes"].for_each([&](std::string_view, JsonView a) {
    if (a["key"].as_string() == key) found = a["value"];
  });
  return found;
}

std::string dump_all(const std::vector<Json>& spans) {
  std::string s;
  for (const Json& j : spans) s += j.dump() + "\n";
  return s;
}

// Waits for the five span names of one translate run in `trace_id`.
std::vector<Json> wait_for_translate_trace(FakeLlmProcess& fake, const std::string& trace_id, milliseconds timeout) {
  std::vector<Json> spans;
  FakeLlmProcess::eventually(
      [&] {
        spans = spans_of_trace(fake, trace_id);
        std::map<std::string, int> names;
        for (const Json& s : spans) ++names[std::string(s["name"].as_string())];
        // The tool loop makes two model calls.
        return names["translate_text"] == 1 && names["sanitize-input"] == 1 && names["generate"] == 1 &&
               names[kModelSpan] == 2 && names["get_current_time"] == 1;
      },
      timeout);
  return spans;
}

// The span tree of one /translate run, parented under `parent_id`.
void expect_translate_tree(const std::vector<Json>& spans, const std::string& parent_id) {
  std::map<std::string, std::vector<JsonView>> by_name;
  for (const Json& s : spans) by_name[std::string(s["name"].as_string())].push_back(s.view());
  ASSERT_EQ(by_name["translate_text"].size(), 1u) << dump_all(spans);
  ASSERT_EQ(by_name["sanitize-input"].size(), 1u) << dump_all(spans);
  ASSERT_EQ(by_name["generate"].size(), 1u) << dump_all(spans);
  ASSERT_EQ(by_name[kModelSpan].size(), 2u) << dump_all(spans);
  ASSERT_EQ(by_name["get_current_time"].size(), 1u) << dump_all(spans);
  JsonView root = by_name["translate_text"][0];
  std::string root_id = str(root["spanId"]);
  std::string generate_id = str(by_name["generate"][0]["spanId"]);
  EXPECT_EQ(str(root["parentSpanId"]), parent_id) << root.dump();
  EXPECT_EQ(str(by_name["sanitize-input"][0]["parentSpanId"]), root_id);
  EXPECT_EQ(str(by_name["generate"][0]["parentSpanId"]), root_id);
  for (JsonView m : by_name[kModelSpan]) EXPECT_EQ(str(m["parentSpanId"]), generate_id) << m.dump();
  EXPECT_EQ(str(by_name["get_current_time"][0]["parentSpanId"]), generate_id);
  EXPECT_EQ(str(attribute(root, "genkit:type")["stringValue"]), "action");
  EXPECT_EQ(str(attribute(by_name[kModelSpan][0], "genkit:metadata:subtype")["stringValue"]), "model");
  EXPECT_EQ(str(attribute(by_name["get_current_time"][0], "genkit:metadata:subtype")["stringValue"]), "tool");
  for (const Json& s : spans) {
    SCOPED_TRACE(s.dump());
    EXPECT_TRUE(is_lower_hex(str(s["spanId"]), 16));
    for (const char* key : {"genkit:type", "genkit:path", "genkit:state"}) {
      EXPECT_TRUE(attribute(s, key)["stringValue"].is_string()) << key;
    }
    EXPECT_EQ(str(attribute(s, "genkit:state")["stringValue"]), "success");
    EXPECT_EQ(str(attribute(s, "genkit:path")["stringValue"]).rfind("/{translate_text", 0), 0u);
    EXPECT_EQ(s["status"]["code"].as_number(), 1);
  }
}

TEST_F(TraceExportTest, TranslateContinuesTheCallersTrace) {
  std::string trace_id = random_hex(32), parent_id = random_hex(16);
  HttpResponse r = http_post(port(), "/translate", R"({"text":"hello"})",
                             {{"traceparent", "00-" + trace_id + "-" + parent_id + "-01"}});
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  std::vector<Json> spans = wait_for_translate_trace(*fake(), trace_id, milliseconds(5000));
  expect_translate_tree(spans, parent_id);
}

TEST_F(TraceExportTest, WithoutTraceparentAFreshTraceIsStarted) {
  std::string marker = "trace-marker-" + random_hex(12);
  HttpResponse r = http_post(port(), "/translate", json_with("text", marker));
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  std::string trace_id;
  ASSERT_TRUE(FakeLlmProcess::eventually(
      [&] {
        for (const Json& s : all_spans(*fake())) {
          if (s["name"].as_string() == "translate_text" &&
              str(attribute(s, "genkit:input")["stringValue"]).find(marker) != std::string::npos) {
            trace_id = str(s["traceId"]);
          }
        }
        return !trace_id.empty();
      },
      milliseconds(5000)))
      << "no translate_text span carries the input: " << dump_all(all_spans(*fake()));
  EXPECT_TRUE(is_lower_hex(trace_id, 32)) << trace_id;
  std::vector<Json> spans = wait_for_translate_trace(*fake(), trace_id, milliseconds(5000));
  expect_translate_tree(spans, "");
  for (const Json& s : spans) {
    if (s["name"].as_string() == "translate_text") {
      EXPECT_FALSE(s["parentSpanId"].present() && !s["parentSpanId"].as_string().empty()) << s.dump();
      EXPECT_TRUE(attribute(s, "genkit:isRoot")["boolValue"].as_bool()) << s.dump();
    }
  }
  // A second run gets a different trace.
  ASSERT_EQ(http_post(port(), "/tell-joke", "{}").status, 200);
  ASSERT_TRUE(FakeLlmProcess::eventually(
      [&] {
        for (const Json& s : all_spans(*fake())) {
          if (s["name"].as_string() == "tell_joke") return true;
        }
        return false;
      },
      milliseconds(5000)));
  for (const Json& s : all_spans(*fake())) {
    if (s["name"].as_string() == "tell_joke") {
      EXPECT_NE(str(s["traceId"]), trace_id);
    }
  }
}

TEST_F(TraceExportTest, SpansAreFlushedBeforeExitOnSigterm) {
  ServerOptions o;
  o.env = traced_env(fake()->base_url());
  std::string why;
  std::unique_ptr<ServerProcess> s = start_server(o, &why);
  ASSERT_TRUE(s) << why;
  std::string trace_id = random_hex(32), parent_id = random_hex(16);
  HttpResponse r = http_post(s->port(), "/translate", R"({"text":"bye"})",
                             {{"traceparent", "00-" + trace_id + "-" + parent_id + "-01"}});
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  // Stop at once: the spans are still in the ~1 s batch.
  EXPECT_EQ(s->stop(), std::optional<int>(0)) << s->stderr_text();
  std::vector<Json> spans = spans_of_trace(*fake(), trace_id);
  EXPECT_EQ(spans.size(), 6u) << "spans must be exported before the server exits:\n" << dump_all(spans);
  expect_translate_tree(spans, parent_id);
}

}  // namespace
}  // namespace itest
