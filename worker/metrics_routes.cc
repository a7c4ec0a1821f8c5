// GET /metrics: Prometheus text format 0.0.4, the same figures from every
// worker, since they are summed over every process's slot of the segment.
#include "common/shm/metrics.h"
#include "worker/app_context.h"
#include "worker/errors.h"
#include "worker/router.h"

namespace genkit::http {

void add_metrics_routes(Router& router, AppContext& app) {
  router.add("GET", "/metrics", [&app](const std::shared_ptr<Exchange>& ex) {
    shm::Segment* segment = app.shared.segment();
    if (!segment) return ex->respond(error_response(503, "metrics need the shared-memory segment"));
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = shm::render_prometheus(*segment, app.config.state_backend);
    ex->respond(std::move(r));
  });
}

}  // namespace genkit::http
