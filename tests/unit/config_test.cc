#include "common/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/config_internal.h"

namespace genkit {
namespace {

namespace fs = std::filesystem;

// A private directory for .env files, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "config_test.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name) << text;
  }

 private:
  std::string path_;
};

ConfigInputs inputs(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                    std::string dir = "/nonexistent-genkit-config-dir") {
  return ConfigInputs{std::move(args), std::move(env), std::move(dir)};
}

Config load_ok(const ConfigInputs& in) {
  auto r = load_config(in);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r->config : Config{};
}

std::string load_error(const ConfigInputs& in) {
  auto r = load_config(in);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(ConfigDefaults, MatchTheSpec) {
  auto r = load_config(inputs({}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Config& c = r->config;
  EXPECT_EQ(r->action, CliAction::kRun);
  EXPECT_EQ(c.bind_host, "0.0.0.0");
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.grpc_port, 50051);
  EXPECT_TRUE(c.grpc_enabled);
  EXPECT_FALSE(c.debug);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.rate_limit.count, 60);
  EXPECT_EQ(c.rate_limit.period_seconds, 60);
  EXPECT_EQ(c.max_body_size, 1048576);
  EXPECT_EQ(c.cors_allowed_methods, (std::vector<std::string>{"GET", "POST", "OPTIONS"}));
  EXPECT_TRUE(c.cors_allowed_origins.empty());
  EXPECT_FALSE(c.prompts_dir.empty());
  EXPECT_EQ(c.model, "mock/echo");
  EXPECT_FALSE(c.model_explicit);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("mock/echo"), std::string::npos);
}

TEST(ConfigPriority, CliBeatsEnvBeatsNamedEnvFileBeatsDotenvBeatsDefault) {
  TempDir dir;
  dir.write(".env", "PORT=1001\nGRPC_PORT=2001\nCACHE_TTL=3001\nWORKER_TIMEOUT=4001\n");
  dir.write(".staging.env", "PORT=1002\nGRPC_PORT=2002\nCACHE_TTL=3002\n");
  auto in = inputs({"--port", "1004", "--env", "staging"}, {{"PORT", "1003"}, {"GRPC_PORT", "2003"}},
                   dir.path());
  Config c = load_ok(in);
  EXPECT_EQ(c.port, 1004);           // CLI
  EXPECT_EQ(c.grpc_port, 2003);      // environment
  EXPECT_EQ(c.cache_ttl, 3002);      // .staging.env
  EXPECT_EQ(c.worker_timeout, 4001); // .env
  EXPECT_EQ(c.keep_alive_timeout, 75);  // default
  EXPECT_EQ(c.env_name, "staging");
}

TEST(ConfigPriority, EnvFileSitsBetweenTheEnvironmentAndTheDotenvFiles) {
  TempDir dir;
  dir.write(".env", "PORT=1001\nCACHE_TTL=3001\nWORKER_TIMEOUT=4001\n");
  dir.write(".staging.env", "CACHE_TTL=3002\n");
  dir.write("service.env", "PORT=1005\nGRPC_PORT=2005\nCACHE_TTL=3005\n");
  auto in = inputs({"--env-file", dir.path() + "/service.env", "--env", "staging"}, {{"GRPC_PORT", "2003"}},
                   dir.path());
  Config c = load_ok(in);
  EXPECT_EQ(c.grpc_port, 2003);       // environment
  EXPECT_EQ(c.port, 1005);            // --env-file
  EXPECT_EQ(c.cache_ttl, 3005);       // --env-file over .staging.env
  EXPECT_EQ(c.worker_timeout, 4001);  // .env
}

TEST(ConfigPriority, AMissingOrBrokenEnvFileIsAnError) {
  TempDir dir;
  std::string missing = load_error(inputs({"--env-file=" + dir.path() + "/nope.env"}));
  EXPECT_TRUE(starts_with(missing, "--env-file: ")) << missing;
  dir.write("bad.env", "PORT=abc\n");
  std::string bad = load_error(inputs({"--env-file", dir.path() + "/bad.env"}));
  EXPECT_TRUE(starts_with(bad, "PORT: ")) << bad;
  EXPECT_TRUE(starts_with(load_error(inputs({"--env-file"})), "--env-file: ")) << load_error(inputs({"--env-file"}));
}

