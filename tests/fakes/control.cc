// fake_llm: test-control endpoints (/_script, /_requests, /_traces, /_health),
// the OTLP/HTTP JSON trace receiver and the /media/* files.
#include <unistd.h>
#include <zlib.h>

#include <string>

#include "tests/fakes/fake_json.h"
#include "tests/fakes/server.h"

namespace fake {
namespace {

// A 2x2 orange RGB PNG.
const unsigned char kCatPng[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00, 0x10, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0x3f, 0xd3, 0x18, 0x88, 0x18, 0x20, 0x14, 0x00, 0x35, 0x72, 0x07, 0x2d,
    0xca, 0x3a, 0x26, 0xb3, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

constexpr std::string_view kPageHtml =
    "<!doctype html>\n<html><head><title>fake_llm page</title></head>\n"
    "<body><h1>fake_llm page</h1><p>A small HTML document served by fake_llm.</p>"
    "<img src=\"/media/cat.png\" alt=\"cat\"></body></html>\n";

constexpr const char* kJson = "application/json";

void reply_error(Conn* c, int status, std::string_view message) {
  JsonPtr root(cJSON_CreateObject());
  add_str(root.get(), "error", message);
  c->reply(status, kJson, print_json(root.get()));
}

// Body with `Content-Encoding: gzip` (or deflate) undone; false if corrupt.
bool decoded_body(const HttpRequest& req, std::string* out) {
  std::string_view body = req.body;
  const char* enc = req.header("content-encoding");
  std::string_view e = enc != nullptr ? enc : "";
  if (e != "gzip" && e != "deflate") {
    out->assign(body);
    return true;
  }
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return false;  // +32: zlib or gzip header
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out->append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END;
}

cJSON* body_json(const std::string& body) {
  cJSON* j = cJSON_ParseWithLength(body.data(), body.size());
  return j != nullptr ? j : cJSON_CreateString(body.c_str());
}

void post_script(Conn* c) {
  JsonPtr json = parse_json(c->request().body);
  if (!json) return reply_error(c, 400, "body must be a JSON array of behaviours");
  std::deque<Behaviour> parsed;
  std::string err;
  const cJSON* entries = json.get();
  if (cJSON_IsObject(entries)) {
    parsed.emplace_back();
    if (!parse_behaviour(entries, &parsed.back(), &err)) return reply_error(c, 400, err);
  } else if (cJSON_IsArray(entries)) {
    const cJSON* e = nullptr;
    cJSON_ArrayForEach(e, entries) {
      parsed.emplace_back();
      if (!parse_behaviour(e, &parsed.back(), &err)) return reply_error(c, 400, err);
    }
  } else {
    return reply_error(c, 400, "body must be a JSON array of behaviours");
  }
  auto& script = state().script;
  for (Behaviour& b : parsed) script.push_back(std::move(b));
  c->reply(200, kJson, "{\"queued\":" + std::to_string(script.size()) + "}");
}

void get_script(Conn* c) {
  std::string out = "[";
  for (const Behaviour& b : state().script) {
    if (out.size() > 1) out += ',';
    out += b.raw;
  }
  c->reply(200, kJson, out + "]");
}

void post_traces(Conn* c) {
  const HttpRequest& req = c->request();
  const char* ct = req.header("content-type");
  if (ct == nullptr || std::string_view(ct).find("json") == std::string_view::npos) {
    return reply_error(c, 415, "fake_llm accepts OTLP/HTTP JSON only (Content-Type: application/json)");
  }
  std::string body;
  if (!decoded_body(req, &body)) return reply_error(c, 400, "corrupt gzip body");
  if (req.path == "/v1/traces") keep(state().traces, make_record(req, body))->finished = true;
  c->reply(200, kJson, "{}");
}

void get_traces(Conn* c) {
  if (c->request().query.find("full=1") != std::string::npos) {
    return c->reply(200, kJson, records_json(state().traces));
  }
  JsonPtr arr(cJSON_CreateArray());
  for (const auto& r : state().traces) cJSON_AddItemToArray(arr.get(), body_json(r->body));
  c->reply(200, kJson, print_json(arr.get()));
}

}  // namespace

std::string records_json(const std::deque<std::shared_ptr<Record>>& records) {
  JsonPtr arr(cJSON_CreateArray());
  for (const auto& r : records) {
    cJSON* o = cJSON_CreateObject();
    cJSON_AddItemToArray(arr.get(), o);
    add_str(o, "method", r->method);
    add_str(o, "path", r->path);
    add_str(o, "query", r->query);
    cJSON* headers = cJSON_AddObjectToObject(o, "headers");
    for (const auto& [name, value] : r->headers) {
      if (cJSON* prev = cJSON_GetObjectItemCaseSensitive(headers, name.c_str()); cJSON_IsString(prev)) {
        cJSON_ReplaceItemInObjectCaseSensitive(headers, name.c_str(),
                                               cJSON_CreateString((std::string(prev->valuestring) + ", " + value).c_str()));
      } else {
        add_str(headers, name.c_str(), value);
      }
    }
    cJSON_AddItemToObject(o, "body", body_json(r->body));
    cJSON_AddNumberToObject(o, "received_ms", static_cast<double>(r->received_ms));
    cJSON_AddBoolToObject(o, "finished", r->finished);
    cJSON_AddBoolToObject(o, "client_closed", r->client_closed);
  }
  return print_json(arr.get());
}

bool handle_control(Conn* c) {
  const HttpRequest& req = c->request();
  std::string_view path = req.path;
  bool get = req.method == "GET" || req.method == "HEAD";
  bool post = req.method == "POST";
  bool del = req.method == "DELETE";
  State& s = state();
  if (path == "/_script" && (post || get || del)) {
    if (post) post_script(c);
    if (get) get_script(c);
    if (del) {
      s.script.clear();
      c->reply(200, kJson, "{}");
    }
  } else if (path == "/_requests" && !s.opt.record) {
    reply_error(c, 404, "recording is off: start fake_llm with --record");
  } else if (path == "/_requests" && (get || del)) {
    if (get) c->reply(200, kJson, records_json(s.records));
    if (del) {
      s.records.clear();
      c->reply(200, kJson, "{}");
    }
  } else if (path == "/_traces" && (get || del)) {
    if (get) get_traces(c);
    if (del) {
      s.traces.clear();
      c->reply(200, kJson, "{}");
    }
  } else if (path == "/_health" && get) {
    c->reply(200, kJson, "{\"ok\":true,\"pid\":" + std::to_string(getpid()) + "}");
  } else if ((path == "/v1/traces" || path == "/v1/metrics" || path == "/v1/logs") && post) {
    post_traces(c);
  } else if (path == "/media/cat.png" && get) {
    c->reply(200, "image/png", std::string_view(reinterpret_cast<const char*>(kCatPng), sizeof kCatPng));
  } else if (path == "/media/page.html" && get) {
    c->reply(200, "text/html; charset=utf-8", kPageHtml);
  } else if (path == "/media/big.bin" && get) {
    start_big_download(c);
  } else {
    return false;  // unknown route or method: the caller answers 404
  }
  return true;
}

}  // namespace fake
