// Gemini wire mapping: Genkit requests → generateContent JSON, and
// GenerateContentResponse → ModelResponse.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "common/models/gemini_model.h"
#include "tests/unit/test_helpers.h"

namespace genkit {
namespace {

using testing_json::parse;

using testing_json::msg;

TEST(GeminiWire, SystemMessagesBecomeSystemInstruction) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kSystem, {Part::text_part("be brief"), Part::text_part("be kind")}));
  req.messages.push_back(msg(Role::kUser, {Part::text_part("hi")}));
  Json body = gemini_request_body(req, {});
  EXPECT_EQ(body["systemInstruction"].dump(), R"({"parts":[{"text":"be brief"},{"text":"be kind"}]})");
  ASSERT_EQ(body["contents"].size(), 1u) << "the system message must not appear in contents";
  EXPECT_EQ(body["contents"].at(0).dump(), R"({"role":"user","parts":[{"text":"hi"}]})");
  EXPECT_FALSE(body["generationConfig"].present());
  EXPECT_FALSE(body["tools"].present());
}

TEST(GeminiWire, NoSystemInstructionWithoutSystemMessages) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("hi")}));
  EXPECT_FALSE(gemini_request_body(req, {})["systemInstruction"].present());
}

TEST(GeminiWire, RolesMap) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("q")}));
  req.messages.push_back(msg(Role::kModel, {Part::text_part("a")}));
  req.messages.push_back(msg(Role::kTool, {Part::tool_response("t", Json::string("r"))}));
  Json body = gemini_request_body(req, {});
  ASSERT_EQ(body["contents"].size(), 3u);
  EXPECT_EQ(body["contents"].at(0)["role"].as_string(), "user");
  EXPECT_EQ(body["contents"].at(1)["role"].as_string(), "model");
  EXPECT_EQ(body["contents"].at(2)["role"].as_string(), "function");
}

TEST(GeminiWire, MediaPartsTakeInlineDataInOrder) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::media_part("https://x/a.png"), Part::text_part("and"),
                                           Part::media_part("https://x/b.pdf")}));
  req.messages.push_back(msg(Role::kUser, {Part::media_part("data:audio/wav;base64,AAAA")}));
  std::vector<InlineMedia> media = {{"image/png", "UE5H"}, {"application/pdf", "JVBE"}, {"audio/wav", "AAAA"}};
  Json body = gemini_request_body(req, media);
  EXPECT_EQ(body["contents"].at(0)["parts"].dump(),
            R"([{"inlineData":{"mimeType":"image/png","data":"UE5H"}},{"text":"and"},)"
            R"({"inlineData":{"mimeType":"application/pdf","data":"JVBE"}}])");
  EXPECT_EQ(body["contents"].at(1)["parts"].dump(), R"([{"inlineData":{"mimeType":"audio/wav","data":"AAAA"}}])");
}

TEST(GeminiWire, ToolRequestsAndResponses) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("weather?")}));
  req.messages.push_back(msg(Role::kModel, {Part::tool_request("get_weather", parse(R"({"city":"Oslo"})"), "0"),
                                            Part::tool_request("get_time", Json(), "1")}));
  req.messages.push_back(msg(Role::kTool, {Part::tool_response("get_weather", parse(R"({"temp":3})"), "0"),
                                           Part::tool_response("get_time", Json::string("noon"), "1")}));
  Json body = gemini_request_body(req, {});
  EXPECT_EQ(body["contents"].at(1)["parts"].dump(),
            R"([{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}},)"
            R"({"functionCall":{"name":"get_time","args":{}}}])");
  EXPECT_EQ(body["contents"].at(2)["parts"].dump(),
            R"([{"functionResponse":{"name":"get_weather","response":{"name":"get_weather","content":{"temp":3}}}},)"
            R"({"functionResponse":{"name":"get_time","response":{"name":"get_time","content":"noon"}}}])");
}