TEST(ConfigPriority, NamedEnvFileOnlyWithEnvFlag) {
  TempDir dir;
  dir.write(".env", "CACHE_TTL=3001\n");
  dir.write(".staging.env", "CACHE_TTL=3002\n");
  EXPECT_EQ(load_ok(inputs({}, {}, dir.path())).cache_ttl, 3001);
  EXPECT_EQ(load_ok(inputs({"--env=staging"}, {}, dir.path())).cache_ttl, 3002);
}

TEST(ConfigPriority, EmptyTypedValueFallsThroughButEmptyStringClears) {
  TempDir dir;
  dir.write(".env", "PORT=1234\nOTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318\n");
  Config c = load_ok(inputs({}, {{"PORT", ""}, {"OTEL_EXPORTER_OTLP_ENDPOINT", ""}}, dir.path()));
  EXPECT_EQ(c.port, 1234);
  EXPECT_EQ(c.otel_endpoint, "");
}

TEST(ConfigPriority, MissingNamedEnvFileIsAWarning) {
  TempDir dir;
  auto r = load_config(inputs({"--env", "prod", "--model", "mock/echo"}, {}, dir.path()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find(".prod.env"), std::string::npos);
}

TEST(ConfigPriority, MalformedDotenvNamesFileAndLine) {
  TempDir dir;
  dir.write(".env", "# settings\nPORT 8080\n");
  std::string err = load_error(inputs({}, {}, dir.path()));
  EXPECT_NE(err.find(dir.path() + "/.env:2:"), std::string::npos) << err;
}

TEST(ConfigFlags, BothSpellingsAndSwitches) {
  Config c = load_ok(inputs({"--port=9001", "--grpc-port", "9002", "--no-grpc", "--debug", "--no-telemetry",
                             "--otel-endpoint", "https://otel.example/", "--otel-service-name=svc",
                             "--workers", "3", "--log-format", "json", "--request-timeout", "7",
                             "--max-body-size=2048", "--rate-limit", "5/second", "--bind", "127.0.0.1",
                             "--model", "mock/echo", "--prompts-dir", "/tmp/p"}));
  EXPECT_EQ(c.port, 9001);
  EXPECT_EQ(c.grpc_port, 9002);
  EXPECT_FALSE(c.grpc_enabled);
  EXPECT_TRUE(c.debug);
  EXPECT_TRUE(c.telemetry_disabled);
  EXPECT_EQ(c.otel_endpoint, "https://otel.example");
  EXPECT_EQ(c.otel_service_name, "svc");
  EXPECT_EQ(c.web_concurrency, 3);
  EXPECT_EQ(c.effective_workers(), 3);
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.request_timeout, 7);
  EXPECT_EQ(c.max_body_size, 2048);
  EXPECT_EQ(c.rate_limit.count, 5);
  EXPECT_EQ(c.rate_limit.period_seconds, 1);
  EXPECT_EQ(c.bind_host, "127.0.0.1");
  EXPECT_TRUE(c.model_explicit);
  EXPECT_EQ(c.prompts_dir, "/tmp/p");
}

TEST(ConfigFlags, ErrorsNameTheFlag) {
  EXPECT_TRUE(starts_with(load_error(inputs({"--bogus"})), "--bogus:"));
  EXPECT_TRUE(starts_with(load_error(inputs({"--bogus=1"})), "--bogus:"));
  EXPECT_TRUE(starts_with(load_error(inputs({"--port"})), "--port:"));
  EXPECT_TRUE(starts_with(load_error(inputs({"--port", "--debug"})), "--port:"));
  EXPECT_TRUE(starts_with(load_error(inputs({"--debug=yes"})), "--debug:"));
  EXPECT_TRUE(starts_with(load_error(inputs({"--env", "../etc/passwd"})), "--env:"));
  EXPECT_TRUE(starts_with(load_error(inputs({"--bind="})), "--bind: must not be empty"));
  EXPECT_TRUE(starts_with(load_error(inputs({"--otel-service-name", ""})), "--otel-service-name: "));
  EXPECT_EQ(load_error(inputs({"--port", "abc"})), "--port: must be an integer from 0 to 65535 (got \"abc\")");
  EXPECT_NE(load_error(inputs({"stray"})).find("stray"), std::string::npos);
}

