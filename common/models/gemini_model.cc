#include "common/models/gemini_model.h"

#include <memory>

#include "common/net/sse_parser.h"

namespace genkit {

namespace {

// One generate call against Gemini: resolve media, POST, parse (whole or
// streamed), report once.
class GeminiCall : public std::enable_shared_from_this<GeminiCall> {
 public:
  GeminiCall(std::string model_id, HttpClient& client, const GeminiOptions& options, ModelRequest request,
             ModelCallbacks callbacks, CancelToken cancel)
      : model_id_(std::move(model_id)), client_(client), options_(options), request_(std::move(request)),
        callbacks_(std::move(callbacks)), cancel_(std::move(cancel)) {
    for (const Message& m : request_.messages) {
      for (const Part& p : m.content) {
        if (p.kind == Part::Kind::kMedia) media_parts_.push_back(&p);
      }
    }
  }

  void start() { resolve_next(); }

 private:
  void resolve_next() {
    if (media_.size() == media_parts_.size()) return send();
    const Part* p = media_parts_[media_.size()];
    auto self = shared_from_this();
    resolve_media(client_, p->media_url, p->media_content_type, options_.timeout, cancel_,
                  [self](Result<InlineMedia> m) {
                    if (!m.ok()) return self->finish(m.status());
                    self->media_.push_back(std::move(m).value());
                    self->resolve_next();
                  });
  }

  void send() {
    bool stream = request_.stream && callbacks_.on_chunk;
    HttpFetch f;
    f.url = options_.base_url + "/v1beta/models/" + model_id_ +
            (stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    f.headers = {{"Content-Type", "application/json"}, {"x-goog-api-key", options_.api_key}};
    f.body = gemini_request_body(request_, media_).dump();
    // The body holds everything now; thousands of calls may wait on the
    // provider, so do not keep a second copy of the conversation.
    request_.messages.clear();
    media_parts_.clear();
    media_.clear();
    f.timeout = options_.timeout;
    auto self = shared_from_this();
    if (stream) {
      streamed_.message.role = Role::kModel;
      f.on_data = [self](std::string_view bytes) { return self->on_stream_bytes(bytes); };
    }
    client_.fetch(std::move(f), cancel_, [self, stream](Result<HttpFetchResult> r) {
      if (!r.ok()) return self->finish(self->stream_error_.is_ok() ? r.status() : self->stream_error_);
      if (r->status != 200) return self->finish(upstream_http_error("googleai", r->status));
      if (stream) return self->finish_stream();
      Result<Json> reply = Json::parse(r->body);
      if (!reply.ok()) return self->finish(Status(Code::kUpstream, "googleai: the reply is not JSON"));
      Result<ModelResponse> parsed = parse_gemini_response(reply->view());
      if (!parsed.ok()) return self->finish(parsed.status());
      self->finish(std::move(parsed).value());
    });
  }

  bool on_stream_bytes(std::string_view bytes) {
    bool ok = true;
    for (SseEvent& ev : parser_.feed(bytes, &ok)) {
      Result<Json> reply = Json::parse(ev.data);
      Result<ModelResponse> parsed =
          reply.ok() ? parse_gemini_response(reply->view()) : Result<ModelResponse>(Status(Code::kUpstream, "x"));
      if (!parsed.ok()) {
        stream_error_ = Status(Code::kUpstream, "googleai: malformed stream event");
        return false;
      }
      ++events_;
      for (Part& p : parsed->message.content) {
        if (p.kind == Part::Kind::kText) {
          if (!p.text.empty() && callbacks_.on_chunk) callbacks_.on_chunk(p.text);
          text_ += p.text;
        } else {
          streamed_.message.content.push_back(std::move(p));
        }
      }
      if (parsed->usage.input_tokens || parsed->usage.output_tokens) streamed_.usage = parsed->usage;
      if (parsed->finish_reason != "stop") streamed_.finish_reason = parsed->finish_reason;
      if (cancel_.cancelled()) return false;
    }
    if (!ok) stream_error_ = Status(Code::kUpstream, "googleai: a stream event exceeded the size limit");
    return ok;
  }

  void finish_stream() {
    if (events_ == 0) return finish(Status(Code::kUpstream, "googleai: the stream ended without an event"));
    if (!text_.empty()) streamed_.message.content.insert(streamed_.message.content.begin(), Part::text_part(text_));
    finish(std::move(streamed_));
  }

  void finish(Result<ModelResponse> result) {
    finish_model_call("googleai/" + model_id_, callbacks_, cancel_, std::move(result));
  }

  std::string model_id_;
  HttpClient& client_;
  const GeminiOptions& options_;
  ModelRequest request_;
  ModelCallbacks callbacks_;
  CancelToken cancel_;
  std::vector<const Part*> media_parts_;
  std::vector<InlineMedia> media_;
  SseParser parser_;
  ModelResponse streamed_;
  std::string text_;
  int events_ = 0;
  Status stream_error_;
};

}  // namespace

GeminiModel::GeminiModel(std::string model_id, HttpClient& client, GeminiOptions options)
    : model_id_(std::move(model_id)), client_(client), options_(std::move(options)) {}

Json GeminiModel::info() const { return provider_model_info("Google AI - " + model_id_); }

void GeminiModel::generate(Loop&, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) {
  auto call = std::make_shared<GeminiCall>(model_id_, client_, options_, std::move(request), std::move(callbacks),
                                           std::move(cancel));
  call->start();
}

}  // namespace genkit
