#include "common/runtime/registry.h"

namespace genkit {

void Registry::add_model(std::unique_ptr<Model> model) {
  std::string name = model->name();
  models_[name] = std::move(model);
}

void Registry::add_tool(ToolAction tool) {
  std::string name = tool.definition.name;
  tools_[name] = std::move(tool);
}

void Registry::add_flow(FlowAction flow) {
  std::string name = flow.name;
  flows_[name] = std::move(flow);
}

void Registry::add_prompt(std::shared_ptr<const PromptTemplate> prompt, std::string name) {
  prompts_[std::move(name)] = std::move(prompt);
}

Model* Registry::model(const std::string& name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second.get();
}

const ToolAction* Registry::tool(const std::string& name) const {
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : &it->second;
}

const FlowAction* Registry::flow(const std::string& name) const {
  auto it = flows_.find(name);
  return it == flows_.end() ? nullptr : &it->second;
}

std::shared_ptr<const PromptTemplate> Registry::prompt(const std::string& name) const {
  auto it = prompts_.find(name);
  return it == prompts_.end() ? nullptr : it->second;
}

std::vector<const FlowAction*> Registry::flows() const {
  std::vector<const FlowAction*> out;
  for (const auto& [_, f] : flows_) out.push_back(&f);
  return out;
}

std::vector<const ToolAction*> Registry::tools() const {
  std::vector<const ToolAction*> out;
  for (const auto& [_, t] : tools_) out.push_back(&t);
  return out;
}

std::vector<const Model*> Registry::models() const {
  std::vector<const Model*> out;
  for (const auto& [_, m] : models_) out.push_back(m.get());
  return out;
}

std::vector<std::shared_ptr<const PromptTemplate>> Registry::prompts() const {
  std::vector<std::shared_ptr<const PromptTemplate>> out;
  for (const auto& [_, p] : prompts_) out.push_back(p);
  return out;
}

}  // namespace genkit
