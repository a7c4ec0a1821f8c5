#include "common/log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "common/json.h"

namespace genkit {
namespace {

namespace fs = std::filesystem;

// Points the logger at a private file and restores stdout logging afterwards.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "log_test.XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    path_ = dir_ + "/app.log";
  }
  void TearDown() override {
    log_configure(LogOptions{});
    fs::remove_all(dir_);
  }

  void configure(LogFormat format, LogLevel level, const std::string& process = "worker-1") {
    LogOptions o;
    o.format = format;
    o.level = level;
    o.process = process;
    o.file = path_;
    log_configure(o);
  }

  static std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::vector<std::string> lines() const { return lines_of(path_); }

  std::string dir_;
  std::string path_;
};

TEST_F(LogTest, JsonLineHasTheFields) {
  configure(LogFormat::kJson, LogLevel::kInfo);
  log_info("request_done", {{"route", "/tell-joke"},
                            {"quote", "say \"hi\"\n\ttab\\"},
                            {"status", 200},
                            {"bytes", 12345678901LL},
                            {"duration_ms", 1.5},
                            {"cached", true},
                            {"ratio", std::nan("")}});
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  auto parsed = Json::parse(ls[0]);
  ASSERT_TRUE(parsed.ok()) << ls[0];
  JsonView j = *parsed;
  EXPECT_TRUE(std::regex_match(std::string(j["ts"].as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << j["ts"].as_string();
  EXPECT_EQ(j["level"].as_string(), "info");
  EXPECT_EQ(j["event"].as_string(), "request_done");
  EXPECT_EQ(j["pid"].as_number(), getpid());
  EXPECT_EQ(j["process"].as_string(), "worker-1");
  EXPECT_EQ(j["route"].as_string(), "/tell-joke");
  EXPECT_EQ(j["quote"].as_string(), "say \"hi\"\n\ttab\\");
  EXPECT_EQ(j["status"].as_number(), 200);
  EXPECT_EQ(j["bytes"].as_number(), 12345678901.0);
  EXPECT_EQ(j["duration_ms"].as_number(), 1.5);
  EXPECT_TRUE(j["cached"].as_bool());
  EXPECT_TRUE(j["ratio"].is_null());
  // The order is fixed so grep-friendly prefixes stay stable.
  EXPECT_EQ(ls[0].rfind("{\"ts\":", 0), 0u);
}

TEST_F(LogTest, EscapesEventAndProcessNames) {
  configure(LogFormat::kJson, LogLevel::kDebug, "odd\"name");
  log_debug("ev\x01nt");
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  auto parsed = Json::parse(ls[0]);
  ASSERT_TRUE(parsed.ok()) << ls[0];
  EXPECT_EQ((*parsed)["process"].as_string(), "odd\"name");
  EXPECT_EQ((*parsed)["event"].as_string(), "ev\x01nt");
  EXPECT_EQ((*parsed)["level"].as_string(), "debug");
}

TEST_F(LogTest, LevelFiltering) {
  configure(LogFormat::kJson, LogLevel::kWarning);
  EXPECT_FALSE(log_enabled(LogLevel::kDebug));
  EXPECT_FALSE(log_enabled(LogLevel::kInfo));
  EXPECT_TRUE(log_enabled(LogLevel::kWarning));
  EXPECT_TRUE(log_enabled(LogLevel::kError));
  log_debug("dropped");
  log_info("dropped");
  log_warning("kept_warning");
  log_error("kept_error");
  auto ls = lines();
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_EQ((*Json::parse(ls[0]))["level"].as_string(), "warning");
  EXPECT_EQ((*Json::parse(ls[1]))["level"].as_string(), "error");
}

TEST_F(LogTest, ConsoleFormat) {
  configure(LogFormat::kConsole, LogLevel::kDebug);
  log_info("server_started", {{"port", 8080}, {"host", "0.0.0.0"}, {"note", "two words"}, {"ok", false}});
  log_error("boom");
  auto ls = lines();
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_TRUE(std::regex_match(
      ls[0], std::regex(R"(\d\d:\d\d:\d\d\.\d{3} INFO  worker-1 server_started port=8080 host=0\.0\.0\.0 )"
                        R"(note="two words" ok=false)")))
      << ls[0];
  EXPECT_TRUE(std::regex_match(ls[1], std::regex(R"(\d\d:\d\d:\d\d\.\d{3} ERROR worker-1 boom)"))) << ls[1];
}

TEST_F(LogTest, ReopenFollowsARotatedFile) {
  configure(LogFormat::kJson, LogLevel::kInfo);
  log_info("before");
  fs::rename(path_, path_ + ".1");
  log_info("still_old");  // until SIGUSR1, the renamed file keeps receiving lines
  log_reopen();
  log_info("after");
  EXPECT_EQ(lines_of(path_ + ".1").size(), 2u);
  auto ls = lines();
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_EQ((*Json::parse(ls[0]))["event"].as_string(), "after");
}

TEST_F(LogTest, AppendsToAnExistingFile) {
  std::ofstream(path_) << "existing\n";
  configure(LogFormat::kJson, LogLevel::kInfo);
  log_info("appended");
  auto ls = lines();
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_EQ(ls[0], "existing");
}

TEST(LogParse, LevelsAndFormats) {
  LogLevel l = LogLevel::kInfo;
  EXPECT_TRUE(parse_log_level("debug", &l));
  EXPECT_EQ(l, LogLevel::kDebug);
  EXPECT_TRUE(parse_log_level("WARNING", &l));
  EXPECT_EQ(l, LogLevel::kWarning);
  EXPECT_TRUE(parse_log_level("error", &l));
  EXPECT_EQ(l, LogLevel::kError);
  EXPECT_FALSE(parse_log_level("verbose", &l));
  EXPECT_EQ(l, LogLevel::kError);
  LogFormat f = LogFormat::kJson;
  EXPECT_TRUE(parse_log_format("console", &f));
  EXPECT_EQ(f, LogFormat::kConsole);
  EXPECT_TRUE(parse_log_format("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_FALSE(parse_log_format("xml", &f));
}

}  // namespace
}  // namespace genkit
