// TellStory: a server-streaming RPC that sends each chunk of the flow as one
// StoryChunk as the model streams it. Same threading as unary_call.h; in
// addition grpc++ allows one write in flight, so chunks that arrive while one
// is being written wait in a backlog and go out together as the next message
// (a reader that keeps up sees every chunk on its own). A reader so slow that
// the backlog passes max_stream_backlog bytes is cut off with
// RESOURCE_EXHAUSTED and the model call is cancelled: the daemon never
// buffers without bound. grpc's own HTTP/2 flow control is what holds a
// write in flight while the client's window is shut.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <memory>
#include <optional>
#include <string>

#include "grpcd/call_core.h"
#include "protos/genkit_sample.pb.h"

namespace genkit::grpcd {

class StoryStreamCall : public grpc::ServerWriteReactor<::genkit::sample::v1::StoryChunk>,
                        public std::enable_shared_from_this<StoryStreamCall> {
 public:
  static grpc::ServerWriteReactor<::genkit::sample::v1::StoryChunk>* start(DaemonContext& daemon,
                                                                           grpc::CallbackServerContext* ctx,
                                                                           Result<Json> raw_input);

  StoryStreamCall(DaemonContext& daemon, grpc::CallbackServerContext* ctx, Result<Json> raw_input);
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void begin();
  void run();  // after the rate limit: admits the call and runs the flow
  void on_chunk(const std::string& text);
  void write_next();
  void end(const Status& status);  // finishes once the write in flight is done

  CallCore core_;
  ::genkit::sample::v1::StoryChunk message_;  // the write in flight
  std::string backlog_;                      // chunks that came during it
  bool writing_ = false;
  bool finished_ = false;
  std::optional<Status> ending_;  // set once the call's outcome is known
  std::shared_ptr<StoryStreamCall> self_;
};

}  // namespace genkit::grpcd
