// Genkit's reflection API v1 and runtime file in dev mode
// (docs/genkit-protocols.md §2, §3) through the real binary: each server
// runs in a throw-away project folder (a package.json makes it the project
// root), so the .genkit/runtimes file it writes is the test's to read. What
// is checked: the file's content and life (written once ready, removed on
// SIGTERM, SIGINT, SIGQUIT and /api/__quitquitquit), the port choice in
// 3100-3200, nothing of it without GENKIT_ENV=dev, and every route the tools
// call — /api/actions, runAction plain and streamed (errors, unknown keys,
// tools, models, prompts), cancelAction (also of a real upstream call),
// values, envs, health by runtime id.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <regex>
#include <thread>

#include "tests/support/fake_llm_process.h"
#include "tests/support/reflection_support.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using genkit::Json;
using genkit::JsonView;

constexpr const char* kDraft07 = "http://json-schema.org/draft-07/schema#";
constexpr const char* kStory = "Echo: Write a short story (3-4 paragraphs) about a brave cat.";

void expect_version(const HttpResponse& r, const std::string& what) {
  EXPECT_EQ(r.header("x-genkit-version").value_or("").rfind("genkit-endpoints/", 0), 0u)
      << what << ": x-genkit-version " << r.header("x-genkit-version").value_or("<missing>") << " (HTTP "
      << r.status << " " << r.body << ")";
}

std::string health_path(const std::string& id) { return "/api/__health?id=" + id; }

// Milliseconds since the epoch of an ISO-8601 UTC time with milliseconds
// ("2026-11-21T18:10:51.295Z"); -1 when it is not one.
int64_t iso_ms(const std::string& s) {
  static const std::regex kIso(R"(^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$)");
  std::smatch m;
  if (!std::regex_match(s, m, kIso)) return -1;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  return static_cast<int64_t>(timegm(&tm)) * 1000 + std::stoi(m[7]);
}

// A listening socket on 127.0.0.1:`port` held by the test (-1 when taken).
int hold_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 4) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

// stop_dev_server, and the runtime file gone with the server.
void stop_dev(DevServer& dev) {
  stop_dev_server(dev);
  EXPECT_TRUE(dev.dir->runtime_files().empty()) << "the runtime file outlived the server";
}

// ---------------------------------------------------------------------------
// The runtime file: a server of its own per test.

TEST(ReflectionRuntimeFileTest, DescribesTheRuntimeAndItsUrlAnswers) {
  std::string why;
  auto dev = start_dev_server({}, &why);
  ASSERT_TRUE(dev) << why;
  const pid_t pid = dev->server->pid();
  const int port = dev->reflection_port();
  JsonView f = dev->runtime.json;
  const std::string pid_port = std::to_string(pid) + "-" + std::to_string(port);

  // <project root>/.genkit/runtimes/<pid>-<port>-<epochMs>.json
  EXPECT_EQ(dev->runtime.path, dev->dir->runtimes_dir() + "/" + dev->runtime.file_name);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(dev->runtime.file_name, m, std::regex("^" + pid_port + R"(-(\d{13})\.json$)")))
      << dev->runtime.file_name << " is not <pid>-<port>-<epochMs>.json for " << pid_port;
  const int64_t file_ms = std::stoll(m[1]);

  EXPECT_EQ(str(f["id"]), pid_port) << f.dump();
  ASSERT_TRUE(f["pid"].is_integer()) << f.dump();
  EXPECT_EQ(f["pid"].as_number(), pid) << "the pid is the supervisor's: " << f.dump();
  EXPECT_TRUE(f["name"].is_string() && !f["name"].as_string().empty()) << f.dump();
  EXPECT_EQ(str(f["reflectionServerUrl"]), "http://127.0.0.1:" + std::to_string(port));
  EXPECT_GE(port, 3100);
  EXPECT_LE(port, 3200);
  const int64_t stamp = iso_ms(str(f["timestamp"]));
  EXPECT_EQ(stamp, file_ms) << "timestamp " << str(f["timestamp"]) << " vs the file name's " << file_ms;
  const int64_t now_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;
  EXPECT_LT(std::llabs(now_ms - stamp), 120000) << "timestamp " << str(f["timestamp"]) << " is not now";
  EXPECT_TRUE(f["genkitVersion"].is_string() && !f["genkitVersion"].as_string().empty()) << f.dump();
  EXPECT_TRUE(f["reflectionApiSpecVersion"].is_integer()) << f.dump();
  EXPECT_EQ(f["reflectionApiSpecVersion"].as_number(), 1) << f.dump();

  // The URL answers, as the CLI checks it.
  for (const std::string& path : {std::string("/api/__health"), health_path(pid_port)}) {
    HttpResponse r = http_get(port, path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.reason << r.body;
    EXPECT_EQ(r.body, "OK") << path;
    expect_version(r, path);
  }
  HttpResponse wrong = http_get(port, health_path("wrong"));
  EXPECT_EQ(wrong.status, 503) << wrong.body;
  EXPECT_EQ(wrong.body, "Invalid runtime ID");
  expect_version(wrong, "?id=wrong");

  // Exactly the REST port and the reflection port listen; the REST port
  // serves no reflection route.
  EXPECT_EQ(listening_tcp_ports(pid), (std::set<int>{dev->rest_port(), port}));
  EXPECT_EQ(http_get(dev->rest_port(), "/api/__health").status, 404);
  EXPECT_EQ(http_get(dev->rest_port(), "/health").status, 200);
  EXPECT_TRUE(dev->server->wait_event("reflection_api", milliseconds(2000)));

  stop_dev(*dev);
  EXPECT_TRUE(connection_refused(port)) << "the reflection port outlived the server";
}

