#include "grpcd/status_mapping.h"

#include <grpcpp/server_context.h>

#include <string>

namespace genkit::grpcd {

grpc::StatusCode grpc_code_for(Code code) {
  switch (code) {
    case Code::kOk: return grpc::StatusCode::OK;
    case Code::kCancelled: return grpc::StatusCode::CANCELLED;
    case Code::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Code::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case Code::kPermissionDenied: return grpc::StatusCode::PERMISSION_DENIED;
    case Code::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kUnimplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case Code::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    // The model failed or replied with something unusable: SPEC.md §5's
    // "other" (REST says 502); a model that is overloaded or behind an open
    // circuit is kUnavailable above.
    case Code::kUpstream: return grpc::StatusCode::INTERNAL;
    case Code::kUnauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    case Code::kInternal: return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::INTERNAL;
}

grpc::Status grpc_status_for(const Status& status, grpc::ServerContextBase* ctx) {
  grpc::StatusCode code = grpc_code_for(status.code());
  if (code == grpc::StatusCode::OK) return grpc::Status::OK;
  if (ctx && status.retry_after_s() >= 0) ctx->AddTrailingMetadata("retry-after", std::to_string(status.retry_after_s()));
  // Our own failures stay in the log; an upstream's (which REST shows too)
  // says which provider failed and how, nothing more.
  if (status.code() == Code::kInternal) return grpc::Status(code, "The server could not complete the request.");
  return grpc::Status(code, status.message());
}

}  // namespace genkit::grpcd
