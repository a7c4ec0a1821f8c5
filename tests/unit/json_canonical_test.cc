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

}  // namespace
}  // namespace genkit
