// genkit.sample.v1.GenkitService on grpc++'s callback API: each RPC runs the
// same registered flow as its REST twin (worker/flow_routes.cc), through the
// same validation, cache, circuit breaker and rate limit.
#pragma once

#include "grpcd/daemon_context.h"
#include "grpcd/proto_mapping.h"
#include "protos/genkit_sample.grpc.pb.h"

namespace genkit::grpcd {

class GenkitService final : public ::genkit::sample::v1::GenkitService::CallbackService {
 public:
  explicit GenkitService(DaemonContext& daemon) : daemon_(daemon) {}

  using Ctx = grpc::CallbackServerContext;
  grpc::ServerUnaryReactor* Health(Ctx* ctx, const pb::HealthRequest* req, pb::HealthResponse* resp) override;
  grpc::ServerUnaryReactor* TellJoke(Ctx* ctx, const pb::JokeRequest* req, pb::JokeResponse* resp) override;
  grpc::ServerUnaryReactor* TranslateText(Ctx* ctx, const pb::TranslateRequest* req,
                                          pb::TranslationResponse* resp) override;
  grpc::ServerUnaryReactor* DescribeImage(Ctx* ctx, const pb::ImageRequest* req, pb::ImageResponse* resp) override;
  grpc::ServerUnaryReactor* GenerateCharacter(Ctx* ctx, const pb::CharacterRequest* req,
                                              pb::RpgCharacter* resp) override;
  grpc::ServerUnaryReactor* PirateChat(Ctx* ctx, const pb::ChatRequest* req, pb::ChatResponse* resp) override;
  grpc::ServerWriteReactor<pb::StoryChunk>* TellStory(Ctx* ctx, const pb::StoryRequest* req) override;
  grpc::ServerUnaryReactor* GenerateCode(Ctx* ctx, const pb::CodeRequest* req, pb::CodeResponse* resp) override;
  grpc::ServerUnaryReactor* ReviewCode(Ctx* ctx, const pb::CodeReviewRequest* req,
                                       pb::CodeReviewResponse* resp) override;

 private:
  DaemonContext& daemon_;
};

}  // namespace genkit::grpcd
