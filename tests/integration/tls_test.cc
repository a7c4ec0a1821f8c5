// TLS on the HTTP port (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE), checked
// with the clients users have: curl and openssl s_client. The suite makes
// its own CA and certificates with `openssl req`.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/command.h"
#include "tests/support/test_util.h"

namespace itest {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kToolTimeout{15000};

// A private CA, a server certificate for localhost/127.0.0.1 and a client
// certificate, all signed by the CA; made once per test run.
struct Pki {
  std::string dir;
  std::string path(const std::string& name) const { return dir + "/" + name; }
};

bool openssl(const std::vector<std::string>& args, std::string* why) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = run_command(argv, kToolTimeout);
  if (r.exit_code == std::optional<int>(0)) return true;
  *why = "openssl " + args[0] + " failed: " + r.err;
  return false;
}

// A key and a certificate named `stem` with common name `cn`, signed by the CA.
bool make_signed(const Pki& pki, const std::string& stem, const std::string& cn, const std::string& ext,
                 std::string* why) {
  std::ofstream(pki.path(stem + ".ext")) << ext;
  return openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                  pki.path(stem + "-key.pem"), "-out", pki.path(stem + ".csr"), "-subj", "/CN=" + cn},
                 why) &&
         openssl({"x509", "-req", "-in", pki.path(stem + ".csr"), "-CA", pki.path("ca.pem"), "-CAkey",
                  pki.path("ca-key.pem"), "-CAcreateserial", "-days", "2", "-out", pki.path(stem + ".pem"),
                  "-extfile", pki.path(stem + ".ext")},
                 why);
}

const Pki& pki() {
  static Pki p = [] {
    Pki made;
    char tmpl[] = "/tmp/genkit-tls-XXXXXX";
    made.dir = mkdtemp(tmpl);
    std::string why;
    bool ok = openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                       "-keyout", made.path("ca-key.pem"), "-out", made.path("ca.pem"), "-days", "2", "-subj",
                       "/CN=genkit-endpoints test CA"},
                      &why) &&
              make_signed(made, "server", "first", "subjectAltName=DNS:localhost,IP:127.0.0.1\n", &why) &&
              make_signed(made, "renewed", "second", "subjectAltName=DNS:localhost,IP:127.0.0.1\n", &why) &&
              make_signed(made, "client", "a client", "extendedKeyUsage=clientAuth\n", &why);
    EXPECT_TRUE(ok) << why;
    return made;
  }();
  return p;
}

ServerOptions tls_options(const Env& extra = {}) {
  ServerOptions o;
  o.env = {{"TLS_CERT_FILE", pki().path("server.pem")}, {"TLS_KEY_FILE", pki().path("server-key.pem")}};
  for (const auto& [k, v] : extra) o.env[k] = v;
  return o;
}

std::string url(int port, const std::string& path) { return "https://127.0.0.1:" + std::to_string(port) + path; }

// curl with the test CA; -i: the head too, -sS: errors only.
CommandResult curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"curl", "-sS", "-i", "--max-time", "10", "--cacert", pki().path("ca.pem")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, kToolTimeout);
}

