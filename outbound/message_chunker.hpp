// Splits a long outgoing text into WhatsApp-sized chunks (docs/http-api.md,
// "Long texts"). Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace wabridge::outbound {

/// Splits `text` (UTF-8) into chunks of at most `limit` code points each,
/// never inside a multi-byte sequence. Each cut prefers the last newline in
/// the second half of the window, then the last space there, else it cuts
/// hard at `limit`; the newline or space at a cut is dropped. A text that
/// fits is returned as one chunk (also when empty); `limit` 0 means no limit.
/// Invalid UTF-8 is treated byte by byte (each stray byte one code point).
std::vector<std::string> split_message(std::string_view text, size_t limit);

/// Number of code points in `text` as split_message() counts them.
size_t code_points(std::string_view text);

}  // namespace wabridge::outbound
