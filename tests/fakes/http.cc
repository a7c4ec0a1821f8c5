// fake_llm: HTTP/1.1 server connections (see http.h).
#include "tests/fakes/http.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "worker/http_types.h"

namespace fake {
namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr long long kMaxBody = 256LL * 1024 * 1024;
char g_read_buf[64 * 1024];

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

const char* HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value.c_str();
  }
  return nullptr;
}

void Conn::start(event_base* base, int fd, RequestHandler handler) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  new Conn(base, fd, handler);  // lives until its write callback deletes it
}

Conn::Conn(event_base* base, int fd, RequestHandler handler) : fd_(fd), handler_(handler) {
  rev_ = event_new(base, fd, EV_READ | EV_PERSIST, on_read, this);
  wev_ = event_new(base, fd, EV_WRITE, on_write, this);
  event_add(rev_, nullptr);
}

Conn::~Conn() {
  retired_.reset();
  ex_.reset();
  event_free(rev_);
  event_free(wev_);
  close(fd_);
}

void Conn::attach(std::unique_ptr<Exchange> ex) {
  retired_.reset();  // handlers run from a clean stack: no exchange method is active
  ex_ = std::move(ex);
}

void Conn::on_read(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  if (c->dead_) return;
  c->retired_.reset();
  ssize_t n = read(c->fd_, g_read_buf, sizeof g_read_buf);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) return c->fail(true);  // EOF or reset: the client went away
  c->in_.append(g_read_buf, static_cast<size_t>(n));
  if (c->in_.size() - c->in_pos_ > static_cast<size_t>(kMaxBody) + kMaxHead) return c->fail(true);
  c->process_input();
}

void Conn::on_write(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->wev_added_ = false;  // a non-persistent event is removed when it runs
  if (!c->dead_) {
    c->retired_.reset();
    c->flush();
    if (!c->dead_ && !c->output_pending()) {
      if (c->busy_ && !c->ended_ && c->ex_) {
        c->ex_->on_drain(c);
      } else if (!c->busy_ && c->in_pos_ < c->in_.size()) {
        c->process_input();  // pipelined requests waiting behind the last reply
      }
    }
  }
  if (c->dead_) delete c;
}

void Conn::process_input() {
  if (processing_) return;
  processing_ = true;
  while (!busy_ && !dead_) {
    Parse r = parse();
    if (r != Parse::kDone) break;  // kError: parse() already answered and closes
    busy_ = true;
    ended_ = false;
    chunked_out_ = false;
    head_only_ = req_.method == "HEAD";
    handler_(this);
  }
  processing_ = false;
}

Conn::Parse Conn::parse() {
  if (!head_done_) {
    if (in_pos_ > 0) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
    while (in_.size() >= 2 && in_[0] == '\r' && in_[1] == '\n') in_.erase(0, 2);  // stray CRLFs
    if (in_.empty()) return Parse::kNeedMore;
    size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (in_.size() <= kMaxHead) return Parse::kNeedMore;
      bad_request(431);
      return Parse::kError;
    }
    if (Parse r = parse_head(end); r != Parse::kDone) return r;
  }
  if (chunked_in_) {
    if (Parse r = parse_chunked(); r != Parse::kDone) return r;
  } else {
    if (static_cast<long long>(in_.size() - body_start_) < content_length_) {
      if (expect_continue_) {
        expect_continue_ = false;
        out_.append("HTTP/1.1 100 Continue\r\n\r\n");
        flush();
      }
      return Parse::kNeedMore;
    }
    req_.body.assign(in_, body_start_, static_cast<size_t>(content_length_));
    in_pos_ = body_start_ + static_cast<size_t>(content_length_);
  }
  head_done_ = false;
  return Parse::kDone;
}

Conn::Parse Conn::parse_head(size_t end) {
  std::string_view head(in_.data(), end);
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    bad_request(400);
    return Parse::kError;
  }
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    bad_request(400);
    return Parse::kError;
  }
  req_.http10 = version == "HTTP/1.0";
  req_.method.assign(line.substr(0, sp1));
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (size_t scheme = target.find("://"); scheme != std::string_view::npos && target[0] != '/') {
    size_t slash = target.find('/', scheme + 3);  // absolute-form: keep the path
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  size_t q = target.find('?');
  req_.path.assign(target.substr(0, q));
  req_.query.assign(q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
  size_t n = 0;
  std::string connection;
  content_length_ = 0;
  chunked_in_ = false;
  expect_continue_ = false;
  while (eol != std::string_view::npos) {
    size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view h = head.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0 || h[0] == ' ' || h[0] == '\t') {
      bad_request(400);
      return Parse::kError;
    }
    if (n == req_.headers.size()) req_.headers.emplace_back();
    auto& [name, value] = req_.headers[n++];
    name.assign(h.substr(0, colon));  // assign: reuses the buffers of the last request
    for (char& ch : name) ch = static_cast<char>((ch >= 'A' && ch <= 'Z') ? ch - 'A' + 'a' : ch);
    value.assign(trim(h.substr(colon + 1)));
    if (name == "content-length") {
      char* endp = nullptr;
      content_length_ = std::strtoll(value.c_str(), &endp, 10);
      if (value.empty() || *endp != '\0' || content_length_ < 0) {
        bad_request(400);
        return Parse::kError;
      }
    } else if (name == "transfer-encoding") {
      chunked_in_ = lower(value).find("chunked") != std::string::npos;
    } else if (name == "connection") {
      connection = lower(value);
    } else if (name == "expect") {
      expect_continue_ = lower(value) == "100-continue";
    }
  }
  req_.headers.resize(n);
  if (content_length_ > kMaxBody) {
    bad_request(413);
    return Parse::kError;
  }
  close_after_ = req_.http10 ? connection.find("keep-alive") == std::string::npos
                             : connection.find("close") != std::string::npos;
  body_start_ = end + 4;
  chunk_pos_ = body_start_;
  req_.body.clear();
  head_done_ = true;
  return Parse::kDone;
}

