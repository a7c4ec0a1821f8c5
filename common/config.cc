// load_config: merges the sources in priority order, then checks the rules
// that span several settings (model choice, CORS wildcard, log format).
#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>

#include "common/config_internal.h"

#ifndef GENKIT_VERSION
#define GENKIT_VERSION "0.0.0"
#endif
#ifndef GENKIT_DEFAULT_PROMPTS_DIR
#define GENKIT_DEFAULT_PROMPTS_DIR "prompts"
#endif

namespace genkit {
namespace {

using config_internal::Value;
using EnvMap = std::map<std::string, std::string>;

int cpu_count() {
  // The affinity mask is what systemd's CPUAffinity= and containers restrict.
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

// Reads a .env file; a missing file is an empty map, *found says which.
Result<EnvMap> read_dotenv_file(const std::string& path, bool* found) {
  *found = false;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return EnvMap{};
    return invalid_argument(path + ": cannot open: " + strerror(errno));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return invalid_argument(path + ": cannot read: " + strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  *found = true;
  return config_internal::parse_dotenv_named(text, path);
}

constexpr int64_t kMaxCacheBytes = int64_t{16} << 30;

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// Rules between settings. `labels` holds the name each given setting came
// under (env name or CLI flag) so errors blame what the user typed.
Status check_cross_rules(LoadedConfig& out, const std::map<std::string, std::string>& labels) {
  Config& c = out.config;
  auto label = [&](const char* env) {
    auto it = labels.find(env);
    return it == labels.end() ? std::string(env) : it->second;
  };

  if (!labels.count("LOG_FORMAT")) c.log_format = c.debug ? "console" : "json";

  if (std::find(c.cors_allowed_origins.begin(), c.cors_allowed_origins.end(), "*") !=
          c.cors_allowed_origins.end() &&
      !c.debug) {
    return invalid_argument(label("CORS_ALLOWED_ORIGINS") +
                            ": \"*\" (any origin) is only allowed when DEBUG is true");
  }

  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return invalid_argument(label(c.tls_cert_file.empty() ? "TLS_CERT_FILE" : "TLS_KEY_FILE") +
                            ": TLS needs both TLS_CERT_FILE and TLS_KEY_FILE");
  }
  if (!c.tls_ca_file.empty() && c.tls_cert_file.empty()) {
    return invalid_argument(label("TLS_CA_FILE") + ": client certificates need TLS (TLS_CERT_FILE and TLS_KEY_FILE)");
  }

  // The cache's values are reserved in shared memory up front: a product
  // that no machine has must fail here, not in the kernel's OOM killer.
  int64_t cache_bytes = int64_t{c.cache_max_size} * c.cache_max_entry_bytes;
  if (cache_bytes > kMaxCacheBytes) {
    return invalid_argument(label("CACHE_MAX_SIZE") + " x " + label("CACHE_MAX_ENTRY_BYTES") + ": " +
                            std::to_string(cache_bytes) + " bytes of shared memory; at most " +
                            std::to_string(kMaxCacheBytes) + " (" + std::to_string(c.cache_max_size) + " x " +
                            std::to_string(c.cache_max_entry_bytes) + ")");
  }

  c.model_explicit = labels.count("MODEL") > 0;
  if (!c.model_explicit) {
    if (!c.gemini_api_key.empty()) {
      c.model = "googleai/gemini-2.5-flash";
    } else {
      c.model = "mock/echo";
      out.warnings.push_back("no GEMINI_API_KEY and no MODEL: using the offline mock/echo model");
    }
    return Status::ok();
  }
  size_t slash = c.model.find('/');
  std::string provider = c.model.substr(0, slash == std::string::npos ? 0 : slash);
  if (slash == std::string::npos || slash + 1 == c.model.size() ||
      (provider != "googleai" && provider != "openai" && provider != "mock")) {
    return invalid_argument(label("MODEL") +
                            ": must be <provider>/<name> with provider googleai, openai or mock (got \"" +
                            c.model + "\")");
  }
  if (provider == "openai" && c.openai_base_url.empty()) {
    return invalid_argument(label("MODEL") + ": \"" + c.model + "\" requires OPENAI_BASE_URL");
  }
  if (provider == "googleai" && c.gemini_api_key.empty()) {
    out.warnings.push_back("MODEL is " + c.model + " but GEMINI_API_KEY is empty: model calls will fail");
  }
  return Status::ok();
}

}  // namespace

int Config::effective_workers() const {
  if (web_concurrency > 0) return web_concurrency;
  return std::min(2 * cpu_count() + 1, 12);
}

int Config::effective_graceful_timeout() const {
  return graceful_timeout > 0 ? graceful_timeout : shutdown_grace;
}

Result<LoadedConfig> load_config(const ConfigInputs& inputs) {
  auto cli = config_internal::parse_args(inputs.args);
  if (!cli.ok()) return cli.status();

  LoadedConfig out;
  out.action = cli->action;
  // Help and version must work even when the configuration is broken.
  if (out.action == CliAction::kHelp || out.action == CliAction::kVersion) return out;

  Config& c = out.config;
  c.prompts_dir = GENKIT_DEFAULT_PROMPTS_DIR;
  c.env_name = cli->env_name;
  c.grpc_enabled = !cli->no_grpc;

  std::string dir = inputs.dotenv_dir.empty() ? "." : inputs.dotenv_dir;
  bool found = false;
  Result<EnvMap> base = inputs.read_dotenv ? read_dotenv_file(dir + "/.env", &found) : Result<EnvMap>(EnvMap{});
  if (!base.ok()) return base.status();
  EnvMap named;
  if (!c.env_name.empty() && inputs.read_dotenv) {
    std::string path = dir + "/." + c.env_name + ".env";
    auto r = read_dotenv_file(path, &found);
    if (!r.ok()) return r.status();
    if (!found) out.warnings.push_back("--env " + c.env_name + ": " + path + " not found");
    named = std::move(r.value());
  }

  EnvMap given;  // --env-file: an explicit path, so a missing file is an error
  if (!cli->env_file.empty() && inputs.read_dotenv) {
    auto r = read_dotenv_file(cli->env_file, &found);
    if (!r.ok()) return r.status();
    if (!found) return invalid_argument("--env-file: " + cli->env_file + ": no such file");
    given = std::move(r.value());
  }

  const EnvMap* layers[] = {&inputs.env, &given, &named, &base.value()};
  std::map<std::string, std::string> labels;
  for (const auto& spec : config_internal::settings()) {
    Value chosen;
    bool have = false;
    if (auto it = cli->values.find(spec.env); it != cli->values.end()) {
      chosen = it->second;  // a flag is explicit: even an empty value is checked
      have = true;
    }
    for (const EnvMap* layer : layers) {
      if (have) break;
      auto it = layer->find(spec.env);
      if (it == layer->end()) continue;
      if (spec.kind == config_internal::Kind::kTyped && is_blank(it->second)) continue;
      chosen = {spec.env, it->second};
      have = true;
    }
    if (!have) continue;
    Status s = spec.apply(c, chosen);
    if (!s.is_ok()) return s;
    labels[spec.env] = chosen.label;
    out.settings[spec.env] = chosen.text;
  }

  Status s = check_cross_rules(out, labels);
  if (!s.is_ok()) return s;
  return out;
}

std::map<std::string, std::string> environment_map(char** envp) {
  std::map<std::string, std::string> out;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    const char* eq = strchr(*e, '=');
    if (eq == nullptr) continue;
    out.emplace(std::string(*e, static_cast<size_t>(eq - *e)), std::string(eq + 1));
  }
  return out;
}

const char* version_string() { return GENKIT_VERSION; }

}  // namespace genkit
