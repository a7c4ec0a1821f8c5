// IP addresses as 16 bytes (IPv4 mapped into IPv6), the forms a proxy
// writes, and FORWARDED_ALLOW_IPS allow-lists of addresses and CIDR ranges.
#include "common/net/ip_address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace genkit {
namespace {

IpBytes must_parse(const char* text) {
  std::optional<IpBytes> ip = parse_ip(text);
  EXPECT_TRUE(ip) << text;
  return ip.value_or(IpBytes{});
}

std::string round_trip(const char* text) {
  std::optional<IpBytes> ip = parse_ip(text);
  return ip ? ip_to_string(*ip) : "(invalid)";
}

IpAllowList allow(const std::vector<std::string>& items) {
  Result<IpAllowList> r = IpAllowList::parse(items);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : IpAllowList();
}

bool allows(const IpAllowList& list, const char* ip) { return list.allows(must_parse(ip)); }

TEST(ParseIp, IPv4IsMappedIntoIPv6) {
  IpBytes ip = must_parse("192.0.2.1");
  const IpBytes expected = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  EXPECT_EQ(ip, expected);
  EXPECT_EQ(must_parse("::ffff:192.0.2.1"), expected);
  EXPECT_EQ(ip_to_string(ip), "192.0.2.1");
}

TEST(ParseIp, IPv6) {
  IpBytes ip = must_parse("2001:db8::1");
  EXPECT_EQ(ip[0], 0x20);
  EXPECT_EQ(ip[1], 0x01);
  EXPECT_EQ(ip[15], 1);
  EXPECT_EQ(ip_to_string(ip), "2001:db8::1");
  EXPECT_EQ(round_trip("2001:0DB8:0000::0001"), "2001:db8::1");
  EXPECT_EQ(round_trip("::1"), "::1");
}

TEST(ParseIp, TheFormsAProxyWrites) {
  EXPECT_EQ(round_trip("[2001:db8::1]"), "2001:db8::1");
  EXPECT_EQ(round_trip("[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(round_trip("192.0.2.1:8080"), "192.0.2.1");
  EXPECT_EQ(round_trip(" \t10.0.0.1 "), "10.0.0.1");
}

TEST(ParseIp, RefusesWhatIsNotAnAddress) {
  for (const char* bad : {"", " ", "unknown", "256.1.1.1", "1.2.3", "1.2.3.4.5", "::1::2", "10.0.0.1, 10.0.0.2",
                          "[2001:db8::1", "[2001:db8::1]x", "[2001:db8::1]:99999", "192.0.2.1:", "192.0.2.1:70000",
                          "192.0.2.1:80:80", "example.com", "10.0.0.0/8"}) {
    EXPECT_FALSE(parse_ip(bad).has_value()) << "\"" << bad << "\"";
  }
}

TEST(IpAllowList, SingleAddresses) {
  IpAllowList list = allow({"127.0.0.1", "2001:db8::7"});
  EXPECT_FALSE(list.empty());
  EXPECT_TRUE(allows(list, "127.0.0.1"));
  EXPECT_TRUE(allows(list, "::ffff:127.0.0.1"));
  EXPECT_TRUE(allows(list, "2001:db8::7"));
  EXPECT_FALSE(allows(list, "127.0.0.2"));
  EXPECT_FALSE(allows(list, "2001:db8::8"));
  EXPECT_FALSE(allows(list, "::1"));
}

TEST(IpAllowList, IPv4Ranges) {
  IpAllowList list = allow({"10.0.0.0/8", "192.168.1.128/25"});
  EXPECT_TRUE(allows(list, "10.0.0.0"));
  EXPECT_TRUE(allows(list, "10.255.1.2"));
  EXPECT_FALSE(allows(list, "11.0.0.1"));
  EXPECT_FALSE(allows(list, "9.255.255.255"));
  EXPECT_TRUE(allows(list, "192.168.1.128"));
  EXPECT_TRUE(allows(list, "192.168.1.255"));
  EXPECT_FALSE(allows(list, "192.168.1.127"));
  // /0 of IPv4 is every IPv4 address, and no IPv6 one.
  IpAllowList any_v4 = allow({"0.0.0.0/0"});
  EXPECT_TRUE(allows(any_v4, "203.0.113.9"));
  EXPECT_FALSE(allows(any_v4, "2001:db8::1"));
}

TEST(IpAllowList, IPv6Ranges) {
  IpAllowList list = allow({"fd00::/8", "2001:db8::/33"});
  EXPECT_TRUE(allows(list, "fd12:3456::1"));
  EXPECT_FALSE(allows(list, "fe80::1"));
  EXPECT_TRUE(allows(list, "2001:db8:7fff::1"));
  EXPECT_FALSE(allows(list, "2001:db8:8000::1"));
  EXPECT_FALSE(allows(list, "10.0.0.1"));
}

TEST(IpAllowList, StarAllowsEveryAddress) {
  IpAllowList list = allow({"*"});
  EXPECT_FALSE(list.empty());
  EXPECT_TRUE(allows(list, "203.0.113.9"));
  EXPECT_TRUE(allows(list, "2001:db8::1"));
  EXPECT_TRUE(allow({}).empty());
  EXPECT_FALSE(allows(allow({}), "127.0.0.1"));
}

TEST(IpAllowList, BadItemsAreNamed) {
  struct Case {
    const char* item;
    const char* message;
  };
  for (const Case& c : {Case{"nonsense", "\"nonsense\" is not an IP address or CIDR range"},
                        Case{"10.0.0.0/33", "\"10.0.0.0/33\" has a bad prefix length (0..32)"},
                        Case{"fd00::/129", "\"fd00::/129\" has a bad prefix length (0..128)"},
                        Case{"10.0.0.0/", "\"10.0.0.0/\" has a bad prefix length (0..32)"},
                        Case{"10.0.0.0/8x", "\"10.0.0.0/8x\" has a bad prefix length (0..32)"},
                        Case{"10.0.0.0/-1", "\"10.0.0.0/-1\" has a bad prefix length (0..32)"},
                        Case{"300.0.0.0/8", "\"300.0.0.0/8\" is not an IP address or CIDR range"}}) {
    Result<IpAllowList> r = IpAllowList::parse({"127.0.0.1", c.item});
    ASSERT_FALSE(r.ok()) << c.item;
    EXPECT_EQ(r.status().message(), c.message);
  }
}

}  // namespace
}  // namespace genkit
