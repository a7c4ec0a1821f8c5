// Dev mode's trace export: the TraceData body (written as text, not through
// a JSON tree, so it is parsed back here), the tools' URL, and messages
// written as JSON text for traces (the same shape from_json reads).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/runtime/message.h"
#include "common/telemetry/genkit_trace_exporter.h"

namespace genkit {
namespace {

Span span(std::string id, std::string parent, std::string path, std::string name, std::string subtype) {
  Span s;
  s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  s.span_id = std::move(id);
  s.parent_span_id = std::move(parent);
  s.path = std::move(path);
  s.name = std::move(name);
  s.type = subtype.empty() ? "util" : "action";
  s.subtype = std::move(subtype);
  s.start_ms = 1795284660848.25;
  s.end_ms = 1795284661052.5;
  return s;
}

Json parsed(const std::vector<const Span*>& spans) {
  std::string text = genkit_trace_data(spans);
  Result<Json> j = Json::parse(text);
  EXPECT_TRUE(j.ok()) << text;
  return j.ok() ? std::move(j).value() : Json::object();
}

TEST(GenkitTraceData, RootAndChildWithGenkitAttributes) {
  Span root = span("abaa8248fdce33a8", "", "/{tell_joke,t:flow}", "tell_joke", "flow");
  root.input = R"({"name":"cats \"quoted\""})";
  root.output = R"("Echo: cats")";
  root.context = "{}";
  Span model = span("00f067aa0ba902b7", root.span_id,
                    "/{tell_joke,t:flow}/{generate,t:util}/{mock/echo,t:action,s:model}", "mock/echo", "model");
  Json data = parsed({&model, &root});
  JsonView d = data.view();
  EXPECT_EQ(d["traceId"].as_string(), root.trace_id);
  EXPECT_EQ(d["displayName"].as_string(), "tell_joke");  // the batch holds the root
  EXPECT_DOUBLE_EQ(d["startTime"].as_number(), 1795284660848.25);
  JsonView r = d["spans"]["abaa8248fdce33a8"];
  EXPECT_EQ(r["spanId"].as_string(), "abaa8248fdce33a8");
  EXPECT_FALSE(r["parentSpanId"].present());
  EXPECT_EQ(r["spanKind"].as_string(), "INTERNAL");
  EXPECT_EQ(r["instrumentationLibrary"]["name"].as_string(), "genkit-tracer");
  EXPECT_EQ(r["status"]["code"].as_number(), 0);
  JsonView a = r["attributes"];
  EXPECT_EQ(a["genkit:type"].as_string(), "action");
  EXPECT_EQ(a["genkit:metadata:subtype"].as_string(), "flow");
  EXPECT_EQ(a["genkit:key"].as_string(), "/flow/tell_joke");
  EXPECT_TRUE(a["genkit:isRoot"].as_bool());
  EXPECT_EQ(a["genkit:path"].as_string(), "/{tell_joke,t:flow}");
  EXPECT_EQ(a["genkit:input"].as_string(), root.input);  // a JSON string holding JSON
  EXPECT_EQ(a["genkit:output"].as_string(), root.output);
  EXPECT_EQ(a["genkit:metadata:context"].as_string(), "{}");
  EXPECT_EQ(a["genkit:state"].as_string(), "success");
  JsonView m = d["spans"]["00f067aa0ba902b7"];
  EXPECT_EQ(m["parentSpanId"].as_string(), "abaa8248fdce33a8");
  EXPECT_EQ(m["attributes"]["genkit:key"].as_string(), "/model/mock/echo");
  EXPECT_FALSE(m["attributes"]["genkit:isRoot"].present());
}

TEST(GenkitTraceData, ChildrenAloneCarryNoTraceLevelFields) {
  Span child = span("00f067aa0ba902b7", "abaa8248fdce33a8", "/{f,t:flow}/{generate,t:util}", "generate", "");
  Json data = parsed({&child});
  EXPECT_FALSE(data.view()["displayName"].present());
  EXPECT_FALSE(data.view()["spans"]["00f067aa0ba902b7"]["attributes"]["genkit:key"].present());  // not an action
}

