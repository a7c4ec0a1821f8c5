// Command-line flags and --help. Value flags come from the settings table;
// the switches below are the only flags that are not settings.
#include <string_view>

#include "common/config_internal.h"

namespace genkit::config_internal {
namespace {

enum class Switch { kNoGrpc, kDebug, kNoTelemetry, kHelp, kVersion, kCheckConfig };

struct SwitchSpec {
  const char* flag;
  Switch which;
  const char* help;
};

const SwitchSpec kSwitches[] = {
    {"--no-grpc", Switch::kNoGrpc, "do not start the gRPC daemon (REST only)"},
    {"--debug", Switch::kDebug, "debug mode, same as DEBUG=true"},
    {"--no-telemetry", Switch::kNoTelemetry, "same as GENKIT_TELEMETRY_DISABLED=true"},
    {"--check-config", Switch::kCheckConfig, "validate the configuration and exit"},
    {"--version", Switch::kVersion, "print the version and exit"},
    {"--help", Switch::kHelp, "print this help and exit (also -h)"},
};

// .NAME.env is looked up beside .env, so NAME must not walk elsewhere.
bool valid_env_name(std::string_view name) {
  if (name.empty() || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

void pad_to(std::string& s, size_t line_start, size_t column) {
  size_t used = s.size() - line_start;
  s.append(used < column ? column - used : 1, ' ');
}

}  // namespace

Result<CliArgs> parse_args(const std::vector<std::string>& args) {
  CliArgs out;
  bool help = false, version = false, check = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return invalid_argument("unexpected argument \"" + arg + "\" (see --help)");
    }
    size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    bool inline_value = eq != std::string::npos;

    const SwitchSpec* sw = nullptr;
    for (const SwitchSpec& s : kSwitches) {
      if (name == s.flag) sw = &s;
    }
    if (sw != nullptr) {
      if (inline_value) return invalid_argument(name + ": takes no value");
      switch (sw->which) {
        case Switch::kNoGrpc: out.no_grpc = true; break;
        case Switch::kDebug: out.values["DEBUG"] = {name, "true"}; break;
        case Switch::kNoTelemetry: out.values["GENKIT_TELEMETRY_DISABLED"] = {name, "true"}; break;
        case Switch::kHelp: help = true; break;
        case Switch::kVersion: version = true; break;
        case Switch::kCheckConfig: check = true; break;
      }
      continue;
    }

    const SettingSpec* setting = find_setting_by_flag(name);
    if (setting == nullptr && name != "--env" && name != "--env-file") {
      return invalid_argument(name + ": unknown flag (see --help)");
    }
    std::string value;
    if (inline_value) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    } else {
      return invalid_argument(name + ": missing value");
    }
    if (setting != nullptr) {
      out.values[setting->env] = {name, value};
    } else if (name == "--env-file") {
      if (value.empty()) return invalid_argument("--env-file: missing path");
      out.env_file = value;
    } else if (!valid_env_name(value)) {
      return invalid_argument("--env: must be a name like \"staging\" (got \"" + value + "\")");
    } else {
      out.env_name = value;
    }
  }
  out.action = help ? CliAction::kHelp
               : version ? CliAction::kVersion
               : check   ? CliAction::kCheckConfig
                         : CliAction::kRun;
  return out;
}

}  // namespace genkit::config_internal

namespace genkit {

std::string help_text() {
  using namespace config_internal;
  constexpr size_t kColumn = 32;
  std::string s =
      "Usage: genkit-endpoints [OPTIONS]\n"
      "\n"
      "Serves Genkit AI flows over REST and gRPC with a supervisor and prefork workers.\n"
      "\n"
      "Options (\"--flag value\" and \"--flag=value\" both work):\n";
  for (const SettingSpec& st : settings()) {
    if (st.flag == nullptr) continue;
    size_t start = s.size();
    s += "  " + std::string(st.flag) + " " + st.metavar;
    pad_to(s, start, kColumn);
    s += std::string(st.help) + " [" + st.env + "]\n";
  }
  size_t start = s.size();
  s += "  --env NAME";
  pad_to(s, start, kColumn);
  s += "also load .NAME.env, which overrides .env\n";
  start = s.size();
  s += "  --env-file PATH";
  pad_to(s, start, kColumn);
  s += "load settings from this file (same syntax as .env; it must exist), over the .env files; re-read on SIGHUP\n";
  for (const SwitchSpec& sw : kSwitches) {
    start = s.size();
    s += "  " + std::string(sw.flag);
    pad_to(s, start, kColumn);
    s += std::string(sw.help) + "\n";
  }
  s +=
      "\n"
      "Configuration sources, highest priority first:\n"
      "  1. command-line flags\n"
      "  2. environment variables\n"
      "  3. the --env-file PATH file\n"
      "  4. .NAME.env file (with --env NAME)\n"
      "  5. .env file\n"
      "  6. built-in defaults\n"
      "Missing .env files are skipped. Empty values of numeric, boolean and keyword settings\n"
      "count as unset. Booleans accept true/false, 1/0, yes/no, on/off.\n"
      "\n"
      "Environment variables (also read from the .env files):\n";
  for (const SettingSpec& st : settings()) {
    s += "  " + std::string(st.env) + " [default: " + st.def + "]\n      " + st.help;
    if (st.flag != nullptr) s += std::string("; flag ") + st.flag;
    s += "\n";
  }
  return s;
}

}  // namespace genkit
