#include "common/models/guarded_model.h"

#include "common/models/upstream.h"
#include "common/shm/metrics.h"
#include "common/state/circuit_breaker.h"

namespace genkit {

GuardedModel::GuardedModel(std::unique_ptr<Model> inner, CircuitBreaker* breaker, shm::ProcessMetrics* metrics)
    : inner_(std::move(inner)), breaker_(breaker), metrics_(metrics) {
  if (metrics_) model_label_ = metrics_->model_label(inner_->name());
}

void GuardedModel::generate(Loop& loop, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) {
  if (!breaker_) return call(loop, CircuitBreaker::Permit{}, std::move(request), std::move(callbacks), std::move(cancel));
  // The breaker decides now (shared memory) or when Redis answers.
  struct Pending {
    ModelRequest request;
    ModelCallbacks callbacks;
    CancelToken cancel;
  };
  auto pending = std::make_shared<Pending>(Pending{std::move(request), std::move(callbacks), cancel});
  std::optional<CircuitBreaker::Permit> now = breaker_->admit([this, &loop, pending](CircuitBreaker::Permit permit) {
    if (pending->cancel.cancelled()) return breaker_->abandon(permit);
    call(loop, permit, std::move(pending->request), std::move(pending->callbacks), std::move(pending->cancel));
  });
  if (now) call(loop, *now, std::move(pending->request), std::move(pending->callbacks), std::move(pending->cancel));
}

void GuardedModel::call(Loop& loop, CircuitBreaker::Permit permit, ModelRequest request, ModelCallbacks callbacks,
                        CancelToken cancel) {
  if (!permit.allowed) {
    Status refused = Status(Code::kUnavailable, "the model is failing: its circuit breaker is open, retry later")
                         .with_retry_after(permit.retry_after_s);
    // Callbacks never run inside generate().
    loop.defer([done = std::move(callbacks.on_done), refused, cancel]() mutable {
      if (!cancel.cancelled()) done(std::move(refused));
    });
    return;
  }
  auto finished = std::make_shared<bool>(false);
  if (permit.tracked) {
    cancel.on_cancel([breaker = breaker_, permit, finished] {
      if (!*finished) breaker->abandon(permit);
    });
  }
  ModelCallbacks guarded;
  guarded.on_chunk = std::move(callbacks.on_chunk);
  guarded.on_done = [this, permit, finished, done = std::move(callbacks.on_done)](Result<ModelResponse> r) {
    *finished = true;
    if (breaker_) breaker_->record(permit, r.status());
    if (metrics_) {
      int64_t in = r.ok() ? r->usage.input_tokens : 0;
      int64_t out = r.ok() ? r->usage.output_tokens : 0;
      metrics_->upstream_call(model_label_, !r.ok(), in, out);
    }
    done(std::move(r));
  };
  inner_->generate(loop, std::move(request), std::move(guarded), std::move(cancel));
}

}  // namespace genkit
