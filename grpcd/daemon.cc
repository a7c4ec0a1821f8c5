#include "grpcd/daemon.h"

#include <event2/event.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/net/acceptor.h"
#include "common/net/http_client.h"
#include "common/runtime/runtime.h"
#include "common/state/shared_state.h"
#include "common/shm/segment.h"
#include "common/telemetry/trace_exporters.h"
#include "grpcd/access_log.h"
#include "grpcd/client_connections.h"
#include "grpcd/daemon_context.h"
#include "grpcd/genkit_service.h"
#include "grpcd/loop_inbox.h"

namespace genkit {

namespace {

constexpr const char* kServiceName = "genkit.sample.v1.GenkitService";
constexpr std::chrono::milliseconds kHealthPollInterval{200};
constexpr std::chrono::milliseconds kDrainPollInterval{50};
constexpr int kBurstCalls = 256;  // calls in flight that make a burst worth trimming after
// An aged-out connection's final GOAWAY follows a ping round trip.
constexpr std::chrono::milliseconds kAgeOutSlack{500};

class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    std::erase_if(*plugins, [](const auto& p) { return p->name() == "proto_server_reflection"; });
  }
};

class Grpcd {
 public:
  explicit Grpcd(const GrpcdSetup& setup)
      : setup_(setup), config_(*setup.config), base_owner_(event_base_new(), &event_base_free),
        base_(base_owner_.get()), loop_(base_), http_client_(loop_),
        exporters_(config_, loop_, http_client_, setup.segment ? &setup.segment->processes() : nullptr),
        shared_(loop_, setup.segment, shm::ProcessKind::kGrpc, config_),
        runtime_(loop_, RuntimeOptions{default_model_name(config_), 5, exporters_.sink(), shared_.cache()}),
        inbox_(base_),
        daemon_{runtime_, shared_, config_, inbox_, trusted_proxies(config_), ApiKeys(config_.api_keys)},
        service_(daemon_) {}

  ~Grpcd() {
    for (event* e : signals_) event_free(e);
    signal(SIGTERM, SIG_IGN);  // the exit is under way (see ~Worker)
  }

