// Accepts connections on a listening socket inherited from the supervisor
// (the HTTP workers share one; grpcd has its own). A few
// per wake-up (nginx's multi_accept off, nearly): every worker asleep on the
// shared socket then takes its share of a burst, instead of the first one
// awake taking the whole backlog. When the process runs out of descriptors
// it pauses accepting briefly rather than spinning on a readable socket.
#pragma once

#include <functional>
#include <string>

struct event;
struct event_base;

namespace genkit {

class Acceptor {
 public:
  using OnConnection = std::function<void(int fd, const std::string& peer_ip)>;

  Acceptor(event_base* base, int listen_fd, OnConnection on_connection);
  ~Acceptor();  // closes the listening socket (this process's copy)
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  bool start();  // false when the socket cannot be watched
  // Drain: takes the connections already queued, then closes this process's
  // copy of the socket. Once every process has closed its copy the kernel
  // refuses new connections at once, and a load balancer retries elsewhere
  // instead of waiting on a queue nobody accepts from.
  void stop();

 private:
  static void on_readable(int fd, short, void* arg);
  static void on_resume(int, short, void* arg);

  int fd_;
  event* read_ev_ = nullptr;
  event* resume_ev_ = nullptr;
  bool stopped_ = false;
  OnConnection on_connection_;
};

}  // namespace genkit
