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

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace genkit::shm {
class ProcessMetrics;
}

namespace genkit::grpcd {

class AccessLogFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `methods`: the paths the server serves ("/pkg.Service/Method"), given
  // their /metrics labels once, here; a call to any other name counts as
  // "other", so clients cannot fill the shared label table with made-up names,
  // and no call takes the table's lock.
  AccessLogFactory(shm::ProcessMetrics* metrics, std::vector<std::string> methods);
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  shm::ProcessMetrics* metrics_;
  std::vector<std::string> methods_;
  std::unordered_map<std::string_view, int> labels_;  // views into methods_; read-only once built
};

}  // namespace genkit::grpcd
