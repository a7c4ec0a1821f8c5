#include "common/redis/redis_url.h"

#include <gtest/gtest.h>

namespace genkit {
namespace {

RedisEndpoint ok(const std::string& url) {
  Result<RedisEndpoint> e = parse_redis_url(url);
  EXPECT_TRUE(e.ok()) << url << ": " << e.status().message();
  return e.ok() ? e.value() : RedisEndpoint{};
}

std::string error_of(const std::string& url) {
  Result<RedisEndpoint> e = parse_redis_url(url);
  EXPECT_FALSE(e.ok()) << url;
  return e.ok() ? "" : e.status().message();
}

TEST(RedisUrl, TcpForms) {
  RedisEndpoint plain = ok("redis://127.0.0.1");
  EXPECT_EQ(plain.host, "127.0.0.1");
  EXPECT_EQ(plain.port, 6379);
  EXPECT_EQ(plain.db, 0);
  EXPECT_TRUE(plain.password.empty());
  EXPECT_FALSE(plain.is_unix());

  RedisEndpoint full = ok("redis://app:p%40ss@redis.internal:6380/3");
  EXPECT_EQ(full.username, "app");
  EXPECT_EQ(full.password, "p@ss");
  EXPECT_EQ(full.host, "redis.internal");
  EXPECT_EQ(full.port, 6380);
  EXPECT_EQ(full.db, 3);
  EXPECT_EQ(full.display(), "redis://app:***@redis.internal:6380/3");

  RedisEndpoint pass_only = ok("redis://:secret@h/0");
  EXPECT_EQ(pass_only.username, "");
  EXPECT_EQ(pass_only.password, "secret");
  EXPECT_EQ(pass_only.display().find("secret"), std::string::npos);

  RedisEndpoint v6 = ok("redis://[::1]:7000");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 7000);
  EXPECT_EQ(v6.display(), "redis://[::1]:7000/0");
}

TEST(RedisUrl, UnixSocketForms) {
  RedisEndpoint s = ok("unix:///run/redis/redis.sock");
  EXPECT_TRUE(s.is_unix());
  EXPECT_EQ(s.socket_path, "/run/redis/redis.sock");
  RedisEndpoint q = ok("unix:///tmp/r.sock?db=4&password=pw");
  EXPECT_EQ(q.db, 4);
  EXPECT_EQ(q.password, "pw");
  EXPECT_EQ(q.display(), "unix://:***@/tmp/r.sock?db=4");
  RedisEndpoint u = ok("unix://:pw@/tmp/r.sock");
  EXPECT_EQ(u.password, "pw");
  EXPECT_EQ(u.socket_path, "/tmp/r.sock");
}

TEST(RedisUrl, RefusesWhatItCannotUse) {
  EXPECT_NE(error_of("http://h:6379").find("redis://"), std::string::npos);
  EXPECT_NE(error_of("rediss://h:6379").find("TLS"), std::string::npos);
  EXPECT_NE(error_of("redis://").find("no host"), std::string::npos);
  EXPECT_NE(error_of("redis://h:0").find("port"), std::string::npos);
  EXPECT_NE(error_of("redis://h:65536").find("port"), std::string::npos);
  EXPECT_NE(error_of("redis://h:abc").find("port"), std::string::npos);
  EXPECT_NE(error_of("redis://h/x").find("database"), std::string::npos);
  EXPECT_NE(error_of("redis://[::1").find("["), std::string::npos);
  EXPECT_NE(error_of("redis://u:%zz@h").find("%"), std::string::npos);
  EXPECT_NE(error_of("redis://u:%4@h").find("%"), std::string::npos);
  EXPECT_NE(error_of("redis://u%4").find("host"), std::string::npos);
  EXPECT_NE(error_of("unix://relative.sock").find("absolute"), std::string::npos);
  EXPECT_NE(error_of("unix:///tmp/r.sock?verbose=1").find("unknown"), std::string::npos);
  EXPECT_NE(error_of("unix:///tmp/r.sock?db=x").find("db"), std::string::npos);
}

}  // namespace
}  // namespace genkit
