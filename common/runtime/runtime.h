// The flow runtime of one process: its loop, registry and options.
#pragma once

#include <string>

#include "common/runtime/loop.h"
#include "common/runtime/registry.h"
#include "common/runtime/trace.h"

namespace genkit {

class FlowCache;

struct RuntimeOptions {
  std::string default_model = "mock/echo";
  int max_tool_turns = 5;
  SpanSink span_sink;  // where finished spans go (exporters); may be empty
  FlowCache* cache = nullptr;  // unary runs of cacheable flows go through it; may be null
};

class Runtime {
 public:
  Runtime(Loop& loop, RuntimeOptions options) : loop_(loop), options_(std::move(options)) {}
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Loop& loop() { return loop_; }
  Registry& registry() { return registry_; }
  const Registry& registry() const { return registry_; }
  const RuntimeOptions& options() const { return options_; }

 private:
  Loop& loop_;
  RuntimeOptions options_;
  Registry registry_;
};

}  // namespace genkit
