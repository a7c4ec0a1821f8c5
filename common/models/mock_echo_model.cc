#include "common/models/mock_echo_model.h"

#include <memory>

#include "common/schema/schema_example.h"

namespace genkit {

namespace {

bool has_tool_response(const ModelRequest& request) {
  for (const Message& m : request.messages) {
    for (const Part& p : m.content) {
      if (p.kind == Part::Kind::kToolResponse) return true;
    }
  }
  return false;
}

int64_t approx_tokens(std::size_t chars) { return static_cast<int64_t>((chars + 3) / 4); }

// Emits the chunks of one streamed reply, one per timer tick.
struct StreamState {
  std::vector<std::string> chunks;
  std::size_t next = 0;
  ModelCallbacks callbacks;
  ModelResponse response;
  std::unique_ptr<Timer> timer;
  int delay_ms = 0;
  CancelToken cancel;
};

void emit_next(const std::shared_ptr<StreamState>& s, Loop& loop) {
  if (s->cancel.cancelled()) return s->timer.reset();
  if (s->next < s->chunks.size()) {
    s->callbacks.on_chunk(s->chunks[s->next++]);
    if (s->cancel.cancelled()) return s->timer.reset();  // the consumer went away
    s->timer = loop.after(std::chrono::milliseconds(s->delay_ms), [s, &loop] { emit_next(s, loop); });
    return;
  }
  s->timer.reset();
  auto done = std::move(s->callbacks.on_done);
  done(std::move(s->response));
}

}  // namespace

Json MockEchoModel::info() const {
  Json supports = Json::object();
  supports.set("multiturn", Json::boolean(true));
  supports.set("tools", Json::boolean(true));
  supports.set("systemRole", Json::boolean(true));
  supports.set("media", Json::boolean(true));
  Json out = Json::object();
  out.set("label", Json::string("Echo"));
  out.set("supports", std::move(supports));
  return out;
}

std::string MockEchoModel::echo_text(const ModelRequest& request) {
  std::string text = "Echo: ";
  bool first = true;
  for (const Message& m : request.messages) {
    if (m.role == Role::kModel || m.role == Role::kTool) continue;
    for (const Part& p : m.content) {
      std::string piece;
      if (p.kind == Part::Kind::kText) piece = p.text;
      else if (p.kind == Part::Kind::kMedia) piece = "[media: " + p.media_url + "]";
      if (piece.empty()) continue;
      if (!first) text += " ";
      text += piece;
      first = false;
    }
  }
  return text;
}

std::vector<std::string> MockEchoModel::split_chunks(const std::string& text) {
  std::vector<std::size_t> word_starts;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 0 || (text[i - 1] == ' ' && text[i] != ' ')) word_starts.push_back(i);
  }
  const std::size_t max_chunks = 6;
  std::size_t words = word_starts.size();
  if (words <= 1) return {text};
  std::size_t per_chunk = (words + max_chunks - 1) / max_chunks;
  std::vector<std::string> chunks;
  for (std::size_t w = 0; w < words; w += per_chunk) {
    std::size_t begin = w == 0 ? 0 : word_starts[w];
    std::size_t end = w + per_chunk < words ? word_starts[w + per_chunk] : text.size();
    chunks.push_back(text.substr(begin, end - begin));
  }
  return chunks;
}

void MockEchoModel::generate(Loop& loop, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) {
  ModelResponse response;
  response.message.role = Role::kModel;
  std::string text = echo_text(request);
  if (!request.tools.empty() && !has_tool_response(request)) {
    response.message.content.push_back(Part::tool_request(request.tools.front().name, Json::object(), "0"));
    response.finish_reason = "stop";
  } else {
    if (!request.output_schema.view().is_null()) text = example_for_schema(request.output_schema.view(), text).dump();
    response.message.content.push_back(Part::text_part(text));
  }
  std::size_t prompt_chars = 0;
  for (const Message& m : request.messages) prompt_chars += m.text().size();
  response.usage.input_tokens = approx_tokens(prompt_chars);
  response.usage.output_tokens = approx_tokens(text.size());

  bool is_tool_call = response.message.text().empty();
  if (!request.stream || !callbacks.on_chunk || is_tool_call) {
    auto state = std::make_shared<std::pair<ModelCallbacks, ModelResponse>>(std::move(callbacks), std::move(response));
    loop.defer([state, cancel] {
      if (!cancel.cancelled()) state->first.on_done(std::move(state->second));
    });
    return;
  }
  auto s = std::make_shared<StreamState>();
  s->chunks = split_chunks(text);
  s->callbacks = std::move(callbacks);
  s->response = std::move(response);
  s->delay_ms = chunk_delay_ms_;
  s->cancel = cancel;
  std::weak_ptr<StreamState> weak = s;
  cancel.on_cancel([weak] {
    if (auto st = weak.lock()) st->timer.reset();
  });
  // The first chunk goes out on the next loop iteration, like a network reply.
  s->timer = loop.after(std::chrono::milliseconds(0), [s, &loop] { emit_next(s, loop); });
}

}  // namespace genkit
