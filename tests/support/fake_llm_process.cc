#include "tests/support/fake_llm_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "tests/support/http_client.h"

#ifndef FAKE_LLM_BINARY
#error "FAKE_LLM_BINARY must name the fake_llm binary (tests/fakes)"
#endif

namespace itest {

namespace {

using std::chrono::milliseconds;

bool is_model_call(genkit::JsonView r) {
  if (r["method"].as_string() != "POST") return false;
  std::string_view path = r["path"].as_string();
  bool gemini = path.find("/models/") != std::string_view::npos &&
                (path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent"));
  return gemini || path.ends_with("/chat/completions");
}

// Waits for `pid` to exit for up to `timeout`; true once reaped.
bool reap_within(pid_t pid, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pid_t r = waitpid(pid, nullptr, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

}  // namespace

std::string json_array_of(const std::vector<std::string>& items) {
  genkit::Json a = genkit::Json::array();
  for (const std::string& s : items) a.push(genkit::Json::string(s));
  return a.dump();
}

genkit::Json json_or_null(std::string_view text) {
  genkit::Result<genkit::Json> j = genkit::Json::parse(text);
  return j.ok() ? std::move(j).value() : genkit::Json::null();
}

std::string record_header(genkit::JsonView record, std::string_view name) {
  return std::string(record["headers"][name].as_string());
}

std::string base64_of(std::string_view bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

FakeLlmProcess::~FakeLlmProcess() { stop(); }

bool FakeLlmProcess::start(const std::vector<std::string>& extra_args, milliseconds timeout) {
  if (pid_ > 0) {
    error_ = "already started";
    return false;
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    error_ = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  // Everything exec needs is built before fork: the test process has other
  // threads, so the child may only make async-signal-safe calls.
  std::vector<std::string> args{FAKE_LLM_BINARY, "--port", "0", "--record"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    close(out[0]);
    close(out[1]);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test binary
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out[1], 1);  // dup2 clears O_CLOEXEC on the copy
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  close(out[1]);

  // Reads the {"port":N} line, bounded by `timeout`.
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ok = false;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      error_ = "fake_llm did not print its port within " + std::to_string(timeout.count()) + " ms";
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[256];
    ssize_t got = read(out[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      error_ = "fake_llm exited before printing its port (output: '" + line + "')";
      break;
    }
    line.append(buf, static_cast<size_t>(got));
  }
  close(out[0]);  // it prints nothing else (and ignores SIGPIPE)
  if (line.find('\n') != std::string::npos) {
    genkit::Result<genkit::Json> j = genkit::Json::parse(line.substr(0, line.find('\n')));
    if (j.ok() && j->view()["port"].is_integer() && j->view()["port"].as_number() > 0) {
      port_ = static_cast<int>(j->view()["port"].as_number());
      ok = true;
    } else {
      error_ = "fake_llm printed an unexpected first line: " + line;
    }
  }
  if (!ok) stop();
  return ok;
}

void FakeLlmProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (!reap_within(pid_, milliseconds(3000))) {
    kill(pid_, SIGKILL);
    reap_within(pid_, milliseconds(5000));
  }
  pid_ = -1;
}

bool FakeLlmProcess::call(const std::string& method, const std::string& path, const std::string& body) {
  HttpClient c(port_);
  std::optional<HttpResponse> r =
      c.request(method, path, body, {{"Content-Type", "application/json"}}, milliseconds(5000));
  if (!r) {
    error_ = method + " " + path + ": " + c.error();
    return false;
  }
  if (r->status != 200) {
    error_ = method + " " + path + ": HTTP " + std::to_string(r->status) + " " + r->body;
    return false;
  }
  return true;
}

genkit::Json FakeLlmProcess::get_json(const std::string& path) {
  HttpClient c(port_);
  std::optional<HttpResponse> r = c.request("GET", path, {}, {}, milliseconds(5000));
  if (!r || r->status != 200) {
    error_ = "GET " + path + ": " + (r ? "HTTP " + std::to_string(r->status) + " " + r->body : c.error());
    return genkit::Json::null();
  }
  genkit::Result<genkit::Json> j = r->json();
  if (!j.ok()) {
    error_ = "GET " + path + ": not JSON: " + r->body.substr(0, 200);
    return genkit::Json::null();
  }
  return std::move(j).value();
}

bool FakeLlmProcess::script(const std::string& behaviours) { return call("POST", "/_script", behaviours); }
bool FakeLlmProcess::clear_script() { return call("DELETE", "/_script", {}); }
genkit::Json FakeLlmProcess::requests() { return get_json("/_requests"); }
bool FakeLlmProcess::clear_requests() { return call("DELETE", "/_requests", {}); }
genkit::Json FakeLlmProcess::traces() { return get_json("/_traces"); }
bool FakeLlmProcess::clear_traces() { return call("DELETE", "/_traces", {}); }

std::vector<genkit::Json> FakeLlmProcess::model_requests() {
  std::vector<genkit::Json> out;
  genkit::Json all = requests();
  all.view().for_each([&](std::string_view, genkit::JsonView r) {
    if (is_model_call(r)) out.push_back(genkit::Json::copy_of(r));
  });
  return out;
}

bool FakeLlmProcess::reset() { return clear_script() && clear_requests() && clear_traces(); }

bool FakeLlmProcess::eventually(const std::function<bool()>& probe, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (probe()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

}  // namespace itest
