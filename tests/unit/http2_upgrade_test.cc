// What makes an HTTP/1.1 request an "Upgrade: h2c" we switch for (RFC 7540
// §3.2), and the flood guards' arithmetic (worker/http2_limits.h).
#include "worker/http2_upgrade.h"

#include <gtest/gtest.h>

#include "worker/http2_limits.h"

namespace genkit::http {
namespace {

Request with(std::vector<Header> headers) {
  Request r;
  r.method = "GET";
  r.path = "/health";
  r.headers = std::move(headers);
  return r;
}

// What curl --http2 sends: MAX_CONCURRENT_STREAMS 100, INITIAL_WINDOW_SIZE 33554432, ENABLE_PUSH 0.
constexpr const char* kCurlSettings = "AAMAAABkAAQCAAAAAAIAAAAA";

TEST(Http2Upgrade, Base64urlDecodes) {
  EXPECT_EQ(decode_base64url(""), std::string());
  EXPECT_EQ(decode_base64url("aGk"), std::string("hi"));
  EXPECT_EQ(decode_base64url("aGk="), std::string("hi"));
  EXPECT_EQ(decode_base64url("-_8"), std::string("\xfb\xff", 2));
  EXPECT_FALSE(decode_base64url("a+b/"));  // base64, not base64url
  EXPECT_FALSE(decode_base64url("a"));     // no whole byte
  EXPECT_FALSE(decode_base64url("aG k"));
}

TEST(Http2Upgrade, CurlsRequestQualifies) {
  std::optional<std::string> s = h2c_upgrade_settings(with({{"host", "x"},
                                                            {"connection", "Upgrade, HTTP2-Settings"},
                                                            {"upgrade", "h2c"},
                                                            {"http2-settings", kCurlSettings}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->size(), 18u);  // three entries
  // Token lists are case-insensitive, may be split over fields, and Upgrade may offer several protocols.
  EXPECT_TRUE(h2c_upgrade_settings(with({{"connection", "keep-alive, upgrade"},
                                         {"connection", "http2-settings"},
                                         {"upgrade", "websocket, H2C"},
                                         {"http2-settings", kCurlSettings}})));
}

TEST(Http2Upgrade, AnythingLessIsPlainHttp11) {
  std::vector<Header> good = {
      {"connection", "Upgrade, HTTP2-Settings"}, {"upgrade", "h2c"}, {"http2-settings", kCurlSettings}};
  EXPECT_FALSE(h2c_upgrade_settings(with({})));
  EXPECT_FALSE(h2c_upgrade_settings(with({good[0], {"upgrade", "websocket"}, good[2]})));
  EXPECT_FALSE(h2c_upgrade_settings(with({good[0], {"upgrade", "h2"}, good[2]})));  // h2 is TLS only
  EXPECT_FALSE(h2c_upgrade_settings(with({{"connection", "Upgrade"}, good[1], good[2]})));
  EXPECT_FALSE(h2c_upgrade_settings(with({{"connection", "HTTP2-Settings"}, good[1], good[2]})));
  EXPECT_FALSE(h2c_upgrade_settings(with({good[0], good[1]})));                              // no settings
  EXPECT_FALSE(h2c_upgrade_settings(with({good[0], good[1], good[2], good[2]})));            // two
  EXPECT_FALSE(h2c_upgrade_settings(with({good[0], good[1], {"http2-settings", "!!"}})));    // not base64url
  // 4 bytes: no whole entry
  EXPECT_FALSE(h2c_upgrade_settings(with({good[0], good[1], {"http2-settings", "AAMAAA"}})));
}

TEST(Http2Limits, HeaderBlockGuard) {
  h2::HeaderBlockGuard g;
  EXPECT_EQ(g.begin_headers(1000), h2::Verdict::kOk);
  for (int i = 0; i < h2::kMaxContinuations; ++i) EXPECT_EQ(g.continuation(0), h2::Verdict::kOk) << i;
  EXPECT_EQ(g.continuation(0), h2::Verdict::kAbuse);
  EXPECT_NE(std::string(g.why()).find("CONTINUATION"), std::string::npos);
  // A new block starts afresh.
  EXPECT_EQ(g.begin_headers(16384), h2::Verdict::kOk);
  std::size_t raw = 16384;
  while (raw + 16384 <= h2::kMaxHeaderBlockBytes) {
    EXPECT_EQ(g.continuation(16384), h2::Verdict::kOk);
    raw += 16384;
  }
  EXPECT_EQ(g.continuation(16384), h2::Verdict::kAbuse);
  // Decoded size counts 32 bytes per field (HPACK amplification included).
  EXPECT_EQ(g.begin_headers(10), h2::Verdict::kOk);
  std::size_t decoded = 0;
  while (decoded + 4000 + 32 <= h2::kMaxDecodedBlockBytes) {
    EXPECT_EQ(g.field(3, 3997), h2::Verdict::kOk);
    decoded += 4032;
  }
  EXPECT_EQ(g.field(3, 3997), h2::Verdict::kAbuse);
}

TEST(Http2Limits, ResetRateGuardCountsPerWindow) {
  h2::ResetRateGuard g;
  auto t = std::chrono::steady_clock::now();
  for (int i = 0; i < h2::kMaxResetsPerWindow; ++i) EXPECT_TRUE(g.count(t)) << i;
  EXPECT_FALSE(g.count(t + std::chrono::milliseconds(10)));
  // A steady rate below the limit never trips it.
  h2::ResetRateGuard steady;
  for (int i = 0; i < 10 * h2::kMaxResetsPerWindow; ++i) {
    EXPECT_TRUE(steady.count(t + i * (h2::kResetWindow / (h2::kMaxResetsPerWindow / 2)))) << i;
  }
}

}  // namespace
}  // namespace genkit::http