// What `openssl s_client` reports for one handshake (and the reply to `input`).
CommandResult s_client(int port, const std::vector<std::string>& args, const std::string& input = "Q\n") {
  std::vector<std::string> argv{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                                "-CAfile", pki().path("ca.pem"), "-servername", "localhost"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, kToolTimeout, input);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class TlsTest : public SharedServerTest<TlsTest> {
 public:
  static ServerOptions options() { return tls_options(); }
};

TEST_F(TlsTest, HealthOverHttp11CarriesHsts) {
  CommandResult r = curl({"--http1.1", url(port(), "/health")});
  ASSERT_EQ(r.exit_code, std::optional<int>(0)) << r.err;
  EXPECT_TRUE(contains(r.out, "HTTP/1.1 200 OK")) << r.out;
  EXPECT_TRUE(contains(r.out, "{\"status\":\"ok\"}")) << r.out;
  EXPECT_TRUE(contains(r.out, "Strict-Transport-Security: max-age=31536000; includeSubDomains")) << r.out;
  EXPECT_TRUE(contains(r.out, "X-Content-Type-Options: nosniff")) << r.out;
}

TEST_F(TlsTest, FlowAndSseStreamOverTls) {
  CommandResult joke = curl({"--http1.1", "-d", "{\"name\":\"TLS\"}", url(port(), "/tell-joke")});
  ASSERT_EQ(joke.exit_code, std::optional<int>(0)) << joke.err;
  EXPECT_TRUE(contains(joke.out, "HTTP/1.1 200")) << joke.out;
  EXPECT_TRUE(contains(joke.out, "\"joke\"")) << joke.out;
  CommandResult sse = curl({"--http1.1", "-N", "-d", "{\"topic\":\"tls\"}", url(port(), "/tell-story/stream")});
  ASSERT_EQ(sse.exit_code, std::optional<int>(0)) << sse.err;
  EXPECT_TRUE(contains(sse.out, "text/event-stream")) << sse.out;
  EXPECT_TRUE(contains(sse.out, "data: {\"chunk\"")) << sse.out;
  EXPECT_TRUE(contains(sse.out, "\"done\": true")) << sse.out;
}

TEST_F(TlsTest, AlpnChoosesH2WhenOfferedAndHttp11Otherwise) {
  CommandResult h2 = s_client(port(), {"-alpn", "h2,http/1.1"});
  EXPECT_TRUE(contains(h2.out, "ALPN protocol: h2")) << h2.out << h2.err;
  CommandResult h1 = s_client(port(), {"-alpn", "http/1.1"});
  EXPECT_TRUE(contains(h1.out, "ALPN protocol: http/1.1")) << h1.out << h1.err;
  // A client that offers only protocols we do not speak gets no ALPN answer
  // (and may still talk HTTP/1.1); one that offers none still connects.
  CommandResult other = s_client(port(), {"-alpn", "spdy/3"});
  EXPECT_TRUE(contains(other.out, "No ALPN negotiated")) << other.out << other.err;
  CommandResult none = curl({"--http1.1", "--no-alpn", url(port(), "/health")});
  ASSERT_EQ(none.exit_code, std::optional<int>(0)) << none.err;
  EXPECT_TRUE(contains(none.out, "HTTP/1.1 200")) << none.out;
}

TEST_F(TlsTest, OnlyTls12AndNewerAreAccepted) {
  // (SECLEVEL=0: the client itself would otherwise refuse TLS 1.1 first.)
  CommandResult old = s_client(port(), {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
  EXPECT_TRUE(contains(old.out + old.err, "alert protocol version")) << old.out << old.err;
  EXPECT_TRUE(contains(old.out, "Cipher is (NONE)")) << old.out;
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    CommandResult r = s_client(port(), {version});
    EXPECT_TRUE(contains(r.out, "Verify return code: 0 (ok)")) << version << "\n" << r.out << r.err;
    EXPECT_TRUE(contains(r.out, version == std::string("-tls1_2") ? "New, TLSv1.2" : "New, TLSv1.3")) << r.out;
  }
}

TEST_F(TlsTest, PipelinedRequestsInOneRecordAreAllAnswered) {
  // Three requests in one write: one TLS record, decrypted at once; the
  // ones OpenSSL keeps buffered raise no socket event and must not stall.
  std::string requests;
  for (int i = 0; i < 3; ++i) requests += build_request("GET", "/health", {}, {{"X-Request-ID", "pipe-" + std::to_string(i)}});
  requests += build_request("GET", "/health", {}, {{"Connection", "close"}});
  CommandResult r = s_client(port(), {"-quiet", "-ign_eof"}, requests);
  int answered = 0;
  for (std::size_t at = 0; (at = r.out.find("HTTP/1.1 200 OK", at)) != std::string::npos; ++at) ++answered;
  EXPECT_EQ(answered, 4) << r.out << r.err;
  EXPECT_LT(r.out.find("pipe-0"), r.out.find("pipe-2")) << r.out;
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortGets400AndTheServerKeepsServing) {
  HttpClient c(port());
  ASSERT_TRUE(c.send_raw(build_request("GET", "/health"))) << c.error();
  std::optional<HttpResponse> plain = c.read_response(milliseconds(3000));
  ASSERT_TRUE(plain) << c.error();
  EXPECT_EQ(plain->status, 400);
  EXPECT_TRUE(contains(plain->body, "use https://")) << plain->body;
  CommandResult r = curl({"--http1.1", url(port(), "/health")});
  EXPECT_TRUE(contains(r.out, "HTTP/1.1 200")) << r.out << r.err;
}

TEST(TlsClientCertificates, RequiredWhenTlsCaFileIsSet) {
  std::string why;
  auto server = start_server(tls_options({{"TLS_CA_FILE", pki().path("ca.pem")}}), &why);
  ASSERT_TRUE(server) << why;
  CommandResult anonymous = curl({"--http1.1", url(server->port(), "/health")});
  EXPECT_NE(anonymous.exit_code, std::optional<int>(0)) << anonymous.out;
  EXPECT_FALSE(contains(anonymous.out, "200")) << anonymous.out;
  CommandResult known = curl({"--http1.1", "--cert", pki().path("client.pem"), "--key", pki().path("client-key.pem"),
                              url(server->port(), "/health")});
  ASSERT_EQ(known.exit_code, std::optional<int>(0)) << known.err;
  EXPECT_TRUE(contains(known.out, "HTTP/1.1 200")) << known.out;
  EXPECT_EQ(server->stop(), std::optional<int>(0));
}

TEST(TlsReload, SighupReReadsTheCertificateAndKeepsTheOldOneWhenTheNewIsBad) {
  // The server's files are copies: the test replaces them as a renewal would.
  std::string dir = pki().dir + "/live-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  auto copy = [&](const std::string& from, const std::string& to) {
    std::ifstream in(pki().path(from), std::ios::binary);
    std::ofstream(dir + "/" + to, std::ios::binary) << in.rdbuf();
  };
  copy("server.pem", "cert.pem");
  copy("server-key.pem", "key.pem");
  ServerOptions o;
  o.env = {{"TLS_CERT_FILE", dir + "/cert.pem"}, {"TLS_KEY_FILE", dir + "/key.pem"}};
  std::string why;
  auto server = start_server(o, &why);
  ASSERT_TRUE(server) << why;
  EXPECT_TRUE(contains(s_client(server->port(), {}).out, "CN = first"));

  // A key that does not match the certificate: refused, the old one serves on.
  copy("renewed.pem", "cert.pem");
  ASSERT_TRUE(server->signal(SIGHUP));
  auto refused = server->wait_event("reload_failed_keeping_config", milliseconds(10000));
  ASSERT_TRUE(refused) << server->stdout_text();
  EXPECT_TRUE(contains(refused->view()["reason"].dump(), "TLS_KEY_FILE")) << refused->dump();
  EXPECT_TRUE(contains(s_client(server->port(), {}).out, "CN = first"));

  copy("renewed-key.pem", "key.pem");
  ASSERT_TRUE(server->signal(SIGHUP));
  ASSERT_TRUE(server->wait_event("reload_new_workers_ready", milliseconds(10000))) << server->stdout_text();
  ASSERT_TRUE(server->wait_event_count("worker_exited", 2, milliseconds(10000))) << server->stdout_text();
  EXPECT_TRUE(contains(s_client(server->port(), {}).out, "CN = second"));
  EXPECT_EQ(server->stop(), std::optional<int>(0));
}

TEST(TlsConfig, BadSettingsAreClearStartUpErrors) {
  struct Case {
    Env env;
    std::string says;
  } cases[] = {
      {{{"TLS_CERT_FILE", pki().path("server.pem")}}, "TLS_KEY_FILE"},
      {{{"TLS_KEY_FILE", pki().path("server-key.pem")}}, "TLS_CERT_FILE"},
      {{{"TLS_CERT_FILE", "/nonexistent/cert.pem"}, {"TLS_KEY_FILE", pki().path("server-key.pem")}},
       "TLS_CERT_FILE"},
      {{{"TLS_CERT_FILE", pki().path("server.pem")}, {"TLS_KEY_FILE", pki().path("client-key.pem")}},
       "TLS_KEY_FILE"},
      {{{"TLS_CA_FILE", pki().path("ca.pem")}}, "TLS_CA_FILE"},
      {{{"TLS_CERT_FILE", pki().path("server.pem")}, {"TLS_KEY_FILE", pki().path("server-key.pem")},
        {"TLS_CA_FILE", "/nonexistent/ca.pem"}},
       "TLS_CA_FILE"},
  };
  for (const Case& c : cases) {
    RunResult r = run_to_exit({"--check-config"}, c.env);
    EXPECT_EQ(r.exit_code, std::optional<int>(2)) << c.says << "\n" << r.out << r.err;
    EXPECT_TRUE(contains(r.err, c.says)) << r.err;
  }
  RunResult ok = run_to_exit({"--check-config"}, tls_options().env);
  EXPECT_EQ(ok.exit_code, std::optional<int>(0)) << ok.err;
  EXPECT_TRUE(contains(ok.out, "(TLS)")) << ok.out;
}

}  // namespace
}  // namespace itest
