#include "worker/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <string>

#include "common/config.h"

namespace genkit::http {

namespace {

// Mozilla's "intermediate" TLS 1.2 suites (TLS 1.3's are all modern).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

// OpenSSL's own reason for the last failure ("no such file", "key values mismatch").
std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "error " + std::to_string(e);
}

// h2 when the client offers it, else http/1.1; a client offering neither
// (ALPN with other protocols only) gets no ALPN and speaks HTTP/1.1.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
  static const unsigned char kH2[] = {'h', '2'};
  static const unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  const unsigned char* http11 = nullptr;
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    const unsigned char* proto = in + i + 1;
    if (i + 1 + len > inlen) break;
    if (len == sizeof kH2 && std::memcmp(proto, kH2, len) == 0) {
      *out = proto;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    if (len == sizeof kHttp11 && std::memcmp(proto, kHttp11, len) == 0) http11 = proto;
    i += 1 + len;
  }
  if (!http11) return SSL_TLSEXT_ERR_NOACK;
  *out = http11;
  *outlen = sizeof kHttp11;
  return SSL_TLSEXT_ERR_OK;
}

Status failed(const char* setting, const std::string& path, const std::string& what) {
  return Status(Code::kInvalidArgument, std::string(setting) + ": " + what + " \"" + path + "\": " + openssl_reason());
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::load(const Config& config) {
  if (config.tls_cert_file.empty()) return std::shared_ptr<TlsContext>();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Status(Code::kInternal, "TLS: cannot create a context: " + openssl_reason());
  std::shared_ptr<TlsContext> tls(new TlsContext(ctx, !config.tls_ca_file.empty()));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return Status(Code::kInternal, "TLS: cipher list refused: " + openssl_reason());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, config.tls_cert_file.c_str()) != 1) {
    return failed("TLS_CERT_FILE", config.tls_cert_file, "cannot use the certificate chain in");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, config.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return failed("TLS_KEY_FILE", config.tls_key_file, "cannot use the private key in");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return failed("TLS_KEY_FILE", config.tls_key_file, "does not match TLS_CERT_FILE:");
  }
  if (!config.tls_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.tls_ca_file.c_str(), nullptr) != 1) {
      return failed("TLS_CA_FILE", config.tls_ca_file, "cannot load the CA certificates in");
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.tls_ca_file.c_str());
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  static const unsigned char kSessionContext[] = "genkit-endpoints";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(ctx, &select_alpn, nullptr);
  return tls;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::new_session(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

}  // namespace genkit::http
