#include "tests/support/server_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#ifndef GENKIT_BINARY
#error "GENKIT_BINARY must name the genkit-endpoints binary under test"
#endif

extern char** environ;

namespace itest {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kSanitizerMarks[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                           "ERROR: UndefinedBehaviorSanitizer", "runtime error:"};

bool is_sanitizer_line(const std::string& line) {
  for (const char* mark : kSanitizerMarks) {
    if (line.find(mark) != std::string::npos) return true;
  }
  return false;
}

std::optional<genkit::Json> parse_event(const std::string& line, const std::string& event) {
  if (line.empty() || line[0] != '{') return std::nullopt;
  genkit::Result<genkit::Json> j = genkit::Json::parse(line);
  if (!j.ok() || j->view()["event"].as_string() != event) return std::nullopt;
  return std::move(j).value();
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

}  // namespace

Env base_env() {
  Env env;
  const char* path = std::getenv("PATH");
  env["PATH"] = path ? path : "/usr/local/bin:/usr/bin:/bin";
  env["BIND_HOST"] = "127.0.0.1";
  env["LOG_FORMAT"] = "json";
  // The suite sends hundreds of requests from 127.0.0.1; a per-client rate
  // limit at its default (60/minute) would turn them into 429s.
  env["RATE_LIMIT_DEFAULT"] = "1000000/minute";
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "ASAN_SYMBOLIZER_PATH"}) {
    if (const char* v = std::getenv(name)) env[name] = v;
  }
  if (!env.count("UBSAN_OPTIONS")) env["UBSAN_OPTIONS"] = "print_stacktrace=1";
  return env;
}

ServerProcess::~ServerProcess() {
  kill_and_reap();
  if (reader_.joinable()) {
    // Workers die with the group; their end of the pipes closes with them.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, milliseconds(3000), [this] { return streams_closed_; });
    stop_reader_ = true;
    lock.unlock();
    reader_.join();
  }
  if (!workdir_.empty() && cwd_.empty()) rmdir(workdir_.c_str());
  // Surface sanitizer reports as failures of whatever test (or suite) owned us.
  std::vector<std::string> err = stderr_lines();
  for (size_t i = 0; i < err.size(); ++i) {
    if (!is_sanitizer_line(err[i])) continue;
    std::string context;
    for (size_t j = i; j < err.size() && j < i + 40; ++j) context += err[j] + "\n";
    ADD_FAILURE() << "sanitizer finding in genkit-endpoints stderr:\n" << context;
  }
}

bool ServerProcess::spawn(const std::vector<std::string>& args, const Env& env,
                          const std::vector<std::string>& launcher, const std::string& binary) {
  const std::string program = binary.empty() ? std::string(GENKIT_BINARY) : binary;
  char tmpl[] = "/tmp/genkit-itest-XXXXXX";
  // An empty working directory: no stray .env file may leak into the config.
  if (!cwd_.empty()) {
    workdir_ = cwd_;
  } else if (!mkdtemp(tmpl)) {
    error_ = std::string("mkdtemp: ") + std::strerror(errno);
    return false;
  } else {
    workdir_ = tmpl;
  }
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    error_ = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  // Everything posix_spawn needs is built up front: the test process has
  // other threads, so nothing may allocate between fork and exec.
  std::vector<std::string> argv_s = launcher;
  argv_s.push_back(program);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> envp_s;
  for (const auto& [k, v] : env) envp_s.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (std::string& s : argv_s) argv.push_back(s.data());
  for (std::string& s : envp_s) envp.push_back(s.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addchdir_np(&fa, workdir_.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group: the destructor can kill the supervisor and every
  // worker it forked with one kill(-pgid), even if the supervisor is gone.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    error_ = "posix_spawn " + program + ": " + std::strerror(rc);
    return false;
  }
  pid_ = pid;
  reader_ = std::thread([this, o = out[0], e = err[0]] { read_loop(o, e); });
  return true;
}

void ServerProcess::read_loop(int out_fd, int err_fd) {
  int fds[2] = {out_fd, err_fd};
  std::string partial[2];
  std::vector<std::string>* sinks[2] = {&out_lines_, &err_lines_};
  int open_count = 2;
  while (open_count > 0) {
    pollfd p[2];
    for (int i = 0; i < 2; ++i) p[i] = {fds[i], POLLIN, 0};
    poll(p, 2, 100);
    {
      std::lock_guard lock(mu_);
      if (stop_reader_) break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      ssize_t n = read(fds[i], buf, sizeof buf);
      std::lock_guard lock(mu_);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        if (!partial[i].empty()) sinks[i]->push_back(partial[i]);
        close(fds[i]);
        fds[i] = -1;
        p[i].fd = -1;
        --open_count;
      } else {
        partial[i].append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = partial[i].find('\n')) != std::string::npos) {
          sinks[i]->push_back(partial[i].substr(0, nl));
          partial[i].erase(0, nl + 1);
        }
      }
      cv_.notify_all();
    }
  }
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  std::lock_guard lock(mu_);
  streams_closed_ = true;
  cv_.notify_all();
}

