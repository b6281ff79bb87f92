// The bridge's one listening TCP socket. The supervisor opens it once and
// hands a duplicate to every worker generation, so connections that arrive
// while no worker accepts wait in the kernel's backlog instead of being
// refused. Plain functions over file descriptors; no shared state.
#pragma once

#include "common/error.hpp"

#include <cstdint>
#include <string>

namespace wabridge::supervisor {

/// Binds `host`:`port` (IPv4 or IPv6 literal or name; brackets allowed) with
/// SO_REUSEADDR, listens with the largest backlog the kernel allows and
/// returns the fd (close-on-exec, at least 10 so it never collides with the
/// fds a child expects at 3 and 4).
caf::expected<int> open_listen_socket(const std::string& host, uint16_t port);

/// The port `fd` is bound to, or 0 when it is not a bound socket.
uint16_t bound_port(int fd);

/// True when `fd` is a TCP socket in the listening state.
bool is_listening_socket(int fd);

}  // namespace wabridge::supervisor
