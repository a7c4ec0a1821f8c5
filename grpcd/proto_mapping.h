// Between the gRPC messages of protos/genkit_sample.proto and the JSON the
// flows take and give. Requests become the same raw input a REST body would
// (validated afterwards by the flow's schema, defaults applied); in proto3 an
// empty string is an unset field, so it is left out and takes its default.
// Outputs are the flow's already-validated JSON; a shape that still does not
// fit the message is an error, never a crash.
#pragma once

#include "common/json.h"
#include "common/status.h"
#include "protos/genkit_sample.pb.h"

namespace genkit::grpcd {

namespace pb = ::genkit::sample::v1;

Json joke_input(const pb::JokeRequest& req);
Json translate_input(const pb::TranslateRequest& req);
Json image_input(const pb::ImageRequest& req);
Json character_input(const pb::CharacterRequest& req);
Json chat_input(const pb::ChatRequest& req);
Json story_input(const pb::StoryRequest& req);
Json code_input(const pb::CodeRequest& req);
Json review_input(const pb::CodeReviewRequest& req);

// A proto3 string may hold U+0000; the flows' JSON strings (C strings)
// cannot: a request with one in a string field is refused (INVALID_ARGUMENT
// naming the field) rather than read cut short at the NUL.
Status nul_free(const google::protobuf::Message& request);
// `mapped` (one of the above), unless nul_free(request) refuses it.
Result<Json> checked_input(const google::protobuf::Message& request, Json mapped);

// `output`: the flow's result; `input`: its validated input (defaults applied).
Status fill_joke(JsonView output, JsonView input, pb::JokeResponse* out);
Status fill_translation(JsonView output, JsonView input, pb::TranslationResponse* out);
Status fill_image(JsonView output, JsonView input, pb::ImageResponse* out);
Status fill_character(JsonView output, JsonView input, pb::RpgCharacter* out);
Status fill_chat(JsonView output, JsonView input, pb::ChatResponse* out);
Status fill_code(JsonView output, JsonView input, pb::CodeResponse* out);
Status fill_review(JsonView output, JsonView input, pb::CodeReviewResponse* out);

}  // namespace genkit::grpcd
