// The outermost gRPC interceptor (the seed's GrpcLoggingInterceptor), on
// every service including health and reflection: it gives each call a
// request id (the client's `x-request-id` metadata when valid, else a new
// UUID4, put into the call's metadata for the handlers and echoed in the
// reply's), logs one `grpc_request` line when the status is sent (method,
// peer, code, duration, request id; the JSON log format of the HTTP side)
// and counts the call in /metrics by method and code. A request grpc++ could
// not deserialize for one of our methods leaves as INVALID_ARGUMENT, not
// grpc++'s bare UNIMPLEMENTED (which an unknown method still gets). The shared rate
// limiter, next in the seed's order, runs at the start of each flow call
// (call_core.h): grpc++ server interceptors cannot refuse a call.
#pragma once

#include <grpcpp/support/server_interceptor.h>

namespace genkit::shm {
class ProcessMetrics;
}

namespace genkit::grpcd {

class AccessLogFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AccessLogFactory(shm::ProcessMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  shm::ProcessMetrics* metrics_;
};

}  // namespace genkit::grpcd
