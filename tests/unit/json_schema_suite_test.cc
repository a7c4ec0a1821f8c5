// Runs the official JSON-Schema-Test-Suite (Debian package
// json-schema-test-suite) draft-07 files against validate_json_schema.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "common/json.h"
#include "common/schema/json_schema_validator.h"

namespace genkit {
namespace {

namespace fs = std::filesystem;

// Whole files the validator does not support, with the reason.
const std::set<std::string> kSkippedFiles = {
    "refRemote.json",    // remote $ref: needs documents served from http://localhost:1234
    "definitions.json",  // $ref to the draft-07 metaschema by its remote URL
};

// Single cases, as {file, "group description / test description"} ("*" for the whole group).
const std::set<std::pair<std::string, std::string>> kSkippedCases = {
    {"ref.json", "remote ref, containing refs itself / *"},  // $ref to the remote draft-07 metaschema
    {"ref.json", "Recursive references between schemas / *"},  // $id base-URI changes ("$ref": "node")
};

fs::path suite_dir() {
  if (const char* env = std::getenv("JSON_SCHEMA_TEST_SUITE_DIR")) return env;
#ifdef JSON_SCHEMA_TEST_SUITE_DIR
  return JSON_SCHEMA_TEST_SUITE_DIR;
#else
  return "/usr/share/json-schema-test-suite/tests/draft7";
#endif
}

bool skipped(const std::string& file, const std::string& group, const std::string& test,
             std::set<std::pair<std::string, std::string>>* used) {
  for (const std::string& key : {group + " / *", group + " / " + test}) {
    if (kSkippedCases.count({file, key})) {
      used->insert({file, key});
      return true;
    }
  }
  return false;
}

TEST(JsonSchemaSuite, Draft7) {
  fs::path dir = suite_dir();
  ASSERT_TRUE(fs::is_directory(dir)) << "JSON Schema test suite not found at " << dir
                                     << ": install it with `apt-get install -y json-schema-test-suite`";
  std::set<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.insert(e.path().filename().string());
  }
  ASSERT_GT(files.size(), 30u) << "too few draft7 files in " << dir;

  int ran = 0, skipped_cases = 0;
  std::set<std::pair<std::string, std::string>> used_skips;
  for (const std::string& file : files) {
    if (kSkippedFiles.count(file)) continue;
    std::ifstream in(dir / file);
    std::stringstream text;
    text << in.rdbuf();
    Result<Json> doc = Json::parse(text.str());
    ASSERT_TRUE(doc.ok()) << file << ": " << doc.status().message();
    doc->view().for_each([&](std::string_view, JsonView group) {
      std::string group_name(group["description"].as_string());
      group["tests"].for_each([&](std::string_view, JsonView test) {
        std::string test_name(test["description"].as_string());
        if (skipped(file, group_name, test_name, &used_skips)) {
          ++skipped_cases;
          return;
        }
        ++ran;
        Status s = validate_json_schema(group["schema"], test["data"]);
        bool expected = test["valid"].as_bool();
        EXPECT_EQ(s.is_ok(), expected) << file << " | " << group_name << " | " << test_name
                                       << "\n  schema: " << group["schema"].dump()
                                       << "\n  data: " << test["data"].dump() << "\n  status: " << s.message();
      });
    });
  }
  for (const std::string& f : kSkippedFiles) EXPECT_TRUE(files.count(f)) << "stale file skip: " << f;
  for (const auto& c : kSkippedCases) EXPECT_TRUE(used_skips.count(c)) << "stale case skip: " << c.first << " " << c.second;
  EXPECT_GT(ran, 400);
  std::cout << "[          ] draft7: " << ran << " cases run, " << skipped_cases << " skipped in "
            << (files.size() - kSkippedFiles.size()) << " files (" << kSkippedFiles.size() << " files skipped)\n";
}

}  // namespace
}  // namespace genkit
