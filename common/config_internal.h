// Pieces shared by config.cc, config_settings.cc, config_flags.cc and
// dotenv.cc. Not part of the public contract: include common/config.h instead.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace genkit::config_internal {

// One raw value and the name to blame when it is bad: the environment
// variable name, or the CLI flag it came from.
struct Value {
  std::string label;
  std::string text;
};

// Value parsers: each returns an error "<label>: <why> (got \"<text>\")".
Status parse_int(const Value& v, int64_t lo, int64_t hi, int64_t* out);
Status parse_int(const Value& v, int lo, int hi, int* out);
Status parse_seconds(const Value& v, double hi, double* out);  // 0 < seconds <= hi
Status parse_rate_limit(const Value& v, RateLimit* out);
Status parse_bool(const Value& v, bool* out);
Status parse_http_url(const Value& v, std::string* out);
Status parse_non_empty(const Value& v, std::string* out);
Status parse_choice(const Value& v, std::span<const char* const> choices, std::string* out);
std::vector<std::string> parse_list(const std::string& text);
std::string lower(std::string_view s);

enum class Kind {
  kString,  // an empty value is a real value (clears a lower layer)
  kTyped,   // number, boolean or keyword: an empty value counts as unset
};

// One row per setting: the single source of truth for loading and --help.
struct SettingSpec {
  const char* env;      // environment / .env name
  const char* flag;     // CLI flag taking a value, or nullptr
  const char* metavar;  // placeholder shown in --help for the flag
  const char* def;      // default as shown in --help
  const char* help;
  Kind kind;
  Status (*apply)(Config& config, const Value& value);
};

std::span<const SettingSpec> settings();
const SettingSpec* find_setting_by_flag(std::string_view flag);

// What the command line said, before any other source is consulted.
struct CliArgs {
  CliAction action = CliAction::kRun;
  std::map<std::string, Value> values;  // setting env name → value given by a flag
  std::string env_name;                 // --env NAME
  std::string env_file;                 // --env-file PATH
  bool no_grpc = false;
};

Result<CliArgs> parse_args(const std::vector<std::string>& args);

// parse_dotenv with `origin` (a file path) prefixed to error messages.
Result<std::map<std::string, std::string>> parse_dotenv_named(const std::string& text,
                                                              const std::string& origin);

}  // namespace genkit::config_internal
