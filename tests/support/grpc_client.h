// The gRPC side of the integration suites (integration/grpc_*_test.cc): a
// grpc++ client of grpcd, started by the real supervisor with
// `--grpc-port 0` on fake_llm (Gemini). Channels, the service's and
// grpc.health.v1's stubs, a TellStory reader, which grpcd is alive (from the
// supervisor's grpcd_spawned/grpcd_exited lines), and a fixture that starts
// a server with gRPC per test. Only the gRPC suites include this header:
// each translation unit that pulls in grpc++ costs seconds to compile.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "protos/genkit_sample.grpc.pb.h"
#include "tests/support/shared_state_support.h"

namespace itest {

namespace gpb = ::genkit::sample::v1;
namespace hpb = ::grpc::health::v1;

constexpr const char* kGenkitService = "genkit.sample.v1.GenkitService";

// The port of the supervisor's `grpc_listening` line (0 when absent).
int grpc_port_of(const ServerProcess& server);

// An insecure channel to 127.0.0.1:port with its own subchannel pool: two
// channels never share a connection, so a new channel is a new connection.
std::shared_ptr<grpc::Channel> grpc_channel(int port);

// `ctx` gives up after `timeout` from now.
void set_timeout(grpc::ClientContext& ctx, milliseconds timeout);

// A trailing metadata value of a finished call ("" when absent).
std::string trailer(const grpc::ClientContext& ctx, const std::string& key);

// "OK", "UNAVAILABLE"...: a status code by name, for readable failures.
std::string grpc_code_name(grpc::StatusCode code);
// "CODE: message" of a status.
std::string describe(const grpc::Status& status);

// grpc.health.v1.Health/Check on `channel` for `service` ("" = the server).
struct HealthAnswer {
  grpc::Status status;
  hpb::HealthCheckResponse::ServingStatus serving = hpb::HealthCheckResponse::UNKNOWN;
  bool serving_ok() const { return status.ok() && serving == hpb::HealthCheckResponse::SERVING; }
  bool not_serving() const { return status.ok() && serving == hpb::HealthCheckResponse::NOT_SERVING; }
  std::string describe() const;
};
HealthAnswer health_check(grpc::Channel& channel, const std::string& service,
                          milliseconds timeout = milliseconds(2000));

using HealthStatus = hpb::HealthCheckResponse::ServingStatus;

// A grpc.health.v1 Health/Watch stream (what a balancer keeps open).
class HealthWatch {
 public:
  HealthWatch(std::shared_ptr<grpc::Channel> channel, const std::string& service, milliseconds timeout);
  ~HealthWatch();
  // The next status the server sends; nullopt once the stream ended (then
  // end() is its status).
  std::optional<HealthStatus> next();
  // Ends the watch from our side (and reads it to its end).
  void cancel();
  const grpc::Status& end() const { return end_; }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<hpb::Health::Stub> stub_;
  std::unique_ptr<grpc::ClientReader<hpb::HealthCheckResponse>> reader_;
  bool ended_ = false;
  grpc::Status end_;
};
inline std::unique_ptr<HealthWatch> watch_health(std::shared_ptr<grpc::Channel> channel, const std::string& service,
                                                 milliseconds timeout) {
  return std::make_unique<HealthWatch>(std::move(channel), service, timeout);
}

// One TellStory call read to its end.
struct StoryRead {
  std::vector<std::string> chunks;
  std::vector<Clock::time_point> arrived;
  grpc::Status status;
  std::string text() const;
};
// wait_for_ready: wait for the channel to connect (up to the timeout) instead
// of failing at once while it cannot.
StoryRead read_story(gpb::GenkitService::Stub& stub, const std::string& topic, milliseconds timeout,
                     bool wait_for_ready = false);

// The grpcd the supervisor spawned last and has not reported exited (0: none).
int live_grpcd_pid(const ServerProcess& server);

// The recorded model calls of the fake whose path contains `path_part`.
std::vector<genkit::Json> model_calls_to(FakeLlmProcess& fake, const std::string& path_part);
// Waits (bounded) until the fake's `index`-th model call to `path_part`
// (0-based) is recorded with client_closed, and returns that record (null
// when it never was: then `last` says what was seen).
genkit::Json wait_upstream_closed(FakeLlmProcess& fake, const std::string& path_part, size_t index,
                                  milliseconds timeout, std::string* last);

// A server with gRPC (`--grpc-port 0`) of its own for each test, Gemini on
// one fake_llm per suite. Derived supplies `static std::vector<std::string> fake_args()`.
template <typename Derived>
class GrpcServerTest : public FakeUpstreamServerTest<Derived> {
 protected:
  using Base = FakeUpstreamServerTest<Derived>;

  // Starts the server (Gemini on the fake, `workers` HTTP workers and
  // grpcd, `env` over that), waits until it serves both protocols, then
  // clears the fake's script and records.
  void start_grpc(const Env& env, int workers = 2) {
    ServerOptions o;
    o.args = {"--port", "0", "--grpc-port", "0", "--workers", std::to_string(workers)};
    o.env = gemini_env_for(Base::fake()->base_url());
    for (const auto& [k, v] : env) o.env[k] = v;
    std::string why;
    this->server_ = start_server(o, &why);
    ASSERT_TRUE(this->server_) << "server did not start: " << why;
    ASSERT_TRUE(this->server_->wait_event_count("worker_spawned", static_cast<size_t>(workers), milliseconds(5000)));
    ASSERT_TRUE(this->server_->wait_event("grpcd_started", milliseconds(5000)))
        << "no grpcd_started line\n" << this->server_->stdout_text() << this->server_->stderr_text();
    grpc_port_ = grpc_port_of(*this->server_);
    ASSERT_GT(grpc_port_, 0) << "no grpc_listening line with a port:\n" << this->server_->stdout_text();
    channel_ = grpc_channel(grpc_port_);
    stub_ = gpb::GenkitService::NewStub(channel_);
    ASSERT_TRUE(Base::fake()->reset()) << Base::fake()->error();
  }

  void TearDown() override {
    stub_.reset();
    channel_.reset();
    Base::TearDown();
  }

  int grpc_port() const { return grpc_port_; }
  grpc::Channel& channel() { return *channel_; }
  gpb::GenkitService::Stub& stub() { return *stub_; }

  // TellJoke on the test's channel, bounded by `timeout`.
  grpc::Status joke(const std::string& name, gpb::JokeResponse* out = nullptr,
                    milliseconds timeout = milliseconds(10000)) {
    grpc::ClientContext ctx;
    set_timeout(ctx, timeout);
    gpb::JokeRequest req;
    req.set_name(name);
    gpb::JokeResponse resp;
    grpc::Status s = stub_->TellJoke(&ctx, req, &resp);
    if (out) *out = resp;
    return s;
  }

  int grpc_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<gpb::GenkitService::Stub> stub_;
};

}  // namespace itest