TEST(ReflectionRuntimeFileTest, RuntimeIdFromTheEnvironment) {
  std::string why;
  auto dev = start_dev_server({{"GENKIT_RUNTIME_ID", "itest-runtime-7"}}, &why);
  ASSERT_TRUE(dev) << why;
  const std::string pid_port = std::to_string(dev->server->pid()) + "-" + std::to_string(dev->reflection_port());
  EXPECT_EQ(str(dev->runtime.json["id"]), "itest-runtime-7") << dev->runtime.json.dump();
  EXPECT_EQ(dev->runtime.file_name.rfind(pid_port + "-", 0), 0u) << dev->runtime.file_name;

  HttpResponse ok = http_get(dev->reflection_port(), health_path("itest-runtime-7"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, "OK");
  for (const std::string& id : {std::string("wrong"), pid_port, std::string("itest-runtime-")}) {
    HttpResponse r = http_get(dev->reflection_port(), health_path(id));
    EXPECT_EQ(r.status, 503) << "?id=" << id << ": " << r.body;
    EXPECT_EQ(r.body, "Invalid runtime ID") << id;
    expect_version(r, "?id=" + id);
  }
  stop_dev(*dev);
}

// Sends `sig` to a dev server and checks it exits and takes its runtime file along.
void expect_file_removed_on(int sig, const char* name) {
  SCOPED_TRACE(name);
  std::string why;
  auto dev = start_dev_server({}, &why);
  ASSERT_TRUE(dev) << why;
  const int port = dev->reflection_port();
  ASSERT_EQ(http_get(port, "/api/__health").status, 200);
  ASSERT_TRUE(dev->server->signal(sig));
  std::optional<int> code = dev->server->wait_exit(milliseconds(15000));
  ASSERT_TRUE(code) << "the server did not exit after " << name;
  if (sig != SIGQUIT) {  // (SIGQUIT: a fast stop)
    EXPECT_EQ(*code, 0) << dev->server->stderr_text();
  }
  EXPECT_TRUE(dev->dir->runtime_files().empty()) << "the runtime file outlived " << name;
  EXPECT_TRUE(std::filesystem::is_directory(dev->dir->runtimes_dir())) << "(the folder itself stays)";
  EXPECT_TRUE(connection_refused(port));
  dev->server->wait_streams_closed(milliseconds(5000));
  EXPECT_TRUE(dev->server->sanitizer_findings().empty()) << dev->server->stderr_text();
}

TEST(ReflectionRuntimeFileTest, RemovedOnSigterm) { expect_file_removed_on(SIGTERM, "SIGTERM"); }
TEST(ReflectionRuntimeFileTest, RemovedOnSigint) { expect_file_removed_on(SIGINT, "SIGINT"); }
TEST(ReflectionRuntimeFileTest, RemovedOnSigquit) { expect_file_removed_on(SIGQUIT, "SIGQUIT"); }

TEST(ReflectionRuntimeFileTest, QuitQuitQuitStopsOnlyTheReflectionApi) {
  std::string why;
  auto dev = start_dev_server({}, &why);
  ASSERT_TRUE(dev) << why;
  const int port = dev->reflection_port();
  HttpResponse r = http_get(port, "/api/__quitquitquit");
  EXPECT_EQ(r.status, 200) << r.reason << r.body;
  EXPECT_EQ(r.body, "OK");
  expect_version(r, "/api/__quitquitquit");
  EXPECT_TRUE(wait_no_runtime_file(*dev->dir, milliseconds(5000))) << "the runtime file stayed";
  EXPECT_TRUE(FakeLlmProcess::eventually([&] { return connection_refused(port); }, milliseconds(5000)))
      << "the reflection port still accepts connections";
  EXPECT_TRUE(dev->server->wait_event("reflection_api_stopped", milliseconds(2000)));
  // The REST port serves on, from every worker.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(http_get(dev->rest_port(), "/health").status, 200);
    HttpResponse joke = http_post(dev->rest_port(), "/tell-joke", R"({"name":"Quit"})");
    EXPECT_EQ(joke.status, 200) << joke.body;
  }
  EXPECT_EQ(listening_tcp_ports(dev->server->pid()), std::set<int>{dev->rest_port()});
  stop_dev(*dev);
}

