// fake_llm: a fake LLM provider (Gemini + OpenAI wire formats) on 127.0.0.1.
// Prints {"port":N} once listening; serves until SIGTERM/SIGINT (exit 0).
#include <arpa/inet.h>
#include <fcntl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/fakes/server.h"

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "fake_llm: %s\nusage: fake_llm [--port N] [--workers N] [--delay-ms D] [--chunk-delay-ms C] "
               "[--record] [--verbose] [--no-pin] [--stamp-chunks]\n",
               why);
  std::exit(2);
}

fake::Options parse_args(int argc, char** argv) {
  fake::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto number = [&](int lo, int hi) {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      char* end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < lo || v > hi) usage(("bad value for " + a).c_str());
      return static_cast<int>(v);
    };
    if (a == "--port") o.port = number(0, 65535);
    else if (a == "--workers") o.workers = number(1, 64);
    else if (a == "--delay-ms") o.delay_ms = number(0, 3600000);
    else if (a == "--chunk-delay-ms") o.chunk_delay_ms = number(0, 3600000);
    else if (a == "--record") o.record = true;
    else if (a == "--verbose") o.verbose = true;
    else if (a == "--no-pin") o.pin = false;
    else if (a == "--stamp-chunks") o.stamp_chunks = true;
    else usage(("unknown argument " + a).c_str());
  }
  return o;
}

// A TCP socket on 127.0.0.1:port (SO_REUSEPORT when `shared`), not listening.
int bound_socket(int port, bool shared) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (shared) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // inherited by accepted sockets
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int port_of(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Worker `index` runs on the index-th CPU it may use, when there are enough:
// fewer migrations, measurably steadier latency under wrk on 2 cores.
void pin_to_cpu(int index, int workers) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || workers > CPU_COUNT(&allowed)) return;
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed) || seen++ != index) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, &one);
    return;
  }
}

void on_signal(evutil_socket_t, short, void* base) { event_base_loopbreak(static_cast<event_base*>(base)); }

// Runs one server process on the listening socket `fd` until SIGTERM/SIGINT.
int serve(int fd, const fake::Options& opt) {
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);  // delays to the microsecond, not rounded up
  event_base* base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base == nullptr || !fake::start_server(base, fd, opt)) {
    std::fprintf(stderr, "fake_llm: cannot start the HTTP server\n");
    return 1;
  }
  event* term = evsignal_new(base, SIGTERM, on_signal, base);
  event* intr = evsignal_new(base, SIGINT, on_signal, base);
  event_add(term, nullptr);
  event_add(intr, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigprocmask(SIG_SETMASK, &set, nullptr);
  event_base_dispatch(base);
  // Everything stays reachable from fake::state() (no leak reports at exit).
  return 0;
}

void print_port(int port) {
  std::printf("{\"port\":%d}\n", port);
  std::fflush(stdout);
}

// --workers N: the parent reserves the port, N children each listen on it
// with SO_REUSEPORT (the kernel spreads connections), the parent prints the
// port once all listen, forwards SIGTERM/SIGINT and reaps them.
int run_workers(const fake::Options& opt) {
  int reserve = bound_socket(opt.port, true);
  if (reserve < 0) {
    std::perror("fake_llm: bind 127.0.0.1");
    return 1;
  }
  int port = port_of(reserve);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    std::perror("fake_llm: pipe");
    return 1;
  }
  std::vector<pid_t> kids;
  for (int i = 0; i < opt.workers; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("fake_llm: fork");
      for (pid_t k : kids) kill(k, SIGTERM);
      return 1;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (opt.pin) pin_to_cpu(i, opt.workers);
      close(reserve);
      close(ready[0]);
      int fd = bound_socket(port, true);
      if (fd < 0 || listen(fd, 4096) != 0) _exit(1);
      char c = 1;
      if (write(ready[1], &c, 1) != 1) _exit(1);
      close(ready[1]);
      std::exit(serve(fd, opt));
    }
    kids.push_back(pid);
  }
  close(ready[1]);
  for (int got = 0; got < opt.workers;) {
    char c;
    ssize_t n = read(ready[0], &c, 1);
    if (n == 1) ++got;
    else if (n == 0 || errno != EINTR) {
      std::fprintf(stderr, "fake_llm: a worker failed to start\n");
      for (pid_t k : kids) kill(k, SIGTERM);
      return 1;
    }
  }
  close(ready[0]);
  close(reserve);
  print_port(port);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  int status = 0;
  for (;;) {
    siginfo_t info{};
    if (sigwaitinfo(&set, &info) < 0) continue;
    if (info.si_signo == SIGCHLD) {
      int wstatus = 0;
      pid_t dead = waitpid(-1, &wstatus, WNOHANG);
      if (dead <= 0) continue;  // spurious
      std::fprintf(stderr, "fake_llm: worker %d died (status 0x%x); stopping\n", static_cast<int>(dead), wstatus);
      status = 1;  // stop the rest
    } else {
      std::fprintf(stderr, "fake_llm: signal %d from pid %d; stopping\n", info.si_signo, static_cast<int>(info.si_pid));
    }
    break;
  }
  for (pid_t k : kids) kill(k, SIGTERM);
  while (wait(nullptr) > 0 || errno == EINTR) {
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  fake::Options opt = parse_args(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  // Blocked here so no signal is lost before the handlers exist; serve()
  // unblocks them, the parent of --workers collects them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  if (opt.workers > 1) return run_workers(opt);
  int fd = bound_socket(opt.port, false);
  if (fd < 0 || listen(fd, 4096) != 0) {
    std::perror("fake_llm: listen on 127.0.0.1");
    return 1;
  }
  print_port(port_of(fd));
  return serve(fd, opt);
}