TEST(GeminiWire, ToolsBecomeFunctionDeclarations) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("x")}));
  req.tools.push_back({"get_weather", "Weather for a city",
                       parse(R"({"type":"object","properties":{"city":{"type":"string","title":"City"}},)"
                             R"("required":["city"],"additionalProperties":false,)"
                             R"("$schema":"http://json-schema.org/draft-07/schema#"})"),
                       Json()});
  req.tools.push_back({"get_time", "Current time", parse(R"({"type":"object","properties":{}})"), Json()});
  req.tools.push_back({"ping", "No schema at all", Json(), Json()});
  Json body = gemini_request_body(req, {});
  ASSERT_EQ(body["tools"].size(), 1u);
  JsonView decls = body["tools"].at(0)["functionDeclarations"];
  ASSERT_EQ(decls.size(), 3u);
  EXPECT_EQ(decls.at(0).dump(),
            R"({"name":"get_weather","description":"Weather for a city","parameters":)"
            R"({"type":"OBJECT","required":["city"],"properties":{"city":{"type":"STRING"}}}})");
  EXPECT_EQ(decls.at(1).dump(), R"({"name":"get_time","description":"Current time"})");
  EXPECT_EQ(decls.at(2).dump(), R"({"name":"ping","description":"No schema at all"})");
}

TEST(GeminiWire, StructuredOutputSetsResponseSchema) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("x")}));
  req.output_format = "json";
  req.output_schema = parse(R"({"type":"object","properties":{"name":{"type":"string"}},"required":["name"]})");
  Json body = gemini_request_body(req, {});
  JsonView gen = body["generationConfig"];
  EXPECT_EQ(gen["responseMimeType"].as_string(), "application/json");
  EXPECT_EQ(gen["responseSchema"].dump(),
            R"({"type":"OBJECT","required":["name"],"properties":{"name":{"type":"STRING"}}})");
}

TEST(GeminiWire, ConfigKeysAreCopied) {
  ModelRequest req;
  req.messages.push_back(msg(Role::kUser, {Part::text_part("x")}));
  req.config = parse(R"({"temperature":0.2,"topP":0.9,"topK":40,"maxOutputTokens":128,)"
                     R"("stopSequences":["END"],"candidateCount":1,"unknownKnob":true})");
  Json body = gemini_request_body(req, {});
  JsonView gen = body["generationConfig"];
  EXPECT_DOUBLE_EQ(gen["temperature"].as_number(), 0.2);
  EXPECT_DOUBLE_EQ(gen["topP"].as_number(), 0.9);
  EXPECT_EQ(gen["topK"].as_number(), 40);
  EXPECT_EQ(gen["maxOutputTokens"].as_number(), 128);
  EXPECT_EQ(gen["stopSequences"].dump(), R"(["END"])");
  EXPECT_EQ(gen["candidateCount"].as_number(), 1);
  EXPECT_FALSE(gen["unknownKnob"].present());
  EXPECT_FALSE(gen["responseMimeType"].present());
}

TEST(GeminiWire, SchemaTypesAreUpperCased) {
  for (const char* t : {"string", "number", "integer", "boolean", "array", "object"}) {
    Json s = Json::object();
    s.set("type", Json::string(t));
    std::string upper(t);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(to_gemini_schema(s)["type"].as_string(), upper);
  }
}

TEST(GeminiWire, SchemaNullableUnion) {
  EXPECT_EQ(to_gemini_schema(parse(R"({"type":["string","null"]})")).dump(), R"({"type":"STRING","nullable":true})");
  EXPECT_EQ(to_gemini_schema(parse(R"({"type":["null","integer"]})")).dump(), R"({"type":"INTEGER","nullable":true})");
}

TEST(GeminiWire, SchemaDropsUnsupportedKeywords) {
  Json out = to_gemini_schema(parse(R"({"$schema":"x","title":"T","type":"object","additionalProperties":false,)"
                                    R"("description":"d","properties":{"a":{"type":"number","minimum":0,"maximum":9}}})"));
  EXPECT_FALSE(out["$schema"].present());
  EXPECT_FALSE(out["title"].present());
  EXPECT_FALSE(out["additionalProperties"].present());
  EXPECT_EQ(out["description"].as_string(), "d");
  EXPECT_EQ(out["properties"]["a"].dump(), R"({"type":"NUMBER","minimum":0,"maximum":9})");
}

TEST(GeminiWire, SchemaNestedPropertiesAndItems) {
  Json out = to_gemini_schema(parse(
      R"({"type":"object","properties":{"tags":{"type":"array","minItems":1,"items":{"type":"string","enum":["a","b"]}},)"
      R"("owner":{"type":"object","additionalProperties":false,"properties":{"email":{"type":["string","null"],)"
      R"("format":"email","title":"E"}}}}})"));
  EXPECT_EQ(out["properties"]["tags"].dump(),
            R"({"type":"ARRAY","minItems":1,"items":{"type":"STRING","enum":["a","b"]}})");
  EXPECT_EQ(out["properties"]["owner"].dump(),
            R"({"type":"OBJECT","properties":{"email":{"type":"STRING","nullable":true,"format":"email"}}})");
}

