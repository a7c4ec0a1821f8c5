#include "common/redis/redis_url.h"

#include <cctype>
#include <charconv>

namespace genkit {

namespace {

Status bad(const std::string& why) { return Status(Code::kInvalidArgument, why); }

bool parse_number(std::string_view text, int lo, int hi, int* out) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// "user:password" or ":password" or "password" (redis-cli's forms).
Status parse_userinfo(std::string_view info, RedisEndpoint* e) {
  std::size_t colon = info.find(':');
  std::string_view user = colon == std::string_view::npos ? std::string_view() : info.substr(0, colon);
  std::string_view pass = colon == std::string_view::npos ? info : info.substr(colon + 1);
  if (!percent_decode(user, &e->username) || !percent_decode(pass, &e->password)) {
    return bad("bad %-escape in the user or password");
  }
  if (e->password.empty()) return bad("a user without a password");
  return Status::ok();
}

Status parse_query(std::string_view query, RedisEndpoint* e) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    std::size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    if (name == "db") {
      if (!parse_number(value, 0, 1 << 20, &e->db)) {
        return bad("db must be a number (got \"" + std::string(value) + "\")");
      }
    } else if (name == "password") {
      if (!percent_decode(value, &e->password) || e->password.empty()) return bad("bad password= in the query");
    } else {
      return bad("unknown query parameter \"" + std::string(name) + "\" (db, password)");
    }
  }
  return Status::ok();
}

Result<RedisEndpoint> parse_tcp(std::string_view rest) {
  RedisEndpoint e;
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    Status s = parse_userinfo(authority.substr(0, at), &e);
    if (!s.is_ok()) return s;
    authority = authority.substr(at + 1);
  }
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    e.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after the IPv6 address");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    std::size_t colon = authority.find(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (e.host.empty()) return bad("no host");
  bool v6 = authority.front() == '[';
  for (char ch : e.host) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != '_' && !(v6 && ch == ':')) {
      return bad("bad host \"" + e.host + "\"");
    }
  }
  if (has_port) {
    if (!parse_number(port, 1, 65535, &e.port)) return bad("port must be 1..65535 (got \"" + std::string(port) + "\")");
  }
  if (!path.empty() && !parse_number(path, 0, 1 << 20, &e.db)) {
    return bad("the path must be a database number (got \"/" + std::string(path) + "\")");
  }
  return e;
}

Result<RedisEndpoint> parse_unix(std::string_view rest) {
  RedisEndpoint e;
  std::size_t q = rest.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  rest = rest.substr(0, q);
  if (!rest.empty() && rest.front() != '/') {
    std::size_t at = rest.find('@');
    if (at == std::string_view::npos) return bad("the socket path must be absolute (unix:///run/redis/redis.sock)");
    Status s = parse_userinfo(rest.substr(0, at), &e);
    if (!s.is_ok()) return s;
    rest = rest.substr(at + 1);
  }
  if (rest.size() < 2 || rest.front() != '/') {
    return bad("the socket path must be absolute (unix:///run/redis/redis.sock)");
  }
  if (rest.size() >= 108) return bad("the socket path is too long");
  e.socket_path = std::string(rest);
  Status s = parse_query(query, &e);
  if (!s.is_ok()) return s;
  return e;
}

}  // namespace

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
  if (url.rfind("redis://", 0) == 0) return parse_tcp(url.substr(8));
  if (url.rfind("unix://", 0) == 0) return parse_unix(url.substr(7));
  return bad("must start with redis:// or unix:// (rediss:// TLS is not supported by Debian's hiredis 0.14)");
}

std::string RedisEndpoint::display() const {
  std::string auth = password.empty() ? "" : (username.empty() ? ":***@" : username + ":***@");
  if (is_unix()) return "unix://" + auth + socket_path + (db ? "?db=" + std::to_string(db) : "");
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "redis://" + auth + h + ":" + std::to_string(port) + "/" + std::to_string(db);
}

}  // namespace genkit
