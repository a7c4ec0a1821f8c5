// TRUSTED_HOSTS matching (Starlette's TrustedHostMiddleware patterns): exact
// names and *.subdomain wildcards, case-insensitive, any port, IPv6 literals.
#include "common/net/host_allow_list.h"

#include <gtest/gtest.h>

namespace genkit {
namespace {

HostAllowList hosts(const std::vector<std::string>& patterns) {
  Result<HostAllowList> r = HostAllowList::parse(patterns);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : HostAllowList();
}

bool allows(const HostAllowList& list, const std::string& host) { return list.allows(&host); }

TEST(HostOfHeader, StripsPortBracketsAndCase) {
  EXPECT_EQ(host_of_header("api.example.com"), "api.example.com");
  EXPECT_EQ(host_of_header("API.Example.COM:8080"), "api.example.com");
  EXPECT_EQ(host_of_header(" localhost:80 "), "localhost");
  EXPECT_EQ(host_of_header("[::1]:8080"), "::1");
  EXPECT_EQ(host_of_header("[2001:DB8::1]"), "2001:db8::1");
  EXPECT_EQ(host_of_header("127.0.0.1:8080"), "127.0.0.1");
  EXPECT_EQ(host_of_header("example.com.:443"), "example.com");
}

TEST(HostOfHeader, RejectsWhatIsNotHostAndPort) {
  for (const char* bad : {"", "   ", ":8080", "::1", "::1:8080", "[::1", "[::1]x", "a.com:80x", "a b.com",
                          "user@a.com", "a.com/path", "a.com:80:90"}) {
    EXPECT_FALSE(host_of_header(bad)) << bad;
  }
}

TEST(HostAllowList, ExactNamesAnyPortAnyCase) {
  HostAllowList list = hosts({"api.example.com", "LocalHost"});
  EXPECT_TRUE(allows(list, "api.example.com"));
  EXPECT_TRUE(allows(list, "api.example.com:8080"));
  EXPECT_TRUE(allows(list, "API.EXAMPLE.COM"));
  EXPECT_TRUE(allows(list, "localhost:1234"));
  EXPECT_FALSE(allows(list, "example.com"));
  EXPECT_FALSE(allows(list, "evil.api.example.com"));
  EXPECT_FALSE(allows(list, "api.example.com.evil.net"));
  EXPECT_FALSE(list.allows(nullptr)) << "no Host header";
  EXPECT_FALSE(allows(list, "")) << "empty Host header";
}

TEST(HostAllowList, WildcardMatchesSubdomainsOnly) {
  HostAllowList list = hosts({"*.example.com"});
  EXPECT_TRUE(allows(list, "a.example.com"));
  EXPECT_TRUE(allows(list, "a.b.example.com:443"));
  EXPECT_FALSE(allows(list, "example.com")) << "Starlette: *.example.com is not example.com";
  EXPECT_FALSE(allows(list, "badexample.com"));
  EXPECT_FALSE(allows(list, "a.example.com.evil.net"));
}

TEST(HostAllowList, Ipv6Literals) {
  HostAllowList list = hosts({"[::1]", "2001:db8::5"});
  EXPECT_TRUE(allows(list, "[::1]:8080"));
  EXPECT_TRUE(allows(list, "[::1]"));
  EXPECT_TRUE(allows(list, "[2001:DB8::5]:443"));
  EXPECT_FALSE(allows(list, "::1")) << "unbracketed";
  EXPECT_FALSE(allows(list, "[::2]:8080"));
}

TEST(HostAllowList, StarAllowsAnythingEvenNoHost) {
  HostAllowList list = hosts({"api.example.com", "*"});
  EXPECT_TRUE(allows(list, "whatever.net"));
  EXPECT_TRUE(list.allows(nullptr));
  EXPECT_FALSE(list.empty());
  EXPECT_TRUE(hosts({}).empty());
}

TEST(HostAllowList, PatternsThatWouldNeverMatchAreRefused) {
  for (const char* bad : {"localhost:8080", "[::1]:8080", "a.*.com", "*a.com", "*.", "**.a.com", "a b", "x/y"}) {
    Result<HostAllowList> r = HostAllowList::parse({bad});
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace genkit
