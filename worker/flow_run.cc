#include "worker/flow_run.h"

#include <chrono>

#include "common/log.h"
#include "common/telemetry/otlp_exporter.h"

namespace genkit::http {

void arm_deadline(AppContext& app, const std::shared_ptr<Exchange>& ex, void (*on_timeout)(Exchange&)) {
  if (ex->finished()) return;
  std::weak_ptr<Exchange> weak = ex;
  auto timer = std::make_unique<Timer>(app.runtime.loop().base(), [weak, on_timeout] {
    std::shared_ptr<Exchange> ex = weak.lock();
    if (!ex) return;
    log_warning("request_timeout", {{"request_id", ex->request().request_id}, {"path", ex->request().path}});
    on_timeout(*ex);
    ex->cancel_token().cancel();
  });
  timer->start(std::chrono::seconds(app.config.request_timeout));
  ex->hold_deadline(std::move(timer));
}

TraceContext trace_context(const Request& req) {
  TraceContext t;
  const std::string* tp = req.header("traceparent");
  if (tp && !parse_traceparent(*tp, &t.trace_id, &t.parent_span_id)) t = TraceContext{};
  return t;
}

void log_failure(const Request& req, const Status& status) {
  if (status.code() == Code::kCancelled) return;
  log_error("flow_failed", {{"request_id", req.request_id}, {"path", req.path},
                            {"code", code_name(status.code())}, {"message", status.message()}});
}

}  // namespace genkit::http
