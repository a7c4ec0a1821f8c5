// JSON helpers shared by the unit tests.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "common/json.h"

namespace genkit::testing_json {

// Parses test-literal JSON; a typo in a literal fails the test that wrote it.
inline Json parse(std::string_view text) {
  Result<Json> r = Json::parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? std::move(r).value() : Json::null();
}

}  // namespace genkit::testing_json
