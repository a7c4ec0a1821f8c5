// A flow's failure as a gRPC status (SPEC.md §5): validation →
// INVALID_ARGUMENT, rate limit → RESOURCE_EXHAUSTED, open circuit or an
// overloaded model → UNAVAILABLE, timeout → DEADLINE_EXCEEDED, the rest →
// INTERNAL (a model that failed says so; our own failures get a generic
// message, the real one goes to the log). A status that says when to retry
// carries it as `retry-after` trailing metadata.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace grpc {
class ServerContextBase;
}

namespace genkit::grpcd {

grpc::StatusCode grpc_code_for(Code code);
grpc::Status grpc_status_for(const Status& status, grpc::ServerContextBase* ctx);

}  // namespace genkit::grpcd