TEST(ConfigFlags, Actions) {
  // --help and --version must work even when the rest is broken.
  auto help = load_config(inputs({"--port", "abc", "-h"}, {{"PORT", "x"}}));
  ASSERT_TRUE(help.ok());
  EXPECT_EQ(help->action, CliAction::kHelp);
  EXPECT_EQ(load_config(inputs({"--help"}))->action, CliAction::kHelp);
  EXPECT_EQ(load_config(inputs({"--version"}))->action, CliAction::kVersion);
  EXPECT_EQ(load_config(inputs({"--check-config"}))->action, CliAction::kCheckConfig);
  EXPECT_FALSE(load_config(inputs({"--check-config"}, {{"PORT", "x"}})).ok());
}

TEST(ConfigErrors, EveryBadValueNamesItsSetting) {
  const std::pair<const char*, const char*> cases[] = {
      {"PORT", "abc"}, {"PORT", "70000"}, {"PORT", "80x"}, {"GRPC_PORT", "-1"},
      {"DEBUG", "maybe"}, {"LOG_LEVEL", "verbose"}, {"LOG_FORMAT", "xml"}, {"SHUTDOWN_GRACE", "-1"},
      {"CACHE_ENABLED", "2"}, {"CACHE_TTL", "0"}, {"CACHE_MAX_SIZE", "0"}, {"CB_ENABLED", "nope"},
      {"CB_FAILURE_THRESHOLD", "0"}, {"CB_RECOVERY_TIMEOUT", "0"}, {"CB_RECOVERY_TIMEOUT", "nan"},
      {"LLM_TIMEOUT", "0"}, {"KEEP_ALIVE_TIMEOUT", "0"}, {"READ_TIMEOUT", "soon"},
      {"RATE_LIMIT_DEFAULT", "60"}, {"RATE_LIMIT_DEFAULT", "x/minute"}, {"RATE_LIMIT_DEFAULT", "60/fortnight"},
      {"RATE_LIMIT_DEFAULT", "0/minute"}, {"MAX_BODY_SIZE", "0"}, {"REQUEST_TIMEOUT", "0"},
      {"HSTS_MAX_AGE", "-1"}, {"GZIP_MIN_SIZE", "-5"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"},
      {"GENKIT_TELEMETRY_DISABLED", "sure"}, {"WEB_CONCURRENCY", "0"},
      {"WEB_CONCURRENCY", "257"}, {"WORKER_TIMEOUT", "0"}, {"GRACEFUL_TIMEOUT", "-1"}, {"MAX_REQUESTS", "-1"},
      {"MAX_REQUESTS_JITTER", "x"}, {"MODEL", "gpt4"}, {"MODEL", "foo/bar"}, {"MODEL", "googleai/"},
      {"MODEL", "openai/llama3"}, {"GEMINI_BASE_URL", "nope"}, {"OPENAI_BASE_URL", "localhost:11434"},
      {"MOCK_CHUNK_DELAY_MS", "-1"}, {"CORS_ALLOWED_ORIGINS", "*"}, {"CACHE_MAX_ENTRY_BYTES", "255"},
      {"CACHE_MAX_ENTRY_BYTES", "16777217"}, {"RATE_LIMIT_TABLE_SIZE", "63"}, {"RATE_LIMIT_ENABLED", "maybe"},
      {"FORWARDED_ALLOW_IPS", "proxy.local"}, {"FORWARDED_ALLOW_IPS", "10.0.0.0/33"},
  };
  for (const auto& [name, value] : cases) {
    auto r = load_config(inputs({}, {{name, value}}));
    ASSERT_FALSE(r.ok()) << name << "=" << value;
    EXPECT_TRUE(starts_with(r.status().message(), std::string(name) + ": ")) << r.status().message();
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(load_error(inputs({}, {{"PORT", "abc"}})), "PORT: must be an integer from 0 to 65535 (got \"abc\")");
}

// Shared memory reserves CACHE_MAX_SIZE × CACHE_MAX_ENTRY_BYTES up front:
// a product no machine has is a configuration error, not an OOM kill.
TEST(ConfigErrors, ACacheLargerThanSixteenGibIsRefused) {
  std::string err = load_error(inputs({}, {{"CACHE_MAX_SIZE", "1048576"}, {"CACHE_MAX_ENTRY_BYTES", "16777216"}}));
  EXPECT_TRUE(starts_with(err, "CACHE_MAX_SIZE x CACHE_MAX_ENTRY_BYTES: 17592186044416 bytes")) << err;
  Config c = load_ok(inputs({}, {{"CACHE_MAX_SIZE", "1024"}, {"CACHE_MAX_ENTRY_BYTES", "16777216"}}));
  EXPECT_EQ(c.cache_max_entry_bytes, 16777216);
}

TEST(ConfigValues, SharedStateDefaults) {
  Config c = load_ok(inputs({}, {}));
  EXPECT_EQ(c.cache_max_entry_bytes, 65536);
  EXPECT_EQ(c.rate_limit_table_size, 65536);
  EXPECT_TRUE(c.rate_limit_enabled);
  EXPECT_EQ(c.forwarded_allow_ips, std::vector<std::string>{"127.0.0.1"});
  c = load_ok(inputs({}, {{"FORWARDED_ALLOW_IPS", "10.0.0.0/8, ::1,*"}}));
  EXPECT_EQ(c.forwarded_allow_ips, (std::vector<std::string>{"10.0.0.0/8", "::1", "*"}));
}

TEST(ConfigValues, Booleans) {
  for (const char* t : {"true", "TRUE", "1", "yes", "Yes", "on", "ON"}) {
    EXPECT_TRUE(load_ok(inputs({}, {{"DEBUG", t}})).debug) << t;
  }
  for (const char* f : {"false", "False", "0", "no", "NO", "off", "Off"}) {
    EXPECT_FALSE(load_ok(inputs({}, {{"CACHE_ENABLED", f}})).cache_enabled) << f;
  }
}

TEST(ConfigValues, RateLimit) {
  const std::tuple<const char*, int64_t, int64_t> cases[] = {
      {"10/second", 10, 1}, {"5/s", 5, 1},       {"100/minutes", 100, 60}, {"60/m", 60, 60},
      {"3/h", 3, 3600},     {"7/days", 7, 86400}, {" 20 / Minute ", 20, 60}, {"1/hour", 1, 3600},
  };
  for (const auto& [text, count, period] : cases) {
    Config c = load_ok(inputs({}, {{"RATE_LIMIT_DEFAULT", text}}));
    EXPECT_EQ(c.rate_limit.count, count) << text;
    EXPECT_EQ(c.rate_limit.period_seconds, period) << text;
  }
  EXPECT_TRUE(starts_with(load_error(inputs({"--rate-limit", "lots"})), "--rate-limit: "));
}

TEST(ConfigValues, ListsAreTrimmedAndEmptyItemsDropped) {
  Config c = load_ok(inputs({}, {{"TRUSTED_HOSTS", " a.example , ,b.example,"}, {"API_KEYS", "k1,k2"}}));
  EXPECT_EQ(c.trusted_hosts, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(c.api_keys, (std::vector<std::string>{"k1", "k2"}));
}

TEST(ConfigValues, CorsWildcardOnlyInDebug) {
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"CORS_ALLOWED_ORIGINS", "https://a.example, *"}})),
                          "CORS_ALLOWED_ORIGINS: "));
  Config c = load_ok(inputs({}, {{"CORS_ALLOWED_ORIGINS", "*"}, {"DEBUG", "true"}}));
  EXPECT_EQ(c.cors_allowed_origins, std::vector<std::string>{"*"});
  EXPECT_TRUE(load_config(inputs({"--debug"}, {{"CORS_ALLOWED_ORIGINS", "*"}})).ok());
}