TEST(ReflectionRuntimeFileTest, NothingWithoutGenkitEnvDev) {
  for (const char* genkit_env : {"", "prod"}) {
    SCOPED_TRACE(std::string("GENKIT_ENV=") + genkit_env);
    ProjectDir dir;
    ServerOptions o;
    if (*genkit_env) o.env["GENKIT_ENV"] = genkit_env;
    o.cwd = dir.path();
    std::string why;
    auto server = start_server(o, &why);
    ASSERT_TRUE(server) << why;
    EXPECT_EQ(http_post(server->port(), "/tell-joke", "{}").status, 200);
    EXPECT_EQ(http_post(server->port(), "/tell_joke", R"({"data":{}})").status, 200);
    EXPECT_EQ(listening_tcp_ports(server->pid()), std::set<int>{server->port()})
        << "a server outside dev mode listens only on its REST port";
    EXPECT_EQ(http_get(server->port(), "/api/__health").status, 404);
    EXPECT_FALSE(dir.has_genkit_dir()) << "no runtime file (nor .genkit) outside dev mode";
    EXPECT_TRUE(server->events("reflection_api").empty());
    stop_and_check_sanitizers(server.get());
    EXPECT_FALSE(dir.has_genkit_dir());
  }
}

TEST(ReflectionRuntimeFileTest, BogusGenkitEnvFailsStartup) {
  ProjectDir dir;
  ServerProcess p;
  p.set_cwd(dir.path());
  Env env = base_env();
  env["GENKIT_ENV"] = "bogus";
  ASSERT_TRUE(p.spawn({"--port", "0", "--workers", "1", "--no-grpc"}, env)) << p.error();
  std::optional<int> code = p.wait_exit(milliseconds(10000));
  ASSERT_TRUE(code) << "GENKIT_ENV=bogus must fail start-up";
  EXPECT_NE(*code, 0);
  p.wait_streams_closed(milliseconds(3000));
  const std::string said = p.stderr_text() + p.stdout_text();
  EXPECT_NE(said.find("GENKIT_ENV"), std::string::npos) << said;
  EXPECT_TRUE(p.events("ready").empty()) << said;
  EXPECT_FALSE(dir.has_genkit_dir());
}

// ---------------------------------------------------------------------------
// Port choice: 3100 taken (by the test, or by whoever has it) → the next free one.

TEST(ReflectionPortTest, TakesTheNextFreePortAndSaysSo) {
  const int held = hold_port(3100);
  std::string why;
  auto first = start_dev_server({}, &why);
  ASSERT_TRUE(first) << why;
  auto second = start_dev_server({}, &why);
  ASSERT_TRUE(second) << why;
  const int a = first->reflection_port(), b = second->reflection_port();
  if (held >= 0) {
    EXPECT_NE(a, 3100) << "3100 is held by the test";
  }
  EXPECT_NE(a, b);
  for (int p : {a, b}) {
    EXPECT_GE(p, held >= 0 ? 3101 : 3100);
    EXPECT_LE(p, 3200);
  }
  // Each file names its own server: its id answers there and nowhere else.
  const std::string id_a = str(first->runtime.json["id"]), id_b = str(second->runtime.json["id"]);
  EXPECT_EQ(http_get(a, health_path(id_a)).status, 200);
  EXPECT_EQ(http_get(b, health_path(id_b)).status, 200);
  EXPECT_EQ(http_get(a, health_path(id_b)).status, 503);
  EXPECT_EQ(http_get(b, health_path(id_a)).status, 503);
  EXPECT_EQ(listening_tcp_ports(second->server->pid()), (std::set<int>{second->rest_port(), b}));
  if (held >= 0) {
    // The held socket is still the test's: the servers did not take it over.
    EXPECT_FALSE(listening_tcp_ports(first->server->pid()).count(3100));
    EXPECT_FALSE(listening_tcp_ports(second->server->pid()).count(3100));
  }
  stop_dev(*second);
  stop_dev(*first);
  if (held >= 0) close(held);
}

// ---------------------------------------------------------------------------
// The routes, on one dev server for the suite (API keys on: the reflection
// port ignores them).

