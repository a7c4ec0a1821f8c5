// fake_llm: a small HTTP/1.1 server connection on libevent core.
//
// Why not evhttp: at 20k req/s with replies sent from timers, evhttp's
// per-request epoll_ctl churn, allocations and write-on-next-iteration add
// about a millisecond per request. Here a connection keeps one persistent read
// event (which also notices a client going away at once), replies are written
// with write() straight away, and buffers are reused across keep-alive
// requests. Supports Content-Length and chunked request bodies,
// Expect: 100-continue, pipelining (one request at a time), HTTP/1.0.
#pragma once

#include <event2/event.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fake {

struct HttpRequest {
  std::string method, path, query;  // path and query as sent (not percent-decoded)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;                                           // de-chunked
  bool http10 = false;
  const char* header(std::string_view lower_name) const;  // nullptr when absent
};

class Conn;

// Per-request state the application attaches to a connection. The connection
// calls exactly one of on_complete (the reply was fully written) or on_aborted
// (the client went away first), and destroys it later (never while one of
// its methods may be running).
struct Exchange {
  virtual ~Exchange() = default;
  virtual void on_drain(Conn*) {}  // everything queued so far has been written
  virtual void on_complete() {}
  virtual void on_aborted() {}
};

using RequestHandler = void (*)(Conn* c);

class Conn {
 public:
  // Serves HTTP on a newly accepted socket (takes ownership of fd).
  static void start(event_base* base, int fd, RequestHandler handler);

  const HttpRequest& request() const { return req_; }
  void attach(std::unique_ptr<Exchange> ex);

  // A whole reply. Exchange state may be destroyed by the time it returns.
  void reply(int status, std::string_view content_type, std::string_view body);
  // A reply sent in pieces: content_length < 0 means chunked (HTTP/1.1) or
  // close-delimited (HTTP/1.0); extra_headers are complete "Name: v\r\n" lines.
  void start_reply(int status, std::string_view content_type, long long content_length,
                   std::string_view extra_headers = {});
  void send(std::string_view data);  // written now as far as the socket takes it
  void end_reply();
  bool output_pending() const { return out_pos_ < out_.size(); }
  bool alive() const { return !dead_; }

 private:
  Conn(event_base* base, int fd, RequestHandler handler);
  ~Conn();
  static void on_read(evutil_socket_t, short, void* arg);
  static void on_write(evutil_socket_t, short, void* arg);
  enum class Parse { kNeedMore, kDone, kError };
  Parse parse();
  Parse parse_head(size_t end);
  Parse parse_chunked();
  void process_input();
  void append_head(int status, std::string_view content_type, long long content_length,
                   std::string_view extra_headers);
  void flush();
  void complete();
  void fail(bool aborted);
  void bad_request(int status);

  int fd_;
  event* rev_ = nullptr;
  event* wev_ = nullptr;
  RequestHandler handler_;
  std::string in_;
  size_t in_pos_ = 0;  // start of the request being parsed
  std::string out_;
  size_t out_pos_ = 0;
  HttpRequest req_;
  std::unique_ptr<Exchange> ex_, retired_;
  // request parsing state
  bool head_done_ = false;
  size_t body_start_ = 0;
  long long content_length_ = 0;
  bool chunked_in_ = false;
  size_t chunk_pos_ = 0;
  bool expect_continue_ = false;
  // reply state
  bool busy_ = false;        // a request is being answered
  bool ended_ = false;       // the reply is complete (maybe not yet written)
  bool chunked_out_ = false;
  bool head_only_ = false;
  bool close_after_ = false;
  bool processing_ = false;  // inside process_input
  bool wev_added_ = false;
  bool dead_ = false;
};

}  // namespace fake
