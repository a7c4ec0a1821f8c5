// fake_llm: request routing and per-process state.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/fakes/http.h"
#include "tests/fakes/providers.h"

namespace fake {

struct Options {
  int port = 0;
  int workers = 1;
  int delay_ms = 0;
  int chunk_delay_ms = 0;
  bool record = false;
  bool verbose = false;
  bool stamp_chunks = false;  // --stamp-chunks: SSE text carries its send time
  bool pin = true;  // --workers: pin worker i to the i-th allowed CPU (--no-pin: don't)
};

// One recorded request (model call with --record, or an OTLP export).
struct Record {
  std::string method, path, query;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;
  int64_t received_ms = 0;
  bool finished = false;
  bool client_closed = false;
};

constexpr size_t kMaxRecords = 1000;

// Everything is per process: with --workers N each worker has its own.
struct State {
  Options opt;
  event_base* base = nullptr;
  const timeval* delay_tv = nullptr;  // common timeouts for the default delays
  const timeval* chunk_tv = nullptr;
  std::deque<Behaviour> script;
  std::deque<std::shared_ptr<Record>> records;
  std::deque<std::shared_ptr<Record>> traces;
};
State& state();

// Serves HTTP on the already-listening socket `fd` from `base`.
bool start_server(event_base* base, int fd, const Options& opt);

// --- server.cc ---
std::shared_ptr<Record> make_record(const HttpRequest& req, std::string_view body);
// Appends `r` to `records`, dropping the oldest beyond kMaxRecords; returns r.
std::shared_ptr<Record> keep(std::deque<std::shared_ptr<Record>>& records, std::shared_ptr<Record> r);
void start_big_download(Conn* c);  // GET /media/big.bin

// --- control.cc: /_script, /_requests, /_traces, /_health, /v1/traces, /media/* ---
// Returns false when the request is none of those.
bool handle_control(Conn* c);
std::string records_json(const std::deque<std::shared_ptr<Record>>& records);

}  // namespace fake
