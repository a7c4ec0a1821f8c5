#include "common/runtime/generate.h"

#include "common/log.h"
#include "common/runtime/runtime.h"
#include "common/runtime/trace.h"
#include "common/schema/json_schema_validator.h"

namespace genkit {

namespace {

// One generate() call: a small state machine that lives (shared_ptr) until
// its model and tool callbacks have all returned.
class GenerateJob : public std::enable_shared_from_this<GenerateJob> {
 public:
  GenerateJob(Runtime& rt, Model* model, std::shared_ptr<ActiveSpan> span, CancelToken cancel,
              GenerateOptions options, GenerateDone done)
      : rt_(rt), model_(model), span_(std::move(span)), cancel_(std::move(cancel)),
        options_(std::move(options)), done_(std::move(done)) {}

  void start() {
    if (!options_.system.empty()) {
      request_.messages.push_back(Message{Role::kSystem, {Part::text_part(options_.system)}});
    }
    for (auto& m : options_.messages) request_.messages.push_back(std::move(m));
    if (!options_.prompt.empty()) {
      request_.messages.push_back(Message{Role::kUser, {Part::text_part(options_.prompt)}});
    }
    for (const std::string& name : options_.tools) {
      const ToolAction* tool = rt_.registry().tool(name);
      if (!tool) return fail({Code::kInternal, "tool not registered: " + name});
      request_.tools.push_back(tool->definition);
    }
    request_.output_schema = options_.output_schema;
    if (!options_.output_schema.view().is_null()) request_.output_format = "json";
    request_.config = options_.config;
    request_.stream = static_cast<bool>(options_.on_chunk);
    call_model();
  }

 private:
  void call_model() {
    if (cancel_.cancelled()) return fail({Code::kCancelled, "cancelled"});
    std::string input_json;
    if (span_->recording()) {
      input_json = "{\"messages\":[";
      for (std::size_t i = 0; i < request_.messages.size(); ++i) {
        if (i) input_json.push_back(',');
        input_json.append(request_.messages[i].json_text());
      }
      input_json.append("]}");
    }
    auto model_span = span_->child(model_->name(), "action", "model", std::move(input_json));
    auto self = shared_from_this();
    ModelCallbacks cb;
    if (request_.stream) {
      cb.on_chunk = [self](const std::string& text) {
        if (!self->cancel_.cancelled() && self->options_.on_chunk) self->options_.on_chunk(text);
      };
    }
    cb.on_done = [self, model_span](Result<ModelResponse> r) {
      if (!r.ok()) {
        model_span->fail(r.status().message());
        model_span->finish();
        return self->fail(r.status());
      }
      if (model_span->recording()) model_span->set_output(self->last_reply_json_ = r->message.json_text());
      model_span->finish();
      self->on_response(std::move(r).value());
    };
    model_->generate(rt_.loop(), request_, std::move(cb), cancel_);
  }

  void on_response(ModelResponse response) {
    std::vector<const Part*> calls;
    for (const Part& p : response.message.content) {
      if (p.kind == Part::Kind::kToolRequest) calls.push_back(&p);
    }
    if (!calls.empty()) {
      if (++turns_ > rt_.options().max_tool_turns) {
        return fail({Code::kUpstream, "the model kept calling tools past the limit of " +
                                          std::to_string(rt_.options().max_tool_turns) + " turns"});
      }
      request_.messages.push_back(response.message);
      pending_tools_.clear();
      for (const Part* p : calls) pending_tools_.push_back(*p);
      tool_results_ = Message{Role::kTool, {}};
      return run_next_tool(0);
    }
    if (!request_.output_schema.view().is_null()) return check_structured(std::move(response));
    GenerateResult result;
    result.text = response.message.text();
    result.response = std::move(response);
    succeed(std::move(result));
  }

