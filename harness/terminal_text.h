// Text from files (tensor and model names, result-file fields, paths) on its
// way to the terminal: control characters and bytes that are not UTF-8 are
// shown as escapes, so a name can neither break a one-line message nor drive
// the terminal (ANSI sequences).
#pragma once
#include <string>
#include <string_view>

namespace bitlab::cli {

// `s` with \n, \r, \t and \\xNN for the other C0 controls and DEL, \\xNN for each
// byte of invalid UTF-8, and \\u0080–\\u009f for the C1 controls (some terminals
// read U+009B as the start of an escape sequence). Everything else, backslash
// included, is kept as it is: this is for display, not a reversible encoding.
std::string printable(std::string_view s);

}  // namespace bitlab::cli
