#include "common/models/openai_model.h"

#include <memory>

#include "common/models/upstream.h"
#include "common/net/sse_parser.h"

namespace genkit {

namespace {

class OpenAiCall : public std::enable_shared_from_this<OpenAiCall> {
 public:
  OpenAiCall(std::string model_id, HttpClient& client, const OpenAiOptions& options, ModelRequest request,
             ModelCallbacks callbacks, CancelToken cancel)
      : model_id_(std::move(model_id)), client_(client), options_(options), request_(std::move(request)),
        callbacks_(std::move(callbacks)), cancel_(std::move(cancel)) {}

  void start() {
    bool stream = request_.stream && callbacks_.on_chunk;
    request_.stream = stream;
    HttpFetch f;
    f.url = options_.base_url + "/chat/completions";
    f.headers = {{"Content-Type", "application/json"}};
    if (!options_.api_key.empty()) f.headers.push_back({"Authorization", "Bearer " + options_.api_key});
    f.body = openai_request_body(model_id_, request_).dump();
    request_ = ModelRequest{};  // the body holds it; keep in-flight calls small
    f.timeout = options_.timeout;
    auto self = shared_from_this();
    if (stream) f.on_data = [self](std::string_view bytes) { return self->on_stream_bytes(bytes); };
    client_.fetch(std::move(f), cancel_, [self, stream](Result<HttpFetchResult> r) {
      if (!r.ok()) return self->finish(self->stream_error_.is_ok() ? r.status() : self->stream_error_);
      if (r->status != 200) return self->finish(upstream_http_error("openai", r->status));
      if (stream) {
        if (self->acc_.chunks() == 0) return self->finish(Status(Code::kUpstream, "openai: the stream ended without a chunk"));
        return self->finish(self->acc_.finish());
      }
      Result<Json> reply = Json::parse(r->body);
      if (!reply.ok()) return self->finish(Status(Code::kUpstream, "openai: the reply is not JSON"));
      self->finish(parse_openai_response(reply->view()));
    });
  }

 private:
  bool on_stream_bytes(std::string_view bytes) {
    bool ok = true;
    for (SseEvent& ev : parser_.feed(bytes, &ok)) {
      if (ev.data == "[DONE]") continue;
      Result<Json> chunk = Json::parse(ev.data);
      Result<std::string> text = chunk.ok() ? acc_.add(chunk->view()) : Result<std::string>(chunk.status());
      if (!text.ok()) {
        stream_error_ = Status(Code::kUpstream, "openai: malformed stream chunk");
        return false;
      }
      if (!text->empty()) callbacks_.on_chunk(*text);
      if (cancel_.cancelled()) return false;
    }
    if (!ok) stream_error_ = Status(Code::kUpstream, "openai: a stream event exceeded the size limit");
    return ok;
  }

  void finish(Result<ModelResponse> result) {
    finish_model_call("openai/" + model_id_, callbacks_, cancel_, std::move(result));
  }

  std::string model_id_;
  HttpClient& client_;
  const OpenAiOptions& options_;
  ModelRequest request_;
  ModelCallbacks callbacks_;
  CancelToken cancel_;
  SseParser parser_;
  OpenAiStreamAccumulator acc_;
  Status stream_error_;
};

}  // namespace

OpenAiModel::OpenAiModel(std::string model_id, HttpClient& client, OpenAiOptions options)
    : model_id_(std::move(model_id)), client_(client), options_(std::move(options)) {}

Json OpenAiModel::info() const { return provider_model_info("OpenAI-compatible - " + model_id_); }

void OpenAiModel::generate(Loop&, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) {
  auto call = std::make_shared<OpenAiCall>(model_id_, client_, options_, std::move(request), std::move(callbacks),
                                           std::move(cancel));
  call->start();
}

}  // namespace genkit
