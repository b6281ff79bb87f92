// cpp-httplib's Server, made fit for a listening socket shared across worker
// generations (docs/supervisor.md, "Socket handover"). httplib's own stop()
// would shutdown(2) the listening socket, which ends listening for the
// supervisor and the next worker too, and it leaves idle keep-alive
// connections open until their timeout. drainable_server instead:
//   - adopts an inherited listening socket;
//   - stop_accepting() takes our descriptor away from the accept loop and
//     hands it an inert, non-listening socket instead, so the loop ends and
//     connections still arriving wait in the shared backlog for the next
//     worker, untouched; svr_sock_ stays valid so that connections already
//     accepted are still served (httplib's request threads stop at an
//     invalid svr_sock_); the loop's thread closes our descriptor once the
//     loop has ended;
//   - from stop_accepting() on, every response says "Connection: close", so
//     a client closes its connection after the request in hand;
//   - once the accept loop has ended, it closes the read side of connections
//     that idle in keep-alive (so they end now, not at their timeout) and
//     leaves alone every connection with a request on the way, unread, or
//     being answered: httplib writes no response on a socket whose read side
//     is shut and drained (its is_writable() peeks for EOF).
// It tracks which peers have a request in progress through httplib's
// pre-routing handler and logger, so callers must not install their own.
// Thread-safety: adopt() and configuration before serving; stop_accepting()
// from any thread while listen_after_bind() runs on another.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace wabridge {

class drainable_server : public httplib::Server {
 public:
  /// `threads` request threads (each keep-alive connection holds one).
  explicit drainable_server(size_t threads);

  /// Serves `fd`, an already listening socket (from the supervisor), and sets
  /// TCP_NODELAY on it (inherited by the connections it accepts).
  void adopt(int fd);

  /// The listening descriptor in use (adopted or bound by httplib), -1 before.
  int listen_fd() const { return svr_sock_; }

  /// Ends the accept loop without touching the shared socket; the
  /// connections already accepted finish their current request.
  void stop_accepting();

  /// True while a request from `peer` ("addr:port") is routed or answered.
  bool busy(const std::string& peer) const;

  /// For the accept loop's thread once the loop has ended: closes the
  /// descriptor stop_accepting() took, if any.
  void close_taken_listener();

 private:
  mutable std::mutex busy_mutex_;
  std::map<std::string, int> busy_;  // peer -> requests between routing and logged response
  std::atomic<bool> closing_{false};
  std::atomic<int> taken_fd_{-1};  // taken by stop_accepting(), not closed yet
};

}  // namespace wabridge
