// The flow runtime on a real libevent loop: flows, generate()'s tool loop and
// structured-output repair, traced steps, streaming and cancellation.
#include <event2/event.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "common/config.h"
#include "common/flows/builtins.h"
#include "common/models/mock_echo_model.h"
#include "common/net/http_client.h"
#include "common/runtime/flow.h"
#include "common/runtime/runtime.h"

namespace genkit {
namespace {

// A model that replies with scripted texts (or a tool call), to drive
// generate() through the paths the mock never takes.
class ScriptedModel : public Model {
 public:
  explicit ScriptedModel(std::vector<std::string> replies, bool always_call_tool = false)
      : replies_(std::move(replies)), always_call_tool_(always_call_tool) {}
  std::string name() const override { return "test/scripted"; }
  Json info() const override { return Json::object(); }
  void generate(Loop& loop, ModelRequest request, ModelCallbacks cb, CancelToken) override {
    last_request_messages = request.messages.size();
    ModelResponse r;
    r.message.role = Role::kModel;
    if (always_call_tool_) {
      r.message.content.push_back(Part::tool_request("get_current_time", Json::object()));
    } else {
      r.message.content.push_back(Part::text_part(replies_[std::min(calls, replies_.size() - 1)]));
    }
    ++calls;
    auto done = std::make_shared<ModelCallbacks>(std::move(cb));
    auto resp = std::make_shared<ModelResponse>(std::move(r));
    loop.defer([done, resp] { done->on_done(std::move(*resp)); });
  }
  std::size_t calls = 0;
  std::size_t last_request_messages = 0;

 private:
  std::vector<std::string> replies_;
  bool always_call_tool_;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    loop_ = std::make_unique<Loop>(base_);
    RuntimeOptions opts;
    opts.span_sink = [this](const Span& s) { spans_.push_back(s); };
    runtime_ = std::make_unique<Runtime>(*loop_, opts);
    Config config;
    config.prompts_dir = GENKIT_SOURCE_DIR "/prompts";
    config.mock_chunk_delay_ms = 1;
    Result<PromptList> prompts = load_prompts(config);
    ASSERT_TRUE(prompts.ok()) << prompts.status().message();
    client_ = std::make_unique<HttpClient>(*loop_);
    ASSERT_TRUE(install_builtins(runtime_->registry(), config, *prompts, *client_).is_ok());
  }
  void TearDown() override {
    runtime_.reset();
    client_.reset();
    loop_.reset();
    event_base_free(base_);
  }

  struct Outcome {
    bool done = false;
    Result<Json> output = Status(Code::kInternal, "not finished");
    std::vector<std::string> chunks;
  };

  Outcome run(const std::string& flow, const std::string& input_json, bool stream = false,
              CancelToken cancel = CancelToken()) {
    Outcome out;
    FlowObserver obs;
    if (stream) obs.on_chunk = [&out](const std::string& c) { out.chunks.push_back(c); };
    obs.on_done = [this, &out](Result<Json> r) {
      out.done = true;
      out.output = std::move(r);
      event_base_loopexit(base_, nullptr);
    };
    Result<Json> input = Json::parse(input_json);
    EXPECT_TRUE(input.ok());
    const FlowAction* action = runtime_->registry().flow(flow);
    EXPECT_NE(action, nullptr);
    run_flow(*runtime_, *action, input->view(), Json::object(), cancel, std::move(obs));
    if (!out.done) {
      timeval limit{5, 0};
      event_base_loopexit(base_, &limit);
      event_base_dispatch(base_);
    }
    return out;
  }

