// nlohmann's messages start with a tag such as "[json.exception.parse_error.101] ";
// a user needs what follows it (line, column, what was expected), not the tag.
#pragma once
#include <string_view>

namespace bitlab {

inline std::string_view json_error_text(std::string_view what) {
  const size_t at = what.find("] ");
  return what.rfind("[json.exception.", 0) == 0 && at != std::string_view::npos ? what.substr(at + 2) : what;
}

}  // namespace bitlab