constexpr const char* kApiKey = "reflection-suite-key";

class ReflectionApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dev() = start_dev_server({{"API_KEYS", kApiKey}}, &why()); }
  static void TearDownTestSuite() {
    if (dev()) stop_dev(*dev());
    dev().reset();
  }
  void SetUp() override { ASSERT_TRUE(dev()) << "dev server did not start: " << why(); }

  static int port() { return dev()->reflection_port(); }
  static std::unique_ptr<DevServer>& dev() {
    static std::unique_ptr<DevServer> d;
    return d;
  }
  static std::string& why() {
    static std::string w;
    return w;
  }

  // A plain runAction that succeeded: checks the head and the body, returns the result.
  static Json run_ok(const std::string& body, std::string* trace_id = nullptr) {
    HttpResponse r = run_action(port(), body);
    EXPECT_EQ(r.status, 200) << body << ": " << r.reason << r.body;
    expect_version(r, body);
    EXPECT_EQ(r.header("content-type").value_or("").rfind("application/json", 0), 0u) << body;
    const std::string trace = r.header("x-genkit-trace-id").value_or("");
    EXPECT_TRUE(is_hex_id(trace, 32)) << body << ": X-Genkit-Trace-Id " << trace;
    EXPECT_TRUE(is_hex_id(r.header("x-genkit-span-id").value_or(""), 16)) << body;
    Json j = json_of(r);
    EXPECT_FALSE(j["error"].present()) << body << ": " << r.body;
    EXPECT_TRUE(j["result"].present()) << body << ": " << r.body;
    EXPECT_EQ(str(j["telemetry"]["traceId"]), trace) << r.body;
    EXPECT_EQ(j.view().size(), 2u) << r.body;
    if (trace_id) *trace_id = trace;
    return Json::copy_of(j["result"]);
  }

  // A runAction that failed before its trace started: HTTP 200 and an error
  // body with code 13 (docs/genkit-protocols.md §2) and no trace id.
  static Json run_error_before_trace(const std::string& body, bool stream = false) {
    HttpResponse r = run_action(port(), body, stream);
    EXPECT_EQ(r.status, 200) << body << ": " << r.reason << r.body;
    expect_version(r, body);
    EXPECT_FALSE(r.has_header("x-genkit-trace-id")) << body << ": the trace never started";
    Json j = json_of(r);
    EXPECT_FALSE(j["result"].present()) << r.body;
    EXPECT_TRUE(j["error"].is_object()) << body << ": " << r.body;
    EXPECT_EQ(j["error"]["code"].as_number(), 13) << body << ": " << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string() && !j["error"]["message"].as_string().empty()) << r.body;
    EXPECT_FALSE(j["error"]["details"]["traceId"].present()) << r.body;
    return Json::copy_of(j["error"]);
  }
};

TEST_F(ReflectionApiTest, ActionsListsFlowsToolsModelsAndPrompts) {
  HttpResponse r = http_get(port(), "/api/actions");
  ASSERT_EQ(r.status, 200) << r.reason << r.body;
  expect_version(r, "/api/actions");
  EXPECT_EQ(r.header("content-type").value_or("").rfind("application/json", 0), 0u);
  Json all = json_of(r);
  ASSERT_TRUE(all.view().is_object()) << r.body;
  all.view().for_each([&](std::string_view key, JsonView a) {
    EXPECT_EQ(a["key"].as_string(), key) << a.dump();
    EXPECT_TRUE(a["name"].is_string()) << a.dump();
    EXPECT_EQ(a["inputSchema"]["$schema"].as_string(), kDraft07) << key;
  });

  JsonView joke = all["/flow/tell_joke"];
  ASSERT_TRUE(joke.is_object()) << r.body;
  EXPECT_EQ(str(joke["name"]), "tell_joke");
  EXPECT_EQ(str(joke["inputSchema"]["$schema"]), kDraft07);
  EXPECT_EQ(joke["inputSchema"]["properties"]["name"]["maxLength"].as_number(), 200) << joke.dump();
  EXPECT_EQ(str(joke["outputSchema"]["$schema"]), kDraft07) << joke.dump();
  EXPECT_FALSE(joke["metadata"].present()) << "flows have no metadata: " << joke.dump();
  for (const char* flow : {"/flow/tell_story", "/flow/translate_text", "/flow/pirate_chat"}) {
    EXPECT_TRUE(all[flow].is_object()) << flow;
  }

  for (const char* key : {"/tool/get_current_time", "/tool.v2/get_current_time"}) {
    JsonView tool = all[key];
    ASSERT_TRUE(tool.is_object()) << key << " in " << r.body;
    EXPECT_EQ(str(tool["name"]), "get_current_time");
    EXPECT_FALSE(str(tool["description"]).empty()) << tool.dump();
    EXPECT_EQ(str(tool["metadata"]["type"]), "tool") << tool.dump();
  }

  JsonView model = all["/model/mock/echo"];
  ASSERT_TRUE(model.is_object()) << r.body;
  EXPECT_EQ(str(model["name"]), "mock/echo");
  EXPECT_TRUE(model["metadata"]["model"].is_object()) << model.dump();

  for (const char* key : {"/prompt/code_review", "/executable-prompt/code_review"}) {
    JsonView prompt = all[key];
    ASSERT_TRUE(prompt.is_object()) << key << " in " << r.body;
    EXPECT_EQ(str(prompt["metadata"]["type"]), "prompt") << prompt.dump();
    EXPECT_EQ(str(prompt["metadata"]["prompt"]["name"]), "code_review") << prompt.dump();
  }
}