  void run_next_tool(std::size_t index) {
    if (cancel_.cancelled()) return fail({Code::kCancelled, "cancelled"});
    if (index == pending_tools_.size()) {
      request_.messages.push_back(std::move(tool_results_));
      return call_model();
    }
    const Part& call = pending_tools_[index];
    const ToolAction* tool = rt_.registry().tool(call.tool_name);
    if (!tool) return fail({Code::kUpstream, "the model called an unknown tool: " + call.tool_name});
    auto tool_span = span_->child(call.tool_name, "action", "tool", span_->recording() ? call.tool_data.dump() : "");
    auto self = shared_from_this();
    tool->run(call.tool_data.view(), [self, index, tool_span](Result<Json> out) {
      const Part& c = self->pending_tools_[index];
      if (!out.ok()) {
        tool_span->fail(out.status().message());
        tool_span->finish();
        return self->fail({Code::kInternal, "tool " + c.tool_name + " failed: " + out.status().message()});
      }
      if (tool_span->recording()) tool_span->set_output(out->dump());
      tool_span->finish();
      self->tool_results_.content.push_back(Part::tool_response(c.tool_name, std::move(out).value(), c.tool_ref));
      self->run_next_tool(index + 1);
    });
  }

  void check_structured(ModelResponse response) {
    std::string text = response.message.text();
    Result<Json> parsed = parse_structured_reply(text);
    Status valid = parsed.ok() ? validate_json_schema(request_.output_schema.view(), parsed->view())
                               : parsed.status();
    if (valid.is_ok()) {
      GenerateResult result;
      result.text = std::move(text);
      result.output = std::move(parsed).value();
      result.response = std::move(response);
      return succeed(std::move(result));
    }
    if (repaired_) {
      return fail({Code::kUpstream, "the model's structured output did not match the schema: " + valid.message()});
    }
    repaired_ = true;
    log_warning("structured_output_repair", {{"model", model_->name()}, {"reason", valid.message()}});
    request_.messages.push_back(response.message);
    request_.messages.push_back(Message{
        Role::kUser,
        {Part::text_part("Your previous reply was not valid: " + valid.message() +
                         ". Reply again with only a JSON document that conforms to this schema: " +
                         request_.output_schema.dump())}});
    call_model();
  }

  void succeed(GenerateResult result) {
    if (finished_) return;
    finished_ = true;
    // (The last model reply, which its own span has just recorded.)
    if (span_->recording()) span_->set_output(std::move(last_reply_json_));
    span_->finish();
    done_(std::move(result));
  }

  void fail(Status status) {
    if (finished_) return;
    finished_ = true;
    span_->fail(status.message());
    span_->finish();
    done_(std::move(status));
  }

  Runtime& rt_;
  Model* model_;
  std::shared_ptr<ActiveSpan> span_;
  CancelToken cancel_;
  GenerateOptions options_;
  GenerateDone done_;
  ModelRequest request_;
  std::vector<Part> pending_tools_;
  Message tool_results_;
  int turns_ = 0;
  bool repaired_ = false;
  bool finished_ = false;
  std::string last_reply_json_;  // the last model reply as JSON text (when recording)
};

}  // namespace

Result<Json> parse_structured_reply(const std::string& text) {
  std::string_view body = text;
  // Models often wrap JSON in a markdown fence despite being asked not to.
  std::size_t fence = body.find("```");
  if (fence != std::string_view::npos) {
    std::size_t start = body.find('\n', fence);
    std::size_t end = start == std::string_view::npos ? start : body.find("```", start);
    if (start != std::string_view::npos && end != std::string_view::npos) body = body.substr(start + 1, end - start - 1);
  }
  Result<Json> parsed = Json::parse(body);
  if (!parsed.ok()) return Status(Code::kUpstream, "the model's reply is not JSON");
  return parsed;
}

void generate(Runtime& runtime, const std::shared_ptr<ActiveSpan>& parent, CancelToken cancel,
              GenerateOptions options, GenerateDone done) {
  std::string model_name = options.model.empty() ? runtime.options().default_model : options.model;
  Model* model = runtime.registry().model(model_name);
  auto span = parent->child("generate", "util", "", parent->recording() ? json_quote(options.prompt) : "");
  if (!model) {
    span->fail("model not registered: " + model_name);
    span->finish();
    done(Status(Code::kInternal, "model not registered: " + model_name));
    return;
  }
  auto job = std::make_shared<GenerateJob>(runtime, model, std::move(span), std::move(cancel),
                                           std::move(options), std::move(done));
  job->start();
}

}  // namespace genkit
