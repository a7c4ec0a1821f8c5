#include "tests/support/shared_state_support.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/proc_table.h"

#ifndef GENKIT_PROMTOOL
#error "GENKIT_PROMTOOL must name promtool (packaging/install-deps.sh puts it in .deps/bin)"
#endif

namespace itest {

Env gemini_env_for(const std::string& fake_base_url) {
  return {{"GEMINI_API_KEY", "test-key"}, {"GEMINI_BASE_URL", fake_base_url}};
}

std::string unique_request_id(const std::string& prefix) {
  static std::atomic<int> next{1};
  return "itest-" + prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(next++);
}

int served_by(ServerProcess& server, const std::string& request_id, milliseconds timeout) {
  std::optional<genkit::Json> line = server.wait_event(
      "request", timeout, [&](genkit::JsonView e) { return e["request_id"].as_string() == request_id; });
  return line ? static_cast<int>(line->view()["pid"].as_number()) : 0;
}

std::map<int, int> live_workers_by_slot(const ServerProcess& server) {
  std::set<int> exited;
  for (const genkit::Json& e : server.events("worker_exited")) {
    exited.insert(static_cast<int>(e["worker_pid"].as_number()));
  }
  std::map<int, int> by_slot;
  for (const genkit::Json& e : server.events("worker_spawned")) {
    int pid = static_cast<int>(e["worker_pid"].as_number());
    int slot = static_cast<int>(e["slot"].as_number());
    if (exited.count(pid)) by_slot.erase(slot);
    else by_slot[slot] = pid;
  }
  return by_slot;
}

std::vector<HttpResponse> send_overlapping(int port, int n, const std::string& path, const std::string& body) {
  std::vector<HttpClient> clients(static_cast<size_t>(n));
  for (HttpClient& c : clients) {
    if (c.connect(port)) c.send_raw(build_request("POST", path, body));
    std::this_thread::sleep_for(milliseconds(3));
  }
  std::vector<HttpResponse> out;
  for (HttpClient& c : clients) {
    std::optional<HttpResponse> r = c.read_response();
    if (!r) {
      r.emplace();
      r->reason = c.error();
    }
    out.push_back(std::move(*r));
  }
  return out;
}

SentRequest send_with_id(int port, const std::string& method, const std::string& path, const std::string& body,
                         milliseconds timeout) {
  SentRequest out;
  out.request_id = unique_request_id("r");
  auto started = Clock::now();
  HttpClient c;
  if (!c.connect(port, timeout)) {
    out.response.reason = c.error();
  } else {
    Headers headers = {{"X-Request-ID", out.request_id}};
    if (method == "POST") headers.push_back({"Content-Type", "application/json"});
    std::optional<HttpResponse> r = c.request(method, path, body, headers, timeout);
    if (r) out.response = std::move(*r);
    else out.response.reason = c.error();
  }
  out.took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  return out;
}

std::vector<SentRequest> post_concurrently(int port, const std::string& path, const std::string& body, int count,
                                           milliseconds stagger, milliseconds timeout) {
  std::vector<SentRequest> out(static_cast<size_t>(count));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      std::this_thread::sleep_until(start + stagger * i);
      out[static_cast<size_t>(i)] = send_with_id(port, "POST", path, body, timeout);
    });
  }
  for (std::thread& t : threads) t.join();
  return out;
}