TEST_F(ReflectionApiTest, EveryResponseCarriesTheGenkitVersion) {
  for (const std::string path : {"/api/__health", "/api/actions", "/api/envs", "/api/values?type=defaultModel",
                                  "/api/values", "/api/nope", "/", "/health"}) {
    expect_version(http_get(port(), path), "GET " + path);
  }
  HttpResponse nope = http_get(port(), "/api/nope");
  EXPECT_EQ(nope.status, 404) << nope.body;
  expect_version(http_post(port(), "/api/cancelAction", "{}"), "cancelAction 400");
  expect_version(http_post(port(), "/api/cancelAction", R"({"traceId":"0123"})"), "cancelAction 404");
  expect_version(run_action(port(), R"({"key":"/flow/nope"})"), "runAction 404");
  expect_version(http_post(port(), "/api/notify", R"({"reflectionApiSpecVersion":1})"), "notify");
  expect_version(http_post(port(), "/api/actions", "{}"), "POST /api/actions");
}

TEST_F(ReflectionApiTest, EnvsAndValues) {
  HttpResponse envs = http_get(port(), "/api/envs");
  EXPECT_EQ(envs.status, 200);
  EXPECT_EQ(json_of(envs).dump(), R"(["dev"])");

  HttpResponse model = http_get(port(), "/api/values?type=defaultModel");
  EXPECT_EQ(model.status, 200) << model.body;
  EXPECT_EQ(json_of(model).dump(), R"({"defaultModel":"mock/echo"})");
  HttpResponse middleware = http_get(port(), "/api/values?type=middleware");
  EXPECT_EQ(middleware.status, 200) << middleware.body;
  EXPECT_EQ(json_of(middleware).dump(), "{}");
  for (const char* path : {"/api/values", "/api/values?type=", "/api/values?type=nonsense"}) {
    HttpResponse r = http_get(port(), path);
    EXPECT_EQ(r.status, 400) << path << ": " << r.body;
    expect_version(r, path);
  }
}

TEST_F(ReflectionApiTest, RunFlowPlain) {
  std::string trace;
  Json result = run_ok(R"({"key":"/flow/tell_joke","input":{"name":"cats"}})", &trace);
  EXPECT_EQ(str(result), "Echo: Tell a medium-length joke about cats for user anonymous.") << result.dump();
  std::string other;
  run_ok(R"({"key":"/flow/tell_joke","input":{"name":"cats"}})", &other);
  EXPECT_NE(trace, other) << "every run is a trace of its own";
  // A missing input means the schema's defaults; input null too.
  EXPECT_EQ(str(run_ok(R"({"key":"/flow/tell_story"})")), kStory);
  EXPECT_EQ(str(run_ok(R"({"key":"/flow/tell_story","input":null})")), kStory);
  // A structured output comes back as the object it is.
  Json tr = run_ok(R"({"key":"/flow/translate_text","input":{"text":"Hello there","target_language":"German"}})");
  EXPECT_TRUE(tr["translated_text"].is_string()) << tr.dump();
}

