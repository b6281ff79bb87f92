// Unit tests for actors/drainable_server.hpp over real loopback sockets: a
// request being answered when the server stops accepting still gets its
// response (httplib writes nothing once a connection's read side is shut, so
// the drain must not shut busy connections), an idle keep-alive connection
// is closed at once instead of at its timeout, and the shared listening
// socket keeps its backlog for the next server.
#include "actors/drainable_server.hpp"

#include "supervisor/listen_socket.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using wabridge::drainable_server;

namespace {

struct served {
  int listen_fd = -1;
  uint16_t port = 0;
  drainable_server server{4};
  std::thread thread;
  std::atomic<bool> done{false};

  served() {
    auto fd = wabridge::supervisor::open_listen_socket("127.0.0.1", 0);
    REQUIRE(fd);
    listen_fd = *fd;
    port = wabridge::supervisor::bound_port(listen_fd);
    server.set_keep_alive_timeout(5);
    server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(400ms);
      res.set_content("slow done", "text/plain");
    });
    server.Get("/fast", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("fast", "text/plain");
    });
  }
  void start() {
    server.adopt(::dup(listen_fd));  // the server's own descriptor, as a worker's fd 3
    thread = std::thread([this] {
      server.listen_after_bind();
      done = true;
    });
    std::this_thread::sleep_for(50ms);
  }
  ~served() {
    server.stop_accepting();
    if (thread.joinable()) thread.join();
    ::close(listen_fd);
  }
};

}  // namespace

TEST_CASE("a request being answered when the server stops accepting still gets its response",
          "[drainable_server]") {
  served s;
  s.start();
  httplib::Result result{nullptr, httplib::Error::Unknown};
  std::thread client([&] {
    httplib::Client c("127.0.0.1", s.port);
    c.set_read_timeout(5, 0);
    result = c.Get("/slow");
  });
  std::this_thread::sleep_for(150ms);  // the handler is asleep now
  s.server.stop_accepting();
  client.join();
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->body == "slow done");
  CHECK(result->get_header_value("Connection") == "close");
}

TEST_CASE("an idle keep-alive connection is closed at once when the server stops accepting",
          "[drainable_server]") {
  served s;
  s.start();
  httplib::Client c("127.0.0.1", s.port);
  c.set_keep_alive(true);
  auto first = c.Get("/fast");
  REQUIRE(first);
  REQUIRE(first->status == 200);
  std::this_thread::sleep_for(100ms);  // idle in keep-alive now
  const auto stopped_at = std::chrono::steady_clock::now();
  s.server.stop_accepting();
  // Not the 5 s keep-alive timeout: the drain ends the idle connection.
  for (int i = 0; i < 300 && !s.done; ++i) std::this_thread::sleep_for(10ms);
  CHECK(s.done);
  CHECK(std::chrono::steady_clock::now() - stopped_at < 3s);
}

TEST_CASE("connections arriving after the server stopped accepting wait for the next one",
          "[drainable_server]") {
  served s;
  s.start();
  s.server.stop_accepting();
  for (int i = 0; i < 300 && !s.done; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(s.done);
  httplib::Result result{nullptr, httplib::Error::Unknown};
  std::thread client([&] {
    httplib::Client c("127.0.0.1", s.port);
    c.set_read_timeout(5, 0);
    result = c.Get("/fast");  // sits in the shared socket's backlog
  });
  std::this_thread::sleep_for(200ms);
  drainable_server next(2);
  next.Get("/fast", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("next", "text/plain");
  });
  next.adopt(::dup(s.listen_fd));
  std::thread serving([&] { next.listen_after_bind(); });
  client.join();
  next.stop_accepting();
  serving.join();
  REQUIRE(result);
  CHECK(result->body == "next");
}
