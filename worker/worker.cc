#include "worker/worker.h"

#include <event2/event.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <vector>

#include "common/log.h"
#include "common/net/http_client.h"
#include "common/shm/segment.h"
#include "common/telemetry/trace_exporters.h"
#include "common/runtime/runtime.h"
#include "common/net/acceptor.h"
#include "worker/app_context.h"
#include "worker/connection.h"
#include "worker/http_surface.h"
#include "worker/reflection_server.h"
#include "worker/router.h"
#include "worker/server_context.h"

namespace genkit {

namespace {

// epoll's change list folds a del+add of the same fd within one loop turn
// into one EPOLL_CTL_MOD: connections and curl flip interest every request.
event_base* new_event_base() {
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  event_base* base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  return base ? base : event_base_new();
}

class Worker {
 public:
  explicit Worker(const WorkerSetup& setup)
      : setup_(setup), config_(*setup.config), base_owner_(new_event_base(), &event_base_free), base_(base_owner_.get()),
        loop_(base_),
        http_client_(loop_),
        exporters_(config_, loop_, http_client_, setup.segment ? &setup.segment->processes() : nullptr),
        shared_(loop_, setup.segment, shm::ProcessKind::kWorker, config_),
        runtime_(loop_, RuntimeOptions{default_model_name(config_), 5, exporters_.sink(), shared_.cache()}),
        app_{runtime_, config_, default_model_name(config_), shared_},
        router_(&shared_.metrics()) {}

  ~Worker() {
    for (event* e : signals_) event_free(e);
    // Freeing them restored SIGTERM's default action: a second SIGTERM (a
    // `pkill` on top of the supervisor's) must not kill an exit under way.
    signal(SIGTERM, SIG_IGN);
    if (deadline_) event_free(deadline_);
  }

  int run() {
    Status installed = install_builtins(runtime_.registry(), config_, *setup_.prompts, http_client_, &shared_);
    if (!installed.is_ok()) {
      log_error("worker_boot_failed", {{"reason", installed.message()}});
      return kBootFailureExit;
    }
    http::install_routes(router_, app_);
    http::configure_connections(ctx_, config_);
    http::install_gates(router_, config_, ctx_.policy, shared_);

    ctx_.base = base_;
    ctx_.router = &router_;
    ctx_.metrics = &shared_.metrics();
    ctx_.unrouted_label = shared_.metrics().route_label("(unmatched)");
    app_.draining = &ctx_.draining;
    ctx_.tls = setup_.tls;
    ctx_.on_connection_closed = [this] { maybe_exit(); };
    ctx_.on_request_start = [this] { count_request(); };
    if (config_.max_requests > 0) {
      std::mt19937_64 rng(static_cast<uint64_t>(getpid()) * 2654435761u);
      int64_t jitter = config_.max_requests_jitter > 0 ? static_cast<int64_t>(rng() % (config_.max_requests_jitter + 1)) : 0;
      request_limit_ = config_.max_requests + jitter;
    }

    acceptor_ = std::make_unique<Acceptor>(base_, setup_.listen_fd, [this](int fd, const std::string& peer) {
      http::Connection::accept(ctx_, fd, peer);
    });
    if (!acceptor_->start()) {
      log_error("worker_boot_failed", {{"reason", "cannot watch the inherited listening socket"}});
      return kBootFailureExit;
    }
    if (setup_.reflection_fd >= 0) {
      reflection_ = std::make_unique<http::ReflectionServer>(
          base_, app_, setup_.reflection_fd, setup_.runtime_id, exporters_.genkit(), [this] { maybe_exit(); },
          [this] { tell_supervisor('q'); });
      if (!reflection_->start()) {
        log_error("worker_boot_failed", {{"reason", "cannot watch the reflection API's socket"}});
        return kBootFailureExit;
      }
    }
    add_signal(SIGTERM, &Worker::on_drain_signal);
    add_signal(SIGQUIT, &Worker::on_quit_signal);
    add_signal(SIGUSR1, [](evutil_socket_t, short, void*) { log_reopen(); });
    signal(SIGINT, SIG_IGN);   // the supervisor turns Ctrl-C into an orderly drain
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);

    log_info("worker_started", {{"model", app_.model_name}, {"request_limit", request_limit_}});
    tell_supervisor('r');
    event_base_dispatch(base_);
    log_info("worker_exit", {{"requests", requests_}});
    return 0;
  }

 private:
  void add_signal(int sig, event_callback_fn fn) {
    event* e = evsignal_new(base_, sig, fn, this);
    evsignal_add(e, nullptr);
    signals_.push_back(e);
  }

  static void on_drain_signal(evutil_socket_t, short, void* arg) {
    static_cast<Worker*>(arg)->drain("signal");
  }

  static void on_quit_signal(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Worker*>(arg);
    log_info("worker_quit");
    event_base_loopbreak(self->base_);
  }

  static void on_deadline(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Worker*>(arg);
    log_warning("drain_deadline_reached", {{"open_connections", self->ctx_.open_connections}});
    event_base_loopbreak(self->base_);
  }

  void count_request() {
    ++requests_;
    if (request_limit_ <= 0 || requests_ != request_limit_ || ctx_.draining) return;
    log_info("max_requests_reached", {{"requests", requests_}});
    // Without a supervisor to start a replacement, drain at once.
    if (!tell_supervisor('m')) drain("max_requests");
  }

  bool tell_supervisor(char what) {
    if (setup_.control_fd < 0) return false;
    return write(setup_.control_fd, &what, 1) == 1;
  }

  // Stop accepting, let in-flight requests and streams finish, then exit.
  void drain(const char* reason) {
    if (ctx_.draining) return;
    ctx_.draining = true;
    log_info("worker_draining", {{"reason", reason}, {"open_connections", ctx_.open_connections}});
    acceptor_->stop();
    if (reflection_) reflection_->stop();
    std::vector<http::Connection*> open(ctx_.connections.begin(), ctx_.connections.end());
    for (http::Connection* c : open) c->begin_drain();
    deadline_ = evtimer_new(base_, &Worker::on_deadline, this);
    timeval tv{config_.effective_graceful_timeout(), 0};
    evtimer_add(deadline_, &tv);
    maybe_exit();
  }

  void maybe_exit() {
    if (!ctx_.draining || ctx_.open_connections != 0 || exiting_) return;
    if (reflection_ && reflection_->open_connections() != 0) return;
    exiting_ = true;
    // (The drain deadline still bounds the wait for the last spans.)
    exporters_.flush([this] { event_base_loopexit(base_, nullptr); });
  }

  const WorkerSetup& setup_;
  const Config& config_;
  std::unique_ptr<event_base, void (*)(event_base*)> base_owner_;  // destroyed last: everything below uses it
  event_base* base_;
  Loop loop_;
  HttpClient http_client_;
  TraceExporters exporters_;
  SharedState shared_;
  Runtime runtime_;
  http::AppContext app_;
  http::Router router_;
  http::ServerContext ctx_;
  std::unique_ptr<Acceptor> acceptor_;
  std::unique_ptr<http::ReflectionServer> reflection_;  // dev mode, worker 1
  event* deadline_ = nullptr;
  std::vector<event*> signals_;
  bool exiting_ = false;
  int64_t requests_ = 0;
  int64_t request_limit_ = 0;
};

}  // namespace

int run_worker(const WorkerSetup& setup) {
  Worker worker(setup);
  return worker.run();
}

}  // namespace genkit