TEST_F(ReflectionApiTest, RunFlowStreamed) {
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw(build_request("POST", "/api/runAction?stream=true",
                                       R"({"key":"/flow/tell_story","input":{"topic":"a brave cat"}})",
                                       {{"Content-Type", "application/json"}})))
      << c.error();
  std::optional<HttpResponse> head = c.read_head(milliseconds(5000));
  ASSERT_TRUE(head) << c.error();
  EXPECT_EQ(head->status, 200);
  expect_version(*head, "stream");
  EXPECT_EQ(head->header("content-type").value_or("").rfind("text/plain", 0), 0u)
      << head->header("content-type").value_or("<missing>");
  const std::string trace = head->header("x-genkit-trace-id").value_or("");
  EXPECT_TRUE(is_hex_id(trace, 32)) << trace;
  bool ended = false;
  std::string body = read_rest_of_body(c, milliseconds(10000), &ended);
  ASSERT_TRUE(ended) << "the stream did not end: " << body;
  ASSERT_FALSE(body.empty());
  EXPECT_NE(body.back(), '\n') << "the final line has no trailing newline";

  std::vector<std::string> lines;
  for (size_t pos = 0; pos <= body.size();) {
    size_t nl = body.find('\n', pos);
    lines.push_back(body.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  ASSERT_GE(lines.size(), 3u) << "chunks, then the result: " << body;
  std::string joined;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    genkit::Result<Json> chunk = Json::parse(lines[i]);
    ASSERT_TRUE(chunk.ok() && chunk->view().is_string()) << "line " << i << " is no JSON string: " << lines[i];
    joined += str(chunk->view());
  }
  genkit::Result<Json> last = Json::parse(lines.back());
  ASSERT_TRUE(last.ok()) << lines.back();
  EXPECT_EQ(str(last->view()["result"]), kStory) << lines.back();
  EXPECT_EQ(str(last->view()["telemetry"]["traceId"]), trace) << lines.back();
  EXPECT_EQ(joined, kStory) << "the chunks make the result";

  // A model streams GenerateResponseChunk objects.
  HttpResponse m = run_action(port(), R"({"key":"/model/mock/echo","input":{"messages":[{"role":"user","content":[{"text":"one two three"}]}]}})", true);
  ASSERT_EQ(m.status, 200) << m.reason << m.body;
  size_t last_nl = m.body.rfind('\n');
  ASSERT_NE(last_nl, std::string::npos) << m.body;
  genkit::Result<Json> first = Json::parse(m.body.substr(0, m.body.find('\n')));
  ASSERT_TRUE(first.ok()) << m.body;
  EXPECT_EQ(str(first->view()["role"]), "model") << m.body;
  EXPECT_TRUE(first->view()["content"].at(0)["text"].is_string()) << m.body;
  genkit::Result<Json> fin = Json::parse(m.body.substr(last_nl + 1));
  ASSERT_TRUE(fin.ok()) << m.body;
  EXPECT_EQ(str(fin->view()["result"]["message"]["content"].at(0)["text"]), "Echo: one two three") << m.body;
}

// Input that fails the schema, a body that is not JSON: HTTP 200 with an
// error, code 13 and no trace id, as §2 says of errors before the trace starts.
TEST_F(ReflectionApiTest, ErrorsBeforeTheTraceStarts) {
  Json e = run_error_before_trace(R"({"key":"/flow/tell_joke","input":{"name":5}})");
  EXPECT_NE(str(e["message"]).find("name"), std::string::npos) << e.dump();
  run_error_before_trace(R"({"key":"/flow/tell_joke","input":{"name":")" + std::string(201, 'x') + R"("}})");
  for (const char* body : {"{nope", "[1,2]", R"({"key":"/flow/tell_joke","input":)"}) {
    run_error_before_trace(body);
  }
  run_error_before_trace(R"({"key":"/flow/tell_story","input":{"topic":""}})", true);  // (streamed: the same)
  run_error_before_trace(R"({"key":"/model/mock/echo","input":{"messages":[]}})");
  run_error_before_trace(R"({"key":"/prompt/code_review","input":{"language":"python"}})");
  // The server is fine afterwards.
  EXPECT_EQ(str(run_ok(R"({"key":"/flow/tell_joke","input":{"name":"again"}})")),
            "Echo: Tell a medium-length joke about again for user anonymous.");
}

