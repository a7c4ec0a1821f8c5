// "Upgrade: h2c" on an HTTP/1.1 request (RFC 7540 §3.2): what makes a
// request one we switch to HTTP/2 for. Anything short of it is an ordinary
// HTTP/1.1 request and is answered as one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "worker/http_types.h"

namespace genkit::http {

// The decoded HTTP2-Settings payload when `req` asks for h2c properly:
// Upgrade lists "h2c", Connection lists "Upgrade" and "HTTP2-Settings", and
// exactly one HTTP2-Settings header holds base64url of whole SETTINGS
// entries (6 bytes each). Whether the connection may upgrade (not TLS, not
// HTTP/1.0, not draining) is the caller's business.
std::optional<std::string> h2c_upgrade_settings(const Request& req);

// base64url (RFC 4648 §5), padding optional; nullopt on any other byte.
std::optional<std::string> decode_base64url(std::string_view text);

}  // namespace genkit::http