TEST(GenkitTraceData, FailureSourceHasTheExceptionEvent) {
  Span root = span("abaa8248fdce33a8", "", "/{f,t:flow}", "f", "flow");
  root.ok = false;
  root.error = "upstream said no";
  Span model = span("00f067aa0ba902b7", root.span_id, "/{f,t:flow}/{m,t:action,s:model}", "m", "model");
  model.ok = false;
  model.failure_source = true;
  model.error = "upstream said no";
  Json data = parsed({&model, &root});
  JsonView m = data.view()["spans"]["00f067aa0ba902b7"];
  EXPECT_EQ(m["attributes"]["genkit:state"].as_string(), "error");
  EXPECT_TRUE(m["attributes"]["genkit:isFailureSource"].as_bool());
  EXPECT_EQ(m["status"]["code"].as_number(), 2);
  EXPECT_EQ(m["status"]["message"].as_string(), "upstream said no");
  JsonView event = m["timeEvents"]["timeEvent"].at(0);
  EXPECT_EQ(event["annotation"]["description"].as_string(), "exception");
  EXPECT_EQ(event["annotation"]["attributes"]["exception.message"].as_string(), "upstream said no");
  JsonView r = data.view()["spans"]["abaa8248fdce33a8"];
  EXPECT_FALSE(r["attributes"]["genkit:isFailureSource"].present());
  EXPECT_EQ(r["timeEvents"]["timeEvent"].size(), 0u);
}

TEST(GenkitTraceData, AStartedSpanThenItsEndAppearOnceInItsLastState) {
  Span started = span("abaa8248fdce33a8", "", "/{f,t:flow}", "f", "flow");
  started.end_ms = 0;
  started.output = "\"not yet\"";
  Span ended = started;
  ended.end_ms = 1795284661052.5;
  Json only_started = parsed({&started});
  JsonView a = only_started.view()["spans"]["abaa8248fdce33a8"]["attributes"];
  EXPECT_FALSE(a["genkit:state"].present());  // realtime start: no state, no output
  EXPECT_FALSE(a["genkit:output"].present());
  std::string both = genkit_trace_data({&started, &ended});
  Json j = *Json::parse(both);
  EXPECT_EQ(j.view()["spans"].size(), 1u);
  EXPECT_EQ(j.view()["spans"]["abaa8248fdce33a8"]["attributes"]["genkit:state"].as_string(), "success");
  EXPECT_EQ(both.find("\"displayName\":\"f\""), both.rfind("\"displayName\":\"f\",\"startTime\""));  // trace level once
}

TEST(GenkitTraceData, LoopbackUrl) {
  EXPECT_EQ(loopback_url("http://localhost:4033"), "http://127.0.0.1:4033");
  EXPECT_EQ(loopback_url("http://localhost:4033/"), "http://127.0.0.1:4033");
  EXPECT_EQ(loopback_url("http://localhost"), "http://127.0.0.1");
  EXPECT_EQ(loopback_url("http://localhost.example.com:1"), "http://localhost.example.com:1");
  EXPECT_EQ(loopback_url("https://tools.example.com"), "https://tools.example.com");
}

TEST(MessageJson, WrittenAsTextAndReadBack) {
  Message m;
  m.role = Role::kModel;
  m.content = {Part::text_part("a \"quote\"\n"), Part::media_part("https://example.com/c.png", "image/png"),
               Part::tool_request("get_current_time", *Json::parse(R"({"tz":"UTC"})"), "call-1"),
               Part::tool_response("get_current_time", Json::string("12:00"), "call-1")};
  Result<Json> j = Json::parse(m.json_text());
  ASSERT_TRUE(j.ok()) << m.json_text();
  EXPECT_EQ(j->view()["role"].as_string(), "model");
  EXPECT_EQ(j->view()["content"].at(1)["media"]["contentType"].as_string(), "image/png");
  EXPECT_EQ(j->view()["content"].at(2)["toolRequest"]["input"]["tz"].as_string(), "UTC");
  Result<Message> back = Message::from_json(j->view());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->json_text(), m.json_text());
  EXPECT_FALSE(Message::from_json(*Json::parse(R"({"role":"robot","content":[]})")).ok());
  Result<Message> bad_part = Message::from_json(*Json::parse(R"({"role":"user","content":[{"x":1}]})"));
  ASSERT_FALSE(bad_part.ok());
  EXPECT_NE(bad_part.status().message().find("content.0"), std::string::npos);
}

}  // namespace
}  // namespace genkit
