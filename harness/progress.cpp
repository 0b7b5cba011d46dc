#include "harness/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "harness/terminal_text.h"

namespace bitlab::cli {

Progress::Progress(std::string what)
    : what_(std::move(what)), tty_(isatty(STDERR_FILENO) != 0), last_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (open_ && tty_) fmt::print(stderr, "\n");
}

void Progress::update(double fraction, const std::string& detail) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (tty_ ? since < 0.1 : since < 5.0) return;
  last_ = now;
  // Names in `what_` and `detail` may come from files: escaped, so the line stays
  // one line and no escape sequence reaches the terminal.
  const std::string line = fmt::format("{}: {:3.0f}% {}", printable(what_), 100.0 * fraction, printable(detail));
  if (tty_) {
    fmt::print(stderr, "\r\x1b[2K{}", line);
    open_ = true;
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  std::fflush(stderr);
}

void Progress::done(const std::string& summary) {
  if (tty_ && open_) fmt::print(stderr, "\r\x1b[2K");
  open_ = false;
  fmt::print(stderr, "{}: {}\n", printable(what_), printable(summary));
}

}  // namespace bitlab::cli
