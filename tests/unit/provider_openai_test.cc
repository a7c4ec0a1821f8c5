// OpenAI chat-completions wire mapping: request bodies, whole replies and
// streamed chunk accumulation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/models/openai_model.h"
#include "tests/unit/test_helpers.h"

namespace genkit {
namespace {

using testing_json::parse;

using testing_json::msg;

TEST(OpenAiWire, BasicMessages) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kSystem, {Part::text_part("be "), Part::text_part("brief")}));
  req.messages.push_back(msg(Role::kUser, {Part::text_part("hi "), Part::text_part("there")}));
  req.messages.push_back(msg(Role::kModel, {Part::text_part("hello")}));
  Json body = openai_request_body("gpt-4o-mini", req);
  EXPECT_EQ(body["model"].as_string(), "gpt-4o-mini");
  EXPECT_EQ(body["messages"].dump(),
            R"([{"role":"system","content":"be brief"},{"role":"user","content":"hi there"},)"
            R"({"role":"assistant","content":"hello"}])");
  for (const char* key : {"tools", "response_format", "stream", "stream_options", "temperature", "max_tokens"}) {
    EXPECT_FALSE(body[key].present()) << key;
  }
}

TEST(OpenAiWire, UserMediaBecomesImageUrlParts) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("what is this?"),
                                           Part::media_part("https://example.com/cat.png", "image/png"),
                                           Part::media_part("data:image/jpeg;base64,/9j/")}));
  Json body = openai_request_body("m", req);
  EXPECT_EQ(body["messages"].at(0)["content"].dump(),
            R"([{"type":"text","text":"what is this?"},)"
            R"({"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},)"
            R"({"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/"}}])");
}

TEST(OpenAiWire, AssistantToolCallsAndToolResults) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("weather and time?")}));
  req.messages.push_back(msg(Role::kModel, {Part::tool_request("get_weather", parse(R"({"city":"Oslo"})"), "call_a"),
                                            Part::tool_request("get_time", Json(), "call_b")}));
  req.messages.push_back(msg(Role::kTool, {Part::tool_response("get_weather", parse(R"({"temp":3})"), "call_a"),
                                           Part::tool_response("get_time", Json::string("noon"), "call_b")}));
  Json body = openai_request_body("m", req);
  JsonView messages = body["messages"];
  ASSERT_EQ(messages.size(), 4u) << "one tool message per tool response";
  JsonView assistant = messages.at(1);
  EXPECT_EQ(assistant["role"].as_string(), "assistant");
  EXPECT_TRUE(assistant["content"].is_null());
  ASSERT_EQ(assistant["tool_calls"].size(), 2u);
  JsonView c0 = assistant["tool_calls"].at(0);
  EXPECT_EQ(c0["id"].as_string(), "call_a");
  EXPECT_EQ(c0["type"].as_string(), "function");
  EXPECT_EQ(c0["function"]["name"].as_string(), "get_weather");
  ASSERT_TRUE(c0["function"]["arguments"].is_string()) << "arguments travel as JSON text";
  Result<Json> args = Json::parse(c0["function"]["arguments"].as_string());
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->dump(), R"({"city":"Oslo"})");
  EXPECT_EQ(assistant["tool_calls"].at(1)["function"]["arguments"].as_string(), "{}");
  EXPECT_EQ(messages.at(2).dump(), R"({"role":"tool","tool_call_id":"call_a","content":"{\"temp\":3}"})");
  EXPECT_EQ(messages.at(3).dump(), R"({"role":"tool","tool_call_id":"call_b","content":"noon"})");
}

TEST(OpenAiWire, AssistantTextAlongsideToolCalls) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kModel, {Part::text_part("checking"), Part::tool_request("t", Json::object(), "r1")}));
  Json body = openai_request_body("m", req);
  EXPECT_EQ(body["messages"].at(0)["content"].as_string(), "checking");
  EXPECT_EQ(body["messages"].at(0)["tool_calls"].at(0)["id"].as_string(), "r1");
}

