#include "grpcd/access_log.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/server_context.h>

#include <chrono>
#include <string>

#include "common/log.h"
#include "common/runtime/trace.h"
#include "common/shm/metrics.h"

namespace genkit::grpcd {

namespace {

using grpc::experimental::InterceptionHookPoints;

class AccessLog : public grpc::experimental::Interceptor {
 public:
  AccessLog(grpc::experimental::ServerRpcInfo* info, shm::ProcessMetrics* metrics, int method_label)
      : info_(info), metrics_(metrics), started_(std::chrono::steady_clock::now()), method_label_(method_label) {
    if (metrics_) metrics_->grpc_call_started();
  }

  // A call that ended without a status of ours (the transport failed it:
  // the client vanished, a message over the size limit) is still counted.
  ~AccessLog() override {
    if (!logged_) record(grpc::StatusCode::CANCELLED, "ended before a status was sent");
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      adopt_request_id(*methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (request_id_.empty()) request_id_ = uuid4();
      methods->GetSendInitialMetadata()->emplace("x-request-id", request_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (unparsed_request(status)) {
        status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "the request is not a valid message of this method (malformed protobuf, or a "
                              "string field that is not UTF-8)");
        methods->ModifySendStatus(status);
      }
      record(status.error_code(), "");
    }
    methods->Proceed();
  }

 private:
  void adopt_request_id(std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    auto it = metadata.find("x-request-id");
    if (it != metadata.end() && valid_request_id(std::string_view(it->second.data(), it->second.size()))) {
      request_id_.assign(it->second.data(), it->second.size());
      return;
    }
    if (it != metadata.end()) metadata.erase(it);
    request_id_ = uuid4();
    // The handlers read it from the same map; the strings live as long as the call.
    metadata.emplace(grpc::string_ref(kKey), grpc::string_ref(request_id_));
  }

  // grpc++ answers a request it cannot deserialize with a bare UNIMPLEMENTED,
  // which would tell the client the method does not exist; on our own
  // service's methods, it means the message was malformed.
  bool unparsed_request(const grpc::Status& status) const {
    if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED || !status.error_message().empty()) return false;
    // "/genkit.sample.v1.GenkitService/TellJoke" → "genkit.sample.v1.GenkitService.TellJoke"
    std::string name = info_->method() ? info_->method() : "";
    if (name.size() < 2 || name[0] != '/') return false;
    name.erase(0, 1);
    std::size_t slash = name.rfind('/');
    if (slash == std::string::npos) return false;
    name[slash] = '.';
    return name.starts_with("genkit.sample.v1.") &&
           google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name) != nullptr;
  }

  void record(grpc::StatusCode code, const char* detail) {
    logged_ = true;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (metrics_) metrics_->grpc_call_finished(method_label_, static_cast<int>(code), seconds);
    if (!log_enabled(LogLevel::kInfo)) return;
    std::string peer = info_->server_context() ? info_->server_context()->peer() : "";
    log_info("grpc_request", {{"request_id", request_id_},
                              {"method", info_->method()},
                              {"peer", peer},
                              {"code", shm::grpc_status_name(static_cast<int>(code))},
                              {"duration_ms", seconds * 1000},
                              {"detail", detail}});
  }

  static constexpr const char* kKey = "x-request-id";
  grpc::experimental::ServerRpcInfo* info_;
  shm::ProcessMetrics* metrics_;
  std::chrono::steady_clock::time_point started_;
  int method_label_ = 0;
  std::string request_id_;
  bool logged_ = false;
};

}  // namespace

AccessLogFactory::AccessLogFactory(shm::ProcessMetrics* metrics, std::vector<std::string> methods)
    : metrics_(metrics), methods_(std::move(methods)) {
  for (const std::string& m : methods_) labels_.emplace(m, metrics_ ? metrics_->grpc_method_label(m) : 0);
}

grpc::experimental::Interceptor* AccessLogFactory::CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) {
  auto it = labels_.find(info->method() ? std::string_view(info->method()) : std::string_view());
  return new AccessLog(info, metrics_, it == labels_.end() ? shm::kGrpcMethodLabels - 1 : it->second);
}

}  // namespace genkit::grpcd
