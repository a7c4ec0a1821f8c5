// One accepted TCP connection: its socket events, input and output buffers,
// timer, TLS when configured, and the protocol session chosen from the first
// bytes (HTTP/2 when they are the 24-byte client preface, else HTTP/1.1; an
// HTTP/1.1 session may hand the connection over to HTTP/2 on
// "Upgrade: h2c"). Plain events rather than a bufferevent: an idle or waiting
// connection then holds no buffer memory, and a read is one recv(2) (or one
// SSL_read).
#pragma once

#include <event2/event_struct.h>

#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "worker/server_context.h"

typedef struct ssl_st SSL;

namespace genkit::http {

class Connection;

// A protocol on a connection.
class Session {
 public:
  virtual ~Session() = default;
  // New input; returns how many bytes it consumed. The rest stays buffered
  // and is offered again by Connection::resume_reading().
  virtual std::size_t on_data(std::string_view input) = 0;
  virtual void on_output_drained() = 0;  // everything written so far reached the socket
  virtual void on_close() = 0;           // the connection is going away
  virtual void on_timeout() = 0;         // the connection timer fired
  virtual void begin_drain() = 0;        // finish what is in flight, take nothing new
};

class Connection {
 public:
  static void accept(ServerContext& ctx, int fd, const std::string& client_ip);

  ServerContext& context() { return ctx_; }
  const ServerContext& context() const { return ctx_; }
  const std::string& client_ip() const { return client_ip_; }
  bool secure() const { return ssl_ != nullptr; }

  void write(const void* data, std::size_t len);
  std::size_t pending_output() const { return out_.size() - out_sent_; }
  void arm_timer(int seconds);  // (re)start the connection timer
  void disarm_timer();
  void close_after_write();  // flush, then close
  void close_now();          // the client is gone or misbehaved
  void begin_drain();
  void resume_reading();  // offer input buffered while a response was pending
  // Hands the connection to another protocol (h2c upgrade). Input the old
  // session leaves unconsumed goes to the new one; the old one is freed
  // once it is off the stack.
  void switch_session(std::unique_ptr<Session> next);

 private:
  Connection(ServerContext& ctx, int fd, SSL* ssl, std::string client_ip);
  ~Connection();

  static void on_readable(int, short, void* arg);
  static void on_writable(int, short, void* arg);
  static void on_timer(int, short, void* arg);
  static void on_destroy(int, short, void* arg);
  void deliver(std::string_view data);
  std::size_t offer(std::string_view data);
  // recv/send through TLS when it is on: > 0 bytes, 0 end of stream, -1 with
  // errno (EAGAIN: try again when the socket is ready).
  ssize_t receive(char* buf, std::size_t cap);
  ssize_t send_some(const char* data, std::size_t len);
  void feed_buffered();
  void choose_protocol();
  void flush();
  void set_reading(bool on);

  ServerContext& ctx_;
  int fd_;
  SSL* ssl_;                       // null: plain TCP
  bool read_wants_write_ = false;  // TLS: a read is waiting for the socket to take handshake bytes
  event read_ev_;
  event write_ev_;
  event timer_;
  std::string client_ip_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Session> retired_;  // the session switched away from, until it is off the stack
  std::string in_;   // received, not consumed by the session yet
  std::string out_;  // written by the session, not taken by the socket yet
  std::size_t out_sent_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool dead_ = false;
};

}  // namespace genkit::http
