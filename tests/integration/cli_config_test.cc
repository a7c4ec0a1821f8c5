// Command line and configuration: --help/--version/--check-config print and
// exit 0; a bad setting exits 2 naming the setting on stderr, before binding.
#include <gtest/gtest.h>

#include <regex>

#include "tests/support/test_util.h"

namespace itest {
namespace {

void expect_clean(const RunResult& r) {
  for (const std::string& f : r.sanitizer_findings) ADD_FAILURE() << "sanitizer: " << f;
}

TEST(CliTest, HelpListsTheFlags) {
  for (const char* flag : {"--help", "-h"}) {
    RunResult r = run_to_exit({flag}, {});
    ASSERT_EQ(r.exit_code, std::optional<int>(0)) << flag << "\nstderr: " << r.err;
    for (const char* listed : {"--port", "--workers", "--no-grpc", "--bind", "--max-body-size", "--request-timeout",
                               "--log-format", "--model", "--debug", "--env", "--check-config", "--version",
                               "--help"}) {
      EXPECT_NE(r.out.find(listed), std::string::npos) << flag << " output does not mention " << listed;
    }
    for (const char* setting : {"PORT", "MAX_BODY_SIZE", "READ_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "REQUEST_TIMEOUT",
                                "SHUTDOWN_GRACE", "MAX_REQUESTS", "MOCK_CHUNK_DELAY_MS", "DEBUG"}) {
      EXPECT_NE(r.out.find(setting), std::string::npos) << flag << " output does not mention " << setting;
    }
    expect_clean(r);
  }
}

TEST(CliTest, VersionPrintsNameAndVersion) {
  RunResult r = run_to_exit({"--version"}, {});
  ASSERT_EQ(r.exit_code, std::optional<int>(0)) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("^genkit-endpoints [0-9]+\\.[0-9]+\\.[0-9]+"))) << r.out;
  expect_clean(r);
}

TEST(CliTest, CheckConfigAcceptsTheDefaults) {
  RunResult r = run_to_exit({"--check-config"}, {});
  ASSERT_EQ(r.exit_code, std::optional<int>(0)) << r.err;
  EXPECT_FALSE(r.out.empty()) << "--check-config should say what it checked";
  EXPECT_EQ(r.out.find("\"event\":\"listening\""), std::string::npos) << "--check-config must not start serving";
  expect_clean(r);
}

TEST(CliTest, CheckConfigRejectsABadSetting) {
  RunResult r = run_to_exit({"--check-config"}, {{"READ_TIMEOUT", "soon"}});
  EXPECT_EQ(r.exit_code, std::optional<int>(2)) << r.out << r.err;
  EXPECT_NE(r.err.find("READ_TIMEOUT"), std::string::npos) << r.err;
}

struct BadConfig {
  const char* name;
  std::vector<std::string> args;
  Env env;
  std::vector<std::string> blamed;  // stderr must name one of these, followed by ':'
};

void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

// True if `text` has `name:` not preceded by a name character (so "PORT:"
// does not match inside "GRPC_PORT:").
bool names_setting(const std::string& text, const std::string& name) {
  for (size_t pos = text.find(name + ":"); pos != std::string::npos; pos = text.find(name + ":", pos + 1)) {
    if (pos == 0) return true;
    char before = text[pos - 1];
    if (!std::isalnum(static_cast<unsigned char>(before)) && before != '_' && before != '-') return true;
  }
  return false;
}

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, ExitsTwoNamingTheSetting) {
  const BadConfig& c = GetParam();
  RunResult r = run_to_exit(c.args, c.env);
  ASSERT_EQ(r.exit_code, std::optional<int>(2)) << "stdout:\n" << r.out << "stderr:\n" << r.err;
  bool named = false;
  for (const std::string& n : c.blamed) named = named || names_setting(r.err, n);
  EXPECT_TRUE(named) << "stderr should name " << c.blamed.front() << ":\n" << r.err;
  EXPECT_EQ(r.out.find("\"event\":\"listening\""), std::string::npos) << "a bad configuration must not bind";
  expect_clean(r);
}

const std::vector<std::string> kServe = {"--port", "0", "--workers", "1", "--no-grpc"};

std::vector<BadConfig> bad_configs() {
  return {
      {"PortNotANumber", {"--workers", "1", "--no-grpc"}, {{"PORT", "abc"}}, {"PORT"}},
      {"PortOutOfRange", {"--workers", "1", "--no-grpc"}, {{"PORT", "70000"}}, {"PORT"}},
      {"PortFlagNotANumber", {"--port", "abc", "--workers", "1", "--no-grpc"}, {}, {"--port", "PORT"}},
      {"WebConcurrencyZero", {"--port", "0", "--no-grpc"}, {{"WEB_CONCURRENCY", "0"}}, {"WEB_CONCURRENCY"}},
      {"WorkersFlagZero", {"--port", "0", "--workers", "0", "--no-grpc"}, {}, {"--workers", "WEB_CONCURRENCY"}},
      {"LogLevelLoud", kServe, {{"LOG_LEVEL", "loud"}}, {"LOG_LEVEL"}},
      {"LogFormatXml", kServe, {{"LOG_FORMAT", "xml"}}, {"LOG_FORMAT"}},
      {"MaxBodySizeZero", kServe, {{"MAX_BODY_SIZE", "0"}}, {"MAX_BODY_SIZE"}},
      {"MaxBodySizeText", kServe, {{"MAX_BODY_SIZE", "big"}}, {"MAX_BODY_SIZE"}},
      {"ReadTimeoutNegative", kServe, {{"READ_TIMEOUT", "-1"}}, {"READ_TIMEOUT"}},
      {"KeepAliveTimeoutText", kServe, {{"KEEP_ALIVE_TIMEOUT", "forever"}}, {"KEEP_ALIVE_TIMEOUT"}},
      {"RequestTimeoutZero", kServe, {{"REQUEST_TIMEOUT", "0"}}, {"REQUEST_TIMEOUT"}},
      {"ShutdownGraceText", kServe, {{"SHUTDOWN_GRACE", "abc"}}, {"SHUTDOWN_GRACE"}},
      {"MaxRequestsNegative", kServe, {{"MAX_REQUESTS", "-5"}}, {"MAX_REQUESTS"}},
      {"MockChunkDelayText", kServe, {{"MOCK_CHUNK_DELAY_MS", "fast"}}, {"MOCK_CHUNK_DELAY_MS"}},
      {"DebugMaybe", kServe, {{"DEBUG", "maybe"}}, {"DEBUG"}},
      {"UnknownFlag", {"--port", "0", "--bogus-flag"}, {}, {"--bogus-flag"}},
  };
}

INSTANTIATE_TEST_SUITE_P(Settings, BadConfigTest, ::testing::ValuesIn(bad_configs()),
                         [](const ::testing::TestParamInfo<BadConfig>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace itest
