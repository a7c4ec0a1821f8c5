#include "common/flows/builtins.h"

#include <set>

#include "common/flows/flows.h"
#include "common/flows/tools.h"
#include "common/log.h"
#include "common/models/gemini_model.h"
#include "common/models/guarded_model.h"
#include "common/models/mock_echo_model.h"
#include "common/models/openai_model.h"
#include "common/prompt/dotprompt.h"
#include "common/runtime/registry.h"
#include "common/state/shared_state.h"

namespace genkit {

namespace {

std::string provider_of(const std::string& model) { return model.substr(0, model.find('/')); }
std::string id_of(const std::string& model) {
  std::size_t slash = model.find('/');
  return slash == std::string::npos ? "" : model.substr(slash + 1);
}

// Every model name the runtime may need: the default and each prompt's own
// (when its provider is configured; otherwise the prompt runs on the default).
std::set<std::string> wanted_models(const Config& config, const PromptList& prompts) {
  std::set<std::string> out{default_model_name(config)};
  for (const auto& p : prompts) {
    if (!p->model.empty() && provider_configured(config, p->model)) out.insert(p->model);
  }
  return out;
}

}  // namespace

Result<PromptList> load_prompts(const Config& config) {
  Result<std::vector<PromptTemplate>> loaded = load_prompt_dir(config.prompts_dir);
  if (!loaded.ok()) return Status(Code::kInvalidArgument, "PROMPTS_DIR: " + loaded.status().message());
  PromptList out;
  for (PromptTemplate& p : loaded.value()) out.push_back(std::make_shared<const PromptTemplate>(std::move(p)));
  return out;
}

std::string default_model_name(const Config& config) { return config.model.empty() ? "mock/echo" : config.model; }

bool provider_configured(const Config& config, const std::string& model) {
  std::string provider = provider_of(model);
  if (provider == "mock") return model == "mock/echo";
  if (provider == "googleai") return !config.gemini_api_key.empty() || model == default_model_name(config);
  if (provider == "openai") return !config.openai_base_url.empty();
  return false;
}

Status check_models(const Config& config, const PromptList& prompts, bool announce_fallbacks) {
  std::string model = default_model_name(config);
  if (!provider_configured(config, model) || id_of(model).empty()) {
    return Status(Code::kFailedPrecondition, "MODEL: " + model + " cannot run here (providers: googleai/<model> with "
                                             "GEMINI_API_KEY, openai/<model> with OPENAI_BASE_URL, mock/echo)");
  }
  for (const auto& p : prompts) {
    if (announce_fallbacks && !p->model.empty() && !provider_configured(config, p->model)) {
      log_info("prompt_uses_default_model", {{"prompt", p->name}, {"prompt_model", p->model}, {"model", model}});
    }
  }
  return Status::ok();
}

Status install_builtins(Registry& registry, const Config& config, const PromptList& prompts, HttpClient& client,
                        SharedState* shared) {
  Status ok = check_models(config, prompts, false);
  if (!ok.is_ok()) return ok;
  shm::ProcessMetrics* metrics = shared ? &shared->metrics() : nullptr;
  CircuitBreaker* breaker = shared ? &shared->breaker() : nullptr;
  auto add = [&](std::unique_ptr<Model> model, CircuitBreaker* guard) {
    registry.add_model(std::make_unique<GuardedModel>(std::move(model), guard, metrics));
  };
  // mock/echo has no upstream to protect: counted, never refused.
  add(std::make_unique<MockEchoModel>(config.mock_chunk_delay_ms), nullptr);
  std::chrono::milliseconds timeout(config.llm_timeout_ms);
  for (const std::string& model : wanted_models(config, prompts)) {
    std::string provider = provider_of(model);
    if (provider == "googleai") {
      add(std::make_unique<GeminiModel>(id_of(model), client,
                                        GeminiOptions{config.gemini_api_key, config.gemini_base_url, timeout}),
          breaker);
    } else if (provider == "openai") {
      add(std::make_unique<OpenAiModel>(id_of(model), client,
                                        OpenAiOptions{config.openai_base_url, config.openai_api_key, timeout}),
          breaker);
    }
  }
  register_builtin_tools(registry);
  Status flows = register_builtin_flows(registry);
  if (!flows.is_ok()) return flows;
  for (const auto& p : prompts) registry.add_prompt(p, p->variant.empty() ? p->name : p->name + "." + p->variant);
  return Status::ok();
}

}  // namespace genkit
