// Wraps a provider model with what every upstream call goes through: the
// shared circuit breaker (an open circuit fails the call with UNAVAILABLE
// and a retry-after, before anything is sent) and the upstream counters of
// /metrics (calls, errors, tokens by model).
#pragma once

#include <memory>

#include "common/runtime/model.h"
#include "common/state/circuit_breaker.h"

namespace genkit {

namespace shm {
class ProcessMetrics;
}

class GuardedModel : public Model {
 public:
  // `breaker` may be null (mock/echo has no upstream to protect).
  GuardedModel(std::unique_ptr<Model> inner, CircuitBreaker* breaker, shm::ProcessMetrics* metrics);

  std::string name() const override { return inner_->name(); }
  Json info() const override { return inner_->info(); }
  void generate(Loop& loop, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) override;

 private:
  void call(Loop& loop, CircuitBreaker::Permit permit, ModelRequest request, ModelCallbacks callbacks,
            CancelToken cancel);

  std::unique_ptr<Model> inner_;
  CircuitBreaker* breaker_;
  shm::ProcessMetrics* metrics_;
  int model_label_ = 0;
};

}  // namespace genkit
