// Server configuration: names and defaults of SPEC.md §8.
// Priority: CLI flag > environment > .<env>.env (--env NAME) > .env > default.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace genkit {

struct RateLimit {
  int64_t count = 60;
  int64_t period_seconds = 60;  // "60/minute"
};

struct Config {
  // Network
  std::string bind_host = "0.0.0.0";        // BIND_HOST
  int port = 8080;                           // PORT, --port
  int grpc_port = 50051;                     // GRPC_PORT, --grpc-port
  bool grpc_enabled = true;                  // --no-grpc
  // Process model (gunicorn.conf names)
  int web_concurrency = 0;                   // WEB_CONCURRENCY, --workers (0 → min(2×CPU+1, 12))
  int worker_timeout = 120;                  // WORKER_TIMEOUT (s)
  int graceful_timeout = 0;                  // GRACEFUL_TIMEOUT (s; 0 → SHUTDOWN_GRACE)
  int shutdown_grace = 10;                   // SHUTDOWN_GRACE (s)
  int64_t max_requests = 10000;              // MAX_REQUESTS (0 disables recycling)
  int64_t max_requests_jitter = 1000;        // MAX_REQUESTS_JITTER
  // HTTP
  int keep_alive_timeout = 75;               // KEEP_ALIVE_TIMEOUT (s)
  int read_timeout = 30;                     // READ_TIMEOUT (s): headers+body must arrive within it, else 408
  int request_timeout = 120;                 // REQUEST_TIMEOUT (s), --request-timeout → 504
  int64_t max_body_size = 1048576;           // MAX_BODY_SIZE (bytes), --max-body-size → 413
  int64_t gzip_min_size = 500;               // GZIP_MIN_SIZE
  int64_t hsts_max_age = 31536000;           // HSTS_MAX_AGE
  std::vector<std::string> cors_allowed_origins;                                     // CORS_ALLOWED_ORIGINS
  std::vector<std::string> cors_allowed_methods = {"GET", "POST", "OPTIONS"};         // CORS_ALLOWED_METHODS
  std::vector<std::string> cors_allowed_headers = {"Content-Type", "Authorization", "X-Request-ID"};  // CORS_ALLOWED_HEADERS
  std::vector<std::string> trusted_hosts;    // TRUSTED_HOSTS
  RateLimit rate_limit;                      // RATE_LIMIT_DEFAULT, --rate-limit
  bool rate_limit_enabled = true;            // RATE_LIMIT_ENABLED
  int rate_limit_table_size = 65536;         // RATE_LIMIT_TABLE_SIZE (token buckets in shared memory)
  std::vector<std::string> forwarded_allow_ips = {"127.0.0.1"};  // FORWARDED_ALLOW_IPS: proxies whose X-Forwarded-For is believed
  std::vector<std::string> api_keys;         // API_KEYS
  std::string tls_cert_file;                 // TLS_CERT_FILE ("" → plain HTTP)
  std::string tls_key_file;                  // TLS_KEY_FILE
  std::string tls_ca_file;                   // TLS_CA_FILE (client certificates required when set)
  // Mode and logging
  bool debug = false;                        // DEBUG, --debug
  std::string log_level = "info";            // LOG_LEVEL: debug|info|warning|error
  std::string log_format = "json";           // LOG_FORMAT: json|console, --log-format (debug → console when unset)
  std::string log_file;                      // LOG_FILE ("" → stdout)
  std::string env_name;                      // --env NAME (loads .NAME.env)
  std::string genkit_env = "prod";           // GENKIT_ENV: "dev" serves the reflection API and exports traces to the tools
  std::string genkit_runtime_id;             // GENKIT_RUNTIME_ID ("" → <pid>-<port>)
  std::string genkit_telemetry_server;       // GENKIT_TELEMETRY_SERVER (dev: where traces go; else /api/notify's URL)
  bool genkit_realtime_telemetry = false;    // GENKIT_ENABLE_REALTIME_TELEMETRY (dev: spans also posted as they start)
  // Resilience
  bool cache_enabled = true;                 // CACHE_ENABLED
  int cache_ttl = 300;                       // CACHE_TTL (s)
  int cache_max_size = 1024;                 // CACHE_MAX_SIZE
  int cache_max_entry_bytes = 65536;         // CACHE_MAX_ENTRY_BYTES (larger results are not cached)
  bool cb_enabled = true;                    // CB_ENABLED
  int cb_failure_threshold = 5;              // CB_FAILURE_THRESHOLD
  double cb_recovery_timeout = 30;           // CB_RECOVERY_TIMEOUT (s)
  // Where the cache, breaker and rate limiter live
  std::string state_backend = "shm";         // STATE_BACKEND: shm (this machine) | redis (the fleet)
  std::string redis_url = "redis://127.0.0.1:6379/0";  // REDIS_URL (redis://… or unix://…)
  int redis_timeout_ms = 50;                 // REDIS_TIMEOUT_MS: longest wait on Redis before local state decides
  std::string redis_key_prefix = "genkit-endpoints:";  // REDIS_KEY_PREFIX
  // Models
  std::string model;                         // MODEL ("" → googleai/gemini-2.5-flash with a key, else mock/echo)
  bool model_explicit = false;               // true when MODEL was given by the user
  int64_t llm_timeout_ms = 120000;           // LLM_TIMEOUT (ms)
  std::string gemini_api_key;                // GEMINI_API_KEY
  std::string gemini_base_url = "https://generativelanguage.googleapis.com";  // GEMINI_BASE_URL
  std::string openai_base_url;               // OPENAI_BASE_URL
  std::string openai_api_key;                // OPENAI_API_KEY
  std::string prompts_dir;                   // PROMPTS_DIR (default: compiled-in prompts folder)
  int mock_chunk_delay_ms = 20;              // MOCK_CHUNK_DELAY_MS: pause between mock/echo stream chunks
  // Telemetry
  std::string otel_endpoint;                 // OTEL_EXPORTER_OTLP_ENDPOINT, --otel-endpoint
  std::string otel_service_name = "genkit-endpoints";  // OTEL_SERVICE_NAME, --otel-service-name
  bool telemetry_disabled = false;           // GENKIT_TELEMETRY_DISABLED, --no-telemetry

