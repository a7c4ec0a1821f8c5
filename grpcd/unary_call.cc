#include "grpcd/unary_call.h"

#include <grpcpp/server_context.h>

#include "grpcd/status_mapping.h"

namespace genkit::grpcd {

grpc::ServerUnaryReactor* UnaryFlowCall::start(DaemonContext& daemon, grpc::CallbackServerContext* ctx,
                                               const char* flow, Result<Json> raw_input, FillReply fill) {
  auto call = std::make_shared<UnaryFlowCall>(daemon, ctx, flow, std::move(raw_input), std::move(fill));
  call->self_ = call;
  if (!call->core_.enter()) {
    call->finished_ = true;
    call->Finish(CallCore::too_busy());
    return call.get();
  }
  daemon.inbox.post([call] { call->begin(); });
  return call.get();
}

UnaryFlowCall::UnaryFlowCall(DaemonContext& daemon, grpc::CallbackServerContext* ctx, const char* flow,
                             Result<Json> raw_input, FillReply fill)
    : core_(daemon, ctx, flow, std::move(raw_input)), fill_(std::move(fill)) {}

void UnaryFlowCall::OnCancel() {
  core_.daemon().inbox.post([call = shared_from_this()] {
    call->core_.cancel_token().cancel();
    call->finish(Status(Code::kCancelled, "cancelled by the client"));
  });
}

void UnaryFlowCall::OnDone() { core_.leave(std::move(self_)); }

void UnaryFlowCall::begin() {
  if (finished_) return;
  std::weak_ptr<UnaryFlowCall> weak = weak_from_this();
  core_.check_rate_limit([weak](Status limited) {
    auto call = weak.lock();
    if (!call) return;
    if (!limited.is_ok()) return call->finish(limited);
    call->run();
  });
}

void UnaryFlowCall::run() {
  if (finished_) return;
  Result<Json> input = core_.admit();
  if (!input.ok()) return finish(input.status());
  input_ = Json(input.value());
  FlowObserver obs;
  std::weak_ptr<UnaryFlowCall> weak = weak_from_this();
  obs.on_done = [weak](Result<Json> out) {
    if (auto call = weak.lock()) call->complete(std::move(out));
  };
  core_.arm_deadline([weak](Status why) {
    if (auto call = weak.lock()) call->finish(why);
  });
  run_validated_flow(core_.daemon().runtime, *core_.action(), std::move(input).value(), Json::object(),
                     core_.cancel_token(), std::move(obs), core_.trace());
}

void UnaryFlowCall::complete(Result<Json> output) {
  if (finished_) return;
  if (!output.ok()) {
    core_.log_failure(output.status());
    return finish(output.status());
  }
  Status filled = fill_(output->view(), input_.view());
  if (!filled.is_ok()) core_.log_failure(filled);
  finish(filled);
}

void UnaryFlowCall::finish(const Status& status) {
  if (finished_) return;
  finished_ = true;
  core_.disarm();
  Finish(grpc_status_for(status, core_.ctx()));
}

}  // namespace genkit::grpcd
