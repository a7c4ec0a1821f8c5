#include "tests/fuzz/support/model_call.h"

#include <event2/event.h>

#include <cstdlib>
#include <string_view>

#include "tests/fuzz/support/canned_upstream.h"

namespace fuzz {

void call_model(const uint8_t* data, std::size_t size, const ModelFactory& make) {
  if (size < 1) return;
  static event_base* base = event_base_new();
  static genkit::Loop loop(base);
  CannedUpstream& upstream = CannedUpstream::instance();
  genkit::HttpClient client(loop);
  std::unique_ptr<genkit::Model> model = make(client, upstream.base_url());

  genkit::ModelRequest request;
  genkit::Message ask;
  ask.content.push_back(genkit::Part::text_part("Tell me a joke."));
  request.messages.push_back(std::move(ask));
  request.stream = data[0] & 1;
  if (data[0] & 2) {
    request.output_format = "json";
    request.output_schema = genkit::Json::object().set("type", genkit::Json::string("object"));
  }
  bool finished = false;
  genkit::ModelCallbacks callbacks;
  callbacks.on_chunk = [&request](const std::string&) {
    if (!request.stream) abort();  // chunks were not asked for
  };
  callbacks.on_done = [&finished](genkit::Result<genkit::ModelResponse>) {
    if (finished) abort();  // exactly once
    finished = true;
  };
  upstream.call(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), loop,
      [&] { model->generate(loop, request, callbacks, genkit::CancelToken()); }, [&] { return finished; });
}

}  // namespace fuzz
