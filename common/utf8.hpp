// UTF-8 validation for text that reaches JSON without passing a JSON parser
// (URL path segments, query values): nlohmann::json throws when it dumps a
// string that is not valid UTF-8, so such text is checked at the edge and
// refused with a 400. Pure function; any thread.
#pragma once

#include <string_view>

namespace wabridge {

/// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace wabridge