TEST(GeminiWire, SchemaOfNonObjectIsEmpty) {
  EXPECT_EQ(to_gemini_schema(Json()).dump(), "{}");
  EXPECT_EQ(to_gemini_schema(Json::string("x")).dump(), "{}");
}

TEST(GeminiWire, ParseTextAndUsage) {
  Result<ModelResponse> r = parse_gemini_response(parse(
      R"({"candidates":[{"content":{"role":"model","parts":[{"text":"Hello "},{"text":"world"}]},)"
      R"("finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":5,"totalTokenCount":17}})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->message.role, Role::kModel);
  ASSERT_EQ(r->message.content.size(), 2u);
  EXPECT_EQ(r->message.text(), "Hello world");
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->usage.input_tokens, 12);
  EXPECT_EQ(r->usage.output_tokens, 5);
}

// (Casting a double out of int64_t's range is undefined: see OpenAiWire's
// CountsAndIndexesOutOfRangeAreSaturatedNotUndefined.)
TEST(GeminiWire, TokenCountsOutOfRangeAreSaturated) {
  Result<ModelResponse> r = parse_gemini_response(parse(
      R"({"candidates":[{"content":{"parts":[{"text":"x"}]}}],"usageMetadata":{"promptTokenCount":1e300,)"
      R"("candidatesTokenCount":-1e300}})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->usage.input_tokens, int64_t{1} << 53);
  EXPECT_EQ(r->usage.output_tokens, 0);
}

TEST(GeminiWire, ParseFunctionCallsGetSequentialRefs) {
  Result<ModelResponse> r = parse_gemini_response(parse(
      R"({"candidates":[{"content":{"parts":[{"text":"calling"},)"
      R"({"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}},)"
      R"({"functionCall":{"name":"get_time","args":{}}}]},"finishReason":"STOP"}]})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->message.content.size(), 3u);
  const Part& a = r->message.content[1];
  const Part& b = r->message.content[2];
  EXPECT_EQ(a.kind, Part::Kind::kToolRequest);
  EXPECT_EQ(a.tool_name, "get_weather");
  EXPECT_EQ(a.tool_ref, "0");
  EXPECT_EQ(a.tool_data.dump(), R"({"city":"Oslo"})");
  EXPECT_EQ(b.tool_name, "get_time");
  EXPECT_EQ(b.tool_ref, "1");
}

TEST(GeminiWire, ParseFinishReasons) {
  const std::pair<const char*, const char*> cases[] = {
      {"STOP", "stop"}, {"MAX_TOKENS", "length"}, {"SAFETY", "blocked"}, {"RECITATION", "blocked"},
      {"OTHER", "other"}, {"MALFORMED_FUNCTION_CALL", "other"}};
  for (const auto& [gemini, genkit] : cases) {
    Json reply = parse(std::string(R"({"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":")") +
                       gemini + "\"}]}");
    Result<ModelResponse> r = parse_gemini_response(reply);
    ASSERT_TRUE(r.ok()) << gemini;
    EXPECT_EQ(r->finish_reason, genkit) << gemini;
  }
}

TEST(GeminiWire, ParseSkipsThoughtParts) {
  Result<ModelResponse> r = parse_gemini_response(parse(
      R"({"candidates":[{"content":{"parts":[{"text":"let me think","thought":true},{"text":"answer"}]}}]})"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->message.content.size(), 1u);
  EXPECT_EQ(r->message.text(), "answer");
}

TEST(GeminiWire, ParseBlockedPromptIsUpstream) {
  Result<ModelResponse> r = parse_gemini_response(
      parse(R"({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUpstream);
  EXPECT_NE(r.status().message().find("SAFETY"), std::string::npos);
}

TEST(GeminiWire, ParseMalformedRepliesAreUpstream) {
  for (const char* text : {"[]", "\"text\"", "42", "null", "{}", R"({"candidates":[]})"}) {
    Result<ModelResponse> r = parse_gemini_response(parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kUpstream) << text;
  }
  Result<ModelResponse> absent = parse_gemini_response(JsonView());
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), Code::kUpstream);
}

TEST(GeminiWire, ParseUsageOnlyStreamEvent) {
  Result<ModelResponse> r =
      parse_gemini_response(parse(R"({"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->message.content.empty());
  EXPECT_EQ(r->usage.input_tokens, 7);
  EXPECT_EQ(r->usage.output_tokens, 3);
}

}  // namespace
}  // namespace genkit
