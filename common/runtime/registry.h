// The action registry: models, tools, flows and prompts under Genkit's
// action keys (/model/mock/echo, /tool/get_current_time, /flow/tell_joke,
// /prompt/code_review). Every transport runs what is registered here.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/runtime/model.h"
#include "common/status.h"

namespace genkit {

struct ObjectSchema;
struct PromptTemplate;
class FlowRun;

using ToolDone = std::function<void(Result<Json>)>;

struct ToolAction {
  ToolDefinition definition;
  std::function<void(JsonView input, ToolDone done)> run;  // may complete later on the loop
};

using FlowFn = std::function<void(std::shared_ptr<FlowRun>)>;

struct FlowAction {
  std::string name;                 // "tell_joke"
  const ObjectSchema* input = nullptr;
  Json output_schema;               // JSON Schema of the flow's output
  bool streams = false;             // sends its own chunks
  bool cacheable = false;           // idempotent: its unary results may be cached
  FlowFn fn;
};

class Registry {
 public:
  void add_model(std::unique_ptr<Model> model);
  void add_tool(ToolAction tool);
  void add_flow(FlowAction flow);
  void add_prompt(std::shared_ptr<const PromptTemplate> prompt, std::string name);

  Model* model(const std::string& name) const;
  const ToolAction* tool(const std::string& name) const;
  const FlowAction* flow(const std::string& name) const;
  std::shared_ptr<const PromptTemplate> prompt(const std::string& name) const;

  std::vector<const FlowAction*> flows() const;
  std::vector<const ToolAction*> tools() const;
  std::vector<const Model*> models() const;
  std::vector<std::shared_ptr<const PromptTemplate>> prompts() const;

 private:
  std::map<std::string, std::unique_ptr<Model>> models_;
  std::map<std::string, ToolAction> tools_;
  std::map<std::string, FlowAction> flows_;
  std::map<std::string, std::shared_ptr<const PromptTemplate>> prompts_;
};

}  // namespace genkit