  int run() {
    Status installed = install_builtins(runtime_.registry(), config_, *setup_.prompts, http_client_, &shared_);
    if (!installed.is_ok()) return boot_failure(installed.message());
    if (!inbox_.ok()) return boot_failure("cannot create the loop's inbox (eventfd)");

    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    // Linking grpc++_reflection registers its plugin with every builder (a
    // static initializer): production takes it out again.
    if (config_.debug) {
      grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    } else {
      builder.SetOption(std::make_unique<WithoutReflection>());
    }
    builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_body_size));
    // grpc-core inflates a compressed request whole before it checks the
    // size (a MAX_BODY_SIZE gzip bomb would be ~1000 times that in memory):
    // requests are taken uncompressed only (UNIMPLEMENTED otherwise, and
    // grpc-accept-encoding says identity).
    builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
    builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, static_cast<int>(max_connection_age().count()));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               static_cast<int>(max_connection_age_grace().count()));
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(std::make_unique<grpcd::AccessLogFactory>(&shared_.metrics(), served_methods()));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    connections_ = builder.experimental().AddExternalConnectionAcceptor(
        grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, grpc::InsecureServerCredentials());
    server_ = builder.BuildAndStart();
    if (!server_) return boot_failure("grpc++ could not start the server");
    health_ = server_->GetHealthCheckService();
    update_health();

    acceptor_ = std::make_unique<Acceptor>(base_, setup_.listen_fd, [this](int fd, const std::string&) {
      // Small frames (stream chunks, unary replies) must not wait on Nagle.
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
      p.listener_fd = setup_.listen_fd;
      p.fd = fd;
      client_connections_.remember(fd);
      connections_->HandleNewConnection(&p);
    });
    if (!acceptor_->start()) return boot_failure("cannot watch the inherited gRPC listening socket");
    health_timer_ = loop_.after(kHealthPollInterval, [this] { poll_health(); });

    add_signal(SIGTERM, [](evutil_socket_t, short, void* arg) { static_cast<Grpcd*>(arg)->drain(); });
    add_signal(SIGQUIT, [](evutil_socket_t, short, void*) { quit(); });
    add_signal(SIGUSR1, [](evutil_socket_t, short, void*) { log_reopen(); });
    signal(SIGINT, SIG_IGN);  // the supervisor turns Ctrl-C into an orderly drain
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    log_info("grpcd_started", {{"model", default_model_name(config_)}, {"reflection", config_.debug},
                               {"max_receive_message_length", config_.max_body_size}});
    tell_supervisor('r');
    event_base_dispatch(base_);
    if (shutdown_thread_.joinable()) shutdown_thread_.join();
    server_.reset();  // every call is done: nothing refers to the loop any more
    log_info("grpcd_exit");
    return 0;
  }

 private:
  static IpAllowList trusted_proxies(const Config& c) {
    Result<IpAllowList> proxies = IpAllowList::parse(c.forwarded_allow_ips);  // (validated with the config)
    return proxies.ok() ? std::move(proxies).value() : IpAllowList{};
  }

  // Every method path this server answers: the service's, health's and, in
  // debug, reflection's.
  std::vector<std::string> served_methods() const {
    std::vector<std::string> out = {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"};
    if (config_.debug) out.push_back("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(kServiceName);
    for (int i = 0; service && i < service->method_count(); ++i) {
      out.push_back("/" + std::string(kServiceName) + "/" + service->method(i)->name());
    }
    return out;
  }

  int boot_failure(const std::string& reason) {
    log_error("grpcd_boot_failed", {{"reason", reason}});
    return kBootFailureExit;
  }

  void add_signal(int sig, event_callback_fn fn) {
    event* e = evsignal_new(base_, sig, fn, this);
    evsignal_add(e, nullptr);
    signals_.push_back(e);
  }

  bool tell_supervisor(char what) {
    return setup_.control_fd >= 0 && write(setup_.control_fd, &what, 1) == 1;
  }

  // SERVING unless draining; the service also NOT_SERVING while the circuit
  // is open (its calls would fail fast), so a balancer can steer away.
  void update_health() {
    bool circuit_open = shared_.breaker().enabled() && shared_.breaker().state() == shm::CircuitState::kOpen;
    bool service = !draining_ && !circuit_open;
    if (service == service_serving_ && !first_health_) return;
    first_health_ = false;
    service_serving_ = service;
    health_->SetServingStatus("", !draining_);
    health_->SetServingStatus(kServiceName, service);
  }

  void poll_health() {
    update_health();
    release_memory_after_burst();
    if (!draining_) health_timer_ = loop_.after(kHealthPollInterval, [this] { poll_health(); });
  }

  // After a burst of calls, give the allocator's free pages back to the
  // system once the daemon is idle again (glibc keeps them otherwise).
  void release_memory_after_burst() {
    int in_flight = daemon_.calls_in_flight.load();
    if (in_flight >= kBurstCalls) burst_ = true;
    if (burst_ && in_flight == 0) {
      burst_ = false;
      malloc_trim(0);
    }
  }

  // A drain, in an order that fails no call. grpc++'s Shutdown cancels a
  // call that reaches a connection after it began and before the client read
  // its GOAWAY; a connection aged out (max_connection_age) gets HTTP/2's
  // graceful double GOAWAY instead, and calls in that window are served. So:
  // 1. health NOT_SERVING, and no new connections (our copy of the socket is
  //    closed: the supervisor's queue goes to a replacement, or is refused);
  // 2. wait until no client connection is left, or every one has aged out
  //    with no flow call in flight (what remains are streams like health
  //    Watch that send no new calls), or the grace period ends;
  // 3. Shutdown at once: what is left sends no new call (health Watch
  //    streams, or anything still running when the grace period ended) and
  //    is cancelled. Shutdown blocks until those calls are finished, which
  //    happens on this loop: it runs on a thread of its own, which stops the
  //    loop after.
  void drain() {
    if (draining_) return;
    draining_ = true;
    health_timer_.reset();
    health_->SetServingStatus("", false);
    health_->SetServingStatus(kServiceName, false);
    acceptor_.reset();
    drain_started_ = std::chrono::steady_clock::now();
    drain_deadline_ = std::chrono::system_clock::now() + std::chrono::seconds(config_.effective_graceful_timeout());
    log_info("grpcd_draining", {{"grace_s", config_.effective_graceful_timeout()},
                                {"connections", client_connections_.open_count()}});
    wait_for_connections();
  }

  void wait_for_connections() {
    bool aged_out = std::chrono::steady_clock::now() - drain_started_ >= max_connection_age() * 11 / 10 + kAgeOutSlack;
    bool idle = daemon_.calls_in_flight.load() == 0;
    if (client_connections_.open_count() == 0 || (aged_out && idle) ||
        std::chrono::system_clock::now() >= drain_deadline_) {
      drain_timer_.reset();
      return shut_down();
    }
    drain_timer_ = loop_.after(kDrainPollInterval, [this] { wait_for_connections(); });
  }

  void shut_down() {
    log_info("grpcd_shutting_down", {{"calls_in_flight", daemon_.calls_in_flight.load()},
                                     {"connections", client_connections_.open_count()}});
    shutdown_thread_ = std::thread([this] {
      server_->Shutdown(std::chrono::system_clock::now());
      inbox_.post([this] { stop_loop(); });
    });
  }

  // Connections are recycled this often (±10% jitter by grpc) so that a drain
  // never waits longer than half its grace period for them.
  std::chrono::milliseconds max_connection_age() const {
    auto half_grace = std::chrono::milliseconds(config_.effective_graceful_timeout() * 500);
    return std::clamp(half_grace, std::chrono::milliseconds(1000), std::chrono::milliseconds(300000));
  }

  // How long an aged-out connection may keep its open calls. A call's
  // message arrives within READ_TIMEOUT and its flow ends within
  // REQUEST_TIMEOUT; a stream still open after both is a client stalled
  // mid-message (grpc-core has no read timeout of its own, and would hold
  // it for as long as the client likes): the connection is closed.
  std::chrono::milliseconds max_connection_age_grace() const {
    return std::chrono::seconds(static_cast<int64_t>(config_.request_timeout) + config_.read_timeout);
  }

  // SIGQUIT: no drain (gunicorn's quick shutdown).
  static void quit() {
    log_info("grpcd_quit");
    std::fflush(nullptr);
    _exit(0);
  }

  void stop_loop() {
    exporters_.flush([this] { event_base_loopexit(base_, nullptr); });
  }

  const GrpcdSetup& setup_;
  const Config& config_;
  std::unique_ptr<event_base, void (*)(event_base*)> base_owner_;  // destroyed last: everything below uses it
  event_base* base_;
  Loop loop_;
  HttpClient http_client_;
  TraceExporters exporters_;
  SharedState shared_;
  Runtime runtime_;
  grpcd::LoopInbox inbox_;
  grpcd::DaemonContext daemon_;
  grpcd::GenkitService service_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> connections_;
  std::unique_ptr<grpc::Server> server_;  // reset before the members above go
  grpc::HealthCheckServiceInterface* health_ = nullptr;
  std::unique_ptr<Acceptor> acceptor_;
  std::unique_ptr<Timer> health_timer_;
  grpcd::ClientConnections client_connections_;
  std::unique_ptr<Timer> drain_timer_;
  std::chrono::steady_clock::time_point drain_started_;
  std::chrono::system_clock::time_point drain_deadline_;
  std::thread shutdown_thread_;
  std::vector<event*> signals_;
  bool draining_ = false;
  bool burst_ = false;
  bool service_serving_ = true;
  bool first_health_ = true;
};

}  // namespace

int run_grpcd(const GrpcdSetup& setup) {
  Grpcd daemon(setup);
  return daemon.run();
}

}  // namespace genkit
