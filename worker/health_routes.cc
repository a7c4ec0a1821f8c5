// Liveness and readiness for load balancers.
#include "common/json.h"
#include "common/redis/redis_client.h"
#include "worker/app_context.h"
#include "worker/router.h"

namespace genkit::http {

void add_health_routes(Router& router, AppContext& app) {
  Handler health = [](const std::shared_ptr<Exchange>& ex) {
    Response r;
    r.body = R"({"status":"ok"})";
    ex->respond(std::move(r));
  };
  router.add("GET", "/health", health);
  router.add("GET", "/healthz", health);

  Handler ready = [&app](const std::shared_ptr<Exchange>& ex) {
    // Production must not silently serve canned mock replies.
    bool mock_by_default = app.model_name.rfind("mock/", 0) == 0 && !app.config.model_explicit;
    bool mock_in_production = mock_by_default && !app.config.debug;
    // From the first moment of a drain: in-flight work finishes, but a load
    // balancer must send nothing new here.
    bool draining = app.draining && *app.draining;
    bool ok = !mock_in_production && !draining;
    Json checks = Json::object();
    if (draining) checks.set("state", Json::string("draining"));
    checks.set("model", Json::string(app.model_name));
    checks.set("model_source", Json::string(app.config.model_explicit ? "MODEL" : "default"));
    if (mock_in_production) {
      checks.set("model_status", Json::string("mock model in production: set GEMINI_API_KEY or MODEL"));
    }
    checks.set("flows", Json::number(static_cast<double>(app.runtime.registry().flows().size())));
    // Reported, not failed on: every replica shares the upstream, so taking
    // this one out of the load balancer would not help.
    if (app.shared.breaker().enabled()) {
      checks.set("circuit_breaker", Json::string(shm::circuit_state_name(app.shared.breaker().state())));
    }
    // Reported, not failed on: without Redis this machine serves on its own
    // shared-memory state.
    checks.set("state_backend", Json::string(app.config.state_backend));
    if (RedisClient* redis = app.shared.redis()) checks.set("redis", Json::string(redis->status_text()));
    // Reported, not failed on: the HTTP side serves whether grpcd is up or
    // being restarted; gRPC balancers ask grpc.health.v1 on GRPC_PORT.
    if (app.config.grpc_enabled && app.shared.segment()) {
      bool up = app.shared.segment()->processes().count(shm::ProcessKind::kGrpc) > 0;
      checks.set("grpcd", Json::string(up ? "running" : "not running"));
    }
    Json body = Json::object();
    body.set("status", Json::string(ok ? "ok" : "unavailable"));
    body.set("checks", std::move(checks));
    Response r;
    r.status = ok ? 200 : 503;
    r.body = body.dump();
    ex->respond(std::move(r));
  };
  router.add("GET", "/ready", ready);
  router.add("GET", "/readyz", ready);
}

}  // namespace genkit::http
