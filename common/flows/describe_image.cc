// describe_image: a multimodal prompt (text + the image's URL as media).
// REST: POST /describe-image.
#include "common/flows/flow_helpers.h"
#include "common/schema/models.h"

namespace genkit {

namespace {

void describe_image(FlowRunPtr run) {
  GenerateOptions opts;
  opts.messages.push_back(Message{Role::kUser,
                                  {Part::text_part("Describe this image in detail."),
                                   Part::media_part(text_of(run->input()["image_url"]), "image/jpeg")}});
  run->generate(std::move(opts), finish_with(run, false));
}

}  // namespace

GENKIT_REGISTER_FLOW([] {
  return make_flow("describe_image", image_input_schema(), string_schema(), describe_image, FlowKind::kCacheable);
});

}  // namespace genkit
