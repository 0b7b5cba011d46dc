// A progress line on stderr for long work: redrawn in place on a terminal,
// printed at most every few seconds otherwise (CI logs stay short).
#pragma once
#include <chrono>
#include <string>

namespace bitlab::cli {

class Progress {
 public:
  explicit Progress(std::string what);
  ~Progress();
  void update(double fraction, const std::string& detail = {});
  void done(const std::string& summary);

 private:
  std::string what_;
  bool tty_;
  bool open_ = false;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace bitlab::cli
