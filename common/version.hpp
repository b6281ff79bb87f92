// The wabridge version, reported by --version, /health and /status.
#pragma once

namespace wabridge {
inline constexpr const char* version = "0.1.0";
}  // namespace wabridge
