// The client's address and scheme, before anything keys on them (the rate
// limit, the access log, HSTS). The socket peer, unless it is a proxy listed
// in FORWARDED_ALLOW_IPS: then the right-most X-Forwarded-For entry that is
// not itself a trusted proxy (gunicorn and uvicorn's reading), and its
// X-Forwarded-Proto: https marks the request as having come over TLS, so
// HSTS is sent as uvicorn's ProxyHeadersMiddleware would. The same headers
// from any other peer are ignored.
#pragma once

#include <string>

#include "common/net/ip_address.h"
#include "worker/router.h"

namespace genkit::http {

// The client address of `req` whose socket peer is req.client_ip.
std::string forwarded_client_ip(const Request& req, const IpAllowList& trusted_proxies);
// A trusted proxy (the socket peer) says the client used https.
bool forwarded_https(const Request& req, const IpAllowList& trusted_proxies);

// Not installed when FORWARDED_ALLOW_IPS is empty: the peer is the client.
Gate make_client_address_gate(IpAllowList trusted_proxies);

}  // namespace genkit::http
