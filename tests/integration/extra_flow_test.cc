// "A new flow is one file": genkit-endpoints-extra-flow is the server built
// from its own sources plus tests/extra_flow/word_count.cc and nothing else
// (tests/CMakeLists.txt). The flow that file registers must be on every
// surface — the flow server (POST /word_count, /flows/word_count, with its
// schema's validation), the reflection API and /openapi.json — with no other
// edit, and the
// normal binary must not have it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/test_util.h"

#ifndef GENKIT_EXTRA_FLOW_BINARY
#error "GENKIT_EXTRA_FLOW_BINARY must name the genkit-endpoints-extra-flow binary"
#endif

namespace itest {
namespace {

using genkit::Json;
using genkit::JsonView;

// DEBUG=true: /openapi.json is served in debug mode only.
class ExtraFlowTest : public SharedServerTest<ExtraFlowTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.binary = GENKIT_EXTRA_FLOW_BINARY;
    o.env = {{"DEBUG", "true"}};
    return o;
  }
};

class NormalBinaryTest : public SharedServerTest<NormalBinaryTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.env = {{"DEBUG", "true"}};
    return o;
  }
};

Json openapi_paths(int port) {
  HttpResponse r = http_get(port, "/openapi.json");
  EXPECT_EQ(r.status, 200) << r.reason << r.body;
  return Json::copy_of(json_of(r)["paths"]);
}

TEST_F(ExtraFlowTest, RunsOnTheFlowServerUnderBothPaths) {
  for (const char* path : {"/word_count", "/flows/word_count"}) {
    HttpResponse r = http_post(port(), path, R"({"data":{"text":"a b c"}})");
    ASSERT_EQ(r.status, 200) << path << ": " << r.reason << r.body;
    EXPECT_EQ(json_of(r).dump(), R"({"result":{"words":3}})") << path;
    EXPECT_TRUE(r.has_header("x-genkit-trace-id")) << path;
  }
  HttpResponse spaced = http_post(port(), "/flows/word_count", R"({"data":{"text":"  one\ttwo\n three four  "}})");
  EXPECT_EQ(json_of(spaced).dump(), R"({"result":{"words":4}})") << spaced.body;
  HttpResponse empty = http_post(port(), "/word_count", R"({"data":{"text":""}})");
  EXPECT_EQ(json_of(empty).dump(), R"({"result":{"words":0}})") << empty.body;
}

TEST_F(ExtraFlowTest, StreamsItsResult) {
  SseResult sse = post_sse(port(), "/word_count?stream=true", R"({"data":{"text":"x y"}})");
  ASSERT_TRUE(sse.head) << sse.error;
  EXPECT_EQ(sse.head->status, 200);
  ASSERT_EQ(sse.events.size(), 1u) << sse.raw_body;
  EXPECT_EQ(sse.events[0].raw, "data: {\"result\":{\"words\":2}}\n\n");
}

TEST_F(ExtraFlowTest, InvalidInputIsInvalidArgument) {
  struct Case {
    std::string body;
    std::string path;
  };
  const Case cases[] = {
      {R"({"data":{}})", "text"},                                        // required
      {R"({"data":{"text":5}})", "text"},                                // a string
      {R"({"data":{"text":")" + std::string(10001, 'w') + R"("}})", "text"},  // maxLength 10000
      {R"({"data":"a b c"})", "(root)"},                                 // an object
  };
  for (const Case& c : cases) {
    HttpResponse r = http_post(port(), "/flows/word_count", c.body);
    EXPECT_EQ(r.status, 400) << c.body.substr(0, 80) << ": " << r.body.substr(0, 300);
    Json j = json_of(r);
    EXPECT_EQ(str(j["status"]), "INVALID_ARGUMENT") << r.body.substr(0, 300);
    EXPECT_EQ(str(j["details"]["errors"].at(0)["path"]), c.path) << r.body.substr(0, 300);
  }
  HttpResponse at_limit =
      http_post(port(), "/word_count", R"({"data":{"text":")" + std::string(10000, 'w') + R"("}})");
  EXPECT_EQ(json_of(at_limit).dump(), R"({"result":{"words":1}})") << at_limit.body.substr(0, 300);
}