bool ServerProcess::wait_ready(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (!wait_event("ready", timeout)) {
    if (wait_exit(milliseconds(0))) {
      error_ = "server exited with code " + std::to_string(exit_code_) + " before it was ready";
    } else {
      error_ = "no \"ready\" event within " + std::to_string(timeout.count()) + " ms";
    }
    return false;
  }
  auto listening = wait_event("listening", std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  if (!listening || !listening->view()["port"].is_number()) {
    error_ = "no \"listening\" event with a port";
    return false;
  }
  port_ = static_cast<int>(listening->view()["port"].as_number());
  return port_ > 0;
}

bool ServerProcess::signal(int sig) const { return pid_ > 0 && !exited_ && kill(pid_, sig) == 0; }

std::optional<int> ServerProcess::wait_exit(milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto deadline = Clock::now() + timeout;
  while (!exited_) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return exit_code_;
}

std::optional<int> ServerProcess::stop(milliseconds timeout) {
  signal(SIGTERM);
  return wait_exit(timeout);
}

void ServerProcess::kill_and_reap() {
  if (pid_ <= 0) return;
  bool group_may_live;
  {
    std::lock_guard lock(mu_);
    // Once both pipes hit EOF no process of the group holds them: nothing to kill.
    group_may_live = reader_.joinable() && !streams_closed_;
  }
  if (!exited_ || group_may_live) kill(-pid_, SIGKILL);
  if (!exited_) {
    kill(pid_, SIGKILL);
    int status = 0;
    if (waitpid(pid_, &status, 0) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}

std::vector<std::string> ServerProcess::stdout_lines() const {
  std::lock_guard lock(mu_);
  return out_lines_;
}

std::vector<std::string> ServerProcess::stderr_lines() const {
  std::lock_guard lock(mu_);
  return err_lines_;
}

std::string ServerProcess::stdout_text() const { return join(stdout_lines()); }
std::string ServerProcess::stderr_text() const { return join(stderr_lines()); }

std::vector<genkit::Json> ServerProcess::events(const std::string& event) const {
  std::vector<genkit::Json> out;
  for (const std::string& line : stdout_lines()) {
    if (auto j = parse_event(line, event)) out.push_back(std::move(*j));
  }
  return out;
}

std::optional<genkit::Json> ServerProcess::wait_event(const std::string& event, milliseconds timeout,
                                                      const std::function<bool(genkit::JsonView)>& match) {
  auto deadline = Clock::now() + timeout;
  size_t scanned = 0;
  std::unique_lock lock(mu_);
  while (true) {
    for (; scanned < out_lines_.size(); ++scanned) {
      auto j = parse_event(out_lines_[scanned], event);
      if (j && (!match || match(j->view()))) return j;
    }
    if (streams_closed_) return std::nullopt;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && scanned == out_lines_.size()) {
      return std::nullopt;
    }
  }
}

bool ServerProcess::wait_event_count(const std::string& event, size_t count, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (events(event).size() < count) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

bool ServerProcess::wait_streams_closed(milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return streams_closed_; });
}

std::vector<std::string> ServerProcess::sanitizer_findings() const {
  std::vector<std::string> out;
  for (const std::string& line : stderr_lines()) {
    if (is_sanitizer_line(line)) out.push_back(line);
  }
  return out;
}

std::unique_ptr<ServerProcess> start_server(const ServerOptions& opts, std::string* why) {
  Env env = base_env();
  for (const auto& [k, v] : opts.env) env[k] = v;
  auto server = std::make_unique<ServerProcess>();
  server->set_cwd(opts.cwd);
  if (!server->spawn(opts.args, env, opts.launcher, opts.binary) || !server->wait_ready(opts.ready_timeout)) {
    *why = server->error() + "\nstderr:\n" + server->stderr_text() + "stdout:\n" + server->stdout_text();
    return nullptr;
  }
  return server;
}

RunResult run_to_exit(const std::vector<std::string>& args, const Env& env_over_base, milliseconds timeout) {
  Env env = base_env();
  for (const auto& [k, v] : env_over_base) env[k] = v;
  RunResult result;
  ServerProcess p;
  if (!p.spawn(args, env)) {
    result.err = p.error();
    return result;
  }
  result.exit_code = p.wait_exit(timeout);
  if (result.exit_code) p.wait_streams_closed(milliseconds(3000));
  result.out = p.stdout_text();
  result.err = p.stderr_text();
  result.sanitizer_findings = p.sanitizer_findings();
  return result;
}

}  // namespace itest