TEST(OpenAiWire, ToolsArray) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("x")}));
  req.tools.push_back({"get_weather", "Weather", parse(R"({"type":"object","properties":{"city":{"type":"string"}}})"),
                       Json()});
  req.tools.push_back({"ping", "No input", Json(), Json()});
  Json body = openai_request_body("m", req);
  EXPECT_EQ(body["tools"].dump(),
            R"([{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":)"
            R"({"type":"object","properties":{"city":{"type":"string"}}}}},)"
            R"({"type":"function","function":{"name":"ping","description":"No input","parameters":{}}}])");
}

TEST(OpenAiWire, ResponseFormatJsonSchema) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("x")}));
  req.output_format = "json";
  req.output_schema = parse(R"({"type":"object","properties":{"a":{"type":"string"}}})");
  Json body = openai_request_body("m", req);
  EXPECT_EQ(body["response_format"].dump(),
            R"({"type":"json_schema","json_schema":{"name":"output","schema":)"
            R"({"type":"object","properties":{"a":{"type":"string"}}}}})");
}

TEST(OpenAiWire, StreamAsksForUsage) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("x")}));
  req.stream = true;
  Json body = openai_request_body("m", req);
  EXPECT_TRUE(body["stream"].as_bool());
  EXPECT_TRUE(body["stream_options"]["include_usage"].as_bool());
}

TEST(OpenAiWire, ConfigMapping) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("x")}));
  req.config = parse(R"({"temperature":0.5,"topP":0.8,"maxOutputTokens":64,"stopSequences":["\n\n"],"topK":3})");
  Json body = openai_request_body("m", req);
  EXPECT_DOUBLE_EQ(body["temperature"].as_number(), 0.5);
  EXPECT_DOUBLE_EQ(body["top_p"].as_number(), 0.8);
  EXPECT_EQ(body["max_tokens"].as_number(), 64);
  EXPECT_EQ(body["stop"].dump(), R"(["\n\n"])");
  for (const char* key : {"topP", "maxOutputTokens", "stopSequences", "topK"}) EXPECT_FALSE(body[key].present()) << key;
}

TEST(OpenAiWire, ParseContentFinishAndUsage) {
  Result<ModelResponse> r = parse_openai_response(parse(
      R"({"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"length"}],)"
      R"("usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->message.role, Role::kModel);
  EXPECT_EQ(r->message.text(), "Hi!");
  EXPECT_EQ(r->finish_reason, "length");
  EXPECT_EQ(r->usage.input_tokens, 9);
  EXPECT_EQ(r->usage.output_tokens, 2);
}

// Found by tests/fuzz/fuzz_openai_reply: token counts and tool-call indexes
// out of an integer's range were cast from double (undefined behaviour).
TEST(OpenAiWire, CountsAndIndexesOutOfRangeAreSaturatedNotUndefined) {
  Result<ModelResponse> r = parse_openai_response(parse(
      R"({"choices":[{"message":{"content":"Hi"}}],"usage":{"prompt_tokens":1e300,"completion_tokens":-5}})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->usage.input_tokens, int64_t{1} << 53);
  EXPECT_EQ(r->usage.output_tokens, 0);
  OpenAiStreamAccumulator acc;
  ASSERT_TRUE(acc.add(parse(R"({"usage":{"prompt_tokens":4.3e33,"completion_tokens":2},"choices":[{"delta":)"
                            R"({"tool_calls":[{"index":1e300,"id":"c1","function":{"name":"t","arguments":"{}"}}]}}]})"))
                  .ok());
  ModelResponse done = acc.finish();
  EXPECT_EQ(done.usage.input_tokens, int64_t{1} << 53);
  ASSERT_EQ(done.message.content.size(), 1u);
  EXPECT_EQ(done.message.content[0].tool_name, "t");
}

TEST(OpenAiWire, ParseFinishReasons) {
  const std::pair<const char*, const char*> cases[] = {
      {"stop", "stop"}, {"tool_calls", "stop"}, {"length", "length"}, {"content_filter", "blocked"}, {"weird", "other"}};
  for (const auto& [wire, genkit] : cases) {
    Result<ModelResponse> r = parse_openai_response(
        parse(std::string(R"({"choices":[{"message":{"content":"x"},"finish_reason":")") + wire + "\"}]}"));
    ASSERT_TRUE(r.ok()) << wire;
    EXPECT_EQ(r->finish_reason, genkit) << wire;
  }
}

TEST(OpenAiWire, ParseToolCalls) {
  Result<ModelResponse> r = parse_openai_response(parse(
      R"({"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},)"
      R"({"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},)"
      R"("finish_reason":"tool_calls"}]})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->message.content.size(), 2u) << "a null content adds no text part";
  const Part& a = r->message.content[0];
  EXPECT_EQ(a.kind, Part::Kind::kToolRequest);
  EXPECT_EQ(a.tool_name, "get_weather");
  EXPECT_EQ(a.tool_ref, "call_1");
  EXPECT_EQ(a.tool_data.dump(), R"({"city":"Oslo"})");
  EXPECT_EQ(r->message.content[1].tool_ref, "call_2");
  EXPECT_EQ(r->message.content[1].tool_data.dump(), "{}");
  EXPECT_EQ(r->finish_reason, "stop");
}

