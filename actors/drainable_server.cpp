#include "actors/drainable_server.hpp"

#include "actors/tcp_bytes_received.hpp"
#include "supervisor/listen_socket.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace wabridge {
namespace {

// True when `fd` is a connected TCP socket whose local port is `port`: a
// connection accepted on our listening socket (outgoing sockets have other
// local ports; the listener itself has no peer).
bool is_accepted_connection(int fd, uint16_t port) {
  if (supervisor::bound_port(fd) != port) return false;
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  return ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0;
}

// The accepted connections of our listener (by local port), from
// /proc/self/fd: the worker has no other TCP sockets with that local port.
std::vector<int> accepted_connections(uint16_t port) {
  std::vector<int> out;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return out;
  const int own = ::dirfd(dir);
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == own) continue;
    if (is_accepted_connection(static_cast<int>(fd), port)) out.push_back(static_cast<int>(fd));
  }
  ::closedir(dir);
  return out;
}

// Ends keep-alive on every accepted connection once its request is in:
// SHUT_RD leaves data already received readable (Linux delivers the
// buffered request, then EOF), so the request in hand is answered and the
// connection then closes instead of idling in keep-alive. A connection that
// has received nothing yet (accepted just before the loop ended; its request
// is on the way) is left alone until its first bytes arrive: shut now, the
// server thread would read EOF and close it unanswered.
void end_keep_alive(uint16_t port) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    bool waiting_for_request = false;
    for (int fd : accepted_connections(port)) {
      const auto received = tcp_bytes_received(fd);
      if (received && *received == 0 && std::chrono::steady_clock::now() < give_up) {
        waiting_for_request = true;
        continue;
      }
      ::shutdown(fd, SHUT_RD);
    }
    if (!waiting_for_request) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// httplib's thread pool, plus a hook at shutdown(): the accept loop calls it
// right after it ended, before waiting for the request threads, which is
// exactly when no connection can be added any more.
class draining_pool : public httplib::TaskQueue {
 public:
  draining_pool(size_t threads, uint16_t port) : pool_(threads), port_(port) {}
  void enqueue(std::function<void()> fn) override { pool_.enqueue(std::move(fn)); }
  void shutdown() override {
    end_keep_alive(port_);
    pool_.shutdown();
  }

 private:
  httplib::ThreadPool pool_;
  uint16_t port_;
};

}  // namespace

drainable_server::drainable_server(size_t threads) {
  new_task_queue = [this, threads] {
    return new draining_pool(threads, supervisor::bound_port(svr_sock_));
  };
  // The accept loop notices stop_accepting() between polls.
  set_idle_interval(std::chrono::milliseconds(20));
}

void drainable_server::adopt(int fd) {
  svr_sock_ = fd;
}

void drainable_server::stop_accepting() {
  const int fd = svr_sock_;
  if (fd < 0) return;
  // An unconnected, non-listening socket in place of the listener: accept()
  // on it fails at once and the loop ends (then closes this inert socket).
  const int inert = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (inert < 0) return;
  ::dup3(inert, fd, O_CLOEXEC);
  ::close(inert);
}

}  // namespace wabridge
