// The table of settings: name, flag, default shown in --help, and how to parse
// it. load_config and help_text both read it, so --help cannot drift from
// what is actually accepted.
#include <cctype>
#include <limits>

#include "common/config_internal.h"
#include "common/net/host_allow_list.h"
#include "common/net/ip_address.h"
#include "common/redis/redis_url.h"

#ifndef GENKIT_DEFAULT_PROMPTS_DIR
#define GENKIT_DEFAULT_PROMPTS_DIR "prompts"
#endif

namespace genkit::config_internal {
namespace {

constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
constexpr int kDay = 86400;
// gRPC's max_receive_message_length is an int.
constexpr int64_t kMaxBody = std::numeric_limits<int>::max();
constexpr const char* kLevels[] = {"debug", "info", "warning", "error"};
constexpr const char* kFormats[] = {"json", "console"};
constexpr const char* kGenkitEnvs[] = {"dev", "prod"};
constexpr const char* kStateBackends[] = {"shm", "redis"};

Status set_list(std::vector<std::string>* out, const Value& v) {
  *out = parse_list(v.text);
  return Status::ok();
}

// An allow-list that IpAllowList accepts (checked now, not at the first request).
Status set_ip_list(std::vector<std::string>* out, const Value& v) {
  std::vector<std::string> items = parse_list(v.text);
  Result<IpAllowList> list = IpAllowList::parse(items);
  if (!list.ok()) return Status(Code::kInvalidArgument, v.label + ": " + list.status().message() + " (got \"" + v.text + "\")");
  *out = std::move(items);
  return Status::ok();
}

// Hosts that HostAllowList accepts (a pattern with a port never matches).
Status set_host_list(std::vector<std::string>* out, const Value& v) {
  std::vector<std::string> items = parse_list(v.text);
  Result<HostAllowList> list = HostAllowList::parse(items);
  if (!list.ok()) return Status(Code::kInvalidArgument, v.label + ": " + list.status().message());
  *out = std::move(items);
  return Status::ok();
}

// Origins as browsers send them, "scheme://host[:port]": CORS compares them
// exactly, so "https://app.example.com/" would never match.
Status set_origin_list(std::vector<std::string>* out, const Value& v) {
  std::vector<std::string> items = parse_list(v.text);
  for (const std::string& o : items) {
    if (o == "*") continue;
    std::size_t sep = o.find("://");
    if (sep == std::string::npos || sep == 0 || sep + 3 == o.size() ||
        o.find_first_of("/?#* ", sep + 3) != std::string::npos) {
      return Status(Code::kInvalidArgument,
                    v.label + ": \"" + o + "\" is not an origin (scheme://host[:port], no path), nor *");
    }
  }
  *out = std::move(items);
  return Status::ok();
}

Status set_text(std::string* out, const Value& v) {
  *out = v.text;
  return Status::ok();
}

// Genkit's runtime id: the CLI sends it back in a query string (?id=).
Status set_runtime_id(std::string* out, const Value& v) {
  for (char ch : v.text) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.' && ch != ':') {
      return invalid_argument(v.label + ": may hold only letters, digits and - _ . : (got \"" + v.text + "\")");
    }
  }
  *out = v.text;
  return Status::ok();
}

Status set_redis_url(std::string* out, const Value& v) {
  Result<RedisEndpoint> e = parse_redis_url(v.text);
  // (Not echoed: the URL may hold a password.)
  if (!e.ok()) return invalid_argument(v.label + ": " + e.status().message());
  *out = v.text;
  return Status::ok();
}

// Keys are the prefix and a fixed suffix: printable, no spaces, bounded.
Status set_key_prefix(std::string* out, const Value& v) {
  if (v.text.size() > 128) return invalid_argument(v.label + ": at most 128 characters");
  for (char ch : v.text) {
    if (ch <= ' ' || ch > '~') return invalid_argument(v.label + ": printable characters without spaces only");
  }
  *out = v.text;
  return Status::ok();
}

// An empty URL means "not configured" for the optional endpoints.
Status set_optional_url(std::string* out, const Value& v) {
  if (v.text.find_first_not_of(" \t") == std::string::npos) {
    out->clear();
    return Status::ok();
  }
  return parse_http_url(v, out);
}

constexpr Kind S = Kind::kString;
constexpr Kind T = Kind::kTyped;

#define APPLY(body) [](Config& c, const Value& v) -> Status { return body; }

