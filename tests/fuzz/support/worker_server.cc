#include "tests/fuzz/support/worker_server.h"

#include <event2/event.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "common/config.h"
#include "common/flows/builtins.h"
#include "common/log.h"
#include "common/net/http_client.h"
#include "common/runtime/runtime.h"
#include "common/shm/segment.h"
#include "common/state/shared_state.h"
#include "common/telemetry/trace_exporters.h"
#include "worker/app_context.h"
#include "worker/connection.h"
#include "worker/http_surface.h"
#include "worker/router.h"
#include "worker/server_context.h"

namespace fuzz {

namespace {

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "worker_server: %s\n", why.c_str());
  std::abort();
}

genkit::Config fuzz_config() {
  genkit::ConfigInputs inputs;
  inputs.read_dotenv = false;
  // No stream pauses (a run is a few loop turns), a limit no run reaches
  // (the gate still decides), and only errors logged (a line per run would
  // be most of the time spent).
  inputs.env = {{"MOCK_CHUNK_DELAY_MS", "0"}, {"RATE_LIMIT_DEFAULT", "1000000/second"}, {"LOG_LEVEL", "error"}};
  genkit::Result<genkit::LoadedConfig> loaded = genkit::load_config(inputs);
  if (!loaded.ok()) die(loaded.status().message());
  return loaded->config;
}

}  // namespace

struct WorkerServer::Parts {
  genkit::Config config = fuzz_config();
  event_base* base = event_base_new();
  genkit::Loop loop{base};
  std::unique_ptr<genkit::shm::Segment> segment;
  genkit::HttpClient http_client{loop};
  genkit::TraceExporters exporters{config, loop, http_client};
  std::unique_ptr<genkit::SharedState> shared;
  std::unique_ptr<genkit::Runtime> runtime;
  std::unique_ptr<genkit::http::AppContext> app;
  std::unique_ptr<genkit::http::Router> router;
  genkit::http::ServerContext ctx;
  genkit::PromptList prompts;
};

WorkerServer& WorkerServer::instance() {
  static WorkerServer* server = new WorkerServer();
  return *server;
}

WorkerServer::WorkerServer() : parts_(new Parts) {
  Parts& p = *parts_;
  genkit::log_configure(genkit::LogOptions{genkit::LogFormat::kJson, genkit::LogLevel::kError, "worker-1", ""});
  auto segment = genkit::shm::Segment::create(genkit::segment_sizes(p.config));
  if (!segment.ok()) die(segment.status().message());
  p.segment = std::move(segment).value();
  p.shared =
      std::make_unique<genkit::SharedState>(p.loop, p.segment.get(), genkit::shm::ProcessKind::kWorker, p.config);
  p.runtime = std::make_unique<genkit::Runtime>(
      p.loop, genkit::RuntimeOptions{genkit::default_model_name(p.config), 5, p.exporters.sink(), p.shared->cache()});
  auto prompts = genkit::load_prompts(p.config);
  if (!prompts.ok()) die(prompts.status().message());
  p.prompts = std::move(prompts).value();
  genkit::Status installed =
      genkit::install_builtins(p.runtime->registry(), p.config, p.prompts, p.http_client, p.shared.get());
  if (!installed.is_ok()) die(installed.message());
  p.app.reset(new genkit::http::AppContext{*p.runtime, p.config, genkit::default_model_name(p.config), *p.shared});
  p.router = std::make_unique<genkit::http::Router>(&p.shared->metrics());
  genkit::http::install_routes(*p.router, *p.app);
  genkit::http::configure_connections(p.ctx, p.config);
  genkit::http::install_gates(*p.router, p.config, p.ctx.policy, *p.shared);
  p.ctx.base = p.base;
  p.ctx.router = p.router.get();
  p.ctx.metrics = &p.shared->metrics();
  p.ctx.unrouted_label = p.shared->metrics().route_label("(unmatched)");
}

std::string WorkerServer::serve(std::string_view bytes) {
  Parts& p = *parts_;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) die("socketpair failed");
  genkit::http::Connection::accept(p.ctx, fds[0], "127.0.0.1");
  std::string answer;
  char buf[16384];
  auto read_answer = [&] {
    for (;;) {
      ssize_t n = recv(fds[1], buf, sizeof buf, 0);
      if (n <= 0) return;
      if (answer.size() < (1u << 20)) answer.append(buf, static_cast<std::size_t>(n));
    }
  };
  // The client writes everything (reading meanwhile, as the worker may
  // answer early and stop reading), then lets the worker turn the loop for
  // the flows that answer on a later turn, and leaves.
  std::size_t sent = 0;
  for (int turn = 0; turn < 10000 && sent < bytes.size(); ++turn) {
    ssize_t n = send(fds[1], bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<std::size_t>(n);
    if (n < 0 && errno != EAGAIN) break;
    event_base_loop(p.base, EVLOOP_NONBLOCK);
    read_answer();
  }
  for (int turn = 0; turn < 32 && p.ctx.open_connections > 0; ++turn) {
    event_base_loop(p.base, EVLOOP_NONBLOCK);
    read_answer();
  }
  close(fds[1]);
  for (int turn = 0; turn < 10000 && p.ctx.open_connections > 0; ++turn) event_base_loop(p.base, EVLOOP_NONBLOCK);
  if (p.ctx.open_connections > 0) die("a connection outlived its client");
  // Flows still running for a gone client finish (or notice) on these turns.
  for (int turn = 0; turn < 4; ++turn) event_base_loop(p.base, EVLOOP_NONBLOCK);
  return answer;
}

}  // namespace fuzz