TEST(ConfigValues, CorsOriginsMustBeOrigins) {
  Config c = load_ok(inputs({}, {{"CORS_ALLOWED_ORIGINS", "https://a.example, http://localhost:3000"}}));
  EXPECT_EQ(c.cors_allowed_origins, (std::vector<std::string>{"https://a.example", "http://localhost:3000"}));
  // A path (even a bare "/") or no scheme would never equal a browser's Origin.
  for (const char* bad : {"https://a.example/", "a.example", "https://a.example/app", "https://*.example.com",
                          "://a.example", "https://"}) {
    std::string e = load_error(inputs({}, {{"CORS_ALLOWED_ORIGINS", bad}}));
    EXPECT_TRUE(starts_with(e, "CORS_ALLOWED_ORIGINS: ")) << bad << ": " << e;
    EXPECT_NE(e.find("not an origin"), std::string::npos) << e;
  }
}

TEST(ConfigValues, TrustedHostPatterns) {
  Config c = load_ok(inputs({}, {{"TRUSTED_HOSTS", "api.example.com, *.example.org, [::1], 10.0.0.7, *"}}));
  EXPECT_EQ(c.trusted_hosts.size(), 5u);
  // Starlette would silently never match these: refused at start-up.
  for (const char* bad : {"localhost:8080", "[::1]:8080", "api.*.com", "*example.com", "*.", "a b", "x/y"}) {
    std::string e = load_error(inputs({}, {{"TRUSTED_HOSTS", bad}}));
    EXPECT_TRUE(starts_with(e, "TRUSTED_HOSTS: ")) << bad << ": " << e;
  }
  EXPECT_NE(load_error(inputs({}, {{"TRUSTED_HOSTS", "localhost:8080"}})).find("without a port"), std::string::npos);
}