const SettingSpec kSettings[] = {
    // Network
    {"BIND_HOST", "--bind", "HOST", "0.0.0.0", "address to listen on", T,
     APPLY(parse_non_empty(v, &c.bind_host))},
    {"PORT", "--port", "N", "8080", "HTTP port (0 picks any free port)", T,
     APPLY(parse_int(v, 0, 65535, &c.port))},
    {"GRPC_PORT", "--grpc-port", "N", "50051", "gRPC port of grpcd (0 picks any free port); flag --no-grpc turns gRPC off", T,
     APPLY(parse_int(v, 0, 65535, &c.grpc_port))},
    // Process model
    {"WEB_CONCURRENCY", "--workers", "N", "min(2*CPU+1, 12)", "HTTP worker processes (1..256)", T,
     APPLY(parse_int(v, 1, 256, &c.web_concurrency))},
    {"WORKER_TIMEOUT", nullptr, nullptr, "120", "seconds a worker or grpcd may leave its heartbeat unstamped (stopped, spinning) before it is killed (SIGABRT, then SIGKILL) and replaced",
     T, APPLY(parse_int(v, 1, kDay, &c.worker_timeout))},
    {"GRACEFUL_TIMEOUT", nullptr, nullptr, "0 (use SHUTDOWN_GRACE)", "seconds a recycled worker may drain", T,
     APPLY(parse_int(v, 0, kDay, &c.graceful_timeout))},
    {"SHUTDOWN_GRACE", nullptr, nullptr, "10", "seconds to drain in-flight requests on SIGTERM", T,
     APPLY(parse_int(v, 0, kDay, &c.shutdown_grace))},
    {"MAX_REQUESTS", nullptr, nullptr, "10000", "requests before a worker is recycled (0 = never)", T,
     APPLY(parse_int(v, int64_t{0}, kMax64, &c.max_requests))},
    {"MAX_REQUESTS_JITTER", nullptr, nullptr, "1000", "random extra requests before recycling", T,
     APPLY(parse_int(v, int64_t{0}, kMax64, &c.max_requests_jitter))},
    // HTTP
    {"KEEP_ALIVE_TIMEOUT", nullptr, nullptr, "75", "seconds an idle connection is kept open", T,
     APPLY(parse_int(v, 1, kDay, &c.keep_alive_timeout))},
    {"READ_TIMEOUT", nullptr, nullptr, "30", "seconds for a request's headers and body to arrive (408)", T,
     APPLY(parse_int(v, 1, kDay, &c.read_timeout))},
    {"REQUEST_TIMEOUT", "--request-timeout", "SECONDS", "120", "seconds before a request gets 504", T,
     APPLY(parse_int(v, 1, kDay, &c.request_timeout))},
    {"MAX_BODY_SIZE", "--max-body-size", "BYTES", "1048576", "largest request body (413 above) and gRPC message (RESOURCE_EXHAUSTED)", T,
     APPLY(parse_int(v, int64_t{1}, kMaxBody, &c.max_body_size))},
    {"GZIP_MIN_SIZE", nullptr, nullptr, "500", "smallest JSON/text response body gzipped for clients that accept it (bytes; never SSE)", T,
     APPLY(parse_int(v, int64_t{0}, kMax64, &c.gzip_min_size))},
    {"HSTS_MAX_AGE", nullptr, nullptr, "31536000", "Strict-Transport-Security max-age (sent on TLS requests only, or https per a trusted proxy)", T,
     APPLY(parse_int(v, int64_t{0}, kMax64, &c.hsts_max_age))},
    {"CORS_ALLOWED_ORIGINS", nullptr, nullptr, "\"\" (same-origin only)",
     "comma list of origins (scheme://host[:port], matched exactly) whose browser requests may read the answers; "
     "* any origin, only with DEBUG (DEBUG and unset: *); credentials never allowed", S,
     APPLY(set_origin_list(&c.cors_allowed_origins, v))},
    {"CORS_ALLOWED_METHODS", nullptr, nullptr, "GET,POST,OPTIONS", "comma list of methods a CORS preflight may ask for (* any)", S,
     APPLY(set_list(&c.cors_allowed_methods, v))},
    {"CORS_ALLOWED_HEADERS", nullptr, nullptr, "Content-Type,Authorization,X-Request-ID",
     "comma list of request headers a CORS preflight may ask for, besides the CORS-safelisted ones (* any)", S,
     APPLY(set_list(&c.cors_allowed_headers, v))},
    {"TRUSTED_HOSTS", nullptr, nullptr, "\"\" (any host)",
     "comma list of host names the Host header must name, any port (*.example.com: its subdomains; *: any); "
     "otherwise 400, health checks included", S,
     APPLY(set_host_list(&c.trusted_hosts, v))},
    {"RATE_LIMIT_DEFAULT", "--rate-limit", "N/PERIOD", "60/minute",
     "per-client-IP limit shared by all processes; period second|minute|hour|day (or s|m|h|d)", T,
     APPLY(parse_rate_limit(v, &c.rate_limit))},
    {"RATE_LIMIT_ENABLED", nullptr, nullptr, "true", "apply RATE_LIMIT_DEFAULT (health, readiness and /metrics are exempt)",
     T, APPLY(parse_bool(v, &c.rate_limit_enabled))},
    {"RATE_LIMIT_TABLE_SIZE", nullptr, nullptr, "65536",
     "client buckets kept in shared memory (64..4194304); the idlest are evicted when full", T,
     APPLY(parse_int(v, 64, 4194304, &c.rate_limit_table_size))},
    {"FORWARDED_ALLOW_IPS", nullptr, nullptr, "127.0.0.1",
     "comma list of proxy IPs/CIDRs (or *) whose X-Forwarded-For names the client and whose "
     "X-Forwarded-Proto: https counts as TLS (HSTS)", S,
     APPLY(set_ip_list(&c.forwarded_allow_ips, v))},
    {"API_KEYS", nullptr, nullptr, "\"\" (no auth)",
     "comma list of accepted API keys, sent verbatim as the Authorization header or gRPC metadata "
     "(none: 401/UNAUTHENTICATED, wrong: 403/PERMISSION_DENIED; health and readiness exempt); "
     "Authorization is then never /tell-joke's username", S,
     APPLY(set_list(&c.api_keys, v))},
    {"TLS_CERT_FILE", nullptr, nullptr, "\"\" (plain HTTP)",
     "PEM certificate chain: PORT then serves TLS (ALPN h2, http/1.1); re-read on SIGHUP", S,
     APPLY(set_text(&c.tls_cert_file, v))},
    {"TLS_KEY_FILE", nullptr, nullptr, "\"\"", "PEM private key of TLS_CERT_FILE", S, APPLY(set_text(&c.tls_key_file, v))},
    {"TLS_CA_FILE", nullptr, nullptr, "\"\" (no client certificates)",
     "PEM CA certificates: clients must present a certificate they signed", S, APPLY(set_text(&c.tls_ca_file, v))},
    // Mode and logging
    {"DEBUG", nullptr, nullptr, "false", "debug mode: console logs, /docs, gRPC reflection; flag --debug", T,
     APPLY(parse_bool(v, &c.debug))},
    {"LOG_LEVEL", nullptr, nullptr, "info", "debug|info|warning|error", T,
     APPLY(parse_choice(v, kLevels, &c.log_level))},
    {"LOG_FORMAT", "--log-format", "json|console", "json (console with DEBUG)", "log line format", T,
     APPLY(parse_choice(v, kFormats, &c.log_format))},
    {"LOG_FILE", nullptr, nullptr, "\"\" (stdout)", "append logs to this file; SIGUSR1 reopens it", S,
     APPLY(set_text(&c.log_file, v))},
    {"GENKIT_ENV", nullptr, nullptr, "prod",
     "dev|prod; dev serves the Genkit reflection API on 127.0.0.1:3100-3200 and exports traces to the tools", S,
     APPLY(parse_choice(v, kGenkitEnvs, &c.genkit_env))},
    {"GENKIT_RUNTIME_ID", nullptr, nullptr, "\"\" (<pid>-<port>)", "dev: the runtime id in .genkit/runtimes/", S,
     APPLY(set_runtime_id(&c.genkit_runtime_id, v))},
    {"GENKIT_TELEMETRY_SERVER", nullptr, nullptr, "\"\" (the URL the tools announce)",
     "dev: the Genkit telemetry server traces are posted to", S,
     APPLY(set_optional_url(&c.genkit_telemetry_server, v))},
    {"GENKIT_ENABLE_REALTIME_TELEMETRY", nullptr, nullptr, "false", "dev: also post each span as it starts", T,
     APPLY(parse_bool(v, &c.genkit_realtime_telemetry))},
    // Resilience
    {"CACHE_ENABLED", nullptr, nullptr, "true",
     "cache the results of translate, describe-image, generate-character, generate-code, review-code", T,
     APPLY(parse_bool(v, &c.cache_enabled))},
    {"CACHE_TTL", nullptr, nullptr, "300", "seconds a cached result lives", T,
     APPLY(parse_int(v, 1, 30 * kDay, &c.cache_ttl))},
    {"CACHE_MAX_SIZE", nullptr, nullptr, "1024", "cached results kept, least recently used evicted (1..1048576)", T,
     APPLY(parse_int(v, 1, 1048576, &c.cache_max_size))},
    {"CACHE_MAX_ENTRY_BYTES", nullptr, nullptr, "65536",
     "largest result cached (256..16777216); shared memory reserves CACHE_MAX_SIZE of them", T,
     APPLY(parse_int(v, 256, 16777216, &c.cache_max_entry_bytes))},
    {"CB_ENABLED", nullptr, nullptr, "true", "circuit breaker around model calls, shared by all processes", T,
     APPLY(parse_bool(v, &c.cb_enabled))},
    {"CB_FAILURE_THRESHOLD", nullptr, nullptr, "5", "consecutive upstream failures that open the circuit", T,
     APPLY(parse_int(v, 1, 1000000, &c.cb_failure_threshold))},
    {"CB_RECOVERY_TIMEOUT", nullptr, nullptr, "30", "seconds an open circuit fails fast before one probe is let through",
     T, APPLY(parse_seconds(v, kDay, &c.cb_recovery_timeout))},
    {"STATE_BACKEND", nullptr, nullptr, "shm",
     "shm|redis: where the cache, circuit breaker and rate limiter live; shm is this machine's shared memory, "
     "redis one state for every machine sharing REDIS_URL (shared memory stays the cache's first level and the "
     "fallback while Redis is unreachable)", T,
     APPLY(parse_choice(v, kStateBackends, &c.state_backend))},
    {"REDIS_URL", nullptr, nullptr, "redis://127.0.0.1:6379/0",
     "redis://[[user]:password@]host[:port][/db] or unix:///path.sock[?db=N&password=P] (STATE_BACKEND=redis)", S,
     APPLY(set_redis_url(&c.redis_url, v))},
    {"REDIS_TIMEOUT_MS", nullptr, nullptr, "50",
     "milliseconds a request may wait on Redis before this machine's state decides instead (1..10000)", T,
     APPLY(parse_int(v, 1, 10000, &c.redis_timeout_ms))},
    {"REDIS_KEY_PREFIX", nullptr, nullptr, "genkit-endpoints:",
     "prefix of every Redis key, so that several services can share one Redis", S,
     APPLY(set_key_prefix(&c.redis_key_prefix, v))},
    // Models
    {"MODEL", "--model", "PROVIDER/NAME",
     "googleai/gemini-2.5-flash with GEMINI_API_KEY, else mock/echo",
     "default model; provider googleai|openai|mock", T, APPLY(parse_non_empty(v, &c.model))},
    {"LLM_TIMEOUT", nullptr, nullptr, "120000", "milliseconds allowed for one model call", T,
     APPLY(parse_int(v, int64_t{1}, int64_t{kDay} * 1000, &c.llm_timeout_ms))},
    {"GEMINI_API_KEY", nullptr, nullptr, "\"\"", "Gemini API key", S, APPLY(set_text(&c.gemini_api_key, v))},
    {"GEMINI_BASE_URL", nullptr, nullptr, "https://generativelanguage.googleapis.com", "Gemini API base URL",
     T, APPLY(parse_http_url(v, &c.gemini_base_url))},
    {"OPENAI_BASE_URL", nullptr, nullptr, "\"\"", "OpenAI-compatible server, required for openai/*", S,
     APPLY(set_optional_url(&c.openai_base_url, v))},
    {"OPENAI_API_KEY", nullptr, nullptr, "\"\"", "key for OPENAI_BASE_URL", S,
     APPLY(set_text(&c.openai_api_key, v))},
    {"PROMPTS_DIR", "--prompts-dir", "DIR", GENKIT_DEFAULT_PROMPTS_DIR, "folder of .prompt files", T,
     APPLY(parse_non_empty(v, &c.prompts_dir))},
    {"MOCK_CHUNK_DELAY_MS", nullptr, nullptr, "20", "milliseconds between mock/echo stream chunks", T,
     APPLY(parse_int(v, 0, 60000, &c.mock_chunk_delay_ms))},
    // Telemetry
    {"OTEL_EXPORTER_OTLP_ENDPOINT", "--otel-endpoint", "URL", "\"\" (no export)", "OTLP/HTTP collector", S,
     APPLY(set_optional_url(&c.otel_endpoint, v))},
    {"OTEL_SERVICE_NAME", "--otel-service-name", "NAME", "genkit-endpoints", "service name in traces", T,
     APPLY(parse_non_empty(v, &c.otel_service_name))},
    {"GENKIT_TELEMETRY_DISABLED", nullptr, nullptr, "false", "disable all telemetry export; flag --no-telemetry", T,
     APPLY(parse_bool(v, &c.telemetry_disabled))},
};

#undef APPLY

}  // namespace

std::span<const SettingSpec> settings() { return kSettings; }

const SettingSpec* find_setting_by_flag(std::string_view flag) {
  for (const SettingSpec& s : kSettings) {
    if (s.flag != nullptr && flag == s.flag) return &s;
  }
  return nullptr;
}

}  // namespace genkit::config_internal
