#include "supervisor/data_dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace wabridge::supervisor {

int lock_data_dir(const std::string& data_dir, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    error = "cannot create data_dir " + data_dir + ": " + ec.message();
    return -1;
  }
  const std::string path = data_dir + "/wabridge.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    error = "data_dir " + data_dir + " is in use by another wabridge (lock " + path + " is held)";
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace wabridge::supervisor
