// HTTP/1.1 on a connection: libhttp-parser, keep-alive, pipelining (one
// request at a time, the next parsed only after the current response is
// done and mostly sent, so responses stay in order and a client that does
// not read is not answered without end), limits and timeouts. Each head is
// checked for the line syntax (Http1HeadGuard) and framing
// (framing_refusal) the parser is lenient about.
#pragma once

#include <http_parser.h>

#include <memory>
#include <string>

#include "worker/connection.h"
#include "worker/exchange.h"
#include "worker/http1_head_guard.h"

namespace genkit::http {

class Http1Exchange;

class Http1Session : public Session {
 public:
  explicit Http1Session(Connection& conn);
  ~Http1Session() override;

  std::size_t on_data(std::string_view input) override;
  void on_output_drained() override;
  void on_close() override;
  void on_timeout() override;
  void begin_drain() override;

  // Called by the exchange once its response is complete.
  void exchange_done(Http1Exchange* exchange, bool keep_alive);
  Connection& connection() { return conn_; }
  bool draining() const { return draining_ || conn_.context().draining; }

 private:
  enum class State { kIdle, kReading, kProcessing, kClosing };

  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t len);
  static int on_header_field(http_parser* p, const char* at, size_t len);
  static int on_header_value(http_parser* p, const char* at, size_t len);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t len);
  static int on_message_complete(http_parser* p);
  static void on_resume(int, short, void* arg);
  static const http_parser_settings& settings();

  void finish_header();
  bool takes_input() const;
  void refuse_unparsable(http_errno err);
  void reject(int status, const std::string& detail);  // respond, then close
  void dispatch();
  bool switch_to_h2c();  // true: the connection now speaks HTTP/2

  Connection& conn_;  // owns this session
  http_parser parser_;
  State state_ = State::kIdle;
  Request current_;
  std::string url_;
  std::string field_;
  bool in_value_ = false;
  std::size_t header_count_ = 0;
  bool too_many_headers_ = false;
  bool in_trailers_ = false;  // the head is done: fields now are a chunked body's trailers
  std::size_t head_fields_ = 0;
  Http1HeadGuard head_guard_;
  bool keep_alive_ = true;
  bool draining_ = false;
  bool in_parser_ = false;
  std::shared_ptr<Http1Exchange> active_;
  event resume_ev_;  // parses pipelined input once a response is done
};

class Http1Exchange : public Exchange {
 public:
  Http1Exchange(Http1Session* session, Request request, bool keep_alive, bool http10);
  void detach() { session_ = nullptr; }

 protected:
  void write_head(const ResponseHead& head) override;
  void write_body(std::string_view data) override;
  void write_end() override;

 private:
  Http1Session* session_;
  bool keep_alive_;
  bool http10_;
  bool chunked_ = false;
  std::string unsent_;  // a unary response's head, waiting for its body
};

}  // namespace genkit::http
