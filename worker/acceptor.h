// Accepts connections on the listening socket every worker inherited. A few
// per wake-up (nginx's multi_accept off, nearly), and a worker that already
// holds more than its share of the connections lets one wake-up pass (about
// a millisecond; never two in a row, so it still accepts when the others do
// not): a burst is spread over the workers instead of the first one awake
// taking most of it. Out of descriptors, it pauses accepting briefly rather
// than spinning on a readable socket.
#pragma once

#include <functional>
#include <string>

struct event;
struct event_base;

namespace genkit::http {

class Acceptor {
 public:
  using OnConnection = std::function<void(int fd, const std::string& peer_ip)>;
  using HoldsMoreThanItsShare = std::function<bool()>;

  Acceptor(event_base* base, int listen_fd, OnConnection on_connection, HoldsMoreThanItsShare busy = nullptr);
  ~Acceptor();  // closes the listening socket (this process's copy)
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  bool start();  // false when the socket cannot be watched
  void stop();   // no more accepts (drain)

 private:
  static void on_readable(int fd, short, void* arg);
  static void on_resume(int, short, void* arg);
  void pause(const timeval& how_long);

  int fd_;
  event* read_ev_ = nullptr;
  event* resume_ev_ = nullptr;
  bool stopped_ = false;
  bool passed_last_ = false;
  OnConnection on_connection_;
  HoldsMoreThanItsShare busy_;
};

}  // namespace genkit::http
