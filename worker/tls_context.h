// The server's TLS configuration (TLS_CERT_FILE, TLS_KEY_FILE, optional
// TLS_CA_FILE for client certificates): TLS 1.2 and 1.3 with Mozilla's
// "intermediate" cipher list, ALPN choosing h2 or http/1.1. The supervisor
// loads it before forking (so a bad certificate is a start-up error, and all
// workers share one session-ticket key: a client resumes its session on any
// worker) and again on SIGHUP for the workers it starts then.
#pragma once

#include <memory>

#include "common/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace genkit {
struct Config;
}

namespace genkit::http {

class TlsContext {
 public:
  // nullptr (no error) when TLS is not configured.
  static Result<std::shared_ptr<TlsContext>> load(const Config& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server-side TLS session over the accepted socket `fd`, or nullptr.
  SSL* new_session(int fd) const;
  bool verifies_clients() const { return verify_clients_; }

 private:
  explicit TlsContext(SSL_CTX* ctx, bool verify_clients) : ctx_(ctx), verify_clients_(verify_clients) {}
  SSL_CTX* ctx_;
  bool verify_clients_;
};

}  // namespace genkit::http
