// Runs another program to completion with its standard output and error in
// files, no shell in between (arguments pass as they are).
#pragma once
#include <string>
#include <vector>

namespace bitlab::peers {

struct ChildResult {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
};

// argv[0] is the program's path. Throws InputError naming `what` when it is
// not an executable file or cannot be started.
ChildResult run_child(const std::vector<std::string>& argv, const std::string& stdout_path,
                      const std::string& stderr_path, const std::string& what);

// The last line of a file that is not blank ("" when none): what a failed
// peer said last, for its one-line error.
std::string last_line_of(const std::string& path);

}  // namespace bitlab::peers
