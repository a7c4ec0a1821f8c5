#include "worker/reflection_server.h"

#include <vector>

#include "worker/connection.h"

namespace genkit::http {

ReflectionServer::ReflectionServer(event_base* base, AppContext& app, int listen_fd, std::string runtime_id,
                                   GenkitTraceExporter* exporter, std::function<void()> on_closed,
                                   std::function<void()> on_quit)
    : state_{app, std::move(runtime_id), exporter, {}, {}} {
  state_.on_quit = [this, on_quit = std::move(on_quit)] {
    stop();
    if (on_quit) on_quit();
  };
  add_reflection_routes(router_, state_);
  ctx_.base = base;
  ctx_.router = &router_;
  ctx_.limits.max_body_size = std::max<int64_t>(app.config.max_body_size, 30 * 1024 * 1024);  // (Genkit's limit)
  ctx_.limits.read_timeout_s = app.config.read_timeout;
  ctx_.on_connection_closed = std::move(on_closed);
  acceptor_ = std::make_unique<Acceptor>(base, listen_fd, [this](int fd, const std::string& peer) {
    Connection::accept(ctx_, fd, peer);
  });
}

bool ReflectionServer::start() { return acceptor_->start(); }

void ReflectionServer::stop() {
  if (ctx_.draining) return;
  ctx_.draining = true;
  acceptor_->stop();
  std::vector<Connection*> open(ctx_.connections.begin(), ctx_.connections.end());
  for (Connection* c : open) c->begin_drain();
}

}  // namespace genkit::http