  const Span* span_named(const std::string& name) const {
    for (const Span& s : spans_) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  event_base* base_ = nullptr;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<Runtime> runtime_;
  std::vector<Span> spans_;
};

TEST_F(RuntimeTest, TellJokeEchoesThePromptWithDefaults) {
  Outcome o = run("tell_joke", "{}");
  ASSERT_TRUE(o.output.ok()) << o.output.status().message();
  EXPECT_EQ(o.output->view().as_string(), "Echo: Tell a medium-length joke about Mittens for user anonymous.");
}

TEST_F(RuntimeTest, StreamingSendsSeveralChunksThatAddUpToTheResult) {
  Outcome o = run("tell_story", R"({"topic":"a robot"})", true);
  ASSERT_TRUE(o.output.ok());
  EXPECT_GE(o.chunks.size(), 3u);
  std::string joined;
  for (const auto& c : o.chunks) joined += c;
  EXPECT_EQ(joined, o.output->view().as_string());
  EXPECT_EQ(joined, "Echo: Write a short story (3-4 paragraphs) about a robot.");
}

TEST_F(RuntimeTest, InvalidInputFailsBeforeAnyModelCall) {
  Outcome o = run("generate_code", R"({"language":"py thon"})");
  ASSERT_FALSE(o.output.ok());
  EXPECT_EQ(o.output.status().code(), Code::kInvalidArgument);
  EXPECT_NE(o.output.status().message().find("language"), std::string::npos);
  EXPECT_TRUE(spans_.empty());
}

TEST_F(RuntimeTest, TranslateRunsTracedStepToolAndStructuredOutput) {
  Outcome o = run("translate_text", R"({"text":"   hello   ","target_language":"Japanese"})");
  ASSERT_TRUE(o.output.ok()) << o.output.status().message();
  for (const char* key : {"original_text", "translated_text", "target_language", "confidence"}) {
    EXPECT_TRUE(o.output->view()[key].is_string()) << key;
  }
  const Span* root = span_named("translate_text");
  const Span* step = span_named("sanitize-input");
  const Span* tool = span_named("get_current_time");
  const Span* gen = span_named("generate");
  ASSERT_TRUE(root && step && tool && gen);
  EXPECT_TRUE(root->parent_span_id.empty());
  EXPECT_EQ(step->parent_span_id, root->span_id);
  EXPECT_EQ(step->type, "flowStep");
  EXPECT_EQ(step->output, "\"hello\"");  // stripped
  EXPECT_EQ(step->path, "/{translate_text,t:flow}/{sanitize-input,t:flowStep}");
  EXPECT_EQ(tool->parent_span_id, gen->span_id);
  EXPECT_EQ(tool->subtype, "tool");
  for (const Span& s : spans_) EXPECT_EQ(s.trace_id, root->trace_id);
  // Two model calls: the tool request, then the answer.
  int model_spans = 0;
  for (const Span& s : spans_) model_spans += s.subtype == "model";
  EXPECT_EQ(model_spans, 2);
}

TEST_F(RuntimeTest, SanitizeKeepsTheFirst2000CodePoints) {
  std::string text(2500, 'x');
  Outcome o = run("translate_text", "{\"text\":\"" + text + "\"}");
  ASSERT_TRUE(o.output.ok());
  const Span* step = span_named("sanitize-input");
  ASSERT_TRUE(step);
  EXPECT_EQ(step->output.size(), 2002u);  // 2000 chars plus the quotes
}

TEST_F(RuntimeTest, StructuredOutputIsValidForEveryStructuredFlow) {
  for (const char* flow : {"generate_character", "generate_code", "review_code"}) {
    Outcome o = run(flow, "{}");
    ASSERT_TRUE(o.output.ok()) << flow << ": " << o.output.status().message();
    EXPECT_TRUE(o.output->view().is_object()) << flow;
  }
}

TEST_F(RuntimeTest, ReviewCodeRendersTheDotpromptWithTheLanguage) {
  Outcome o = run("review_code", R"({"code":"x = 1","language":"python"})");
  ASSERT_TRUE(o.output.ok()) << o.output.status().message();
  std::string summary(o.output->view()["summary"].as_string());
  EXPECT_NE(summary.find("python"), std::string::npos);
  EXPECT_NE(summary.find("x = 1"), std::string::npos);
}

TEST_F(RuntimeTest, DescribeImageSendsTextAndMediaParts) {
  Outcome o = run("describe_image", R"({"image_url":"https://example.com/cat.png"})");
  ASSERT_TRUE(o.output.ok());
  EXPECT_EQ(o.output->view().as_string(), "Echo: Describe this image in detail. [media: https://example.com/cat.png]");
}

TEST_F(RuntimeTest, PirateChatSendsTheSystemPrompt) {
  Outcome o = run("pirate_chat", R"({"question":"Why?"})");
  ASSERT_TRUE(o.output.ok());
  std::string answer(o.output->view().as_string());
  EXPECT_EQ(answer.rfind("Echo: You are a pirate captain from the 18th century.", 0), 0u);
  EXPECT_NE(answer.find("Why?"), std::string::npos);
}

TEST_F(RuntimeTest, CancelStopsAStreamMidway) {
  CancelToken cancel;
  Outcome out;
  FlowObserver obs;
  obs.on_chunk = [&](const std::string& c) {
    out.chunks.push_back(c);
    cancel.cancel();
  };
  obs.on_done = [&](Result<Json> r) { out.done = true; out.output = std::move(r); };
  run_flow(*runtime_, *runtime_->registry().flow("tell_story"), Json::object().view(), Json::object(), cancel,
           std::move(obs));
  timeval limit{0, 200000};
  event_base_loopexit(base_, &limit);
  event_base_dispatch(base_);
  EXPECT_EQ(out.chunks.size(), 1u);
  EXPECT_FALSE(out.done && out.output.ok());
}

// generate() paths the mock does not take, with a scripted model.
class GenerateTest : public RuntimeTest {
 protected:
  Result<GenerateResult> call(ScriptedModel* model, GenerateOptions opts) {
    (void)model;
    auto root = start_root_span({}, "test", "flow", "{}");
    std::optional<Result<GenerateResult>> result;
    opts.model = "test/scripted";
    generate(*runtime_, root, CancelToken(), std::move(opts), [&](Result<GenerateResult> r) {
      result = std::move(r);
      event_base_loopexit(base_, nullptr);
    });
    if (!result) {
      timeval limit{5, 0};
      event_base_loopexit(base_, &limit);
      event_base_dispatch(base_);
    }
    return result ? std::move(*result) : Result<GenerateResult>(Status(Code::kInternal, "timeout"));
  }
  ScriptedModel* add_model(std::vector<std::string> replies, bool tool = false) {
    auto m = std::make_unique<ScriptedModel>(std::move(replies), tool);
    ScriptedModel* raw = m.get();
    runtime_->registry().add_model(std::move(m));
    return raw;
  }
  static Json schema() {
    return Json::parse(R"({"type":"object","properties":{"n":{"type":"integer","maximum":5}},"required":["n"]})").value();
  }
};

TEST_F(GenerateTest, InvalidStructuredReplyIsRepairedOnce) {
  ScriptedModel* m = add_model({"not json", "```json\n{\"n\": 3}\n```"});
  GenerateOptions opts;
  opts.prompt = "give n";
  opts.output_schema = schema();
  Result<GenerateResult> r = call(m, std::move(opts));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->output.view()["n"].as_number(), 3);
  EXPECT_EQ(m->calls, 2u);
  EXPECT_EQ(m->last_request_messages, 3u);  // prompt, bad reply, repair request
}

TEST_F(GenerateTest, StillInvalidAfterRepairIsAnUpstreamError) {
  ScriptedModel* m = add_model({R"({"n": 9})"});
  GenerateOptions opts;
  opts.prompt = "give n";
  opts.output_schema = schema();
  Result<GenerateResult> r = call(m, std::move(opts));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUpstream);
  EXPECT_EQ(m->calls, 2u);
}

TEST_F(GenerateTest, ToolLoopIsBounded) {
  ScriptedModel* m = add_model({}, true);
  GenerateOptions opts;
  opts.prompt = "loop";
  opts.tools = {"get_current_time"};
  Result<GenerateResult> r = call(m, std::move(opts));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUpstream);
  EXPECT_EQ(m->calls, 6u);  // 5 turns allowed, the 6th request is refused
}

TEST(MockEchoModel, SplitsIntoWholeWordChunks) {
  auto chunks = MockEchoModel::split_chunks("one two three four five six seven eight nine ten");
  EXPECT_LE(chunks.size(), 6u);
  EXPECT_GE(chunks.size(), 3u);
  std::string joined;
  for (const auto& c : chunks) joined += c;
  EXPECT_EQ(joined, "one two three four five six seven eight nine ten");
  EXPECT_EQ(MockEchoModel::split_chunks("single").size(), 1u);
}

}  // namespace
}  // namespace genkit
