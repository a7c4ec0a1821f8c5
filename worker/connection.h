// One accepted TCP connection: the bufferevent, its timers, and the protocol
// session chosen from the first bytes (HTTP/1.1 now; an HTTP/2 session sits
// beside it once the 24-byte client preface is recognised).
#pragma once

#include <memory>
#include <string>

#include "worker/server_context.h"

struct bufferevent;
struct evbuffer;
struct event;

namespace genkit::http {

class Connection;

// A protocol on a connection.
class Session {
 public:
  virtual ~Session() = default;
  virtual void on_data(evbuffer* input) = 0;  // new bytes arrived
  virtual void on_output_drained() = 0;        // everything written so far reached the socket
  virtual void on_close() = 0;                 // the connection is going away
  virtual void on_timeout() = 0;               // the connection timer fired
  virtual void begin_drain() = 0;              // finish what is in flight, take nothing new
};

class Connection {
 public:
  static void accept(ServerContext& ctx, int fd, const std::string& client_ip);

  ServerContext& context() { return ctx_; }
  const ServerContext& context() const { return ctx_; }
  const std::string& client_ip() const { return client_ip_; }

  void write(const void* data, std::size_t len);
  std::size_t pending_output() const;
  void arm_timer(int seconds);          // (re)start the connection timer
  void disarm_timer();
  void close_after_write();             // flush, then close
  void close_now();                     // the client is gone or misbehaved
  void begin_drain();
  void resume_reading();                // parse input buffered while a response was pending

 private:
  Connection(ServerContext& ctx, int fd, std::string client_ip);
  ~Connection();

  static void on_read(bufferevent* bev, void* arg);
  static void on_write(bufferevent* bev, void* arg);
  static void on_event(bufferevent* bev, short what, void* arg);
  static void on_timer(int, short, void* arg);
  static void on_destroy(int, short, void* arg);
  void choose_protocol(evbuffer* input);

  ServerContext& ctx_;
  bufferevent* bev_;
  event* timer_;
  std::string client_ip_;
  std::unique_ptr<Session> session_;
  bool closing_ = false;
  bool dead_ = false;
};

}  // namespace genkit::http