Samples parse_samples(const std::string& body) {
  Samples out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

double sample(const Samples& samples, const std::string& series) {
  auto it = samples.find(series);
  return it == samples.end() ? 0 : it->second;
}

double sample_sum(const Samples& samples, const std::string& name, const std::vector<std::string>& label_parts) {
  double sum = 0;
  for (const auto& [series, value] : samples) {
    if (series.substr(0, series.find('{')) != name) continue;
    bool all = true;
    for (const std::string& part : label_parts) all = all && series.find(part) != std::string::npos;
    if (all) sum += value;
  }
  return sum;
}

double metric(int port, const std::string& series) {
  Samples samples = parse_samples(http_get(port, "/metrics").body);
  auto it = samples.find(series);
  return it == samples.end() ? -1 : it->second;
}

Samples scrape(int port) {
  HttpResponse r = http_get(port, "/metrics");
  EXPECT_EQ(r.status, 200) << "/metrics: " << r.reason << r.body;
  return r.status == 200 ? parse_samples(r.body) : Samples{};
}

Samples scrape_until(int port, const std::function<bool(const Samples&)>& probe, milliseconds timeout) {
  Samples last;
  FakeLlmProcess::eventually([&] { return probe(last = scrape(port)); }, timeout);
  return last;
}

std::string promtool_complaint(const std::string& body) {
  if (access(GENKIT_PROMTOOL, X_OK) != 0) {
    ADD_FAILURE() << "promtool is missing at " GENKIT_PROMTOOL " (run packaging/install-deps.sh)";
    return "promtool missing";
  }
  char out_path[] = "/tmp/genkit-promtool-XXXXXX";
  int fd = mkstemp(out_path);
  if (fd < 0) return "mkstemp failed";
  close(fd);
  std::string cmd = std::string("'" GENKIT_PROMTOOL "' check metrics >'") + out_path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "w");
  if (!p) return "popen failed";
  std::fwrite(body.data(), 1, body.size(), p);
  int status = pclose(p);
  std::ifstream f(out_path);
  std::string said((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  unlink(out_path);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return said.empty() ? "promtool exit status " + std::to_string(status) : said;
}

std::map<int, int> sockets_on_port(const std::set<int>& pids, int port, PortSide side) {
  std::set<std::string> inodes;  // of the established sockets with `port` on `side`
  for (const TcpSocket& s : tcp_sockets()) {
    if (s.state == kTcpEstablished && (side == PortSide::kLocal ? s.local_port : s.remote_port) == port) {
      inodes.insert(s.inode);
    }
  }
  std::map<int, int> out;
  for (int pid : pids) {
    for (const std::string& inode : socket_inodes(pid)) {
      if (inodes.count(inode)) ++out[pid];
    }
  }
  return out;
}

int worker_calling(ServerProcess& server, int upstream_port) {
  std::set<int> pids;
  for (const auto& [_, pid] : live_workers_by_slot(server)) pids.insert(pid);
  std::map<int, int> calling = sockets_on_port(pids, upstream_port, PortSide::kRemote);
  return calling.size() == 1 ? calling.begin()->first : 0;
}

void FlightWaiters::join() {
  for (std::jthread& t : threads) {
    if (t.joinable()) t.join();
  }
}

std::unique_ptr<FlightWaiters> join_flight(ServerProcess& server, const std::string& path, const std::string& body,
                                           int leader_pid, int want, int max) {
  const char* kCoalesced = "genkit_endpoints_cache_coalesced_total";
  auto w = std::make_unique<FlightWaiters>();
  w->sent.resize(static_cast<size_t>(max));
  std::set<int> pids;
  for (const auto& [_, pid] : live_workers_by_slot(server)) pids.insert(pid);
  const int port = server.port();
  const double before = sample(scrape(port), kCoalesced);
  for (int i = 0; i < max && w->elsewhere < want; ++i) {
    SentRequest* out = &w->sent[static_cast<size_t>(i)];
    w->threads.emplace_back([=] { *out = send_with_id(port, "POST", path, body); });
    Samples s = scrape_until(port, [&](const Samples& x) { return sample(x, kCoalesced) >= before + i + 1; });
    if (sample(s, kCoalesced) != before + i + 1) {
      ADD_FAILURE() << "waiter " << i << " did not join the flight (coalesced: " << sample(s, kCoalesced) << ")";
      break;
    }
    w->elsewhere = 0;
    for (const auto& [pid, n] : sockets_on_port(pids, port, PortSide::kLocal)) {
      if (pid != leader_pid) w->elsewhere += n;
    }
  }
  w->sent.resize(w->threads.size());  // (no thread writes past its own entry)
  return w;
}

}  // namespace itest
