// Structured logger. Each line is built in a reused per-thread buffer and
// written with one write(2), so lines from concurrent processes sharing the
// same stdout or O_APPEND file never interleave mid-line.
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cmath>

#include "common/json.h"

namespace genkit {
namespace {

struct LogState {
  std::atomic<int> level{static_cast<int>(LogLevel::kInfo)};
  LogFormat format = LogFormat::kJson;
  std::string process = "main";
  std::string file;
  int fd = STDOUT_FILENO;
  bool own_fd = false;
  bool color = false;
  int pid = 0;
};

LogState& state() {
  static LogState* s = [] {
    auto* st = new LogState;  // never destroyed: logging may run during exit
    st->pid = static_cast<int>(getpid());
    // A forked child must not report its parent's pid.
    pthread_atfork(nullptr, nullptr, [] { state().pid = static_cast<int>(getpid()); });
    return st;
  }();
  return *s;
}

void write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      // A non-blocking pipe that is full: wait briefly rather than cut the line.
      pollfd pfd{fd, POLLOUT, 0};
      if (errno == EAGAIN && poll(&pfd, 1, 1000) > 0) continue;
      return;  // nowhere left to report a logging failure
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

int open_log_file(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

const char* console_tag(LogLevel l, bool color) {
  switch (l) {
    case LogLevel::kDebug: return color ? "\033[2mDEBUG\033[0m" : "DEBUG";
    case LogLevel::kInfo: return color ? "\033[32mINFO \033[0m" : "INFO ";
    case LogLevel::kWarning: return color ? "\033[33mWARN \033[0m" : "WARN ";
    case LogLevel::kError: return color ? "\033[31mERROR\033[0m" : "ERROR";
  }
  return "INFO ";
}

void append_2(std::string& out, int v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) or "HH:MM:SS.mmm" (local, console).
void append_time(std::string& out, bool utc_date) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  if (utc_date) {
    gmtime_r(&ts.tv_sec, &t);
    int year = t.tm_year + 1900;
    append_2(out, year / 100);
    append_2(out, year % 100);
    out.push_back('-');
    append_2(out, t.tm_mon + 1);
    out.push_back('-');
    append_2(out, t.tm_mday);
    out.push_back('T');
  } else {
    localtime_r(&ts.tv_sec, &t);
  }
  append_2(out, t.tm_hour);
  out.push_back(':');
  append_2(out, t.tm_min);
  out.push_back(':');
  append_2(out, t.tm_sec);
  int ms = static_cast<int>(ts.tv_nsec / 1000000);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + ms / 100));
  append_2(out, ms % 100);
  if (utc_date) out.push_back('Z');
}

bool needs_escape(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == '"' || c == '\\') return true;
  }
  return false;
}