TEST(OpenAiWire, ParseMalformedToolArgumentsIsUpstream) {
  Result<ModelResponse> r = parse_openai_response(parse(
      R"({"choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":"{\"city\":"}}]}}]})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUpstream);
}

TEST(OpenAiWire, ParseNoChoicesIsUpstream) {
  for (const char* text : {"{}", R"({"choices":[]})", R"({"choices":[1]})", "[]", "null"}) {
    Result<ModelResponse> r = parse_openai_response(parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kUpstream) << text;
  }
}

TEST(OpenAiWire, StreamTextDeltas) {
  OpenAiStreamAccumulator acc;
  const char* chunks[] = {
      R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"Hel"}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"lo"}}]})",
      R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})",
      R"({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}})",
  };
  std::vector<std::string> deltas;
  for (const char* c : chunks) {
    Result<std::string> d = acc.add(parse(c));
    ASSERT_TRUE(d.ok()) << c;
    deltas.push_back(*d);
  }
  EXPECT_EQ(deltas, (std::vector<std::string>{"", "Hel", "lo", "", ""}));
  EXPECT_EQ(acc.chunks(), 5);
  ModelResponse r = acc.finish();
  EXPECT_EQ(r.message.role, Role::kModel);
  EXPECT_EQ(r.message.text(), "Hello");
  ASSERT_EQ(r.message.content.size(), 1u);
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.usage.input_tokens, 5);
  EXPECT_EQ(r.usage.output_tokens, 2);
}

TEST(OpenAiWire, StreamToolCallDeltasAcrossChunks) {
  OpenAiStreamAccumulator acc;
  const char* chunks[] = {
      R"({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function",)"
      R"("function":{"name":"get_wea","arguments":""}}]}}]})",
      R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"ther","arguments":"{\"ci"}}]}}]})",
      R"({"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"get_time"}}]}}]})",
      R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Oslo\"}"}}]}}]})",
      R"({"choices":[{"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":11,"completion_tokens":7}})",
  };
  for (const char* c : chunks) {
    Result<std::string> d = acc.add(parse(c));
    ASSERT_TRUE(d.ok()) << c;
    EXPECT_EQ(*d, "");
  }
  ModelResponse r = acc.finish();
  ASSERT_EQ(r.message.content.size(), 2u);
  const Part& a = r.message.content[0];
  EXPECT_EQ(a.kind, Part::Kind::kToolRequest);
  EXPECT_EQ(a.tool_name, "get_weather");
  EXPECT_EQ(a.tool_ref, "call_a");
  EXPECT_EQ(a.tool_data.dump(), R"({"city":"Oslo"})");
  const Part& b = r.message.content[1];
  EXPECT_EQ(b.tool_name, "get_time");
  EXPECT_EQ(b.tool_ref, "call_b");
  EXPECT_EQ(b.tool_data.dump(), "{}");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.usage.input_tokens, 11);
  EXPECT_EQ(r.usage.output_tokens, 7);
}

TEST(OpenAiWire, StreamMalformedChunkIsUpstream) {
  OpenAiStreamAccumulator acc;
  Result<std::string> d = acc.add(parse("[1,2]"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kUpstream);
  EXPECT_EQ(acc.chunks(), 0);
}

TEST(OpenAiWire, StreamWithNothingFinishesEmpty) {
  OpenAiStreamAccumulator acc;
  ModelResponse r = acc.finish();
  EXPECT_TRUE(r.message.content.empty());
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.usage.input_tokens, 0);
}

}  // namespace
}  // namespace genkit
