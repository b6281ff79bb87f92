#include "actors/tcp_receive_info.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace wabridge {

std::optional<tcp_receive_info> query_tcp_receive_info(int fd) {
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  // An older kernel fills less of the struct than we know about.
  if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
    return std::nullopt;
  return tcp_receive_info{info.tcpi_bytes_received, info.tcpi_last_data_recv};
}

}  // namespace wabridge