TEST(ConfigValues, ModelDefaultAndWarning) {
  auto with_key = load_config(inputs({}, {{"GEMINI_API_KEY", "k"}}));
  ASSERT_TRUE(with_key.ok());
  EXPECT_EQ(with_key->config.model, "googleai/gemini-2.5-flash");
  EXPECT_FALSE(with_key->config.model_explicit);
  EXPECT_TRUE(with_key->warnings.empty());

  auto explicit_mock = load_config(inputs({}, {{"MODEL", "mock/echo"}}));
  ASSERT_TRUE(explicit_mock.ok());
  EXPECT_TRUE(explicit_mock->config.model_explicit);
  EXPECT_TRUE(explicit_mock->warnings.empty());

  EXPECT_NE(load_error(inputs({}, {{"MODEL", "openai/llama3"}})).find("OPENAI_BASE_URL"), std::string::npos);
  Config c = load_ok(inputs({"--model", "openai/llama3"},
                            {{"MODEL", "mock/echo"}, {"OPENAI_BASE_URL", "http://localhost:11434/"}}));
  EXPECT_EQ(c.model, "openai/llama3");
  EXPECT_EQ(c.openai_base_url, "http://localhost:11434");
  EXPECT_TRUE(starts_with(load_error(inputs({"--model", "bad"})), "--model: "));
}

TEST(ConfigValues, LogFormatFollowsDebugUnlessSet) {
  EXPECT_EQ(load_ok(inputs({"--debug"})).log_format, "console");
  EXPECT_EQ(load_ok(inputs({}, {{"DEBUG", "1"}, {"LOG_FORMAT", "json"}})).log_format, "json");
  EXPECT_EQ(load_ok(inputs({"--log-format", "console"})).log_format, "console");
  EXPECT_EQ(load_ok(inputs({}, {{"LOG_LEVEL", "WARNING"}})).log_level, "warning");
}

TEST(ConfigValues, EffectiveValues) {
  Config c;
  int n = c.effective_workers();
  EXPECT_GE(n, 3);
  EXPECT_LE(n, 12);
  EXPECT_EQ(c.effective_graceful_timeout(), 10);
  c.graceful_timeout = 4;
  EXPECT_EQ(c.effective_graceful_timeout(), 4);
}

