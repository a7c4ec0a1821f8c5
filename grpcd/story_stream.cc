#include "grpcd/story_stream.h"

#include <grpcpp/server_context.h>

#include "grpcd/proto_mapping.h"
#include "grpcd/status_mapping.h"

namespace genkit::grpcd {

using StoryWriter = grpc::ServerWriteReactor<::genkit::sample::v1::StoryChunk>;

StoryWriter* StoryStreamCall::start(DaemonContext& daemon, grpc::CallbackServerContext* ctx,
                                    Result<Json> raw_input) {
  auto call = std::make_shared<StoryStreamCall>(daemon, ctx, std::move(raw_input));
  call->self_ = call;
  if (!call->core_.enter()) {
    call->finished_ = true;
    call->Finish(CallCore::too_busy());
    return call.get();
  }
  daemon.inbox.post([call] { call->begin(); });
  return call.get();
}

StoryStreamCall::StoryStreamCall(DaemonContext& daemon, grpc::CallbackServerContext* ctx, Result<Json> raw_input)
    : core_(daemon, ctx, "tell_story", std::move(raw_input)) {}

void StoryStreamCall::OnWriteDone(bool ok) {
  core_.daemon().inbox.post([call = shared_from_this(), ok] {
    call->writing_ = false;
    if (!ok) {  // the client is gone
      call->core_.cancel_token().cancel();
      return call->end(Status(Code::kCancelled, "the client went away"));
    }
    call->write_next();
  });
}

void StoryStreamCall::OnCancel() {
  core_.daemon().inbox.post([call = shared_from_this()] {
    call->core_.cancel_token().cancel();
    call->end(Status(Code::kCancelled, "cancelled by the client"));
  });
}

void StoryStreamCall::OnDone() { core_.leave(std::move(self_)); }

void StoryStreamCall::begin() {
  if (ending_) return;
  std::weak_ptr<StoryStreamCall> weak = weak_from_this();
  core_.check_rate_limit([weak](Status limited) {
    auto call = weak.lock();
    if (!call) return;
    if (!limited.is_ok()) return call->end(limited);
    call->run();
  });
}

void StoryStreamCall::run() {
  if (ending_) return;
  Result<Json> input = core_.admit();
  if (!input.ok()) return end(input.status());
  std::weak_ptr<StoryStreamCall> weak = weak_from_this();
  FlowObserver obs;
  obs.on_chunk = [weak](const std::string& text) {
    if (auto call = weak.lock()) call->on_chunk(text);
  };
  obs.on_done = [weak](Result<Json> out) {
    auto call = weak.lock();
    if (!call) return;
    if (!out.ok()) call->core_.log_failure(out.status());
    call->end(out.ok() ? Status::ok() : out.status());
  };
  core_.arm_deadline([weak](Status why) {
    if (auto call = weak.lock()) call->end(why);
  });
  run_validated_flow(core_.daemon().runtime, *core_.action(), std::move(input).value(), Json::object(),
                     core_.cancel_token(), std::move(obs), core_.trace());
}

void StoryStreamCall::on_chunk(const std::string& text) {
  if (ending_ || text.empty()) return;
  backlog_ += text;
  if (backlog_.size() > core_.daemon().max_stream_backlog) {
    core_.cancel_token().cancel();
    backlog_.clear();
    return end(Status(Code::kResourceExhausted, "the client reads the stream too slowly"));
  }
  write_next();
}

void StoryStreamCall::write_next() {
  if (writing_ || finished_) return;
  if (!backlog_.empty()) {
    message_.set_text(std::move(backlog_));
    backlog_.clear();
    writing_ = true;
    return StartWrite(&message_);
  }
  if (ending_) {
    finished_ = true;
    core_.disarm();
    Finish(grpc_status_for(*ending_, core_.ctx()));
  }
}

void StoryStreamCall::end(const Status& status) {
  // The first outcome wins; whatever comes later (the cancel that follows a
  // cut-off, a failed write) only lets write_next() finish the call.
  if (!ending_) {
    ending_ = status;
    // A failed stream says so now; a story that succeeded sends what is left first.
    if (!status.is_ok()) {
      backlog_.clear();
      // A write stuck behind a reader's shut window would hold the call open
      // past its deadline: cancelling the stream completes that write.
      if (writing_) core_.ctx()->TryCancel();
    }
  }
  write_next();
}

}  // namespace genkit::grpcd
