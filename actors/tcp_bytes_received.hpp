// How many bytes a TCP connection has received so far (TCP_INFO's
// tcpi_bytes_received, Linux >= 4.1). Its own translation unit because
// <linux/tcp.h>, which has the field, clashes with glibc's <netinet/tcp.h>
// (pulled in by httplib.h), which lacks it. Pure query; any thread.
#pragma once

#include <cstdint>
#include <optional>

namespace wabridge {

/// nullopt when `fd` is not a TCP socket or the kernel does not say.
std::optional<uint64_t> tcp_bytes_received(int fd);

}  // namespace wabridge
