// The line syntax of HTTP/1.1 request heads (worker/http1_head_guard.h):
// what libhttp-parser would take and RFC 9112 lets us refuse, and where a
// head ends, however its bytes are split.
#include "worker/http1_head_guard.h"

#include <gtest/gtest.h>

#include <string>

namespace genkit::http {
namespace {

// Scans `input` in pieces of `step` bytes; the violation (or nullptr) and
// how many bytes were the head.
Http1HeadGuard::Scan scan_in_steps(const std::string& input, std::size_t step) {
  Http1HeadGuard g;
  g.expect_head();
  std::size_t head = 0;
  for (std::size_t at = 0; at < input.size() && g.active(); at += step) {
    Http1HeadGuard::Scan s = g.scan(std::string_view(input).substr(at, step));
    head += s.head_bytes;
    if (s.violation) return {head, s.violation};
  }
  return {head, nullptr};
}

TEST(Http1HeadGuard, AHeadEndsAtItsBlankLineWhateverTheSplit) {
  const std::string head = "\r\nGET /health HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\r\n\r\n";
  for (std::size_t step : {1u, 2u, 3u, 7u, 1000u}) {
    Http1HeadGuard::Scan s = scan_in_steps(head + "{\"body\":\"\n\r \"}", step);
    EXPECT_EQ(s.violation, nullptr) << "step " << step << ": " << s.violation;
    EXPECT_EQ(s.head_bytes, head.size()) << "step " << step;
  }
}

TEST(Http1HeadGuard, RefusesWhatRfc9112LetsAServerRefuse) {
  const std::pair<const char*, const char*> bad[] = {
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF"},
      {"GET / HTTP/1.1\r\nHost: a\n\r\n", "bare LF"},
      {"GET / HTTP/1.1\rHost: a\r\n\r\n", "CR not followed by LF"},
      {"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "obs-fold"},
      {"GET / HTTP/1.1\r\n\tX: a\r\n\r\n", "obs-fold"},
      {"GET / HTTP/1.1\r\nX : a\r\n\r\n", "whitespace between a header field name and its colon"},
      {"GET / HTTP/1.1\r\nX\t: a\r\n\r\n", "whitespace between a header field name and its colon"},
  };
  for (const auto& [input, why] : bad) {
    for (std::size_t step : {1u, 1000u}) {
      Http1HeadGuard::Scan s = scan_in_steps(input, step);
      ASSERT_NE(s.violation, nullptr) << input;
      EXPECT_NE(std::string(s.violation).find(why), std::string::npos) << input << ": " << s.violation;
    }
  }
}

TEST(Http1HeadGuard, WatchesEachHeadOnlyOnceRearmed) {
  Http1HeadGuard g;
  g.expect_head();
  EXPECT_EQ(g.scan("GET / HTTP/1.1\r\nHost: a\r\n\r\n").violation, nullptr);
  EXPECT_FALSE(g.active());
  g.expect_head();
  EXPECT_TRUE(g.active());
  EXPECT_NE(g.scan("GET / HTTP/1.1\nHost: a\n\n").violation, nullptr);
}

}  // namespace
}  // namespace genkit::http
