// libFuzzer target: HTTP requests against the real worker. LLVMFuzzerInitialize
// starts run_worker() in this process (real actors, real LMDB in a temp dir,
// the real httplib front end on a loopback port). Each input becomes one
// request on a fresh connection: the first byte picks the method and whether
// the rest is sent raw (header and framing fuzzing) or framed as
// "<path+query>\n<headers>\n\n<body>" with a correct Content-Length. No
// request may crash the worker, get a 500 ("internal error"), or leave it
// unable to answer /health afterwards.
//
// Accounts: "main" (Baileys upstream whose sidecar does not exist, so it is
// never connected: sends are refused 503 or queued, nothing leaves the
// process) and "locked" (the same with a bearer token).
#include "actors/worker.hpp"
#include "common/logging.hpp"
#include "config/config.hpp"
#include "supervisor/listen_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <variant>

namespace {

uint16_t port = 0;
uint64_t inputs = 0;

// True when `reply` holds a whole response: headers and, when it has a
// Content-Length, that many body bytes.
bool complete_response(const std::string& reply) {
  const size_t end = reply.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const std::string head = reply.substr(0, end);
  size_t at = std::string::npos;
  for (const char* name : {"Content-Length:", "content-length:"})
    if ((at = head.find(name)) != std::string::npos) break;
  if (at == std::string::npos) return false;  // chunked or close-delimited: wait for the close
  const size_t length = std::strtoull(head.c_str() + at + 15, nullptr, 10);
  return reply.size() >= end + 4 + length;
}

// Sends `request` on a fresh loopback connection and returns what came back
// before the server closed it, a whole response arrived, or 2 s passed.
std::string exchange(const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("fuzz_http_request: connect");
    std::abort();  // the worker no longer accepts: that is a finding
  }
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on garbage
    sent += static_cast<size_t>(n);
  }
  // No half-close: httplib writes no response to a peer that has shut its
  // write side. Read until the server closes (framed requests say
  // "Connection: close"), a whole response is in (raw requests may ask for
  // keep-alive), the reply has been quiet for 100 ms, or 2 s. An incomplete
  // raw request gets no answer: the server gives up after its read_timeout
  // (150 ms here), which bounds what such an input costs.
  std::string reply;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) {
      if (!reply.empty()) break;
      continue;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
    if (complete_response(reply)) break;
  }
  ::close(fd);
  return reply;
}

int status_of(const std::string& reply) {
  if (reply.rfind("HTTP/1.", 0) != 0 || reply.size() < 12) return 0;
  return std::atoi(reply.c_str() + 9);
}

void check_healthy() {
  const std::string reply =
      exchange("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (status_of(reply) != 200) {
    std::fprintf(stderr, "fuzz_http_request: /health answered: %s\n", reply.c_str());
    std::abort();
  }
}

const char* const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "GET"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  namespace fs = std::filesystem;
  wabridge::setup_logging(std::getenv("WABRIDGE_FUZZ_LOG") ? std::getenv("WABRIDGE_FUZZ_LOG")
                                                           : "error");
  const fs::path dir = fs::temp_directory_path() / ("wabridge-fuzz-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string toml =
      "[bridge]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"" + (dir / "data").string() +
      "\"\n[http]\nmax_wait = \"20ms\"\nmax_body_bytes = \"64KiB\"\nread_timeout = \"150ms\"\n"
      "[outbound]\nwait_timeout = \"50ms\"\n"
      "[log]\nlevel = \"error\"\n"
      "[[account]]\nname = \"main\"\nupstream = \"baileys\"\n"
      "[account.baileys]\nsidecar_dir = \"" +
      (dir / "no-sidecar").string() +
      "\"\n"
      "[[account]]\nname = \"locked\"\nupstream = \"baileys\"\ntoken = \"s3cret\"\n"
      "[account.baileys]\nsidecar_dir = \"" +
      (dir / "no-sidecar").string() + "\"\n";
  auto parsed = wabridge::parse_config(toml, "fuzz.toml", dir.string());
  if (!std::holds_alternative<wabridge::bridge_config>(parsed)) std::abort();
  const auto cfg = std::get<wabridge::bridge_config>(parsed);
  auto fd = wabridge::supervisor::open_listen_socket("127.0.0.1", 0);
  if (!fd) std::abort();
  port = wabridge::supervisor::bound_port(*fd);
  wabridge::worker_options options;
  options.listen_fd = *fd;
  std::thread([cfg, options] { std::exit(wabridge::run_worker(cfg, options)); }).detach();
  for (int i = 0; i < 300; ++i) {
    if (status_of(exchange("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                           "close\r\n\r\n")) == 200)
      return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::fprintf(stderr, "fuzz_http_request: the worker did not come up\n");
  std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 70'000) return 0;
  const uint8_t mode = data[0];
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string request;
  if (mode & 0x80) {
    request = rest;  // raw bytes: request line, headers and framing are all fuzzed
  } else {
    // "<path+query>\n<extra header lines>\n\n<body>"
    const size_t nl = rest.find('\n');
    const std::string target = rest.substr(0, nl);
    std::string headers, body;
    if (nl != std::string::npos) {
      const size_t blank = rest.find("\n\n", nl + 1);
      headers =
          rest.substr(nl + 1, blank == std::string::npos ? std::string::npos : blank - nl - 1);
      if (blank != std::string::npos) body = rest.substr(blank + 2);
    }
    request = std::string(methods[mode & 7]) + ' ' + (target.empty() ? "/" : target) +
              " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    size_t start = 0;
    while (start < headers.size()) {
      size_t end = headers.find('\n', start);
      if (end == std::string::npos) end = headers.size();
      request += headers.substr(start, end - start) + "\r\n";
      start = end + 1;
    }
    if (mode & 0x40) request += "Authorization: Bearer s3cret\r\n";
    if (mode & 0x20) request += "Content-Type: application/json\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  const std::string reply = exchange(request);
  if (status_of(reply) == 500) {
    std::fprintf(stderr, "fuzz_http_request: 500 for request:\n%s\nreply:\n%s\n", request.c_str(),
                 reply.c_str());
    std::abort();
  }
  if (++inputs % 64 == 0) check_healthy();
  return 0;
}
