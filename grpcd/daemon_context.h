// What every gRPC call of grpcd shares. Everything but `inbox`, the atomics
// and the immutable config is the loop's: touch it only from the loop thread
// (loop_inbox.h says how calls get there).
#pragma once

#include <atomic>

#include "common/api_keys.h"
#include "common/config.h"
#include "common/net/ip_address.h"
#include "common/runtime/runtime.h"
#include "common/state/shared_state.h"
#include "grpcd/loop_inbox.h"

namespace genkit::grpcd {

// Calls in flight past this are refused with RESOURCE_EXHAUSTED: it bounds
// the daemon's memory and the inbox whatever the clients do.
constexpr int kMaxCallsInFlight = 20000;

struct DaemonContext {
  Runtime& runtime;
  SharedState& shared;
  const Config& config;
  LoopInbox& inbox;
  IpAllowList trusted_proxies;                // FORWARDED_ALLOW_IPS
  ApiKeys api_keys;                           // API_KEYS (off when empty)
  std::size_t max_stream_backlog = 8 << 20;  // bytes of story a slow reader may leave unsent
  std::atomic<int> calls_in_flight{0};
};

}  // namespace genkit::grpcd
