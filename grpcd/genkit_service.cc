#include "grpcd/genkit_service.h"

#include "grpcd/proto_mapping.h"
#include "grpcd/story_stream.h"
#include "grpcd/unary_call.h"

namespace genkit::grpcd {

namespace {

// Binds a reply message to its fill function for UnaryFlowCall.
template <typename Reply>
FillReply fill_into(Status (*fill)(JsonView, JsonView, Reply*), Reply* reply) {
  return [fill, reply](JsonView output, JsonView input) { return fill(output, input, reply); };
}

}  // namespace

// Like GET /health: answered on grpc's thread, no flow, no rate limit.
grpc::ServerUnaryReactor* GenkitService::Health(Ctx* ctx, const pb::HealthRequest*, pb::HealthResponse* resp) {
  resp->set_status("ok");
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* GenkitService::TellJoke(Ctx* ctx, const pb::JokeRequest* req, pb::JokeResponse* resp) {
  return UnaryFlowCall::start(daemon_, ctx, "tell_joke", checked_input(*req, joke_input(*req)),
                              fill_into(&fill_joke, resp));
}

grpc::ServerUnaryReactor* GenkitService::TranslateText(Ctx* ctx, const pb::TranslateRequest* req,
                                                       pb::TranslationResponse* resp) {
  return UnaryFlowCall::start(daemon_, ctx, "translate_text", checked_input(*req, translate_input(*req)),
                              fill_into(&fill_translation, resp));
}

grpc::ServerUnaryReactor* GenkitService::DescribeImage(Ctx* ctx, const pb::ImageRequest* req,
                                                       pb::ImageResponse* resp) {
  return UnaryFlowCall::start(daemon_, ctx, "describe_image", checked_input(*req, image_input(*req)),
                              fill_into(&fill_image, resp));
}

grpc::ServerUnaryReactor* GenkitService::GenerateCharacter(Ctx* ctx, const pb::CharacterRequest* req,
                                                           pb::RpgCharacter* resp) {
  return UnaryFlowCall::start(daemon_, ctx, "generate_character", checked_input(*req, character_input(*req)),
                              fill_into(&fill_character, resp));
}

grpc::ServerUnaryReactor* GenkitService::PirateChat(Ctx* ctx, const pb::ChatRequest* req, pb::ChatResponse* resp) {
  return UnaryFlowCall::start(daemon_, ctx, "pirate_chat", checked_input(*req, chat_input(*req)),
                              fill_into(&fill_chat, resp));
}

grpc::ServerWriteReactor<pb::StoryChunk>* GenkitService::TellStory(Ctx* ctx, const pb::StoryRequest* req) {
  return StoryStreamCall::start(daemon_, ctx, checked_input(*req, story_input(*req)));
}

grpc::ServerUnaryReactor* GenkitService::GenerateCode(Ctx* ctx, const pb::CodeRequest* req, pb::CodeResponse* resp) {
  return UnaryFlowCall::start(daemon_, ctx, "generate_code", checked_input(*req, code_input(*req)),
                              fill_into(&fill_code, resp));
}

grpc::ServerUnaryReactor* GenkitService::ReviewCode(Ctx* ctx, const pb::CodeReviewRequest* req,
                                                    pb::CodeReviewResponse* resp) {
  return UnaryFlowCall::start(daemon_, ctx, "review_code", checked_input(*req, review_input(*req)),
                              fill_into(&fill_review, resp));
}

}  // namespace genkit::grpcd