TEST(ConfigHelp, MentionsEveryFlagAndVariable) {
  std::string help = help_text();
  for (const char* flag : {"--port", "--grpc-port", "--no-grpc", "--env", "--debug", "--no-telemetry",
                           "--otel-endpoint", "--otel-service-name", "--workers", "--log-format",
                           "--request-timeout", "--max-body-size", "--rate-limit", "--bind", "--model",
                           "--prompts-dir", "--help", "-h", "--version", "--check-config"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  for (const char* env :
       {"PORT", "GRPC_PORT", "BIND_HOST", "DEBUG", "LOG_LEVEL", "LOG_FORMAT", "LOG_FILE", "SHUTDOWN_GRACE",
        "CACHE_ENABLED", "CACHE_TTL", "CACHE_MAX_SIZE", "CB_ENABLED", "CB_FAILURE_THRESHOLD",
        "CB_RECOVERY_TIMEOUT", "LLM_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "READ_TIMEOUT", "CORS_ALLOWED_ORIGINS",
        "CORS_ALLOWED_METHODS", "CORS_ALLOWED_HEADERS", "TRUSTED_HOSTS", "RATE_LIMIT_DEFAULT", "MAX_BODY_SIZE",
        "REQUEST_TIMEOUT", "HSTS_MAX_AGE", "GZIP_MIN_SIZE", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME",
        "GENKIT_TELEMETRY_DISABLED", "GENKIT_ENV", "WEB_CONCURRENCY", "WORKER_TIMEOUT", "GRACEFUL_TIMEOUT",
        "MAX_REQUESTS", "MAX_REQUESTS_JITTER", "MODEL", "GEMINI_API_KEY", "GEMINI_BASE_URL", "OPENAI_BASE_URL",
        "OPENAI_API_KEY", "PROMPTS_DIR", "MOCK_CHUNK_DELAY_MS", "API_KEYS", "STATE_BACKEND", "REDIS_URL",
        "REDIS_TIMEOUT_MS", "REDIS_KEY_PREFIX"}) {
    EXPECT_NE(help.find("\n  " + std::string(env) + " [default: "), std::string::npos) << env;
  }
  EXPECT_NE(help.find("2. environment variables"), std::string::npos);
  EXPECT_STRNE(version_string(), "");
}

TEST(ConfigHelp, PlainDefaultsShownAreAccepted) {
  for (const auto& spec : config_internal::settings()) {
    std::string def = spec.def;
    if (def.find_first_of(" (\"") != std::string::npos) continue;  // descriptive, not a literal value
    auto r = load_config(inputs({}, {{spec.env, def}}));
    EXPECT_TRUE(r.ok()) << spec.env << "=" << def << ": " << r.status().message();
  }
  Config c = load_ok(inputs({}, {{"SHUTDOWN_GRACE", "10"}, {"LLM_TIMEOUT", "120000"}, {"HSTS_MAX_AGE", "31536000"}}));
  Config d = load_ok(inputs({}));
  EXPECT_EQ(c.shutdown_grace, d.shutdown_grace);
  EXPECT_EQ(c.llm_timeout_ms, d.llm_timeout_ms);
  EXPECT_EQ(c.hsts_max_age, d.hsts_max_age);
}

TEST(ConfigEnvironment, MapSplitsAtFirstEquals) {
  char a[] = "A=1=2", b[] = "EMPTY=", c[] = "NOEQUALS";
  char* envp[] = {a, b, c, nullptr};
  auto m = environment_map(envp);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m["A"], "1=2");
  EXPECT_EQ(m["EMPTY"], "");
  EXPECT_TRUE(environment_map(nullptr).empty());
}

TEST(DotenvParse, QuotesCommentsAndExport) {
  auto r = parse_dotenv(
      "# comment\n"
      "\n"
      "PLAIN=value\n"
      "export EXPORTED=yes\n"
      "  SPACED = padded value   \n"
      "INLINE=abc # trailing comment\n"
      "HASH=pa#ss\n"
      "EMPTY=\n"
      "SINGLE='lit $x \\n # not comment'\n"
      "DOUBLE=\"a\\nb \\\"q\\\" \\\\ end\" # comment\n"
      "MULTI=\"line1\nline2\"\n"
      "CRLF=win\r\n"
      "DUP=1\nDUP=2\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto& m = *r;
  EXPECT_EQ(m["PLAIN"], "value");
  EXPECT_EQ(m["EXPORTED"], "yes");
  EXPECT_EQ(m["SPACED"], "padded value");
  EXPECT_EQ(m["INLINE"], "abc");
  EXPECT_EQ(m["HASH"], "pa#ss");
  EXPECT_EQ(m["EMPTY"], "");
  EXPECT_EQ(m["SINGLE"], "lit $x \\n # not comment");
  EXPECT_EQ(m["DOUBLE"], "a\nb \"q\" \\ end");
  EXPECT_EQ(m["MULTI"], "line1\nline2");
  EXPECT_EQ(m["CRLF"], "win");
  EXPECT_EQ(m["DUP"], "2");
  EXPECT_EQ(m.size(), 11u);
}

TEST(DotenvParse, ErrorsNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"A=1\nno equals here\n", "line 2:"},
      {"A=1\n\n1BAD=x\n", "line 3:"},
      {"A=\"unterminated\nB=2\n", "line 1:"},
      {"A='x' junk\n", "line 1:"},
      {"X=\"a\nb\"\nbad\n", "line 3:"},
  };
  for (const auto& [text, where] : cases) {
    auto r = parse_dotenv(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_TRUE(starts_with(r.status().message(), where)) << r.status().message();
  }
}

TEST(ConfigGenkitTools, DevModeAndItsSettings) {
  EXPECT_FALSE(load_ok(inputs({})).dev_mode());
  Config dev = load_ok(inputs({}, {{"GENKIT_ENV", "dev"},
                                   {"GENKIT_TELEMETRY_SERVER", "http://localhost:4033"},
                                   {"GENKIT_ENABLE_REALTIME_TELEMETRY", "true"},
                                   {"GENKIT_RUNTIME_ID", "my-app.1"}}));
  EXPECT_TRUE(dev.dev_mode());
  EXPECT_EQ(dev.genkit_telemetry_server, "http://localhost:4033");
  EXPECT_TRUE(dev.genkit_realtime_telemetry);
  EXPECT_EQ(dev.genkit_runtime_id, "my-app.1");
  EXPECT_FALSE(load_ok(inputs({}, {{"GENKIT_ENV", "prod"}})).dev_mode());
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"GENKIT_ENV", "development"}})), "GENKIT_ENV: "));
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"GENKIT_RUNTIME_ID", "a b"}})), "GENKIT_RUNTIME_ID: "));
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"GENKIT_TELEMETRY_SERVER", "localhost:4033"}})),
                          "GENKIT_TELEMETRY_SERVER: "));
}

