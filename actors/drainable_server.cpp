#include "actors/drainable_server.hpp"

#include "actors/tcp_receive_info.hpp"
#include "supervisor/listen_socket.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace wabridge {
namespace {

// "addr:port" of the connection's peer as httplib's Request names it
// (remote_addr, remote_port), or nullopt when `fd` has no TCP peer.
std::optional<std::string> peer_of(int fd) {
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return std::nullopt;
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  } else {
    return std::nullopt;
  }
  return std::string(host) + ':' + std::to_string(port);
}

// The accepted connections of our listener (by local port, with a peer),
// from /proc/self/fd: the worker has no other TCP sockets with that local port.
std::vector<int> accepted_connections(uint16_t port) {
  std::vector<int> out;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return out;
  const int own = ::dirfd(dir);
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == own) continue;
    if (supervisor::bound_port(static_cast<int>(fd)) == port && peer_of(static_cast<int>(fd)))
      out.push_back(static_cast<int>(fd));
  }
  ::closedir(dir);
  return out;
}

size_t unread_bytes(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? static_cast<size_t>(n) : 0;
}

// A request read from the socket is routed (and so marked busy) within
// microseconds; data this recent may be a request between the two.
constexpr uint32_t settle_ms = 20;

// Ends keep-alive on the connections that idle in it (see the header for
// why only those). A connection that has received nothing yet (accepted just
// before the loop ended, its request on the way) or data only just now is
// looked at again until it has settled, for 2 s at most.
void end_idle_keep_alive(const drainable_server& server, uint16_t port) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::vector<int> done;
  for (;;) {
    bool unsettled = false;
    for (int fd : accepted_connections(port)) {
      if (std::find(done.begin(), done.end(), fd) != done.end()) continue;
      const auto info = query_tcp_receive_info(fd);
      const auto peer = peer_of(fd);
      if (!info || !peer) continue;
      if (unread_bytes(fd) > 0 || server.busy(*peer)) continue;  // answered, then closed
      if (info->bytes_received == 0 || info->since_last_data_ms < settle_ms) {
        unsettled = true;
        continue;
      }
      ::shutdown(fd, SHUT_RD);  // idle in keep-alive: its thread sees EOF and closes it
      done.push_back(fd);
    }
    if (!unsettled || std::chrono::steady_clock::now() >= give_up) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// httplib's thread pool, plus a hook at shutdown(): the accept loop calls it
// right after it ended, before waiting for the request threads, which is
// exactly when no connection can be added any more.
class draining_pool : public httplib::TaskQueue {
 public:
  draining_pool(size_t threads, uint16_t port, drainable_server& server)
      : pool_(threads), port_(port), server_(server) {}
  void enqueue(std::function<void()> fn) override { pool_.enqueue(std::move(fn)); }
  void shutdown() override {
    server_.close_taken_listener();
    end_idle_keep_alive(server_, port_);
    pool_.shutdown();
  }

 private:
  httplib::ThreadPool pool_;
  uint16_t port_;
  drainable_server& server_;
};

std::string peer_key(const httplib::Request& req) {
  return req.remote_addr + ':' + std::to_string(req.remote_port);
}

}  // namespace

drainable_server::drainable_server(size_t threads) {
  new_task_queue = [this, threads] {
    return new draining_pool(threads, supervisor::bound_port(svr_sock_), *this);
  };
  // The accept loop notices stop_accepting() between polls.
  set_idle_interval(std::chrono::milliseconds(20));
  set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    std::lock_guard<std::mutex> guard(busy_mutex_);
    ++busy_[peer_key(req)];
    return HandlerResponse::Unhandled;
  });
  set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
    if (closing_) res.set_header("Connection", "close");
  });
  // httplib logs once the response is written: the request is over.
  set_logger([this](const httplib::Request& req, const httplib::Response&) {
    std::lock_guard<std::mutex> guard(busy_mutex_);
    auto it = busy_.find(peer_key(req));
    if (it != busy_.end() && --it->second <= 0) busy_.erase(it);
  });
}

bool drainable_server::busy(const std::string& peer) const {
  std::lock_guard<std::mutex> guard(busy_mutex_);
  return busy_.count(peer) > 0;
}

void drainable_server::adopt(int fd) {
  // httplib applies set_tcp_nodelay() only to a listener it creates itself
  // (and keeps the flag private). Accepted sockets inherit TCP_NODELAY from
  // the listener on Linux, so set it on the adopted one (the front end wants
  // it always): without it Nagle plus the client's delayed ACK
  // put ~40 ms on every poll (the drain bench fell from ~150k to ~20k
  // events/s once the worker served the supervisor's socket).
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  svr_sock_ = fd;
}

void drainable_server::stop_accepting() {
  if (closing_.exchange(true)) return;  // once: a second call must not touch fds
  // Hand the accept loop an inert, non-listening socket in place of the
  // shared listener and keep the listener's descriptor for ourselves:
  //  - the loop's next accept() fails on the inert socket and the loop ends
  //    (within its 20 ms idle interval at most), closing the inert socket
  //    itself; connections arriving meanwhile wait in the shared backlog;
  //  - svr_sock_ stays valid, which matters: httplib's request threads serve
  //    a connection only while svr_sock_ != INVALID_SOCKET, so invalidating
  //    it (as httplib's stop() does) drops connections accepted just before
  //    with their requests unanswered (seen in the restart bench as a rare
  //    failed request);
  //  - nothing is dup'ed over a descriptor the loop may close concurrently
  //    (the race ThreadSanitizer reported); the listener's descriptor is
  //    closed by close_taken_listener() on the loop's thread after the loop.
  const int inert = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (inert < 0) {
    // No inert socket to hand over: fall back to invalidating (the loop
    // still ends; connections in flight may be cut, as with httplib's stop()).
    const int fd = svr_sock_.exchange(INVALID_SOCKET);
    if (fd >= 0) taken_fd_ = fd;
    return;
  }
  const int fd = svr_sock_.exchange(inert);
  if (fd >= 0) taken_fd_ = fd;
}

void drainable_server::close_taken_listener() {
  const int fd = taken_fd_.exchange(-1);
  if (fd >= 0) ::close(fd);
}

}  // namespace wabridge