// Most values need no escaping; only the rare ones pay for json_quote's string.
void append_json_string(std::string& out, std::string_view s) {
  if (needs_escape(s)) {
    out += json_quote(s);
    return;
  }
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

void append_number(std::string& out, const LogField& f, bool json) {
  char buf[32];
  std::to_chars_result r{};
  if (f.kind == LogField::Kind::kInt) {
    r = std::to_chars(buf, buf + sizeof(buf), f.i);
  } else if (std::isfinite(f.d)) {
    r = std::to_chars(buf, buf + sizeof(buf), f.d);
  } else {
    out += json ? "null" : (std::isnan(f.d) ? "nan" : f.d > 0 ? "inf" : "-inf");
    return;
  }
  out.append(buf, r.ptr);
}

void append_value(std::string& out, const LogField& f, bool json) {
  switch (f.kind) {
    case LogField::Kind::kString:
      // Console keeps simple words bare for readability; anything ambiguous is quoted.
      if (json || f.s.empty() || f.s.find_first_of(" =\"") != std::string_view::npos || needs_escape(f.s)) {
        append_json_string(out, f.s);
      } else {
        out.append(f.s);
      }
      break;
    case LogField::Kind::kBool: out += f.b ? "true" : "false"; break;
    default: append_number(out, f, json); break;
  }
}

void build_json(std::string& out, const LogState& st, LogLevel level, std::string_view event,
                std::initializer_list<LogField> fields) {
  out += "{\"ts\":\"";
  append_time(out, true);
  out += "\",\"level\":\"";
  out += level_name(level);
  out += "\",\"event\":";
  append_json_string(out, event);
  out += ",\"pid\":";
  char buf[16];
  out.append(buf, std::to_chars(buf, buf + sizeof(buf), st.pid).ptr);
  out += ",\"process\":";
  append_json_string(out, st.process);
  for (const LogField& f : fields) {
    out.push_back(',');
    append_json_string(out, f.key);
    out.push_back(':');
    append_value(out, f, true);
  }
  out += "}\n";
}

void build_console(std::string& out, const LogState& st, LogLevel level, std::string_view event,
                   std::initializer_list<LogField> fields) {
  append_time(out, false);
  out.push_back(' ');
  out += console_tag(level, st.color);
  out.push_back(' ');
  out += st.process;
  out.push_back(' ');
  out.append(event);
  for (const LogField& f : fields) {
    out.push_back(' ');
    out.append(f.key);
    out.push_back('=');
    append_value(out, f, false);
  }
  out.push_back('\n');
}

bool equals_ignore_case(std::string_view a, const char* b) {
  size_t n = strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

}  // namespace

void log_configure(const LogOptions& options) {
  LogState& st = state();
  st.level.store(static_cast<int>(options.level), std::memory_order_relaxed);
  st.format = options.format;
  st.process = options.process;
  // After fork the inherited descriptor is still good: keep it if the file is unchanged.
  bool same_target = options.file == st.file && (options.file.empty() || st.own_fd);
  if (!same_target) {
    if (st.own_fd) close(st.fd);
    st.fd = STDOUT_FILENO;
    st.own_fd = false;
    st.file = options.file;
    if (!options.file.empty()) {
      int fd = open_log_file(options.file);
      if (fd >= 0) {
        st.fd = fd;
        st.own_fd = true;
      } else {
        int err = errno;
        log_error("log_file_open_failed", {{"path", options.file}, {"error", strerror(err)}});
      }
    }
  }
  st.color = st.format == LogFormat::kConsole && isatty(st.fd) == 1;
}

void log_reopen() {
  LogState& st = state();
  if (!st.own_fd) return;
  int fd = open_log_file(st.file);
  if (fd < 0) {
    int err = errno;
    log_error("log_file_reopen_failed", {{"path", st.file}, {"error", strerror(err)}});
    return;
  }
  // Replace in place so the descriptor number other code may hold stays valid.
  if (dup3(fd, st.fd, O_CLOEXEC) < 0) {
    close(st.fd);
    st.fd = fd;
    return;
  }
  close(fd);
}

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= state().level.load(std::memory_order_relaxed);
}

void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!log_enabled(level)) return;
  const LogState& st = state();
  thread_local std::string line;
  line.clear();
  if (st.format == LogFormat::kJson) {
    build_json(line, st, level, event, fields);
  } else {
    build_console(line, st, level, event, fields);
  }
  write_all(st.fd, line.data(), line.size());
}

bool parse_log_level(std::string_view text, LogLevel* out) {
  static const std::pair<const char*, LogLevel> kNames[] = {
      {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo},
      {"warning", LogLevel::kWarning}, {"error", LogLevel::kError}};
  for (const auto& [name, level] : kNames) {
    if (equals_ignore_case(text, name)) {
      *out = level;
      return true;
    }
  }
  return false;
}

bool parse_log_format(std::string_view text, LogFormat* out) {
  if (equals_ignore_case(text, "json")) {
    *out = LogFormat::kJson;
  } else if (equals_ignore_case(text, "console")) {
    *out = LogFormat::kConsole;
  } else {
    return false;
  }
  return true;
}

}  // namespace genkit