Conn::Parse Conn::parse_chunked() {
  for (;;) {
    size_t eol = in_.find("\r\n", chunk_pos_);
    if (eol == std::string::npos) {
      if (in_.size() - chunk_pos_ <= 1024) return Parse::kNeedMore;
      bad_request(400);
      return Parse::kError;
    }
    char* endp = nullptr;
    unsigned long long size = std::strtoull(in_.c_str() + chunk_pos_, &endp, 16);
    if (endp == in_.c_str() + chunk_pos_ || (*endp != '\r' && *endp != ';' && *endp != ' ')) {
      bad_request(400);
      return Parse::kError;
    }
    if (size == 0) {  // last chunk, then trailer lines up to an empty one
      for (size_t p = eol + 2;;) {
        size_t e = in_.find("\r\n", p);
        if (e == std::string::npos) return Parse::kNeedMore;
        if (e == p) {
          in_pos_ = e + 2;
          return Parse::kDone;
        }
        p = e + 2;
      }
    }
    if (req_.body.size() + size > static_cast<unsigned long long>(kMaxBody)) {
      bad_request(413);
      return Parse::kError;
    }
    if (in_.size() < eol + 2 + size + 2) {
      if (expect_continue_) {
        expect_continue_ = false;
        out_.append("HTTP/1.1 100 Continue\r\n\r\n");
        flush();
      }
      return Parse::kNeedMore;
    }
    if (in_.compare(eol + 2 + size, 2, "\r\n") != 0) {
      bad_request(400);
      return Parse::kError;
    }
    req_.body.append(in_, eol + 2, size);
    chunk_pos_ = eol + 2 + size + 2;
  }
}

void Conn::bad_request(int status) {
  busy_ = true;
  close_after_ = true;
  head_only_ = false;
  chunked_out_ = false;
  char body[128];
  int n = std::snprintf(body, sizeof body,
                        "{\"error\":{\"code\":%d,\"message\":\"fake_llm: malformed or oversized HTTP request\"}}",
                        status);
  reply(status, "application/json", std::string_view(body, static_cast<size_t>(n)));
}

void Conn::append_head(int status, std::string_view content_type, long long content_length,
                       std::string_view extra_headers) {
  char line[96];
  int n = std::snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\nContent-Type: ", status, genkit::http::reason_phrase(status));
  out_.append(line, static_cast<size_t>(n));
  out_.append(content_type);
  if (content_length >= 0) {
    n = std::snprintf(line, sizeof line, "\r\nContent-Length: %lld\r\n", content_length);
    out_.append(line, static_cast<size_t>(n));
  } else {
    out_.append(chunked_out_ ? "\r\nTransfer-Encoding: chunked\r\n" : "\r\n");
  }
  if (close_after_) out_.append("Connection: close\r\n");
  else if (req_.http10) out_.append("Connection: keep-alive\r\n");
  out_.append(extra_headers);
  out_.append("\r\n");
}

void Conn::reply(int status, std::string_view content_type, std::string_view body) {
  if (dead_ || !busy_ || ended_) return;
  chunked_out_ = false;
  append_head(status, content_type, static_cast<long long>(body.size()), {});
  if (!head_only_) out_.append(body);
  ended_ = true;
  flush();
}

void Conn::start_reply(int status, std::string_view content_type, long long content_length,
                       std::string_view extra_headers) {
  if (dead_ || !busy_ || ended_) return;
  chunked_out_ = content_length < 0 && !req_.http10;
  if (content_length < 0 && req_.http10) close_after_ = true;  // the end is the close
  append_head(status, content_type, content_length, extra_headers);
  flush();
}

void Conn::send(std::string_view data) {
  if (dead_ || !busy_ || ended_ || head_only_ || data.empty()) return;
  if (chunked_out_) {
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    out_.append(size, static_cast<size_t>(n));
  }
  out_.append(data);
  if (chunked_out_) out_.append("\r\n");
  flush();
}

void Conn::end_reply() {
  if (dead_ || !busy_ || ended_) return;
  if (chunked_out_ && !head_only_) out_.append("0\r\n\r\n");
  chunked_out_ = false;
  ended_ = true;
  flush();
}

void Conn::flush() {
  while (out_pos_ < out_.size()) {
    ssize_t n = write(fd_, out_.data() + out_pos_, out_.size() - out_pos_);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wev_added_) event_add(wev_, nullptr);
      wev_added_ = true;
      return;
    } else {
      return fail(true);  // EPIPE, ECONNRESET: the client went away
    }
  }
  out_.clear();
  out_pos_ = 0;
  if (busy_ && ended_) complete();
}

void Conn::complete() {
  busy_ = false;
  ended_ = false;
  if (ex_) {
    ex_->on_complete();
    retired_ = std::move(ex_);  // its method may be on the stack: destroyed later
  }
  if (close_after_) return fail(false);
  // Pipelined requests are handled from on_write, on a clean stack.
  if (in_pos_ < in_.size()) event_active(wev_, EV_WRITE, 1);
}

void Conn::fail(bool aborted) {
  if (dead_) return;
  dead_ = true;
  if (ex_) {
    if (aborted && busy_) ex_->on_aborted();
    retired_ = std::move(ex_);
  }
  event_del(rev_);
  event_active(wev_, EV_WRITE, 1);  // on_write deletes the connection
}

}  // namespace fake
