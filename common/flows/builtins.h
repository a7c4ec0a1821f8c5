// Fills a runtime's registry with everything the product ships: models
// (mock/echo and the configured providers), tools, flows and prompts.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace genkit {

class HttpClient;
class Registry;
class SharedState;
struct PromptTemplate;

using PromptList = std::vector<std::shared_ptr<const PromptTemplate>>;

// Loads and checks prompts/*.prompt (at start-up, before forking).
Result<PromptList> load_prompts(const Config& config);

// The model a config selects ("mock/echo", "googleai/gemini-2.5-flash", ...).
std::string default_model_name(const Config& config);

// Whether `model` can run with this config: mock/echo always; googleai/* and
// openai/* when their provider is configured (or when it is the default).
bool provider_configured(const Config& config, const std::string& model);

// Checks the default model and the prompts' models without building clients
// (the supervisor runs this before forking, and logs, once, each prompt that
// falls back to the default model when `announce_fallbacks`).
Status check_models(const Config& config, const PromptList& prompts, bool announce_fallbacks);

// Registers models, tools, flows and prompts. Provider models send their
// calls through `client` (owned by the caller, on the same loop), past the
// circuit breaker of `shared` and counted in its metrics (when given).
Status install_builtins(Registry& registry, const Config& config, const PromptList& prompts, HttpClient& client,
                        SharedState* shared = nullptr);

}  // namespace genkit