TEST(ConfigStateBackend, SharedMemoryByDefaultRedisOnRequest) {
  Config d = load_ok(inputs({}));
  EXPECT_EQ(d.state_backend, "shm");
  EXPECT_FALSE(d.redis_backend());
  EXPECT_EQ(d.redis_url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(d.redis_timeout_ms, 50);
  EXPECT_EQ(d.redis_key_prefix, "genkit-endpoints:");
  Config r = load_ok(inputs({}, {{"STATE_BACKEND", "redis"},
                                 {"REDIS_URL", "unix:///run/redis/redis.sock?db=2&password=s3cret"},
                                 {"REDIS_TIMEOUT_MS", "20"},
                                 {"REDIS_KEY_PREFIX", "svc-a:"}}));
  EXPECT_TRUE(r.redis_backend());
  EXPECT_EQ(r.redis_timeout_ms, 20);
  EXPECT_EQ(r.redis_key_prefix, "svc-a:");
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"STATE_BACKEND", "memcached"}})), "STATE_BACKEND: "));
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"REDIS_URL", "http://redis:6379"}})), "REDIS_URL: "));
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"REDIS_URL", "redis://host:99999"}})), "REDIS_URL: "));
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"REDIS_TIMEOUT_MS", "0"}})), "REDIS_TIMEOUT_MS: "));
  EXPECT_TRUE(starts_with(load_error(inputs({}, {{"REDIS_KEY_PREFIX", "a b"}})), "REDIS_KEY_PREFIX: "));
}

}  // namespace
}  // namespace genkit
