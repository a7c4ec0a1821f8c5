// Shared pieces of the integration suites: a fixture base that runs one
// server per test suite, and helpers for JSON bodies and SSE streams.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

namespace itest {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One server for every test of a suite: starting a supervisor and its
// workers costs far more than a request. Derived supplies
// `static ServerOptions options()`.
template <typename Derived>
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server() = start_server(Derived::options(), &why()); }

  static void TearDownTestSuite() {
    if (!server()) return;
    // Stop it gracefully: exit 0 after a drain is part of the contract, and
    // ASan/LSan only report at a normal exit.
    std::optional<int> code = server()->stop();
    EXPECT_EQ(code, std::optional<int>(0)) << "the shared server did not exit 0 after SIGTERM\nstderr:\n"
                                           << server()->stderr_text();
    server().reset();
  }

  // A failed start fails each test with the server's own words.
  void SetUp() override { ASSERT_TRUE(server()) << "server did not start: " << why(); }

  static int port() { return server()->port(); }

  static std::unique_ptr<ServerProcess>& server() {
    static std::unique_ptr<ServerProcess> s;
    return s;
  }
  static std::string& why() {
    static std::string w;
    return w;
  }
};

// Stops a suite's server before SharedServerTest does, so that what the
// sanitizers reported (at a finding, or at the workers' exit) fails the suite.
void stop_and_check_sanitizers(ServerProcess* server);

// The body as JSON; a non-JSON body fails the current test and yields null.
genkit::Json json_of(const HttpResponse& r);

// `data` in gzip framing, compressed as far as zlib goes (for bombs).
std::string gzip_of(const std::string& data);

// std::string of a JSON string member ("" when absent or not a string).
inline std::string str(genkit::JsonView v) { return std::string(v.as_string()); }

// A JSON object text with one string member, e.g. {"name":"xxx"}.
std::string json_with(const std::string& key, const std::string& value);

struct SseResult {
  std::optional<HttpResponse> head;
  std::vector<SseEvent> events;
  bool ended = false;  // the body ended cleanly (terminal chunk seen)
  std::string error;
  std::string raw_body;
};

// Reads an SSE response already requested on `c` until its end.
SseResult read_sse(HttpClient& c, milliseconds timeout = milliseconds(10000));

// POSTs `body` to an SSE route on a new connection and reads the whole stream.
SseResult post_sse(int port, const std::string& path, const std::string& body, const Headers& headers = {});

bool is_uuid4(const std::string& s);

}  // namespace itest
