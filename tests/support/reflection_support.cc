#include "tests/support/reflection_support.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/proc_table.h"

namespace itest {

namespace fs = std::filesystem;

ProjectDir::ProjectDir() {
  char tmpl[] = "/tmp/genkit-project-XXXXXX";
  if (mkdtemp(tmpl)) path_ = tmpl;
  std::ofstream(path_ + "/package.json") << R"({"name":"genkit-endpoints-itest","private":true})" << "\n";
}

ProjectDir::~ProjectDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

bool ProjectDir::has_genkit_dir() const {
  std::error_code ec;
  return fs::exists(path_ + "/.genkit", ec);
}

std::vector<std::string> ProjectDir::runtime_files() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(runtimes_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path().string());
  }
  return out;
}

std::optional<RuntimeFile> wait_runtime_file(const ProjectDir& dir, std::chrono::milliseconds timeout,
                                             std::string* why) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    std::vector<std::string> files = dir.runtime_files();
    if (files.size() == 1) {
      std::ifstream in(files[0]);
      std::stringstream text;
      text << in.rdbuf();
      genkit::Result<genkit::Json> j = genkit::Json::parse(text.str());
      if (j.ok()) {
        RuntimeFile f;
        f.path = files[0];
        f.file_name = fs::path(files[0]).filename().string();
        f.json = std::move(j).value();
        static const std::regex kUrl(R"(^http://127\.0\.0\.1:(\d+)$)");
        std::smatch m;
        std::string url(f.json["reflectionServerUrl"].as_string());
        if (std::regex_match(url, m, kUrl)) f.port = std::stoi(m[1]);
        return f;
      }
      *why = "runtime file " + files[0] + " is not JSON: " + text.str();
    } else {
      *why = std::to_string(files.size()) + " files in " + dir.runtimes_dir();
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

bool wait_no_runtime_file(const ProjectDir& dir, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!dir.runtime_files().empty()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

std::unique_ptr<DevServer> start_dev_server(const Env& env, std::string* why, int workers) {
  auto dev = std::make_unique<DevServer>();
  ServerOptions o;
  o.args = {"--port", "0", "--workers", std::to_string(workers), "--no-grpc"};
  o.env = env;
  o.env["GENKIT_ENV"] = "dev";
  o.cwd = dev->dir->path();
  dev->server = start_server(o, why);
  if (!dev->server) return nullptr;
  std::optional<RuntimeFile> f = wait_runtime_file(*dev->dir, milliseconds(10000), why);
  if (!f) {
    *why += "\nstderr:\n" + dev->server->stderr_text() + "stdout:\n" + dev->server->stdout_text();
    return nullptr;
  }
  dev->runtime = std::move(*f);
  if (dev->runtime.port <= 0) {
    *why = "no port in the runtime file's reflectionServerUrl: " + dev->runtime.json.dump();
    return nullptr;
  }
  return dev;
}

void stop_dev_server(DevServer& dev) {
  std::optional<int> code = dev.server->stop();
  EXPECT_EQ(code, std::optional<int>(0)) << "stderr:\n" << dev.server->stderr_text();
  dev.server->wait_streams_closed(std::chrono::milliseconds(5000));
  for (const std::string& f : dev.server->sanitizer_findings()) ADD_FAILURE() << "sanitizer: " << f;
}

HttpResponse run_action(int port, const std::string& body, bool stream, const Headers& headers,
                        std::chrono::milliseconds timeout) {
  HttpClient c;
  HttpResponse failed;
  if (!c.connect(port)) {
    failed.reason = "connect: " + c.error();
    return failed;
  }
  Headers h = headers;
  h.emplace_back("Content-Type", "application/json");
  std::optional<HttpResponse> r =
      c.request("POST", stream ? "/api/runAction?stream=true" : "/api/runAction", body, h, timeout);
  if (!r) {
    failed.reason = "runAction: " + c.error();
    return failed;
  }
  return *r;
}

std::string read_rest_of_body(HttpClient& c, std::chrono::milliseconds timeout, bool* ended) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left <= milliseconds(0) || !c.next_event(left)) break;
  }
  *ended = c.ended();
  return c.body_so_far();
}

bool connection_refused(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  close(fd);
  return rc != 0 && err == ECONNREFUSED;
}

std::set<int> listening_tcp_ports(pid_t pgid) {
  std::set<std::string> inodes;  // of the group's processes' sockets
  for (const ProcInfo& p : all_processes()) {
    if (p.pgrp == pgid) inodes.merge(socket_inodes(p.pid));
  }
  std::set<int> ports;
  for (const TcpSocket& s : tcp_sockets()) {
    if (s.state == kTcpListening && inodes.count(s.inode)) ports.insert(s.local_port);
  }
  return ports;
}

bool is_hex_id(const std::string& s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace itest
