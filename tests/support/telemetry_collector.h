// A stand-in for the Genkit tools' telemetry server (docs/genkit-protocols.md
// §5) for the integration suites: an HTTP/1.1 server on 127.0.0.1 (an
// ephemeral port, its own thread, keep-alive) that records the body of every
// POST (to /api/traces or anywhere else) before it answers `200 OK`, so a
// test that has seen a server's response end knows what had been posted by
// then. It can answer another status, or answer late. Every wait is bounded.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"

namespace itest {

struct CollectedPost {
  std::string path;
  std::string body;
  genkit::Json json;  // the body parsed (null when it is not JSON)
  std::chrono::steady_clock::time_point arrived;
};

class TelemetryCollector {
 public:
  TelemetryCollector() = default;
  ~TelemetryCollector() { stop(); }
  TelemetryCollector(const TelemetryCollector&) = delete;
  TelemetryCollector& operator=(const TelemetryCollector&) = delete;

  bool start();  // binds 127.0.0.1:0 and starts serving
  void stop();   // idempotent
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& error() const { return error_; }

  // What the following requests are answered (200 by default), and after how long.
  void set_status(int status) { status_ = status; }
  void set_reply_delay(std::chrono::milliseconds delay) { delay_ms_ = static_cast<int>(delay.count()); }

  std::vector<CollectedPost> posts() const;
  void clear();
  // Waits until `probe` holds on the posts so far (true), or `timeout` passes.
  bool wait_for(const std::function<bool(const std::vector<CollectedPost>&)>& probe,
                std::chrono::milliseconds timeout) const;

  // The posted TraceData bodies of `trace_id` to /api/traces, in arrival order.
  std::vector<genkit::Json> trace_posts(const std::string& trace_id) const;
  // Those bodies merged as the tools merge them: spanId → its latest state.
  std::map<std::string, genkit::Json> spans_of(const std::string& trace_id) const;

 private:
  void serve();

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::string error_;
  std::atomic<int> status_{200};
  std::atomic<int> delay_ms_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<CollectedPost> posts_;
};

// The spans of `spans` (spanId → span) whose attributes' genkit:path is `path`.
std::vector<genkit::Json> spans_at_path(const std::map<std::string, genkit::Json>& spans, const std::string& path);

}  // namespace itest
