// cpp-httplib's Server, made fit for a listening socket shared across worker
// generations (docs/supervisor.md, "Socket handover"). httplib's own stop()
// would shutdown(2) the listening socket, which ends listening for the
// supervisor and the next worker too, and it leaves idle keep-alive
// connections open until their timeout. drainable_server instead:
//   - adopts an inherited listening socket;
//   - stop_accepting() swaps our descriptor for an inert socket (dup3), so the
//     accept loop ends and connections still arriving wait in the shared
//     backlog for the next worker, untouched;
//   - once the accept loop has ended, shuts down the read side of every
//     connection it accepted: a request already received is still read and
//     answered, then the connection closes instead of idling in keep-alive.
// Thread-safety: adopt() and configuration before serving; stop_accepting()
// from any thread while listen_after_bind() runs on another.
#pragma once

#include <httplib.h>

#include <cstddef>

namespace wabridge {

class drainable_server : public httplib::Server {
 public:
  /// `threads` request threads (each keep-alive connection holds one).
  explicit drainable_server(size_t threads);

  /// Serves `fd`, an already listening socket (from the supervisor).
  void adopt(int fd);

  /// The listening descriptor in use (adopted or bound by httplib), -1 before.
  int listen_fd() const { return svr_sock_; }

  /// Ends the accept loop without touching the shared socket; the
  /// connections already accepted finish their current request.
  void stop_accepting();
};

}  // namespace wabridge
