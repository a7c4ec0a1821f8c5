#include "common/json_check.h"

#include <gtest/gtest.h>

#include <string>

#include "common/json.h"

namespace genkit {
namespace {

TEST(JsonCheck, AcceptsDocuments) {
  for (const char* text : {"{}", "[]", " {\"a\":[1,-2.5e+3,0,true,false,null,\"x\\u00e9\\n\"],\"b\":{}} ", "\"s\"",
                           "0", "-0.0", "1E5", "[[],[{}]]", "{\"\":\"\"}"}) {
    EXPECT_TRUE(is_json_text(text)) << text;
    EXPECT_TRUE(Json::parse(text).ok()) << text;  // the same verdict as the parser
  }
}

TEST(JsonCheck, RefusesWhatIsNotOneDocument) {
  for (const char* text : {"", " ", "{", "}", "[1,]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "[1 2]", "01", "1.", ".5",
                           "-", "1e", "tru", "nul", "\"open", "\"bad \\x escape\"", "\"\\u12g4\"", "{} {}", "[]]",
                           "\"tab\there\"", "{\"a\":1,}", "NaN"}) {
    EXPECT_FALSE(is_json_text(text)) << text;
  }
}

TEST(JsonCheck, BoundsTheNesting) {
  std::string deep = std::string(300, '[') + std::string(300, ']');
  EXPECT_FALSE(is_json_text(deep));
  EXPECT_TRUE(is_json_text(deep, 300));
  std::string shallow = std::string(10, '[') + std::string(10, ']');
  EXPECT_TRUE(is_json_text(shallow, 10));
  EXPECT_FALSE(is_json_text(shallow, 9));
}

}  // namespace
}  // namespace genkit