TEST_F(ExtraFlowTest, IsInTheOpenApiDocument) {
  Json paths = openapi_paths(port());
  for (const char* path : {"/word_count", "/flows/word_count"}) {
    JsonView op = paths[path]["post"];
    ASSERT_TRUE(op.is_object()) << path << " missing from /openapi.json";
    JsonView input = op["requestBody"]["content"]["application/json"]["schema"]["properties"]["data"];
    EXPECT_EQ(str(input["properties"]["text"]["type"]), "string") << path << ": " << input.dump();
    EXPECT_EQ(input["properties"]["text"]["maxLength"].as_number(), 10000) << input.dump();
    EXPECT_EQ(input["required"].dump(), R"(["text"])") << input.dump();
    JsonView output = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["result"];
    EXPECT_EQ(str(output["properties"]["words"]["type"]), "integer") << path << ": " << output.dump();
  }
  // The built-in flows and the REST routes are still there.
  for (const char* path : {"/flows/tell_joke", "/tell_joke", "/tell-joke", "/tell-story/stream", "/health"}) {
    EXPECT_TRUE(paths[path].present()) << path << " missing from /openapi.json";
  }
  HttpResponse docs = http_get(port(), "/docs");
  EXPECT_NE(docs.body.find("/flows/word_count"), std::string::npos) << docs.body;
}

TEST_F(ExtraFlowTest, TheBuiltInFlowsStillRun) {
  HttpResponse r = http_post(port(), "/flows/tell_joke", R"({"data":{"name":"Biscuit"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(json_of(r)["result"]), "Echo: Tell a medium-length joke about Biscuit for user anonymous.");
  EXPECT_EQ(http_post(port(), "/translate", R"({"text":"Hi"})").status, 200);
}

// The reflection API (GENKIT_ENV=dev) lists and runs it too: the Genkit
// CLI and Developer UI see it with no other edit.
class ExtraFlowDevTest : public SharedServerTest<ExtraFlowDevTest> {
 public:
  static ServerOptions options() {
    ServerOptions o;
    o.binary = GENKIT_EXTRA_FLOW_BINARY;
    o.env = {{"GENKIT_ENV", "dev"}};
    return o;
  }
};

// The reflection API's port, from the runtime file the server wrote in its
// working directory (the Genkit CLI's project root).
int reflection_port(const ServerProcess& server) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(server.workdir() + "/.genkit/runtimes", ec)) {
    std::ifstream in(e.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    genkit::Result<Json> file = Json::parse(text);
    if (!file.ok()) continue;
    std::string url(file->view()["reflectionServerUrl"].as_string());
    std::size_t colon = url.rfind(':');
    if (colon != std::string::npos) return std::atoi(url.c_str() + colon + 1);
  }
  return 0;
}

TEST_F(ExtraFlowDevTest, IsListedAndRunByTheReflectionApi) {
  int reflection = reflection_port(*server());
  ASSERT_GT(reflection, 0) << "no runtime file in " << server()->workdir();
  HttpResponse actions = http_get(reflection, "/api/actions");
  ASSERT_EQ(actions.status, 200) << actions.body;
  Json listed = json_of(actions);
  JsonView flow = listed["/flow/word_count"];
  ASSERT_TRUE(flow.is_object()) << actions.body.substr(0, 300);
  EXPECT_EQ(str(flow["name"]), "word_count");
  EXPECT_EQ(str(flow["inputSchema"]["properties"]["text"]["type"]), "string");
  EXPECT_EQ(flow["inputSchema"]["properties"]["text"]["maxLength"].as_number(), 10000);
  EXPECT_EQ(str(flow["outputSchema"]["properties"]["words"]["type"]), "integer");

  HttpResponse run = http_post(reflection, "/api/runAction", R"({"key":"/flow/word_count","input":{"text":"a b c"}})");
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(json_of(run)["result"]["words"].as_number(), 3) << run.body;
}

TEST_F(NormalBinaryTest, DoesNotHaveTheExtraFlow) {
  for (const char* path : {"/word_count", "/flows/word_count"}) {
    EXPECT_EQ(http_post(port(), path, R"({"data":{"text":"a b c"}})").status, 404) << path;
  }
  Json paths = openapi_paths(port());
  EXPECT_FALSE(paths["/word_count"].present());
  EXPECT_FALSE(paths["/flows/word_count"].present());
  // Every registered flow is listed from the registry, under both paths.
  for (const char* flow : {"tell_joke", "translate_text", "describe_image", "generate_character", "pirate_chat",
                           "tell_story", "generate_code", "review_code"}) {
    for (const std::string& path : {"/" + std::string(flow), "/flows/" + std::string(flow)}) {
      EXPECT_TRUE(paths[path]["post"]["requestBody"].is_object()) << path << " missing from /openapi.json";
    }
  }
}

}  // namespace
}  // namespace itest
