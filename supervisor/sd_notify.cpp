#include "supervisor/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace wabridge::supervisor {

sd_notifier::sd_notifier() {
  if (const char* socket = std::getenv("NOTIFY_SOCKET"); socket != nullptr && *socket != '\0') {
    address_ = socket;
    ::unsetenv("NOTIFY_SOCKET");
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
}

sd_notifier::~sd_notifier() {
  if (fd_ >= 0) ::close(fd_);
}

void sd_notifier::notify(const std::string& state) {
  if (fd_ < 0 || address_.size() >= sizeof(sockaddr_un::sun_path)) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract socket
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  (void)::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                 len);
}

std::string sd_notifier::env_entry() const {
  return address_.empty() ? std::string{} : "NOTIFY_SOCKET=" + address_;
}

}  // namespace wabridge::supervisor