  bool dev_mode() const { return genkit_env == "dev"; }
  bool redis_backend() const { return state_backend == "redis"; }
  int effective_workers() const;             // web_concurrency or min(2×CPU+1, 12)
  int effective_graceful_timeout() const;    // graceful_timeout or shutdown_grace
};

enum class CliAction { kRun, kHelp, kVersion, kCheckConfig };

struct LoadedConfig {
  Config config;
  CliAction action = CliAction::kRun;
  std::vector<std::string> warnings;  // e.g. "no GEMINI_API_KEY: using mock/echo"
  // The text each setting given (by flag, environment or .env) resolved to,
  // by environment name: the supervisor hands exactly this to grpcd, so a
  // .env edited since start-up cannot give grpcd another configuration.
  std::map<std::string, std::string> settings;
};

// Everything load_config reads, so tests can pass their own.
struct ConfigInputs {
  std::vector<std::string> args;             // argv[1..]
  std::map<std::string, std::string> env;    // process environment
  std::string dotenv_dir = ".";              // where .env and .<env>.env are looked up
  bool read_dotenv = true;                   // false: env and args only (grpcd)
};

// Parses and validates. An error's message names the setting, e.g.
// "PORT: must be an integer from 1 to 65535 (got \"abc\")".
Result<LoadedConfig> load_config(const ConfigInputs& inputs);

// Reads the process's environment into a map.
std::map<std::string, std::string> environment_map(char** envp);

// Parses a .env file's text (KEY=VALUE, # comments, optional quotes, "export ").
Result<std::map<std::string, std::string>> parse_dotenv(const std::string& text);

std::string help_text();
const char* version_string();

}  // namespace genkit
