#include "common/json_check.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// Found by tests/fuzz/fuzz_json: the check took unpaired UTF-16 surrogates,
// which the parser refuses, so a cached value from Redis holding one was
// passed on as JSON no parse of ours would take.
TEST(JsonCheck, RefusesUnpairedSurrogatesAsTheParserDoes) {
  for (const char* text : {"\"\\ud800\"", "\"x\\ud800xxx\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "[\"\\udbff\"]"}) {
    EXPECT_FALSE(Json::parse(text).ok()) << text;
    EXPECT_FALSE(is_json_text(text)) << text;
  }
  EXPECT_TRUE(is_json_text("\"\\ud83d\\ude00\""));  // a pair
  EXPECT_TRUE(Json::parse("\"\\ud83d\\ude00\"").ok());
}

TEST(JsonCheck, BoundsTheNesting) {
  std::string deep = std::string(300, '[') + std::string(300, ']');
  EXPECT_FALSE(is_json_text(deep));
  EXPECT_TRUE(is_json_text(deep, 300));
  std::string shallow = std::string(10, '[') + std::string(10, ']');
  EXPECT_TRUE(is_json_text(shallow, 10));
  EXPECT_FALSE(is_json_text(shallow, 9));
}

TEST(JsonCheck, InputAcceptsWellFormedText) {
  for (const char* text :
       {"{\"a\":\"Zo\xc3\xab \xe7\x8c\xab \xf0\x9f\x98\x80\"}", "[\"\\ud83d\\ude00\", \"\\u00e9\"]", "{}"}) {
    EXPECT_TRUE(check_json_input(text).is_ok()) << text << ": " << check_json_input(text).message();
    EXPECT_TRUE(parse_json_input(text).ok()) << text;
  }
}

TEST(JsonCheck, InputRefusesWhatCJsonWouldTakeOrCut) {
  struct Case { std::string text; const char* reason; std::size_t at; };
  const std::vector<Case> cases = {
      {"{\"a\":\"x\xff\"}", "invalid UTF-8", 7},
      {"{\"a\":\"\xc0\xaf\"}", "invalid UTF-8", 6},          // overlong
      {"{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8", 6},      // a surrogate, UTF-8 encoded
      {"{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8", 6},  // past U+10FFFF
      {"{\"a\":\"\xe2\x82\"}", "invalid UTF-8", 6},          // truncated
      {"{\"a\":\"x\\u0000\"}", "NUL", 7},
      {std::string("{\"a\":\"x\0\"}", 10), "control character", 7},
      {"{\"a\":\"\\ud800\"}", "surrogate", 6},
      {"{\"a\":\"\\udc00\\ud800\"}", "surrogate", 6},
      {"{\"a\":\"\\ud800\\u0041\"}", "surrogate", 6},
      {"{\"a\":1,}", "malformed JSON near byte", 7},
  };
  for (const Case& c : cases) {
    Status s = check_json_input(c.text);
    ASSERT_FALSE(s.is_ok()) << c.text;
    EXPECT_NE(s.message().find(c.reason), std::string::npos) << c.text << ": " << s.message();
    EXPECT_NE(s.message().find("byte " + std::to_string(c.at)), std::string::npos) << c.text << ": " << s.message();
  }
}

TEST(JsonCheck, InputNestingIsBoundedWithAClearReason) {
  std::string deep = std::string(65, '[') + std::string(65, ']');
  Status s = check_json_input(deep);
  EXPECT_EQ(s.message(), "JSON nested deeper than 64 levels at byte 64");
  EXPECT_TRUE(check_json_input(std::string(64, '[') + std::string(64, ']')).is_ok());
  EXPECT_FALSE(parse_json_input(std::string(100000, '[')).ok());
}

}  // namespace
}  // namespace genkit
