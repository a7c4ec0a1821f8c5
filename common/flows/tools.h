// The tools the flows offer to models.
#pragma once

#include <string>

namespace genkit {

class Registry;

void register_builtin_tools(Registry& registry);

// "2026-11-21 18:10:51 UTC"
std::string utc_now_str();

}  // namespace genkit
