#include "common/flows/tools.h"

#include <ctime>

#include "common/runtime/registry.h"

namespace genkit {

std::string utc_now_str() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void register_builtin_tools(Registry& registry) {
  ToolAction time_tool;
  time_tool.definition.name = "get_current_time";
  time_tool.definition.description = "Get the current date and time in UTC.";
  Json input = Json::object();
  input.set("type", Json::string("object"));
  input.set("properties", Json::object());
  time_tool.definition.input_schema = std::move(input);
  Json output = Json::object();
  output.set("type", Json::string("string"));
  time_tool.definition.output_schema = std::move(output);
  time_tool.run = [](JsonView, ToolDone done) { done(Json::string(utc_now_str())); };
  registry.add_tool(std::move(time_tool));
}

}  // namespace genkit
