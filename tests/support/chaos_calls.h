// The load side of the chaos suites (integration/chaos_test.cc): one call of
// each kind the server serves, timed and judged by its reply alone (a clean
// reply, a JSON error, a lost connection, a timeout, or something bad), and
// a load of clients calling back to back. Whether a call's outcome is
// allowed depends on the faults around it: the test decides that.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/grpc_client.h"

namespace itest::chaos {

constexpr milliseconds kCallTimeout{8000};   // every client call's bound: far above any stop
constexpr milliseconds kProbeTimeout{700};   // a probe stuck in a stopped worker gives up, the next one is served
constexpr int kRestClients = 3;
constexpr int kGrpcClients = 2;
constexpr int kTranslateTexts = 4;  // with CACHE_TTL=1: hits, misses and identical misses at once

enum class Protocol { kHttp, kGrpc };
// kLost: the connection went away (HTTP), or UNAVAILABLE/CANCELLED/INTERNAL (gRPC).
enum class Verdict { kOk, kJsonError, kLost, kTimedOut, kBad };

struct Call {
  std::string kind;
  Protocol protocol = Protocol::kHttp;
  Verdict verdict = Verdict::kBad;
  int status = 0;  // HTTP status, or the gRPC code
  std::string detail;
  Clock::time_point start, end;
  milliseconds took() const { return std::chrono::duration_cast<milliseconds>(end - start); }
};

// "POST /translate +120..+340 ms: ok (200) {...}", times from `origin`.
std::string describe_call(const Call& c, Clock::time_point origin);

Call rest_call(int port, const std::string& path, const std::string& body, milliseconds timeout = kCallTimeout);
// An SSE route read to its end: every event JSON, the last one `done` with `final_key`.
Call sse_call(int port, const std::string& path, const std::string& body, const std::string& final_key);
Call grpc_joke(gpb::GenkitService::Stub& stub, milliseconds timeout = kCallTimeout);
Call grpc_translate(gpb::GenkitService::Stub& stub, const std::string& text, milliseconds timeout = kCallTimeout);
Call grpc_story(gpb::GenkitService::Stub& stub, milliseconds timeout = kCallTimeout);

std::string translate_body(const std::string& text);

// The load: REST and gRPC clients calling back to back (a new HTTP
// connection per call; one channel per gRPC client), and a prober sending
// fresh translate misses with a short timeout, so that while a worker is
// stopped the probes show whether the others serve.
class Load {
 public:
  Load(int port, int grpc_port);
  ~Load();

  void stop();
  std::vector<Call> calls() const;
  std::vector<Call> probes() const;

 private:
  void record(std::vector<Call>& into, Call c);

  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Call> calls_, probes_;
  std::vector<std::jthread> threads_;
};

}  // namespace itest::chaos
