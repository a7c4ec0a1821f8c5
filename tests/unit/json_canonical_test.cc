// canonical_dump: equal documents give equal text whatever their members'
// order (the cache key depends on it).
#include <gtest/gtest.h>

#include "common/json.h"
#include "test_helpers.h"

namespace genkit {
namespace {

using testing_json::parse;

TEST(CanonicalDump, SortsObjectMembersAtEveryDepth) {
  Json a = parse(R"({"b":1,"a":{"d":[{"z":1,"y":2}],"c":null}})");
  EXPECT_EQ(canonical_dump(a), R"({"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1})");
  Json b = parse(R"( { "a" : { "c" : null, "d" : [ { "y" : 2, "z" : 1 } ] }, "b" : 1 } )");
  EXPECT_EQ(canonical_dump(a), canonical_dump(b));
}

TEST(CanonicalDump, KeepsArrayOrderAndValues) {
  EXPECT_EQ(canonical_dump(parse(R"([3,1,2])")), "[3,1,2]");
  EXPECT_NE(canonical_dump(parse(R"([1,2])")), canonical_dump(parse(R"([2,1])")));
  EXPECT_NE(canonical_dump(parse(R"({"a":1})")), canonical_dump(parse(R"({"a":"1"})")));
  EXPECT_EQ(canonical_dump(parse(R"({"q\"k":"v\n","e":true,"n":1.5})")), R"({"e":true,"n":1.5,"q\"k":"v\n"})");
  EXPECT_EQ(canonical_dump(parse(R"({})")), "{}");
  EXPECT_EQ(canonical_dump(parse(R"("s")")), R"("s")");
}

// Found by tests/fuzz/fuzz_json: with a repeated key, an unstable sort could
// order its members differently from one dump to the next.
TEST(CanonicalDump, ARepeatedKeyKeepsItsMembersInOrder) {
  std::string once = canonical_dump(parse(R"({"b":0,"a":2,"a":1,"a":3})"));
  EXPECT_EQ(once, R"({"a":2,"a":1,"a":3,"b":0})");
  EXPECT_EQ(canonical_dump(parse(once)), once);
}

TEST(JsonAsInt, TruncatesAndSaturatesWithinTheBounds) {
  EXPECT_EQ(parse("42.9").view().as_int(0, 100), 42);
  EXPECT_EQ(parse("1e300").view().as_int(0, 100), 100);
  EXPECT_EQ(parse("-1e300").view().as_int(-5, 100), -5);
  EXPECT_EQ(parse("\"7\"").view().as_int(1, 100), 1);  // not a number
  EXPECT_EQ(Json().view().as_int(3, 100), 3);
  EXPECT_EQ(parse("9007199254740993").view().as_int(0, int64_t{1} << 53), int64_t{1} << 53);
}

}  // namespace
}  // namespace genkit
