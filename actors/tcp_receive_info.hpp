// What the kernel knows about a TCP connection's receive side (TCP_INFO,
// Linux >= 4.1): bytes received so far and how long ago data last arrived.
// The drain (actors/drainable_server.*) uses it to tell a connection whose
// request is on the way or just read from one idling in keep-alive. Its own
// translation unit because <linux/tcp.h>, which has these fields, clashes
// with glibc's <netinet/tcp.h> (pulled in by httplib.h), which lacks them.
// Pure query; any thread.
#pragma once

#include <cstdint>
#include <optional>

namespace wabridge {

struct tcp_receive_info {
  uint64_t bytes_received = 0;      // payload bytes received on the connection, ever
  uint32_t since_last_data_ms = 0;  // milliseconds since the last data arrived
};

/// nullopt when `fd` is not a TCP socket or the kernel does not say.
std::optional<tcp_receive_info> query_tcp_receive_info(int fd);

}  // namespace wabridge