TEST_F(ReflectionApiTest, UnknownKeyIs404Text) {
  HttpResponse r = run_action(port(), R"({"key":"/flow/nope","input":{}})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.body, "action /flow/nope not found");
  EXPECT_EQ(r.header("content-type").value_or("").rfind("text/plain", 0), 0u);
  expect_version(r, "unknown key");
  for (const char* key : {"/model/nope/none", "/tool/nope", "/prompt/nope", "/bogus/tell_joke"}) {
    HttpResponse n = run_action(port(), std::string(R"({"key":")") + key + R"(","input":{}})", true);
    EXPECT_EQ(n.status, 404) << key << ": " << n.body;
    EXPECT_EQ(n.body, std::string("action ") + key + " not found");
  }
}

// The reflection port has none of the public gates: no API key, and the
// context goes to the flow as it is (genkit_traces_test sees it in the trace).
TEST_F(ReflectionApiTest, ApiKeysDoNotApply) {
  HttpResponse rest = http_post(dev()->rest_port(), "/tell_joke", R"({"data":{}})");
  EXPECT_EQ(rest.status, 401) << "API_KEYS is on for the REST port: " << rest.body;
  Json out = run_ok(R"({"key":"/flow/tell_joke","input":{"name":"Keyless"},"context":{"auth":{"apiKey":"nope"}}})");
  EXPECT_EQ(str(out), "Echo: Tell a medium-length joke about Keyless for user anonymous.");
  run_ok(R"({"key":"/flow/tell_joke","input":{},"context":null})");
  run_ok(R"({"key":"/flow/tell_joke","input":{}})");
}

TEST_F(ReflectionApiTest, RunTool) {
  for (const char* key : {"/tool/get_current_time", "/tool.v2/get_current_time"}) {
    Json out = run_ok(std::string(R"({"key":")") + key + R"(","input":{}})");
    EXPECT_TRUE(out.view().is_string()) << key << ": " << out.dump();
    EXPECT_FALSE(str(out).empty()) << key;
  }
}

TEST_F(ReflectionApiTest, RunModel) {
  Json out = run_ok(R"({"key":"/model/mock/echo","input":{"messages":[{"role":"user","content":[{"text":"hi"}]}]}})");
  EXPECT_EQ(str(out["message"]["role"]), "model") << out.dump();
  EXPECT_EQ(str(out["message"]["content"].at(0)["text"]), "Echo: hi") << out.dump();
  EXPECT_TRUE(out["finishReason"].is_string()) << out.dump();
}

TEST_F(ReflectionApiTest, RunPrompt) {
  Json out = run_ok(R"({"key":"/prompt/code_review","input":{"code":"def add(a, b):\n    return a + b","language":"python"}})");
  ASSERT_TRUE(out["messages"].is_array()) << out.dump();
  ASSERT_GE(out["messages"].size(), 1u) << out.dump();
  std::string text;
  out["messages"].for_each([&](std::string_view, JsonView m) {
    m["content"].for_each([&](std::string_view, JsonView part) { text += str(part["text"]); });
  });
  EXPECT_NE(text.find("python code"), std::string::npos) << text;
  EXPECT_NE(text.find("return a + b"), std::string::npos) << text;
  EXPECT_EQ(text.find("{{"), std::string::npos) << "rendered: " << text;
  EXPECT_TRUE(out["model"].is_string()) << out.dump();
  EXPECT_EQ(str(out["output"]["format"]), "json") << out.dump();

  Json ran = run_ok(R"({"key":"/executable-prompt/code_review","input":{"code":"x = 1"}})");
  EXPECT_EQ(str(ran["message"]["role"]), "model") << ran.dump();
  EXPECT_TRUE(ran["output"].is_object()) << "the structured output: " << ran.dump();
}

TEST_F(ReflectionApiTest, CancelActionAnswers) {
  HttpResponse none = http_post(port(), "/api/cancelAction", "{}");
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(json_of(none).dump(), R"({"error":"traceId is required"})");
  HttpResponse bad = http_post(port(), "/api/cancelAction", "{nope");
  EXPECT_EQ(bad.status, 400) << bad.body;
  HttpResponse unknown = http_post(port(), "/api/cancelAction", R"({"traceId":"0123456789abcdef0123456789abcdef"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json_of(unknown).dump(), R"({"message":"Action not found or already completed"})");
  // A run that has ended is not running any more.
  std::string trace;
  run_ok(R"({"key":"/flow/tell_joke","input":{}})", &trace);
  HttpResponse done = http_post(port(), "/api/cancelAction", R"({"traceId":")" + trace + R"("})");
  EXPECT_EQ(done.status, 404) << done.body;
}

// ---------------------------------------------------------------------------
// cancelAction of a run in flight.

struct StartedRun {
  HttpClient client;
  std::string trace_id;
};

// Sends a runAction and reads its head (which goes out as the trace starts).
void start_run(int port, const std::string& body, bool stream, StartedRun* run) {
  ASSERT_TRUE(run->client.connect(port)) << run->client.error();
  ASSERT_TRUE(run->client.send_raw(build_request("POST", stream ? "/api/runAction?stream=true" : "/api/runAction",
                                                 body, {{"Content-Type", "application/json"}})))
      << run->client.error();
  std::optional<HttpResponse> head = run->client.read_head(milliseconds(5000));
  ASSERT_TRUE(head) << "no head before the run ended: " << run->client.error();
  ASSERT_EQ(head->status, 200);
  run->trace_id = head->header("x-genkit-trace-id").value_or("");
  ASSERT_TRUE(is_hex_id(run->trace_id, 32)) << run->trace_id;
}

// Cancels `run` and checks how it ends: {"error":{"code":1,...}} as its last line, soon.
void cancel_and_check(int port, StartedRun& run, bool stream) {
  auto t0 = Clock::now();
  HttpResponse cancel = http_post(port, "/api/cancelAction", R"({"traceId":")" + run.trace_id + R"("})");
  EXPECT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(json_of(cancel).dump(), R"({"message":"Action cancelled"})");
  expect_version(cancel, "cancelAction");
  bool ended = false;
  std::string body = read_rest_of_body(run.client, milliseconds(5000), &ended);
  EXPECT_TRUE(ended) << "the cancelled run's body did not end: " << body;
  EXPECT_LT(Clock::now() - t0, milliseconds(4000)) << "the cancelled run took its time to end";  // (uncancelled: 5 s)
  ASSERT_FALSE(body.empty());
  EXPECT_NE(body.back(), '\n');
  size_t nl = body.rfind('\n');
  std::string last = nl == std::string::npos ? body : body.substr(nl + 1);
  if (!stream) {
    EXPECT_EQ(nl, std::string::npos) << "a plain run's body is one JSON value: " << body;
  }
  genkit::Result<Json> j = Json::parse(last);
  ASSERT_TRUE(j.ok()) << body;
  EXPECT_FALSE(j->view()["result"].present()) << body;
  EXPECT_EQ(j->view()["error"]["code"].as_number(), 1) << body;
  EXPECT_EQ(str(j->view()["error"]["message"]), "Action was cancelled") << body;
  EXPECT_EQ(str(j->view()["error"]["details"]["traceId"]), run.trace_id) << body;
  if (nl != std::string::npos) {
    for (size_t pos = 0; pos < nl;) {
      size_t e = body.find('\n', pos);
      genkit::Result<Json> chunk = Json::parse(body.substr(pos, e - pos));
      EXPECT_TRUE(chunk.ok()) << "chunk line: " << body.substr(pos, e - pos);
      pos = e + 1;
    }
  }
  HttpResponse again = http_post(port, "/api/cancelAction", R"({"traceId":")" + run.trace_id + R"("})");
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_EQ(json_of(again).dump(), R"({"message":"Action not found or already completed"})");
}

TEST(ReflectionCancelTest, CancelsAStreamingMockRun) {
  std::string why;
  auto dev = start_dev_server({{"MOCK_CHUNK_DELAY_MS", "1000"}}, &why);
  ASSERT_TRUE(dev) << why;
  StartedRun run;
  start_run(dev->reflection_port(), R"({"key":"/flow/tell_story","input":{}})", true, &run);
  if (HasFatalFailure()) return;
  cancel_and_check(dev->reflection_port(), run, true);
  // The server is fine afterwards (a model run streams nothing slow).
  HttpResponse ok = run_action(dev->reflection_port(),
                               R"({"key":"/model/mock/echo","input":{"messages":[{"role":"user","content":[{"text":"hi"}]}]}})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(json_of(ok)["result"]["message"].is_object()) << ok.body;
  stop_dev(*dev);
}

// With a real upstream: the cancelled run's model call is torn down (the
// fake sees its client close), plain or streamed.
TEST(ReflectionCancelTest, CancelAbortsTheUpstreamCall) {
  FakeLlmProcess fake;
  ASSERT_TRUE(fake.start()) << fake.error();
  std::string why;
  auto dev = start_dev_server({{"GEMINI_API_KEY", "test-key"},
                               {"GEMINI_BASE_URL", fake.base_url()},
                               {"CACHE_ENABLED", "false"},
                               {"CB_ENABLED", "false"}},
                              &why);
  ASSERT_TRUE(dev) << why;
  for (bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "streamed" : "plain");
    ASSERT_TRUE(fake.reset()) << fake.error();
    ASSERT_TRUE(fake.script(R"({"hang":true})")) << fake.error();
    StartedRun run;
    start_run(dev->reflection_port(), R"({"key":"/flow/tell_joke","input":{"name":"Hang"}})", stream, &run);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(FakeLlmProcess::eventually([&] { return fake.model_requests().size() == 1; }, milliseconds(5000)))
        << "the model call never reached the fake: " << fake.requests().dump();
    EXPECT_FALSE(fake.model_requests()[0]["client_closed"].as_bool()) << "the call hangs until cancelled";
    cancel_and_check(dev->reflection_port(), run, stream);
    bool closed = FakeLlmProcess::eventually(
        [&] {
          std::vector<Json> calls = fake.model_requests();
          return calls.size() == 1 && calls[0]["client_closed"].as_bool();
        },
        milliseconds(3000));
    EXPECT_TRUE(closed) << "the upstream call outlived the cancelled run: " << fake.requests().dump();
  }
  stop_dev(*dev);
}

}  // namespace
}  // namespace itest
