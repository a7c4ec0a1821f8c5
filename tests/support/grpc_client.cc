#include "tests/support/grpc_client.h"

#include <set>
#include <thread>

#include "common/shm/metrics.h"

namespace itest {

int grpc_port_of(const ServerProcess& server) {
  std::vector<genkit::Json> lines = server.events("grpc_listening");
  if (lines.empty() || !lines.back()["port"].is_number()) return 0;
  return static_cast<int>(lines.back()["port"].as_number());
}

std::shared_ptr<grpc::Channel> grpc_channel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args);
}

void set_timeout(grpc::ClientContext& ctx, milliseconds timeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
}

std::string trailer(const grpc::ClientContext& ctx, const std::string& key) {
  auto it = ctx.GetServerTrailingMetadata().find(key);
  if (it == ctx.GetServerTrailingMetadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

std::string grpc_code_name(grpc::StatusCode code) { return genkit::shm::grpc_status_name(static_cast<int>(code)); }

std::string describe(const grpc::Status& status) {
  return grpc_code_name(status.error_code()) + ": " + status.error_message();
}

std::string HealthAnswer::describe() const {
  if (!status.ok()) return "call failed: " + itest::describe(status);
  return hpb::HealthCheckResponse::ServingStatus_Name(serving);
}

HealthAnswer health_check(grpc::Channel& channel, const std::string& service, milliseconds timeout) {
  // The stub holds a shared_ptr; this one must not own the caller's channel.
  std::shared_ptr<grpc::Channel> unowned(&channel, [](grpc::Channel*) {});
  std::unique_ptr<hpb::Health::Stub> stub = hpb::Health::NewStub(unowned);
  grpc::ClientContext ctx;
  set_timeout(ctx, timeout);
  hpb::HealthCheckRequest req;
  req.set_service(service);
  hpb::HealthCheckResponse resp;
  HealthAnswer out;
  out.status = stub->Check(&ctx, req, &resp);
  if (out.status.ok()) out.serving = resp.status();
  return out;
}

HealthWatch::HealthWatch(std::shared_ptr<grpc::Channel> channel, const std::string& service, milliseconds timeout)
    : stub_(hpb::Health::NewStub(std::move(channel))) {
  set_timeout(ctx_, timeout);
  hpb::HealthCheckRequest req;
  req.set_service(service);
  reader_ = stub_->Watch(&ctx_, req);
}

HealthWatch::~HealthWatch() { cancel(); }

std::optional<HealthStatus> HealthWatch::next() {
  if (ended_) return std::nullopt;
  hpb::HealthCheckResponse update;
  if (reader_->Read(&update)) return update.status();
  ended_ = true;
  end_ = reader_->Finish();
  return std::nullopt;
}

void HealthWatch::cancel() {
  if (ended_) return;
  ctx_.TryCancel();
  while (next()) {
  }
}

std::string StoryRead::text() const {
  std::string s;
  for (const std::string& c : chunks) s += c;
  return s;
}

StoryRead read_story(gpb::GenkitService::Stub& stub, const std::string& topic, milliseconds timeout,
                     bool wait_for_ready) {
  grpc::ClientContext ctx;
  set_timeout(ctx, timeout);
  ctx.set_wait_for_ready(wait_for_ready);
  gpb::StoryRequest req;
  req.set_topic(topic);
  std::unique_ptr<grpc::ClientReader<gpb::StoryChunk>> reader = stub.TellStory(&ctx, req);
  StoryRead out;
  gpb::StoryChunk chunk;
  while (reader->Read(&chunk)) {
    out.chunks.push_back(chunk.text());
    out.arrived.push_back(Clock::now());
  }
  out.status = reader->Finish();
  return out;
}

int live_grpcd_pid(const ServerProcess& server) {
  std::set<int> exited;
  for (const genkit::Json& e : server.events("grpcd_exited")) exited.insert(static_cast<int>(e["worker_pid"].as_number()));
  int live = 0;
  for (const genkit::Json& e : server.events("grpcd_spawned")) {
    int pid = static_cast<int>(e["worker_pid"].as_number());
    if (!exited.count(pid)) live = pid;
  }
  return live;
}

std::vector<genkit::Json> model_calls_to(FakeLlmProcess& fake, const std::string& path_part) {
  std::vector<genkit::Json> out;
  for (genkit::Json& r : fake.model_requests()) {
    if (r["path"].as_string().find(path_part) != std::string_view::npos) out.push_back(std::move(r));
  }
  return out;
}

genkit::Json wait_upstream_closed(FakeLlmProcess& fake, const std::string& path_part, size_t index,
                                  milliseconds timeout, std::string* last) {
  genkit::Json found;
  bool closed = FakeLlmProcess::eventually(
      [&] {
        std::vector<genkit::Json> calls = model_calls_to(fake, path_part);
        if (calls.size() <= index) {
          if (last) *last = std::to_string(calls.size()) + " calls to " + path_part + " recorded";
          return false;
        }
        if (last) *last = calls[index].dump();
        if (!calls[index]["client_closed"].as_bool()) return false;
        found = std::move(calls[index]);
        return true;
      },
      timeout);
  return closed ? found : genkit::Json::null();
}

}  // namespace itest
