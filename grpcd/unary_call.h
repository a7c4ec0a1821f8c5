// A unary RPC that runs a flow: the reactor grpc++ drives, living until
// OnDone. Its life, thread by thread:
//   grpc thread: start() builds it and posts begin() to the loop.
//   loop:        begin() takes the rate limit (with Redis, when it answers),
//                run() admits the call and runs the flow; the flow's result
//                (or the deadline, or a cancel) fills the reply and calls
//                Finish() exactly once.
//   grpc thread: OnCancel() posts a cancel to the loop; OnDone() posts the
//                release of the call's last self-reference, so it is freed
//                on the loop after every closure posted for it has run.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <functional>
#include <memory>

#include "grpcd/call_core.h"

namespace genkit::grpcd {

// Fills the reply message from the flow's output and validated input.
using FillReply = std::function<Status(JsonView output, JsonView input)>;

class UnaryFlowCall : public grpc::ServerUnaryReactor, public std::enable_shared_from_this<UnaryFlowCall> {
 public:
  static grpc::ServerUnaryReactor* start(DaemonContext& daemon, grpc::CallbackServerContext* ctx, const char* flow,
                                         Result<Json> raw_input, FillReply fill);

  UnaryFlowCall(DaemonContext& daemon, grpc::CallbackServerContext* ctx, const char* flow, Result<Json> raw_input,
                FillReply fill);
  void OnCancel() override;
  void OnDone() override;

 private:
  void begin();
  void run();  // after the rate limit: admits the call and runs the flow
  void complete(Result<Json> output);
  void finish(const Status& status);

  CallCore core_;
  FillReply fill_;
  Json input_;  // validated
  bool finished_ = false;
  std::shared_ptr<UnaryFlowCall> self_;  // released by OnDone (on the loop)
};

}  // namespace genkit::grpcd
