// gRPC request messages as each RPC takes them: protobuf bytes (the first
// input byte picks the RPC) decoded as grpc++ does, checked and mapped to
// the flow's raw input as the service does, and validated by the flow's
// input model; the reply mapping is then fed what validated, a shape it was
// not made for, which must fail cleanly.
#include <cstdint>
#include <google/protobuf/stubs/logging.h>

#include "common/json.h"
#include "common/schema/models.h"
#include "common/schema/schema.h"
#include "grpcd/proto_mapping.h"

namespace {

namespace pb = genkit::grpcd::pb;
using genkit::Json;
using genkit::JsonView;

template <typename Request, typename Reply>
void run_rpc(const uint8_t* data, size_t size, Json (*to_input)(const Request&), const genkit::ObjectSchema& schema,
             genkit::Status (*fill)(JsonView, JsonView, Reply*)) {
  Request request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  genkit::Result<Json> raw = genkit::grpcd::checked_input(request, to_input(request));
  if (!raw.ok()) return;
  genkit::Result<Json> input = schema.validate(raw->view());
  if (!input.ok()) return;
  Reply reply;
  (void)fill(input->view(), input->view(), &reply);
  (void)reply.ByteSizeLong();
}

}  // namespace

// (protobuf logs every string field that is not UTF-8; grpc++ refuses those.)
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  const uint8_t* msg = data + 1;
  size_t len = size - 1;
  namespace g = genkit::grpcd;
  switch (data[0] % 8) {
    case 0: return run_rpc(msg, len, &g::joke_input, genkit::joke_input_schema(), &g::fill_joke), 0;
    case 1: return run_rpc(msg, len, &g::translate_input, genkit::translate_input_schema(), &g::fill_translation), 0;
    case 2: return run_rpc(msg, len, &g::image_input, genkit::image_input_schema(), &g::fill_image), 0;
    case 3: return run_rpc(msg, len, &g::character_input, genkit::character_input_schema(), &g::fill_character), 0;
    case 4: return run_rpc(msg, len, &g::chat_input, genkit::chat_input_schema(), &g::fill_chat), 0;
    // TellStory streams chunks: its reply mapping is the chat's, fed the wrong shape.
    case 5: return run_rpc(msg, len, &g::story_input, genkit::story_input_schema(), &g::fill_chat), 0;
    case 6: return run_rpc(msg, len, &g::code_input, genkit::code_input_schema(), &g::fill_code), 0;
    default: return run_rpc(msg, len, &g::review_input, genkit::code_review_input_schema(), &g::fill_review), 0;
  }
}
