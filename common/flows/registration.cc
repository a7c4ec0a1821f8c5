#include "common/flows/registration.h"

#include <algorithm>

#include "common/flows/flows.h"

namespace genkit {

namespace {

// (A function-local static: registrations run during static
// initialisation, in any order relative to this file's.)
std::vector<FlowFactory>& factories() {
  static std::vector<FlowFactory> list;
  return list;
}

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

}  // namespace

FlowAction make_flow(std::string name, const ObjectSchema& input, Json output_schema, FlowFn fn, FlowKind kind) {
  FlowAction flow;
  flow.name = std::move(name);
  flow.input = &input;
  flow.output_schema = std::move(output_schema);
  flow.streams = kind == FlowKind::kStreams;
  flow.cacheable = kind == FlowKind::kCacheable;
  flow.fn = std::move(fn);
  return flow;
}

FlowRegistration::FlowRegistration(FlowFactory factory) { factories().push_back(factory); }

const std::vector<FlowFactory>& registered_flow_factories() { return factories(); }

Status register_builtin_flows(Registry& registry) {
  std::vector<FlowAction> flows;
  for (FlowFactory make : factories()) flows.push_back(make());
  std::sort(flows.begin(), flows.end(), [](const FlowAction& a, const FlowAction& b) { return a.name < b.name; });
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const FlowAction& f = flows[i];
    if (!valid_name(f.name)) {
      return Status(Code::kInternal, "a registered flow's name must be [A-Za-z0-9_.-]+: \"" + f.name + "\"");
    }
    if (!f.input || !f.fn) return Status(Code::kInternal, "flow " + f.name + " has no input schema or no function");
    if ((i > 0 && flows[i - 1].name == f.name) || registry.flow(f.name)) {
      return Status(Code::kInternal, "flow " + f.name + " is registered twice");
    }
  }
  for (FlowAction& f : flows) registry.add_flow(std::move(f));
  return Status::ok();
}

}  // namespace genkit
