// The registry as Genkit's tools see it (reflection API, docs in
// ../shared/docs/genkit-protocols.md §2): every flow, tool, model and prompt
// under its action key with draft-07 schemas, and running any of them by key.
#pragma once

#include <functional>
#include <string_view>

#include "common/json.h"
#include "common/runtime/loop.h"
#include "common/runtime/trace.h"
#include "common/status.h"

namespace genkit {

class Registry;
class Runtime;

// {"/flow/tell_joke": {"key", "name", "inputSchema", "outputSchema"}, "/tool/…", "/model/…", "/prompt/…", …}
Json describe_actions(const Registry& registry);

struct ActionObserver {
  std::function<void(Json chunk)> on_chunk;         // set: the caller streams
  std::function<void(const Span& root)> on_start;   // the run's root span (its trace id)
  std::function<void(Result<Json> output)> on_done;  // exactly once, unless cancelled first
};

// Runs the action `key` ("/flow/tell_joke", "/tool/get_current_time",
// "/model/mock/echo", "/prompt/code_review", "/executable-prompt/code_review")
// on `input`, with `context` given to a flow as it is. Always a run of its
// own (never the cache's): the tools show its trace. NOT_FOUND for an
// unknown key, INVALID_ARGUMENT for an input the action refuses.
void run_action(Runtime& runtime, std::string_view key, JsonView input, Json context, CancelToken cancel,
                ActionObserver observer);

}  // namespace genkit
