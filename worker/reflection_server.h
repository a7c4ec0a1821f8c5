// Dev mode: the reflection API's listener in worker 1 (the supervisor binds
// the socket and hands it to that worker only: supervisor/reflection_listener.h
// says why). Its own router and connections, apart from the public port's:
// none of the public gates (API keys, rate limit) apply on 127.0.0.1.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/net/acceptor.h"
#include "worker/reflection_routes.h"
#include "worker/router.h"
#include "worker/server_context.h"

namespace genkit::http {

class ReflectionServer {
 public:
  // `on_closed` runs whenever one of its connections closes (drain bookkeeping);
  // `on_quit` once /api/__quitquitquit has stopped it.
  ReflectionServer(event_base* base, AppContext& app, int listen_fd, std::string runtime_id,
                   GenkitTraceExporter* exporter, std::function<void()> on_closed, std::function<void()> on_quit);

  bool start();
  // Stops accepting; open connections finish what they run, then close.
  void stop();
  int open_connections() const { return ctx_.open_connections; }

 private:
  ReflectionState state_;
  Router router_;
  ServerContext ctx_;
  std::unique_ptr<Acceptor> acceptor_;
};

}  // namespace genkit::http
