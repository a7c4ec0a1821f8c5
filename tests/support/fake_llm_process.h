// Runs tests/fakes' `fake_llm --port 0 --record` for an integration suite:
// spawn (fork/exec, stdout on a pipe), read its {"port":N} line with a
// bounded wait, and drive its control API (/_script, /_requests, /_traces)
// over the tests' own HTTP client. The destructor always SIGTERMs, then
// SIGKILLs if needed, and reaps, so a failing test never leaves a fake behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "tests/support/test_util.h"

namespace itest {

class FakeLlmProcess {
 public:
  FakeLlmProcess() = default;
  ~FakeLlmProcess();
  FakeLlmProcess(const FakeLlmProcess&) = delete;
  FakeLlmProcess& operator=(const FakeLlmProcess&) = delete;

  // Starts the fake with `--port 0 --record` plus `extra_args` (e.g.
  // {"--chunk-delay-ms", "100"}) and waits for its port.
  bool start(const std::vector<std::string>& extra_args = {},
             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // SIGTERM, a bounded wait, SIGKILL if still there, reap. Idempotent.
  void stop();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }  // why start() or the last call failed
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // POST /_script: `behaviours` is one JSON object or an array of them.
  bool script(const std::string& behaviours);
  bool clear_script();  // DELETE /_script

  // GET /_requests: every recorded request (null, with error(), on failure).
  genkit::Json requests();
  // The recorded model calls only (Gemini :generateContent / OpenAI
  // /chat/completions POSTs), in arrival order.
  std::vector<genkit::Json> model_requests();
  bool clear_requests();  // DELETE /_requests

  // GET /_traces: the decoded OTLP JSON bodies received on /v1/traces.
  genkit::Json traces();
  bool clear_traces();  // DELETE /_traces

  // Clears script, requests and traces.
  bool reset();

  // Polls `probe` (every 50 ms) until it returns true or `timeout` passes.
  static bool eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout);

 private:
  genkit::Json get_json(const std::string& path);
  bool call(const std::string& method, const std::string& path, const std::string& body);

  pid_t pid_ = -1;
  int port_ = 0;
  std::string error_;
};

// JSON text of a string array, e.g. {"a","b"} → ["a","b"].
std::string json_array_of(const std::vector<std::string>& items);

// `text` parsed as JSON, or null when it is not JSON.
genkit::Json json_or_null(std::string_view text);

// A recorded request's header (names are lower-case in the record; "" if absent).
std::string record_header(genkit::JsonView record, std::string_view name);

// Standard base64 (with padding), written here so the tests do not check the
// server's encoder against itself.
std::string base64_of(std::string_view bytes);

// One fake_llm and one server per suite. Derived supplies
// `static ServerOptions options()` (which may read fake()->base_url()) and
// `static std::vector<std::string> fake_args()`. Every test starts with the
// fake's script, recorded requests and traces cleared.
template <typename Derived>
class FakeLlmServerTest : public SharedServerTest<Derived> {
 protected:
  static void SetUpTestSuite() {
    fake() = std::make_unique<FakeLlmProcess>();
    if (!fake()->start(Derived::fake_args())) return;  // SetUp reports it
    SharedServerTest<Derived>::SetUpTestSuite();
  }

  static void TearDownTestSuite() {
    SharedServerTest<Derived>::TearDownTestSuite();  // the server first: it may still talk to the fake
    fake().reset();
  }

  void SetUp() override {
    ASSERT_TRUE(fake() && fake()->port() > 0) << "fake_llm did not start: " << (fake() ? fake()->error() : "");
    SharedServerTest<Derived>::SetUp();
    ASSERT_TRUE(fake()->reset()) << fake()->error();
  }

  static std::unique_ptr<FakeLlmProcess>& fake() {
    static std::unique_ptr<FakeLlmProcess> f;
    return f;
  }
};

}  // namespace itest
