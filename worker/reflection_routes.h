// Genkit's reflection API v1 (dev mode; ../shared/docs/genkit-protocols.md
// §2), what the Genkit CLI and Developer UI call: /api/__health,
// /api/actions, /api/runAction (plain and ?stream=true), /api/cancelAction,
// /api/notify, /api/values, /api/envs and /api/__quitquitquit. Every
// response carries x-genkit-version.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/runtime/loop.h"
#include "worker/app_context.h"
#include "worker/router.h"

namespace genkit {
class GenkitTraceExporter;
}

namespace genkit::http {

struct ReflectionState {
  AppContext& app;
  std::string runtime_id;                 // /api/__health?id= must match it
  GenkitTraceExporter* exporter = nullptr;  // adopts /api/notify's URL (null: telemetry off)
  std::function<void()> on_quit;          // /api/__quitquitquit, once answered
  std::map<std::string, CancelToken> running;  // runAction calls in flight, by trace id
};

// `state` outlives the router.
void add_reflection_routes(Router& router, ReflectionState& state);

// "genkit-endpoints/<version>": our x-genkit-version.
const std::string& genkit_version_header();

}  // namespace genkit::http
