// A flow is one file: each file under common/flows/ defines its flow (schema
// types, function, name) and registers it there, with no other edit:
//
//   GENKIT_REGISTER_FLOW([] {
//     return make_flow("word_count", word_count_input(), word_count_output().json_schema(), word_count);
//   });
//
// Registering only records the factory (during static initialisation, in
// whatever order the linker chose); install_builtins() then builds every
// recorded flow into the process's Registry (register_builtin_flows(), in
// the order of their names), where the flow server (POST /<flow>,
// /flows/<flow>), /openapi.json and the reflection API find it.
//
// Nothing calls into a flow's file, so a static library would let the
// linker drop it: common/CMakeLists.txt compiles common/flows/*.cc into an
// object library whose objects go onto the link line of every server
// (genkit_worker and genkit_grpcd link genkit_flows_linked). A file added
// there is picked up by the next build (CONFIGURE_DEPENDS glob).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/runtime/registry.h"
#include "common/status.h"

namespace genkit {

using FlowRunPtr = std::shared_ptr<FlowRun>;

enum class FlowKind {
  kPlain,      // unary; runs every time
  kStreams,    // sends its own chunks (run->send_chunk) when the caller streams
  kCacheable,  // idempotent: its unary results go through the shared response cache
};

// A FlowAction: `input` must outlive the process (a function-local static).
FlowAction make_flow(std::string name, const ObjectSchema& input, Json output_schema, FlowFn fn,
                     FlowKind kind = FlowKind::kPlain);

using FlowFactory = FlowAction (*)();

// Records `factory` in the process-wide list (use GENKIT_REGISTER_FLOW).
class FlowRegistration {
 public:
  explicit FlowRegistration(FlowFactory factory);
};

// Every factory recorded so far, in the order they were recorded.
const std::vector<FlowFactory>& registered_flow_factories();

}  // namespace genkit

#define GENKIT_FLOW_CONCAT_INNER_(a, b) a##b
#define GENKIT_FLOW_CONCAT_(a, b) GENKIT_FLOW_CONCAT_INNER_(a, b)
// GENKIT_REGISTER_FLOW(factory): `factory` is a FlowAction (*)(), or a
// lambda without captures, that returns the flow (usually via make_flow).
#define GENKIT_REGISTER_FLOW(...)                                                                 \
  [[maybe_unused]] static const ::genkit::FlowRegistration GENKIT_FLOW_CONCAT_(genkit_flow_registration_, \
                                                                               __COUNTER__)(__VA_ARGS__)
